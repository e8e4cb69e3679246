"""The attachment library: PDFs of the account (terms, withdrawal form) with their conditions.

A file is attached to a rule's message when the rule attaches account files and the order
matches every condition the file has (marketplace, fulfilment, message language, event; an
empty list means "any") — see rendering.choose_attachments. Files are stored under
DOCUMENTS_DIR/files/<account_id>/, where rendering.load_attachments reads them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app

from webapp.accounts.models import Account
from webapp.accounts.services import ValidationError, record_audit
from webapp.config import SUPPORTED_LANGUAGES
from webapp.extensions import db
from webapp.i18n import N_
from webapp.notifications.models import AttachmentFile
from webapp.notifications.rendering import storage_root
from webapp.orders.models import FULFILLMENTS
from webapp.orders.state import EVENT_TYPES
from webapp.tenancy import NotFound, get_scoped_or_raise, scoped

PDF_MAGIC = b"%PDF-"
MARKETPLACE_RE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass
class AttachmentConditions:
    """The name of a library file and when it is attached (empty lists: any)."""

    name: str
    marketplaces: list[str] = field(default_factory=list)
    fulfillments: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    event_types: list[str] = field(default_factory=list)
    enabled: bool = True


def max_attachment_bytes() -> int:
    """The largest file accepted (ATTACHMENT_MAX_BYTES, default 5 MB)."""
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def _folder(account_id: int) -> Path:
    return storage_root().resolve() / "files" / str(account_id)


def _path(storage_key: str) -> Path:
    root = storage_root().resolve()
    path = (root / storage_key).resolve()
    if root not in path.parents:
        raise NotFound("attachment file")
    return path


def _clean_conditions(conditions: AttachmentConditions) -> dict[str, Any]:
    name = " ".join((conditions.name or "").split())
    if not name:
        raise ValidationError("name", N_("must not be empty"))
    if len(name) > 200:
        raise ValidationError("name", N_("must be at most 200 characters long"))
    marketplaces: list[str] = []
    for value in conditions.marketplaces or []:
        value = value.strip().lower()
        if not value:
            continue
        if not MARKETPLACE_RE.match(value) or len(value) > 64:
            raise ValidationError("marketplaces", N_("enter domains such as amazon.de"))
        if value not in marketplaces:
            marketplaces.append(value)

    def choose(field_name: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
        out = [v for v in dict.fromkeys(values or []) if v]
        if any(v not in allowed for v in out):
            raise ValidationError(field_name, N_("unknown value"))
        return out

    return {
        "name": name,
        "marketplaces": marketplaces,
        "fulfillments": choose("fulfillments", conditions.fulfillments, FULFILLMENTS),
        "languages": choose("languages", conditions.languages, SUPPORTED_LANGUAGES),
        "event_types": choose("event_types", conditions.event_types, EVENT_TYPES),
        "enabled": bool(conditions.enabled),
    }


def _clean_filename(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(c for c in name if c.isprintable() and c not in '"')
    if not name:
        name = "attachment.pdf"
    if not name.lower().endswith(".pdf"):
        name = f"{name}.pdf"
    return name[-200:]


def _store_pdf(account_id: int, stream: BinaryIO) -> tuple[str, int, str]:
    """Copy the upload to disk, checking the PDF signature and the size on the way.

    Written to a temporary name and renamed when complete, so no reader sees half a file.
    Returns (storage key, size, sha256).
    """
    limit = max_attachment_bytes()
    folder = _folder(account_id)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ValidationError("file", N_("the file is too large"))
                if len(head) < len(PDF_MAGIC):
                    head = (head + chunk)[: len(PDF_MAGIC)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError("file", N_("the file is empty"))
        if head != PDF_MAGIC:
            raise ValidationError("file", N_("only PDF documents are accepted"))
        name = f"{secrets.token_hex(16)}.pdf"
        os.replace(tmp_name, folder / name)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return f"files/{account_id}/{name}", size, digest.hexdigest()


def list_attachment_files(account_id: int) -> list[AttachmentFile]:
    """The account's library, by name."""
    stmt = scoped(AttachmentFile, account_id).order_by(AttachmentFile.name, AttachmentFile.id)
    return list(db.session.execute(stmt).scalars())


def get_attachment_file(account_id: int, file_id: int) -> AttachmentFile:
    """One file of the account; NotFound for another account's id."""
    return get_scoped_or_raise(AttachmentFile, account_id, id=file_id)


def create_attachment_file(
    account: Account,
    conditions: AttachmentConditions,
    filename: str,
    stream: BinaryIO,
    *,
    actor: str,
    user_id: int | None = None,
) -> AttachmentFile:
    """Store an uploaded PDF with its conditions. Commits.

    Raises ValidationError (name, conditions, or `file`: empty, too large, not a PDF).
    """
    values = _clean_conditions(conditions)
    key, size, sha256 = _store_pdf(account.id, stream)
    try:
        item = AttachmentFile(
            account_id=account.id,
            filename=_clean_filename(filename),
            storage_key=key,
            content_type="application/pdf",
            size=size,
            sha256=sha256,
            **values,
        )
        db.session.add(item)
        record_audit(
            account.id, "attachment.create", actor=actor, user_id=user_id, target=values["name"]
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _path(key).unlink(missing_ok=True)
        raise
    return item


def update_attachment_file(
    account_id: int,
    file_id: int,
    conditions: AttachmentConditions,
    *,
    actor: str,
    user_id: int | None = None,
) -> AttachmentFile:
    """Change a file's name, conditions and whether it is used. Commits."""
    item = get_attachment_file(account_id, file_id)
    values = _clean_conditions(conditions)
    changed = [key for key, value in values.items() if getattr(item, key) != value]
    for key, value in values.items():
        setattr(item, key, value)
    if changed:
        record_audit(
            account_id,
            "attachment.update",
            actor=actor,
            user_id=user_id,
            target=item.name,
            details={"changed": changed},
        )
    db.session.commit()
    return item


def delete_attachment_file(
    account_id: int, file_id: int, *, actor: str, user_id: int | None = None
) -> str:
    """Delete a file from the library and from disk; returns its name. Commits.

    Messages already planned with it fail with "attachment missing" and can be sent again.
    """
    item = get_attachment_file(account_id, file_id)
    name, key = item.name, item.storage_key
    db.session.delete(item)
    record_audit(account_id, "attachment.delete", actor=actor, user_id=user_id, target=name)
    db.session.commit()
    # Removed after the commit: a failed commit must not leave a row without its file.
    with contextlib.suppress(NotFound):
        _path(key).unlink(missing_ok=True)
    return name


def attachment_file_path(account_id: int, file_id: int) -> tuple[AttachmentFile, Path]:
    """The file's row and its path on disk, for the download; NotFound when either is gone."""
    item = get_attachment_file(account_id, file_id)
    path = _path(item.storage_key)
    if not path.is_file():
        raise NotFound("attachment file")
    return item, path
