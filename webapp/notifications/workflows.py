"""Workflow policy on top of the rules: Amazon limits, review requests, invoices, goods receipt.

Some limits hold whatever a rule says: Amazon buyers get at most one review request per
order and only 5 to 30 days after delivery, and invoices a shop uploads to Amazon are never
e-mailed as well. They are checked when a message is planned and again just before it is sent
(the order may have changed while the message waited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, or_, select

from webapp.accounts.models import CHANNELS, Account
from webapp.accounts.services import ValidationError, record_audit
from webapp.extensions import db
from webapp.notifications.models import Message, Rule, message_order
from webapp.orders.models import Order
from webapp.rawsql import DriverStatement, get_loaded
from webapp.tenancy import NotFound, scoped

REVIEW_PURPOSE = "review_request"
# Purposes whose whole point is to send the invoice or the cancellation invoice.
INVOICE_PURPOSES = ("invoiced", "credit_note")
AMAZON_REVIEW_EARLIEST = timedelta(days=5)
AMAZON_REVIEW_LATEST = timedelta(days=30)
DOCUMENT_WAIT = timedelta(days=1)
DOCUMENT_RECHECK = timedelta(minutes=15)
# States of a message that count as "the customer got (or will get) it".
LIVE_STATES = ("review", "scheduled", "sending", "sent", "unknown")


def _is_amazon_review(rule_purpose: str | None, order: Order) -> bool:
    return rule_purpose == REVIEW_PURPOSE and order.shop.is_amazon


def policy_reason(rule: Rule, order: Order) -> str | None:
    """Why this rule's message must not go to this order at all, or None."""
    shop = order.shop
    if (
        rule.purpose in INVOICE_PURPOSES
        and rule.channel == "email"
        and shop.is_amazon
        and shop.invoices_uploaded_to_amazon
    ):
        return "invoices of this Amazon shop are uploaded to Amazon, so they are not e-mailed"
    if rule.purpose == REVIEW_PURPOSE:
        wanted = order.review_mail if order.review_mail is not None else rule.review_mail_default
        if not wanted:
            return "review requests are switched off for this order"
    return None


def already_notified(order: Order, rule: Rule, *, exclude_id: int | None = None) -> bool:
    """Whether the order already has a live message this rule must not repeat.

    Rules with `once_per_order` look for their purpose and channel; Amazon review requests
    look for any review request of the order, whatever the rule settings.
    """
    amazon_review = _is_amazon_review(rule.purpose, order)
    if not (rule.once_per_order or amazon_review):
        return False
    # The statement runs on the driver's cursor, which does not autoflush: messages changed
    # in this session (a batch's earlier message, planning's) are written first, as a query
    # through the session would.
    db.session.flush()
    params = {"account_id": order.account_id, "order_id": order.id, "joined_order_id": order.id}
    return any(
        purpose == rule.purpose
        and state in LIVE_STATES
        and (amazon_review or channel == rule.channel)
        and message_id != exclude_id
        for message_id, purpose, state, channel in _ORDER_MESSAGES.all(params)
    )


# Every message of the order (its own, and those joined to it when coalesced), filtered in
# Python: an order has a handful. Asking the database for `purpose = ? AND state IN (...)` too
# let SQLite (which has no statistics) scan the account's or the live messages by an index on
# those, inside the event's write transaction. `account_id + 0` keeps the account condition on
# every row without offering its index either. Built once and run on the driver's cursor
# (webapp.rawsql): planning runs it under the order's lock. The columns are plain strings and
# integers, which the driver returns as the ORM would.
_ORDER_MESSAGES = DriverStatement(
    select(Message.id, Message.purpose, Message.state, Message.channel).where(
        Message.account_id + 0 == bindparam("account_id", type_=Integer),
        or_(
            Message.order_id == bindparam("order_id", type_=Integer),
            Message.id.in_(
                select(message_order.c.message_id).where(
                    message_order.c.order_id == bindparam("joined_order_id", type_=Integer)
                )
            ),
        ),
    )
)


def amazon_review_window(order: Order) -> tuple[datetime, datetime] | None:
    """(earliest, latest) send time of an Amazon review request; None without any date.

    Amazon counts from the delivery; when no delivery was reported the shipping date stands
    in for it.
    """
    anchor = order.delivered_at or order.shipped_at
    if anchor is None:
        return None
    return anchor + AMAZON_REVIEW_EARLIEST, anchor + AMAZON_REVIEW_LATEST


