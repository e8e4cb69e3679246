"""File storage for order documents: PDFs on disk under DOCUMENTS_DIR/<account_id>/."""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from webapp.accounts.services import ValidationError

PDF_MAGIC = b"%PDF-"
_CHUNK = 64 * 1024


class DocumentTooLarge(ValidationError):
    """The uploaded file exceeds the configured size limit."""

    def __init__(self, limit: int):
        super().__init__("file", f"is larger than the limit of {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredFile:
    """Where a file was stored, how large it is and its SHA-256."""

    storage_key: str
    size: int
    sha256: str


def documents_root() -> Path:
    """The directory all documents live under."""
    return Path(current_app.config["DOCUMENTS_DIR"]).resolve()


def max_document_bytes() -> int:
    """The largest document accepted, in bytes (MAX_CONTENT_LENGTH)."""
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 10 * 1024 * 1024)


def path_for(storage_key: str) -> Path:
    """The absolute path of a stored file; refuses keys that would leave the root."""
    root = documents_root()
    path = (root / storage_key).resolve()
    if root not in path.parents:
        raise ValueError("storage key outside the documents directory")
    return path


def save_pdf(account_id: int, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredFile:
    """Copy a PDF from `stream` to disk, checking magic bytes and size on the way.

    The file is written to a temporary name in the account's folder and renamed once complete,
    so a reader never sees half a file. Raises ValidationError (not a PDF) or DocumentTooLarge.
    """
    limit = max_document_bytes() if max_bytes is None else max_bytes
    folder = documents_root() / str(account_id)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise DocumentTooLarge(limit)
                if len(head) < len(PDF_MAGIC):
                    head = (head + chunk)[: len(PDF_MAGIC)]
                    if len(head) == len(PDF_MAGIC) and head != PDF_MAGIC:
                        raise ValidationError("file", "is not a PDF document")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if head != PDF_MAGIC:
            raise ValidationError("file", "is not a PDF document")
        name = f"{secrets.token_hex(16)}.pdf"
        os.replace(tmp_name, folder / name)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return StoredFile(storage_key=f"{account_id}/{name}", size=size, sha256=digest.hexdigest())


def open_stored(storage_key: str) -> BinaryIO:
    """Open a stored file for reading (binary)."""
    return path_for(storage_key).open("rb")


def delete_stored(storage_key: str) -> None:
    """Remove a stored file; a file that is already gone is fine."""
    try:
        path_for(storage_key).unlink(missing_ok=True)
    except ValueError:
        return
