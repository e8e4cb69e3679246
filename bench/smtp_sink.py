"""An aiosmtpd SMTP sink on loopback that logs every arrival with its acceptance time.

Run as `python -m bench.smtp_sink --port P --log FILE [--eml-dir DIR --keep N] [--no-pipelining]`.
The sink offers PIPELINING (RFC 2920) unless told not to. Each accepted
message appends one JSON line to FILE: `t` (epoch seconds at acceptance), `mid` (Message-ID),
`subject` (decoded), `key` (the first benchmark order number found in subject or body),
`bytes` and `long_lines` (lines over RFC 5321's 998 characters: accepted here, as Postfix
does, but counted so the report can flag them). The first N messages are also kept whole in
DIR for inspection (status links).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import threading
import time
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

# Benchmark order numbers look like BENCH-P-000123 (prefix letter per benchmark).
KEY_PATTERN = re.compile(rb"BENCH-[A-Z]-\d{6}")
_headers = BytesHeaderParser()


def _decoded(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 - a malformed header must not stop the sink
        return value


def find_key(subject: str, raw: bytes) -> str | None:
    """The first benchmark order number in the subject, else anywhere in the raw message."""
    match = KEY_PATTERN.search(subject.encode("utf-8", "replace"))
    if match is None:
        match = KEY_PATTERN.search(raw)
    if match is None and b"Content-Transfer-Encoding: base64" in raw:
        # A body sent as base64 hides the number from the raw search; decode it (rare, slower).
        import email
        from email import policy

        message = email.message_from_bytes(raw, policy=policy.default)
        for part in message.walk():
            if part.get_content_maintype() == "text":
                text = part.get_content()
                match = KEY_PATTERN.search(text.encode("utf-8", "replace"))
                if match:
                    break
    return match.group(0).decode() if match else None


class RecordingHandler:
    """Accepts every message and records it."""

    def __init__(self, log: Path, eml_dir: Path | None, keep: int, pipelining: bool = True) -> None:
        self.log = log.open("a", buffering=1)
        self.pipelining = pipelining
        self.eml_dir = eml_dir
        self.keep = keep
        self.count = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # noqa: N802
        """aiosmtpd reads pipelined commands in order but does not say so: offered here, as
        Postfix, Exim and the large providers do (RFC 2920)."""
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        accepted = time.time()
        raw: bytes = envelope.original_content or envelope.content
        headers = _headers.parsebytes(raw)
        subject = _decoded(headers.get("Subject"))
        record = {
            "t": accepted,
            "mid": (headers.get("Message-ID") or "").strip(),
            "subject": subject,
            "key": find_key(subject, raw),
            "to": list(envelope.rcpt_tos),
            "bytes": len(raw),
            "long_lines": sum(1 for line in raw.split(b"\n") if len(line.rstrip(b"\r")) > 998),
        }
        with self.lock:
            self.count += 1
            number = self.count
            if self.eml_dir is not None and number <= self.keep:
                (self.eml_dir / f"{number:06d}.eml").write_bytes(raw)
            self.log.write(json.dumps(record) + "\n")
        return "250 OK"


class LenientSMTP(SMTP):
    line_length_limit = 64 * 1024


class LenientController(Controller):
    def factory(self) -> SMTP:
        return LenientSMTP(self.handler, **self.SMTP_kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--eml-dir", type=Path)
    parser.add_argument("--keep", type=int, default=300)
    parser.add_argument("--no-pipelining", action="store_true", help="do not offer PIPELINING")
    args = parser.parse_args(argv)
    if args.eml_dir:
        args.eml_dir.mkdir(parents=True, exist_ok=True)
    handler = RecordingHandler(args.log, args.eml_dir, args.keep, not args.no_pipelining)
    controller = LenientController(
        handler,
        hostname="127.0.0.1",
        port=args.port,
        decode_data=False,
        data_size_limit=50 * 1024 * 1024,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller.start()
    try:
        stop.wait()
    finally:
        controller.stop()
        handler.log.close()


if __name__ == "__main__":
    main()
