"""The order note: the merchant's 255-character free text on an order."""

from __future__ import annotations

import unicodedata

from webapp.accounts.services import ValidationError, record_audit
from webapp.extensions import db
from webapp.orders.models import Order
from webapp.orders.services import get_order

NOTE_MAX_LENGTH = 255


def clean_note(note: str) -> str:
    """The note as stored: trimmed, line breaks kept; raises ValidationError when invalid."""
    value = (note or "").replace("\r\n", "\n").strip()
    if len(value) > NOTE_MAX_LENGTH:
        raise ValidationError("note", f"must be at most {NOTE_MAX_LENGTH} characters long")
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in value):
        raise ValidationError("note", "must not contain control characters")
    return value


def set_order_note(account_id: int, number: str, note: str, *, actor: str = "admin") -> Order:
    """Replace the note of an order. Commits; enqueues nothing.

    Raises ValidationError (too long, control characters) or NotFound.
    """
    value = clean_note(note)
    order = get_order(account_id, number)
    if order.note != value:
        order.note = value
        record_audit(account_id, "order.note", actor=actor, target=order.number)
        db.session.commit()
    return order
