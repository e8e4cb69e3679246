"""The SMS adapter interface, its result types and the one HTTP helper every adapter uses."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from webapp.netpolicy import TargetRefused, connect_checked

SendState = Literal["sent", "failed", "failed_temporary", "unknown"]
DeliveryState = Literal["sent", "failed", "unknown"]

DEFAULT_TIMEOUT = 15.0
# Provider answers are stored with the message and shown in the admin: short, so a hostile or
# misconfigured endpoint cannot make the app keep (or reflect) pages of its output.
REPLY_LIMIT = 200


class SmsConfigError(ValueError):
    """A sender account's provider settings or credentials are unusable; `field` names which."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SmsResult:
    """What became of one send attempt.

    - ``sent``: the provider accepted the message (``provider_id`` set when it returned one).
    - ``failed``: refused for good (bad number, credentials, balance); a resend needs a fix.
    - ``failed_temporary``: the request never reached the provider (connection refused, DNS,
      TLS, rate limited); sending again is safe.
    - ``unknown``: the provider may have received it (timeout, 5xx, unreadable answer); never
      resend blindly, reconcile first.
    """

    state: SendState
    provider_id: str | None = None
    reply: str = ""
    error_code: str | None = None

    @property
    def retryable(self) -> bool:
        """True when sending the same SMS again cannot produce a duplicate."""
        return self.state == "failed_temporary"


@dataclass(frozen=True)
class SenderConfig:
    """A sender account as the adapters see it: plain values, credentials decrypted."""

    provider: str
    credentials: str = ""
    sender_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SenderConfig:
        """Build from the dict the engine passes (keys: provider, credentials, sender_id,
        settings)."""
        provider = data.get("provider")
        if not provider:
            raise SmsConfigError("provider", "no SMS provider configured")
        return cls(
            provider=str(provider),
            credentials=str(data.get("credentials") or ""),
            sender_id=data.get("sender_id") or None,
            settings=dict(data.get("settings") or {}),
        )

    def __repr__(self) -> str:
        # Credentials must never end up in a log line or a traceback.
        return (
            f"SenderConfig(provider={self.provider!r}, credentials='***', "
            f"sender_id={self.sender_id!r}, settings={self.settings!r})"
        )


class SmsProvider(ABC):
    """One SMS provider's HTTP API. Instances hold one sender account's configuration."""

    name: ClassVar[str]
    label: ClassVar[str]
    #: True when `delivery_state` can look a message up by the provider's id.
    supports_status: ClassVar[bool] = False
    default_base_url: ClassVar[str] = ""

    def __init__(self, config: SenderConfig):
        self.config = config
        self.settings = config.settings
        self.timeout = float(self.settings.get("timeout") or DEFAULT_TIMEOUT)
        self.base_url = str(self.settings.get("base_url") or self.default_base_url).rstrip("/")

    @classmethod
    def clean_settings(
        cls, credentials: str, sender_id: str | None, settings: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate a new sender account's values; return the settings to store.

        Raises SmsConfigError naming the field.
        """
        return dict(settings)

    @abstractmethod
    def send(self, to: str, text: str, *, reference: str | None = None) -> SmsResult:
        """Send one SMS to an E.164 number. Never raises for provider or network trouble."""

    @property
    def has_status_lookup(self) -> bool:
        """True when `delivery_state` can really ask the provider (else it says "unknown")."""
        return self.supports_status

    def delivery_state(self, provider_id: str) -> DeliveryState:
        """Ask the provider what became of a message; "unknown" when it cannot tell."""
        return "unknown"

    def find_sent(self, to: str, text: str, since: datetime) -> DeliveryState:
        """Look for a message without an id (its send timed out); "unknown" when not possible."""
        return "unknown"

    def scrub(self, text: str) -> str:
        """Shorten a provider answer for storage and drop the credentials should it echo them."""
        text = " ".join(text.split())
        if self.config.credentials:
            text = text.replace(self.config.credentials, "***")
        return text[:REPLY_LIMIT]


# --- HTTP ----------------------------------------------------------------------------------


class NotSent(Exception):
    """The request could not have reached the provider (no connection was made)."""


class TargetNotAllowed(NotSent):
    """The URL's host resolves to an address the network policy refuses (see netpolicy)."""


class OutcomeUnknown(Exception):
    """The connection was made but no complete answer came back; the request may have arrived."""


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str
    headers: dict[str, str]

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not."""
        return json.loads(self.body)


class _CheckedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the network policy checked, never to a second DNS answer."""

    def connect(self) -> None:
        self.sock = connect_checked(self.host, self.port, self.timeout)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is still verified for the host name."""

    def __init__(
        self, host: str, port: int | None, *, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls_context = context

    def connect(self) -> None:
        sock = connect_checked(self.host, self.port, self.timeout)
        self.sock = self._tls_context.wrap_socket(sock, server_hostname=self.host)


def http_call(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> HttpReply:
    """One HTTP request that tells "never sent" (NotSent) from "maybe sent" (OutcomeUnknown).

    Connecting (TCP and TLS) is done separately from sending, so a refused connection, a DNS
    failure or a TLS error is known to be harmless to retry, while a timeout or reset after the
    request went out is not.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotSent(f"unsupported URL {url!r}")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = _CheckedHTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = _CheckedHTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        try:
            conn.connect()
        except TargetRefused as exc:
            raise TargetNotAllowed(f"{parts.hostname}: {exc.reason}") from exc
        except (OSError, ssl.SSLError) as exc:
            raise NotSent(f"cannot connect to {parts.hostname}: {_describe(exc)}") from exc
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise OutcomeUnknown(
                f"no complete answer from {parts.hostname}: {_describe(exc)}"
            ) from exc
        return HttpReply(
            status=response.status,
            body=raw.decode("utf-8", errors="replace"),
            headers={k.lower(): v for k, v in response.getheaders()},
        )
    finally:
        conn.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return str(exc) or exc.__class__.__name__


def call_provider(
    provider: SmsProvider,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> HttpReply | SmsResult:
    """`http_call` with the adapter's timeout; network trouble comes back as an SmsResult."""
    try:
        return http_call(method, url, headers=headers, body=body, timeout=provider.timeout)
    except TargetNotAllowed as exc:
        # Never becomes reachable by waiting: a configuration error, not a network hiccup.
        return SmsResult("failed", reply=provider.scrub(str(exc)), error_code="target_refused")
    except NotSent as exc:
        return SmsResult("failed_temporary", reply=provider.scrub(str(exc)), error_code="network")
    except OutcomeUnknown as exc:
        return SmsResult("unknown", reply=provider.scrub(str(exc)), error_code="no_answer")


def query_provider(
    provider: SmsProvider, url: str, *, headers: dict[str, str] | None = None
) -> HttpReply | None:
    """A read-only GET for status lookups; None on any network trouble."""
    try:
        return http_call("GET", url, headers=headers, timeout=provider.timeout)
    except (NotSent, OutcomeUnknown):
        return None


def unknown_for_server_error(provider: SmsProvider, reply: HttpReply) -> SmsResult:
    """A 5xx answer: the provider may have queued the message before failing."""
    return SmsResult(
        "unknown",
        reply=provider.scrub(f"HTTP {reply.status}: {reply.body}"),
        error_code=f"http_{reply.status}",
    )
