"""Read-only look-ups of messages and rules for the admin pages (review queue, log, rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.notifications.models import (
    MESSAGE_STATES,
    RULE_CHANNELS,
    Message,
    QuickReply,
    Rule,
)
from webapp.orders.models import Order
from webapp.tenancy import NotFound, get_scoped_or_raise, scoped

# Ids beyond a signed 32-bit integer cannot exist; refusing them early keeps PostgreSQL from
# raising an out-of-range error for a hostile id.
MAX_ID = 2**31 - 1
PAGE_SIZE = 25
REVIEW_LIMIT = 200


def _id(value: int, name: str) -> int:
    if not 0 < value <= MAX_ID:
        raise NotFound(name)
    return value


@dataclass
class MessageFilters:
    """The filters of the message log; unknown or empty values mean "any"."""

    state: str = ""
    channel: str = ""
    shop_id: int | None = None
    rule_id: int | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> MessageFilters:
        """Parse query-string arguments leniently: anything unknown is ignored."""

        def number(name: str) -> int | None:
            raw = str(args.get(name, "") or "").strip()
            return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None

        state = str(args.get("state", "") or "")
        channel = str(args.get("channel", "") or "")
        return cls(
            state=state if state in MESSAGE_STATES else "",
            channel=channel if channel in RULE_CHANNELS else "",
            shop_id=number("shop"),
            rule_id=number("rule"),
            page=min(number("page") or 1, 100_000),
        )

    def as_args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query arguments (for pagination links), without empty ones."""
        values = {
            "state": self.state,
            "channel": self.channel,
            "shop": self.shop_id,
            "rule": self.rule_id,
            "page": self.page,
        }
        values.update(changes)
        out = {k: v for k, v in values.items() if v not in (None, "")}
        if out.get("page") == 1:
            del out["page"]
        return out


@dataclass
class MessagePage:
    """One page of the message log."""

    messages: list[Message]
    page: int
    has_next: bool
    filters: MessageFilters
    rule_names: dict[int, str] = field(default_factory=dict)

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def search_messages(account_id: int, filters: MessageFilters) -> MessagePage:
    """The account's messages, newest first, filtered; one page (keyed by OFFSET, one row of
    look-ahead instead of a COUNT so a large log stays fast)."""
    stmt = scoped(Message, account_id)
    if filters.state:
        stmt = stmt.where(Message.state == filters.state)
    if filters.channel:
        stmt = stmt.where(Message.channel == filters.channel)
    if filters.rule_id:
        stmt = stmt.where(Message.rule_id == filters.rule_id)
    if filters.shop_id:
        shop_orders = select(Order.id).where(
            Order.account_id == account_id, Order.shop_id == filters.shop_id
        )
        stmt = stmt.where(Message.order_id.in_(shop_orders))
    stmt = (
        stmt.options(selectinload(Message.orders))
        .order_by(Message.created_at.desc(), Message.id.desc())
        .offset((filters.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = list(db.session.execute(stmt).scalars())
    return MessagePage(
        messages=rows[:PAGE_SIZE],
        page=filters.page,
        has_next=len(rows) > PAGE_SIZE,
        filters=filters,
        rule_names=rule_names(account_id),
    )


def list_review_messages(account_id: int) -> list[Message]:
    """Messages waiting for review, the ones due first."""
    stmt = (
        scoped(Message, account_id)
        .where(Message.state == "review")
        .options(selectinload(Message.orders))
        .order_by(Message.send_after, Message.id)
        .limit(REVIEW_LIMIT)
    )
    return list(db.session.execute(stmt).scalars())


def count_review_messages(account_id: int) -> int:
    """How many messages wait for review."""
    stmt = select(func.count(Message.id)).where(
        Message.account_id == account_id, Message.state == "review"
    )
    return int(db.session.execute(stmt).scalar_one())


def get_message_for_admin(account_id: int, message_id: int) -> Message:
    """One message of this account with its attempts; NotFound for another account's."""
    return get_scoped_or_raise(Message, account_id, id=_id(message_id, "Message"))


def get_rule(account_id: int, rule_id: int) -> Rule:
    """One rule of this account; NotFound for another account's."""
    return get_scoped_or_raise(Rule, account_id, id=_id(rule_id, "Rule"))


def rule_names(account_id: int) -> dict[int, str]:
    """Rule id → name, for labelling messages."""
    stmt = select(Rule.id, Rule.name).where(Rule.account_id == account_id)
    return {row.id: row.name for row in db.session.execute(stmt)}


def get_quick_reply(account_id: int, quick_reply_id: int) -> QuickReply:
    """One quick reply of this account; NotFound for another account's."""
    return get_scoped_or_raise(QuickReply, account_id, id=_id(quick_reply_id, "QuickReply"))
