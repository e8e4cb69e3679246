"""A real SMTP server on loopback (aiosmtpd) that records what it receives and can misbehave."""

from __future__ import annotations

import asyncio
import email
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.services import free_port


@dataclass
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    peer: tuple[str, int] | None = None  # the client's address: one per SMTP connection

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str | None:
        """The decoded text of the first text/<subtype> part."""
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                return part.get_content()
        return None

    def attachments(self) -> dict[str, bytes]:
        return {
            part.get_filename(): part.get_payload(decode=True)
            for part in self.message.iter_attachments()
            if part.get_filename()
        }


class RecordingSMTP:
    """aiosmtpd on 127.0.0.1. `mode` is "accept", "451" (DATA deferred) or "550" (recipient
    refused); `stop()`/`start()` simulate the server being down."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.mode = "accept"
        self.delay = 0.0  # seconds per accepted message, to make a batch take a while
        # The final reply to a message whose raw bytes contain the key; "drop" closes the
        # connection instead of replying.
        self.data_replies: dict[bytes, str] = {}
        self.received: list[Received] = []
        self.refusals = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # aiosmtpd handler hooks --------------------------------------------------------------
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.mode == "550":
            with self._lock:
                self.refusals += 1
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.mode == "451":
            with self._lock:
                self.refusals += 1
            return "451 4.3.0 Temporary local problem, try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        for key, reply in self.data_replies.items():
            if key in raw:
                if reply == "drop":
                    server.transport.close()
                return reply
        parsed = email.message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self.received.append(
                Received(
                    envelope.mail_from,  # type: ignore[arg-type]
                    list(envelope.rcpt_tos),
                    parsed,  # type: ignore[arg-type]
                    raw,
                    tuple(session.peer) if session.peer else None,  # type: ignore[arg-type]
                )
            )
        return "250 2.0.0 Ok: queued"

    # control -------------------------------------------------------------------------------
    def start(self) -> RecordingSMTP:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Poll until at least `count` messages arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        return self.messages()
