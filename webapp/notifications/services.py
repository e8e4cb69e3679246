"""Notification services for the API, the admin and the jobs: the outbox's public face."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from datetime import datetime
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

from webapp.accounts.models import Account
from webapp.accounts.services import ValidationError, record_audit
from webapp.extensions import db
from webapp.notifications.delivery import DeliveryReport, deliver_due_messages
from webapp.notifications.models import AttachmentFile, Message
from webapp.notifications.planning import EventRules, plan_messages_for_event, rules_for_event
from webapp.notifications.rendering import RenderFailed, prepare_message, storage_root
from webapp.notifications.scheduling import now
from webapp.orders.models import FULFILLMENTS, Order, OrderEvent
from webapp.orders.state import EVENT_TYPES
from webapp.queue import enqueue, get_redis
from webapp.tenancy import NotFound, get_scoped_or_raise

log = logging.getLogger(__name__)

DISPATCH_JOB = "jobs.dispatch.dispatch_due_messages"
SWEEP_JOB = "jobs.dispatch.sweep_messages"

__all__ = [
    "DeliveryReport",
    "approve_message",
    "cancel_message",
    "create_attachment_file",
    "deliver_due_messages",
    "plan_messages_for_event",
    "request_dispatch",
    "retry_message",
]


class InvalidState(ValueError):
    """The message is not in a state that allows this action."""


def _dispatch_flag() -> str:
    return f"statuslink:dispatch-pending:{current_app.config['RQ_QUEUE']}"


def request_dispatch() -> bool:
    """Enqueue one dispatch job unless one is already waiting (a burst enqueues one job).

    Returns False when Redis is unreachable; the periodic sweep then delivers anyway.
    """
    try:
        ttl = max(1, int(float(current_app.config["DISPATCH_COALESCE_SECONDS"])))
        if not get_redis().set(_dispatch_flag(), "1", nx=True, ex=ttl):
            return True
    except RedisError as exc:
        log.warning("dispatch not requested, Redis unavailable: %s", exc.__class__.__name__)
        return False
    return enqueue(DISPATCH_JOB)


def clear_dispatch_request() -> None:
    """Called by the dispatch job as it starts, so later events enqueue a fresh job."""
    with contextlib.suppress(RedisError):
        get_redis().delete(_dispatch_flag())


def _message(account_id: int, message_id: int) -> Message:
    try:
        return get_scoped_or_raise(Message, account_id, id=message_id)
    except NotFound as exc:
        raise NotFound("message") from exc


def approve_message(
    account_id: int,
    message_id: int,
    *,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
    actor: str = "system",
) -> Message:
    """Release a message from the review queue, with the merchant's edits. Commits, then
    requests a dispatch."""
    message = _message(account_id, message_id)
    if message.state != "review":
        raise InvalidState("only messages waiting for review can be approved")
    if subject is not None:
        if "\r" in subject or "\n" in subject:
            raise ValidationError("subject", "must not contain line breaks")
        message.subject = subject
    if body_text is not None:
        message.body_text = body_text
    if body_html is not None:
        message.body_html = body_html or None
    message.state = "scheduled"
    message.send_after = max(message.send_after, now())
    record_audit(account_id, "message.approve", actor=actor, target=str(message.id))
    db.session.commit()
    request_dispatch()
    return message


def cancel_message(account_id: int, message_id: int, *, actor: str = "system") -> Message:
    """Cancel a message that has not been sent yet. Commits."""
    message = _message(account_id, message_id)
    if message.state not in ("review", "scheduled"):
        raise InvalidState("only messages waiting to be sent can be cancelled")
    message.state = "cancelled"
    record_audit(account_id, "message.cancel", actor=actor, target=str(message.id))
    db.session.commit()
    return message


def retry_message(account_id: int, message_id: int, *, actor: str = "system") -> Message:
    """Send a failed message again (after the merchant fixed the cause). Commits, then
    requests a dispatch. The rendering is redone so a fixed template takes effect."""
    message = _message(account_id, message_id)
    if message.state != "failed":
        raise InvalidState("only failed messages can be sent again")
    message.state = "scheduled"
    message.send_after = now()
    message.first_attempt_at = None
    message.rendered_at = None
    message.error = None
    record_audit(account_id, "message.retry", actor=actor, target=str(message.id))
    db.session.commit()
    request_dispatch()
    return message


def render_message_now(account_id: int, message_id: int) -> Message:
    """Render a waiting message (e.g. for a preview) and store the rendering. Commits."""
    message = _message(account_id, message_id)
    try:
        prepare_message(message)
    except RenderFailed as exc:
        raise ValidationError("template", str(exc)) from exc
    db.session.commit()
    return message


def _choices(field: str, values: list[str] | None, allowed: tuple[str, ...] | None) -> list[str]:
    out = [str(v).strip() for v in values or [] if str(v).strip()]
    if allowed is not None:
        bad = [v for v in out if v not in allowed]
        if bad:
            raise ValidationError(field, f"unknown value {bad[0]!r}")
    return out


def create_attachment_file(
    account: Account,
    name: str,
    filename: str,
    data: bytes,
    *,
    content_type: str = "application/pdf",
    marketplaces: list[str] | None = None,
    fulfillments: list[str] | None = None,
    languages: list[str] | None = None,
    event_types: list[str] | None = None,
    actor: str = "system",
) -> AttachmentFile:
    """Store a file of the account (terms, withdrawal form) for matching messages. Commits."""
    from webapp.config import SUPPORTED_LANGUAGES

    if not name.strip():
        raise ValidationError("name", "must not be empty")
    clean_name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not clean_name or any(c in clean_name for c in '\r\n"') or len(clean_name) > 200:
        raise ValidationError("filename", "must be a plain file name")
    if "\r" in content_type or "\n" in content_type or "/" not in content_type:
        raise ValidationError("content_type", "must be a MIME type such as application/pdf")
    if not data:
        raise ValidationError("file", "is empty")
    max_bytes = int(current_app.config.get("MAX_CONTENT_LENGTH") or 10 * 1024 * 1024)
    if len(data) > max_bytes:
        raise ValidationError("file", "is too large")
    digest = hashlib.sha256(data).hexdigest()
    key = f"files/{account.id}/{uuid.uuid4().hex}-{digest[:12]}"
    path = storage_root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    item = AttachmentFile(
        account_id=account.id,
        name=name.strip(),
        filename=clean_name,
        storage_key=key,
        content_type=content_type,
        size=len(data),
        sha256=digest,
        marketplaces=[m.lower() for m in _choices("marketplaces", marketplaces, None)],
        fulfillments=_choices("fulfillments", fulfillments, FULFILLMENTS),
        languages=_choices("languages", languages, SUPPORTED_LANGUAGES),
        event_types=_choices("event_types", event_types, EVENT_TYPES),
    )
    db.session.add(item)
    record_audit(account.id, "attachment.create", actor=actor, target=clean_name)
    db.session.commit()
    return item


def on_event_arriving(sender: Any, *, account_id: int, event_type: str, **_: Any) -> EventRules:
    """Receiver of `event_arriving`: read the rules planning will need before the lock."""
    return rules_for_event(account_id, event_type)


def on_event_recorded(
    sender: Any,
    *,
    event: OrderEvent,
    order: Order,
    prepared: dict[Any, Any] | None = None,
    **_: Any,
) -> list[Message]:
    """Receiver of `event_recorded`: plan messages in the event's transaction (no commit)."""
    rules = (prepared or {}).get(on_event_arriving)
    return plan_messages_for_event(event, order, rules=rules)


def on_event_committed(sender: Any, *, event: OrderEvent, messages: list[Message], **_: Any):
    """Receiver of `event_committed`: request a dispatch when something is due soon."""
    horizon: datetime = now()
    due = [m for m in messages or [] if m.state == "scheduled" and m.send_after <= horizon]
    if due:
        request_dispatch()
