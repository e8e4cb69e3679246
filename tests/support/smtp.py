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
from webapp.channels.email import OutgoingEmail, message_id_for


def outgoing(n: int, *, bcc: list[str] | None = None) -> OutgoingEmail:
    """A small plain-text e-mail "Mail <n>" from the shop to customer n."""
    return OutgoingEmail(
        message_id=message_id_for(n, 1, "https://status.example.com"),
        from_email="shop@acme.example",
        from_name=None,
        to_email=f"kunde{n}@example.org",
        to_name=None,
        subject=f"Mail {n}",
        text="Hallo",
        bcc=bcc or [],
    )


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


class BrokenWrites:
    """A socket whose writes fail (the peer reset the connection); reads still work."""

    def __init__(self, sock):
        self._sock = sock

    def sendall(self, data):
        raise BrokenPipeError(32, "Broken pipe")

    def __getattr__(self, name):
        return getattr(self._sock, name)


class RecordingSMTP:
    """aiosmtpd on 127.0.0.1. `mode` is "accept", "451" (DATA deferred) or "550" (recipient
    refused); `stop()`/`start()` simulate the server being down. It offers PIPELINING (as
    production servers do) unless `pipelining` is False."""

    def __init__(self, port: int | None = None, *, pipelining: bool = True):
        self.port = port or free_port()
        self.mode = "accept"
        self.pipelining = pipelining
        # Replies to MAIL FROM (None: accept; "drop": close the connection) and to RCPT TO of
        # single addresses.
        self.mail_reply: str | None = None
        self.rcpt_replies: dict[str, str] = {}
        # For each MAIL FROM: the commands the client had sent after it before its reply (what
        # the server had read ahead): pipelined RCPT TO and DATA show up here.
        self.sent_with_mail: list[bytes] = []
        self.delay = 0.0  # seconds per accepted message, to make a batch take a while
        # The final reply to a message whose raw bytes contain the key; "drop" closes the
        # connection instead of replying.
        self.data_replies: dict[bytes, str] = {}
        self.received: list[Received] = []
        self.refusals = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # aiosmtpd handler hooks --------------------------------------------------------------
    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        with self._lock:
            self.sent_with_mail.append(bytes(server._reader._buffer))
        if self.mail_reply == "drop":  # the server goes away mid-envelope
            server.transport.close()
            return "421 4.3.2 Closing"
        if self.mail_reply is not None:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.mode == "550":
            with self._lock:
                self.refusals += 1
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
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
