"""Twilio Programmable Messaging: the Messages resource of the 2010-04-01 REST API."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from webapp.channels.sms.base import (
    DeliveryState,
    HttpReply,
    SmsConfigError,
    SmsProvider,
    SmsResult,
    call_provider,
    query_provider,
    unknown_for_server_error,
)

ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")
API_KEY_SID_RE = re.compile(r"^SK[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID_RE = re.compile(r"^MG[0-9a-fA-F]{32}$")

SENT_STATES = {"queued", "accepted", "scheduled", "sending", "sent", "delivered", "read"}
FAILED_STATES = {"failed", "undelivered", "canceled"}
# Twilio error codes worth a name of their own in the message's error.
ERROR_NAMES = {
    20003: "auth_failed",
    21211: "invalid_number",
    21614: "invalid_number",
    21408: "region_not_enabled",
    21610: "recipient_unsubscribed",
    21606: "invalid_sender",
    21212: "invalid_sender",
    20429: "rate_limited",
}


class TwilioProvider(SmsProvider):
    """Twilio Messages API with HTTP basic auth.

    Settings: ``account_sid`` (required), ``api_key_sid`` (optional: authenticate with an API
    key instead of the account's auth token), ``messaging_service_sid`` (optional, instead of a
    From number), ``status_callback`` (optional URL). Credentials: the auth token or API key
    secret.
    """

    name: ClassVar[str] = "twilio"
    label: ClassVar[str] = "Twilio"
    supports_status: ClassVar[bool] = True
    default_base_url: ClassVar[str] = "https://api.twilio.com"

    @classmethod
    def clean_settings(
        cls, credentials: str, sender_id: str | None, settings: dict[str, Any]
    ) -> dict[str, Any]:
        cleaned = dict(settings)
        sid = str(cleaned.get("account_sid") or "").strip()
        if not ACCOUNT_SID_RE.match(sid):
            raise SmsConfigError("account_sid", "a Twilio Account SID is AC + 32 hex characters")
        cleaned["account_sid"] = sid
        if cleaned.get("api_key_sid") and not API_KEY_SID_RE.match(str(cleaned["api_key_sid"])):
            raise SmsConfigError("api_key_sid", "a Twilio API key SID is SK + 32 hex characters")
        service = cleaned.get("messaging_service_sid")
        if service and not MESSAGING_SERVICE_SID_RE.match(str(service)):
            raise SmsConfigError(
                "messaging_service_sid", "a Messaging Service SID is MG + 32 hex characters"
            )
        if not sender_id and not service:
            raise SmsConfigError("sender_id", "Twilio needs a From number or a Messaging Service")
        callback = cleaned.get("status_callback")
        if callback and not str(callback).startswith(("https://", "http://")):
            raise SmsConfigError("status_callback", "must be an http(s) URL")
        if not credentials.strip():
            raise SmsConfigError("credentials", "Twilio needs the auth token (or API key secret)")
        return cleaned

    @property
    def _messages_url(self) -> str:
        sid = quote(str(self.settings.get("account_sid", "")), safe="")
        return f"{self.base_url}/2010-04-01/Accounts/{sid}/Messages"

    def _headers(self) -> dict[str, str]:
        user = str(self.settings.get("api_key_sid") or self.settings.get("account_sid", ""))
        token = base64.b64encode(f"{user}:{self.config.credentials}".encode()).decode()
        return {"Authorization": f"Basic {token}", "Accept": "application/json"}

    def send(self, to: str, text: str, *, reference: str | None = None) -> SmsResult:
        form = {"To": to, "Body": text}
        if self.settings.get("messaging_service_sid"):
            form["MessagingServiceSid"] = str(self.settings["messaging_service_sid"])
        if self.config.sender_id:
            form["From"] = self.config.sender_id
        if self.settings.get("status_callback"):
            form["StatusCallback"] = str(self.settings["status_callback"])
        headers = {**self._headers(), "Content-Type": "application/x-www-form-urlencoded"}
        body = urlencode(form).encode()
        url = f"{self._messages_url}.json"
        reply = call_provider(self, "POST", url, headers=headers, body=body)
        if isinstance(reply, SmsResult):
            return reply
        return self._interpret(reply)

    def _interpret(self, reply: HttpReply) -> SmsResult:
        if reply.status >= 500:
            return unknown_for_server_error(self, reply)
        try:
            data = reply.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if reply.status < 300:
                return SmsResult(
                    "unknown",
                    reply=self.scrub(f"unreadable answer: {reply.body}"),
                    error_code="malformed_reply",
                )
            return SmsResult(
                "failed", reply=self.scrub(f"HTTP {reply.status}: {reply.body}"), error_code=None
            )
        if reply.status >= 400:
            code = data.get("code")
            message = str(data.get("message") or "refused")
            state = "failed_temporary" if reply.status == 429 else "failed"
            name = str(code) if code else f"http_{reply.status}"
            if isinstance(code, int):
                name = ERROR_NAMES.get(code, name)
            return SmsResult(
                state,  # type: ignore[arg-type]
                reply=self.scrub(f"Twilio error {code}: {message}"),
                error_code=name,
            )
        sid = data.get("sid")
        status = str(data.get("status") or "")
        if status in FAILED_STATES:
            return SmsResult(
                "failed",
                provider_id=sid,
                reply=self.scrub(f"Twilio status {status}: {data.get('error_message') or ''}"),
                error_code=str(data.get("error_code") or status),
            )
        if not sid:
            return SmsResult(
                "unknown", reply=self.scrub(f"no message sid in: {reply.body}"), error_code="no_id"
            )
        return SmsResult("sent", provider_id=str(sid), reply=f"Twilio status {status}")

    def delivery_state(self, provider_id: str) -> DeliveryState:
        url = f"{self._messages_url}/{quote(provider_id, safe='')}.json"
        reply = query_provider(self, url, headers=self._headers())
        if reply is None or reply.status != 200:
            return "unknown"
        try:
            status = str(reply.json().get("status") or "")
        except (ValueError, AttributeError):
            return "unknown"
        return _delivery(status)

    def find_sent(self, to: str, text: str, since: datetime) -> DeliveryState:
        """Twilio lists messages by recipient and day; a match on the body means it went out."""
        query = urlencode({"To": to, "DateSent>": since.strftime("%Y-%m-%d"), "PageSize": 50})
        reply = query_provider(self, f"{self._messages_url}.json?{query}", headers=self._headers())
        if reply is None or reply.status != 200:
            return "unknown"
        try:
            messages = reply.json().get("messages") or []
        except (ValueError, AttributeError):
            return "unknown"
        states = [_delivery(str(m.get("status") or "")) for m in messages if m.get("body") == text]
        if "sent" in states:
            return "sent"
        if states:
            return "failed"
        # Not listed is no proof: a queued message may not carry a send date yet.
        return "unknown"


def _delivery(status: str) -> DeliveryState:
    if status in SENT_STATES:
        return "sent"
    if status in FAILED_STATES:
        return "failed"
    return "unknown"
