"""The review queue's actions on top of the engine: approve edited, approve many."""

from __future__ import annotations

from dataclasses import dataclass, field

from webapp.accounts.services import ValidationError
from webapp.notifications.manual import MAX_SUBJECT, MAX_TEXT, text_as_html
from webapp.notifications.models import Message
from webapp.notifications.queries_admin import MAX_ID, get_message_for_admin
from webapp.notifications.services import InvalidState, approve_message
from webapp.tenancy import NotFound

MAX_BULK = 200


@dataclass
class BulkResult:
    """Which messages were approved and which were skipped (gone or no longer waiting)."""

    approved: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def approve_edited_message(
    account_id: int,
    message_id: int,
    *,
    subject: str | None,
    body_text: str | None,
    actor: str,
) -> Message:
    """Approve a review message with the merchant's edits of subject and text.

    The edits are checked (no line breaks in the subject, sizes); an edited text replaces
    the HTML part by the same text as simple paragraphs, so both parts say the same.
    Commits, then requests a dispatch (through the engine's approve_message).
    """
    html: str | None = None
    if subject is not None:
        subject = subject.strip()
        if "\r" in subject or "\n" in subject:
            raise ValidationError("subject", "must not contain line breaks")
        if len(subject) > MAX_SUBJECT * 2:
            raise ValidationError("subject", "is too long")
    if body_text is not None:
        body_text = body_text.replace("\r\n", "\n").strip()
        if not body_text:
            raise ValidationError("body_text", "must not be empty")
        if len(body_text) > MAX_TEXT * 4:
            raise ValidationError("body_text", "is too long")
    current = get_message_for_admin(account_id, message_id)
    if body_text is not None and body_text == (current.body_text or "").strip():
        body_text = None  # unchanged: keep the template's HTML part
    if body_text is not None and current.body_html:
        html = text_as_html(body_text)
    return approve_message(
        account_id,
        message_id,
        subject=subject,
        body_text=body_text,
        body_html=html,
        actor=actor,
    )


def approve_many(account_id: int, message_ids: list[int], *, actor: str) -> BulkResult:
    """Approve every listed review message of the account; others are skipped. Commits per
    message (each request dispatch)."""
    result = BulkResult()
    for message_id in dict.fromkeys(message_ids[:MAX_BULK]):
        if not 0 < message_id <= MAX_ID:
            result.skipped.append(message_id)
            continue
        try:
            approve_message(account_id, message_id, actor=actor)
        except (NotFound, InvalidState):
            result.skipped.append(message_id)
        else:
            result.approved.append(message_id)
    return result
