"""A local SMTP server that stores every message it receives as an .eml file (development)."""

from __future__ import annotations

import logging
import os
import time
import uuid
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("statuslink.mailcatcher")


def _clean(value: str) -> str:
    return " ".join(value.split())


class MailboxHandler:
    """aiosmtpd handler: writes each message to `directory` and logs From, To and Subject."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def store(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
        """Write one message (with its envelope as X-Envelope-* headers) and return its path."""
        envelope = (
            f"X-Envelope-From: <{_clean(mail_from)}>\r\n"
            f"X-Envelope-To: {', '.join(_clean(r) for r in rcpt_tos)}\r\n"
        ).encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(envelope + content)
        # Readers only look at *.eml, so a half-written file is never listed.
        os.replace(tmp, self.directory / name)
        return self.directory / name

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        path = self.store(envelope.mail_from or "", list(envelope.rcpt_tos), content)
        headers = BytesHeaderParser(policy=default_policy).parsebytes(content)
        log.info(
            "mail %s from=%s to=%s subject=%s",
            path.name,
            _clean(str(headers.get("From", envelope.mail_from or ""))),
            _clean(", ".join(envelope.rcpt_tos)),
            _clean(str(headers.get("Subject", ""))),
        )
        return "250 Message accepted for delivery"


def start_mail_catcher(directory: Path, port: int, host: str = "127.0.0.1") -> Controller:
    """Start the catcher in a background thread; call `.stop()` on the result to end it."""
    controller = Controller(MailboxHandler(directory), hostname=host, port=port, ready_timeout=10)
    controller.start()
    return controller
