"""seven.io (formerly sms77): POST /api/sms with an X-Api-Key header, GET /api/status."""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlencode

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

# seven answers HTTP 200 and puts its own return code into the body ("success").
RETURN_CODES: dict[str, tuple[str, str]] = {
    "201": ("failed", "the sender id is invalid"),
    "202": ("failed", "the recipient number is invalid"),
    "301": ("failed", "the recipient is missing"),
    "305": ("failed", "the text is missing"),
    "401": ("failed", "the text is too long"),
    "402": ("failed", "the same SMS went to this number within 180 seconds (reload lock)"),
    "403": ("failed_temporary", "the daily limit for this number is reached"),
    "500": ("failed", "insufficient balance on the seven account"),
    "600": ("failed", "the carrier could not deliver the message"),
    "700": ("failed", "seven reported an unknown error"),
    "900": ("failed", "authentication failed: check the API key"),
    "901": ("failed", "signature verification failed"),
    "902": ("failed", "the HTTP API is disabled for this seven account"),
    "903": ("failed", "seven does not accept requests from this server's IP address"),
}
ERROR_NAMES = {"202": "invalid_number", "500": "insufficient_balance", "900": "auth_failed"}

SENT_STATES = {"DELIVERED", "TRANSMITTED", "BUFFERED", "ACCEPTED", "SENT"}
FAILED_STATES = {"NOTDELIVERED", "REJECTED", "EXPIRED", "FAILED"}


class SevenProvider(SmsProvider):
    """seven.io HTTP API; the credentials are the API key."""

    name: ClassVar[str] = "seven"
    label: ClassVar[str] = "seven.io"
    supports_status: ClassVar[bool] = True
    default_base_url: ClassVar[str] = "https://gateway.seven.io/api"

    @classmethod
    def clean_settings(
        cls, credentials: str, sender_id: str | None, settings: dict[str, Any]
    ) -> dict[str, Any]:
        if not credentials.strip():
            raise SmsConfigError("credentials", "seven.io needs the API key")
        if any(c.isspace() for c in credentials.strip()):
            raise SmsConfigError("credentials", "the API key must not contain spaces")
        return dict(settings)

    def _headers(self) -> dict[str, str]:
        return {
            "X-Api-Key": self.config.credentials,
            "Accept": "application/json",
            "SentWith": "statuslink",
        }

    def send(self, to: str, text: str, *, reference: str | None = None) -> SmsResult:
        payload: dict[str, Any] = {"to": to, "text": text}
        if self.config.sender_id:
            payload["from"] = self.config.sender_id
        if reference:
            payload["foreign_id"] = reference
        headers = {**self._headers(), "Content-Type": "application/json"}
        reply = call_provider(
            self, "POST", f"{self.base_url}/sms", headers=headers, body=json.dumps(payload).encode()
        )
        if isinstance(reply, SmsResult):
            return reply
        return self._interpret(reply)

    def _interpret(self, reply: HttpReply) -> SmsResult:
        if reply.status >= 500:
            return unknown_for_server_error(self, reply)
        if reply.status in (401, 403):
            return SmsResult("failed", reply=RETURN_CODES["900"][1], error_code=ERROR_NAMES["900"])
        if reply.status == 429:
            return SmsResult("failed_temporary", reply="rate limited", error_code="rate_limited")
        if reply.status >= 400:
            return SmsResult(
                "failed", reply=self.scrub(f"HTTP {reply.status}: {reply.body}"), error_code=None
            )
        code, message_id, message_error = self._parse(reply.body)
        if code is None:
            # Accepted at HTTP level but unreadable: it may well have been sent.
            return SmsResult(
                "unknown",
                reply=self.scrub(f"unreadable answer: {reply.body}"),
                error_code="malformed_reply",
            )
        if code == "100" or (code == "101" and message_error is None and message_id):
            return SmsResult("sent", provider_id=message_id, reply=f"seven return code {code}")
        if code == "101":
            return SmsResult(
                "failed", reply=self.scrub(message_error or "not sent"), error_code="101"
            )
        state, reason = RETURN_CODES.get(code, ("failed", "seven refused the message"))
        if code == "903" and self.settings.get("public_ip"):
            reason = f"{reason}; allow {self.settings['public_ip']} in the seven.io dashboard"
        return SmsResult(
            state,  # type: ignore[arg-type]
            reply=f"{reason} (seven return code {code})",
            error_code=ERROR_NAMES.get(code, code),
        )

    @staticmethod
    def _parse(body: str) -> tuple[str | None, str | None, str | None]:
        """(return code, first message id, first message's error) from a JSON or plain answer."""
        stripped = body.strip()
        if stripped.isdigit():
            return stripped, None, None
        try:
            data = json.loads(stripped)
        except ValueError:
            return None, None, None
        if not isinstance(data, dict) or "success" not in data:
            return None, None, None
        code = str(data["success"])
        messages = data.get("messages") or []
        first = messages[0] if messages and isinstance(messages[0], dict) else {}
        message_id = first.get("id")
        error = None
        if first and first.get("success") is False:
            error = str(first.get("error_text") or first.get("error") or "not sent")
        return code, (str(message_id) if message_id not in (None, "") else None), error

    def delivery_state(self, provider_id: str) -> DeliveryState:
        url = f"{self.base_url}/status?{urlencode({'msg_id': provider_id})}"
        reply = query_provider(self, url, headers=self._headers())
        if reply is None or reply.status != 200:
            return "unknown"
        status = self._parse_status(reply.body)
        if status in SENT_STATES:
            return "sent"
        if status in FAILED_STATES:
            return "failed"
        return "unknown"

    @staticmethod
    def _parse_status(body: str) -> str | None:
        # JSON: [{"id": ..., "status": "DELIVERED", "status_time": ...}]; the older plain
        # answer is the status on the first line and its time on the second.
        try:
            data = json.loads(body)
        except ValueError:
            first_line = body.strip().splitlines()[0] if body.strip() else ""
            return first_line.strip().upper() or None
        if isinstance(data, list) and data and isinstance(data[0], dict):
            data = data[0]
        if isinstance(data, dict) and data.get("status"):
            return str(data["status"]).upper()
        return None
