"""A provider configured entirely by settings: URL, method, auth header, body template, paths."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from webapp.channels.sms.base import (
    DeliveryState,
    SmsConfigError,
    SmsProvider,
    SmsResult,
    call_provider,
    query_provider,
    unknown_for_server_error,
)

BODY_FORMATS = ("json", "form")
DEFAULT_JSON_TEMPLATE = '{"to": "{to}", "text": "{text}", "from": "{sender}"}'
DEFAULT_FORM_TEMPLATE = "to={to}&text={text}&from={sender}"

# The credentials may only travel in a header meant for them: a free header name would let a
# sender account set Host, Metadata-Flavor or X-Forwarded-* and talk to internal services.
AUTH_HEADERS = ("Authorization", "X-Api-Key", "X-API-Key", "Api-Key", "X-Auth-Token")

_MISSING = object()
_PLACEHOLDER_RE = re.compile(r"\{(?:to|text|sender|reference|id)\}")


class GenericHttpProvider(SmsProvider):
    """Any HTTP SMS gateway.

    Settings:
    - ``url`` (required), ``method`` (POST, PUT or GET), ``body_format`` (json or form; a GET
      appends the form-encoded template to the URL)
    - ``body_template``: placeholders {to} {text} {sender} {reference}; in JSON templates they
      are replaced inside string values, so the text is always escaped correctly
    - ``auth_header`` (e.g. Authorization) and ``auth_prefix`` (e.g. "Bearer "): the
      credentials are sent as ``auth_prefix + credentials`` in that header
    - ``success_status``: HTTP status codes meaning success (default: any 2xx)
    - ``success_path`` / ``success_values``: a dotted JSON path and the values meaning success
    - ``id_path``: dotted JSON path of the provider's message id ("messages.0.id")
    - ``status_url`` (with {id}), ``status_path``, ``sent_values``, ``failed_values``: the
      optional status lookup used for reconciliation
    """

    name: ClassVar[str] = "generic_http"
    label: ClassVar[str] = "Generic HTTP API"

    @classmethod
    def clean_settings(
        cls, credentials: str, sender_id: str | None, settings: dict[str, Any]
    ) -> dict[str, Any]:
        cleaned = dict(settings)
        for key in ("url", "status_url"):
            value = cleaned.get(key)
            if key == "url" or value:
                parts = urlsplit(str(value or ""))
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise SmsConfigError(key, "must be an http(s) URL")
        method = str(cleaned.get("method") or "POST").upper()
        if method not in ("POST", "PUT", "GET"):
            raise SmsConfigError("method", "must be POST, PUT or GET")
        cleaned["method"] = method
        body_format = str(cleaned.get("body_format") or "json")
        if body_format not in BODY_FORMATS:
            raise SmsConfigError("body_format", "must be json or form")
        cleaned["body_format"] = body_format
        template = cleaned.get("body_template")
        if template:
            if body_format == "json" and method != "GET":
                try:
                    json.loads(str(template))
                except ValueError as exc:
                    raise SmsConfigError("body_template", f"is not valid JSON: {exc}") from exc
            if "{to}" not in str(template) or "{text}" not in str(template):
                raise SmsConfigError("body_template", "must contain {to} and {text}")
        statuses = cleaned.get("success_status")
        if statuses is not None:
            try:
                cleaned["success_status"] = [int(s) for s in statuses]
            except (TypeError, ValueError) as exc:
                raise SmsConfigError("success_status", "must be a list of HTTP codes") from exc
        if cleaned.get("auth_header"):
            cleaned["auth_header"] = _auth_header(str(cleaned["auth_header"]))
            prefix = str(cleaned.get("auth_prefix") or "")
            if any(c in prefix for c in "\r\n\0") or len(prefix) > 40:
                raise SmsConfigError("auth_prefix", "must be one short line, e.g. 'Bearer '")
        if cleaned.get("auth_header") and not credentials:
            raise SmsConfigError("credentials", "an auth header needs credentials")
        if cleaned.get("status_url") and "{id}" not in str(cleaned["status_url"]):
            raise SmsConfigError("status_url", "must contain {id}")
        return cleaned

    @property
    def has_status_lookup(self) -> bool:
        return bool(self.settings.get("status_url") and self.settings.get("status_path"))

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        header = self.settings.get("auth_header")
        if header:
            header = _auth_header(str(header))
            prefix = str(self.settings.get("auth_prefix") or "")
            headers[str(header)] = f"{prefix}{self.config.credentials}"
        return headers

    def send(self, to: str, text: str, *, reference: str | None = None) -> SmsResult:
        values = {
            "{to}": to,
            "{text}": text,
            "{sender}": self.config.sender_id or "",
            "{reference}": reference or "",
        }
        method = str(self.settings.get("method") or "POST").upper()
        body_format = str(self.settings.get("body_format") or "json")
        url = str(self.settings.get("url") or "")
        try:
            headers = self._headers()
        except SmsConfigError as exc:
            return SmsResult("failed", reply=exc.message, error_code="configuration")
        body: bytes | None = None
        if method == "GET" or body_format == "form":
            template = str(self.settings.get("body_template") or DEFAULT_FORM_TEMPLATE)
            encoded = _fill(template, {k: quote(v, safe="") for k, v in values.items()})
            if method == "GET":
                url = f"{url}{'&' if '?' in url else '?'}{encoded}"
            else:
                body = encoded.encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            template = str(self.settings.get("body_template") or DEFAULT_JSON_TEMPLATE)
            body = json.dumps(_fill_json(json.loads(template), values)).encode()
            headers["Content-Type"] = "application/json"
        reply = call_provider(self, method, url, headers=headers, body=body)
        if isinstance(reply, SmsResult):
            return reply
        success_status = self.settings.get("success_status")
        ok_status = reply.status in success_status if success_status else 200 <= reply.status < 300
        if not ok_status:
            if reply.status >= 500:
                return unknown_for_server_error(self, reply)
            state = "failed_temporary" if reply.status == 429 else "failed"
            return SmsResult(
                state,  # type: ignore[arg-type]
                reply=self.scrub(f"HTTP {reply.status}: {reply.body}"),
                error_code=f"http_{reply.status}",
            )
        success_path = self.settings.get("success_path")
        id_path = self.settings.get("id_path")
        if not success_path and not id_path:
            return SmsResult("sent", reply=self.scrub(f"HTTP {reply.status}"))
        try:
            data = reply.json()
        except ValueError:
            return SmsResult(
                "unknown",
                reply=self.scrub(f"unreadable answer: {reply.body}"),
                error_code="malformed_reply",
            )
        if success_path:
            value = dig(data, str(success_path))
            wanted = [str(v) for v in self.settings.get("success_values") or ["true"]]
            if value is _MISSING or _text(value) not in wanted:
                return SmsResult(
                    "failed",
                    reply=self.scrub(f"{success_path}={_text(value)}: {reply.body}"),
                    error_code="provider_refused",
                )
        provider_id = None
        if id_path:
            found = dig(data, str(id_path))
            provider_id = None if found is _MISSING or found is None else str(found)
        return SmsResult("sent", provider_id=provider_id, reply=self.scrub(f"HTTP {reply.status}"))

    def delivery_state(self, provider_id: str) -> DeliveryState:
        status_url = self.settings.get("status_url")
        status_path = self.settings.get("status_path")
        if not status_url or not status_path:
            return "unknown"
        url = _fill(str(status_url), {"{id}": quote(provider_id, safe="")})
        try:
            headers = self._headers()
        except SmsConfigError:
            return "unknown"
        reply = query_provider(self, url, headers=headers)
        if reply is None or reply.status != 200:
            return "unknown"
        try:
            value = _text(dig(reply.json(), str(status_path)))
        except ValueError:
            return "unknown"
        if value in [str(v) for v in self.settings.get("sent_values") or []]:
            return "sent"
        if value in [str(v) for v in self.settings.get("failed_values") or []]:
            return "failed"
        return "unknown"


def _auth_header(name: str) -> str:
    """The allowed header name for the credentials; SmsConfigError for any other."""
    for allowed in AUTH_HEADERS:
        if name.strip() == allowed:
            return allowed
    raise SmsConfigError("auth_header", f"must be one of {', '.join(AUTH_HEADERS)}")


def _fill(template: str, values: dict[str, str]) -> str:
    # One pass, not str.format: a merchant-written template must not reach attributes, and a
    # "{sender}" inside the SMS text must stay text.
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(0), m.group(0)), template)


def _fill_json(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _fill(node, values)
    if isinstance(node, list):
        return [_fill_json(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _fill_json(item, values) for key, item in node.items()}
    return node


def dig(data: Any, path: str) -> Any:
    """Follow a dotted path ("messages.0.id") through dicts and lists; _MISSING when absent."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _text(value: Any) -> str:
    if value is _MISSING:
        return "<missing>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
