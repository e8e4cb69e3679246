"""Development provider: writes each SMS to the log (and a file when set) and always succeeds."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any, ClassVar

from webapp.channels.sms.base import DeliveryState, SmsConfigError, SmsProvider, SmsResult
from webapp.dbtypes import utcnow

logger = logging.getLogger("statuslink.sms")


class LogProvider(SmsProvider):
    """Sends nothing. Setting ``path``: a file that receives one JSON line per SMS."""

    name: ClassVar[str] = "log"
    label: ClassVar[str] = "Log (development)"
    supports_status: ClassVar[bool] = True

    @classmethod
    def clean_settings(
        cls, credentials: str, sender_id: str | None, settings: dict[str, Any]
    ) -> dict[str, Any]:
        cleaned = dict(settings)
        path = cleaned.get("path")
        if path and not Path(str(path)).parent.is_dir():
            raise SmsConfigError("path", "the folder of this file does not exist")
        return cleaned

    def send(self, to: str, text: str, *, reference: str | None = None) -> SmsResult:
        provider_id = f"log-{uuid.uuid4().hex[:16]}"
        record = {
            "id": provider_id,
            "at": utcnow().isoformat(),
            "from": self.config.sender_id,
            "to": to,
            "text": text,
            "reference": reference,
        }
        logger.info("SMS (log provider) %s", json.dumps(record, ensure_ascii=False))
        path = self.settings.get("path")
        if path:
            with Path(str(path)).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return SmsResult("sent", provider_id=provider_id, reply="written to the log")

    def delivery_state(self, provider_id: str) -> DeliveryState:
        return "sent" if provider_id.startswith("log-") else "unknown"