def apply_timing_policy(
    account: Account, rule: Rule, order: Order, send_after: datetime
) -> tuple[datetime, str | None]:
    """The send time after the Amazon review window; with a reason when it cannot be met."""
    if not _is_amazon_review(rule.purpose, order):
        return send_after, None
    window = amazon_review_window(order)
    if window is None:
        return send_after, "Amazon review requests need the shipping or delivery date first"
    earliest, latest = window
    send_after = max(send_after, earliest)
    if send_after > latest:
        return send_after, "Amazon allows review requests only 5 to 30 days after delivery"
    return send_after, None


@dataclass(frozen=True)
class Verdict:
    """What to do with a claimed message instead of sending it now."""

    action: str  # "postpone" | "suppress" | "cancel"
    reason: str = ""
    until: datetime | None = None


def check_before_sending(message: Message, at: datetime) -> Verdict | None:
    """Re-check the workflow limits for a claimed message; None means send it."""
    if message.rule_id is None or message.order_id is None:
        return None
    rule = get_loaded(Rule, message.rule_id)
    order = get_loaded(Order, message.order_id)
    if rule is None or order is None:
        return None
    reason = policy_reason(rule, order)
    if reason is not None:
        return Verdict("suppress", reason)
    if rule.purpose in INVOICE_PURPOSES and rule.document_kinds:
        waiting = _wait_for_documents(message, rule, order, at)
        if waiting is not None:
            return waiting
    if not _is_amazon_review(message.purpose, order):
        return None
    if already_notified(order, rule, exclude_id=message.id) and _has_earlier_review(message):
        return Verdict("cancel", "Amazon allows one review request per order")
    window = amazon_review_window(order)
    if window is None:
        return Verdict("suppress", "Amazon review requests need the shipping or delivery date")
    earliest, latest = window
    if at < earliest:
        return Verdict("postpone", "Amazon review window not open yet", until=earliest)
    if at > latest:
        return Verdict("suppress", "Amazon allows review requests only 5 to 30 days after delivery")
    return None


def _wait_for_documents(message: Message, rule: Rule, order: Order, at: datetime) -> Verdict | None:
    # An invoice mail without its PDF is useless; the PDF often arrives shortly after the
    # event, so the message waits for it (up to DOCUMENT_WAIT) instead of going out empty.
    if any(d.kind in rule.document_kinds for d in order.documents):
        return None
    context = dict(message.context or {})
    since_raw = context.get("documents_wait_since")
    since = datetime.fromisoformat(since_raw) if since_raw else at
    if at - since >= DOCUMENT_WAIT:
        kinds = " or ".join(k.replace("_", " ") for k in rule.document_kinds)
        return Verdict("suppress", f"the order has no {kinds} PDF to send")
    if not since_raw:
        context["documents_wait_since"] = at.isoformat()
        message.context = context
    return Verdict("postpone", "waiting for the PDF", until=at + DOCUMENT_RECHECK)


def _has_earlier_review(message: Message) -> bool:
    stmt = scoped(Message, message.account_id).where(
        Message.order_id == message.order_id,
        Message.purpose == REVIEW_PURPOSE,
        Message.state.in_(LIVE_STATES),
        Message.id < message.id,
    )
    return db.session.execute(stmt.limit(1)).first() is not None


# --- goods receipt (bookshop flow) -----------------------------------------------------------


def set_goods_receipt_notification(
    account_id: int,
    order_number: str,
    channel: str | None,
    *,
    remember_for_customer: bool = False,
    actor: str = "system",
) -> Order:
    """Choose how the customer hears about the goods receipt of this order. Commits.

    `channel`: "email", "sms", "both", "none", or None for the customer's default. With
    `remember_for_customer` the choice also becomes the customer's default for later orders.
    Raises ValidationError for an unknown channel, NotFound for an unknown order.
    """
    if channel is not None and channel not in CHANNELS:
        raise ValidationError("notify_on_goods_receipt", f"must be one of {', '.join(CHANNELS)}")
    order = db.session.execute(
        scoped(Order, account_id).where(Order.number == order_number)
    ).scalar_one_or_none()
    if order is None:
        raise NotFound("order")
    order.notify_on_goods_receipt = channel
    if remember_for_customer:
        order.customer.notify_on_goods_receipt = channel
    record_audit(
        account_id,
        "order.goods_receipt_channel",
        actor=actor,
        target=order.number,
        details={"channel": channel, "customer_default": remember_for_customer},
    )
    db.session.commit()
    return order


def rule_by_key(account_id: int, key: str) -> Rule | None:
    """One of the account's default rules by its key (e.g. "review_request")."""
    return db.session.execute(
        select(Rule).where(Rule.account_id == account_id, Rule.default_key == key)
    ).scalar_one_or_none()
