"""Read-only look-ups of messages for other domains (the API, order pages)."""

from __future__ import annotations

from sqlalchemy import or_

from webapp.extensions import db
from webapp.notifications.models import Message
from webapp.tenancy import NotFound, get_scoped_or_raise, scoped

# Ids beyond a signed 32-bit integer cannot exist; refusing them early keeps PostgreSQL from
# raising an out-of-range error for a hostile id.
_MAX_ID = 2**31 - 1


def get_message(account_id: int, message_id: int) -> Message:
    """One message of this account; NotFound also for another account's message."""
    if not 0 < message_id <= _MAX_ID:
        raise NotFound("Message")
    return get_scoped_or_raise(Message, account_id, id=message_id)


def messages_for_order(account_id: int, order_id: int) -> list[Message]:
    """The messages about one order (also messages listing several orders), oldest first."""
    stmt = (
        scoped(Message, account_id)
        .where(or_(Message.order_id == order_id, Message.orders.any(id=order_id)))
        .order_by(Message.created_at, Message.id)
    )
    return list(db.session.execute(stmt).scalars())
