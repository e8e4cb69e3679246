"""Read the messages the development mail catcher stored (for the admin UI and tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

from flask import current_app

_ID_RE = re.compile(r"^[0-9]{10,25}-[0-9a-f]{8}$")


@dataclass(frozen=True)
class CaughtMail:
    """One message received by the mail catcher."""

    id: str
    received_at: datetime
    envelope_from: str
    envelope_to: list[str]
    sender: str
    to: str
    subject: str
    message_id: str | None
    text: str | None
    html: str | None
    attachments: list[str] = field(default_factory=list)
    raw: bytes = b""


def _directory(directory: str | Path | None) -> Path:
    return Path(directory or current_app.config["MAIL_CATCHER_DIR"])


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        return None


def _parse(path: Path) -> CaughtMail:
    raw = path.read_bytes()
    message = BytesParser(policy=default_policy).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    stamp = path.stem.split("-", 1)[0]
    envelope_to = [a.strip() for a in str(message.get("X-Envelope-To", "")).split(",")]
    return CaughtMail(
        id=path.stem,
        received_at=datetime.fromtimestamp(int(stamp) / 1e9, tz=UTC),
        envelope_from=str(message.get("X-Envelope-From", "")).strip("<>"),
        envelope_to=[a for a in envelope_to if a],
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        message_id=str(message["Message-ID"]) if message["Message-ID"] else None,
        text=_body(message, "plain"),
        html=_body(message, "html"),
        attachments=[p.get_filename() or "attachment" for p in message.iter_attachments()],
        raw=raw,
    )


def list_caught_mail(limit: int = 50, directory: str | Path | None = None) -> list[CaughtMail]:
    """The newest `limit` caught messages, newest first (directory: MAIL_CATCHER_DIR)."""
    folder = _directory(directory)
    if not folder.is_dir():
        return []
    paths = sorted(
        (p for p in folder.glob("*.eml") if _ID_RE.match(p.stem)),
        key=lambda p: p.name,
        reverse=True,
    )
    return [_parse(p) for p in paths[: max(limit, 0)]]


def get_caught_mail(mail_id: str, directory: str | Path | None = None) -> CaughtMail | None:
    """One caught message by its id (the file name without .eml), or None."""
    if not _ID_RE.match(mail_id):
        return None
    path = _directory(directory) / f"{mail_id}.eml"
    return _parse(path) if path.is_file() else None
