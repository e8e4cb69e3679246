"""Turning an order event into outbox rows, inside the transaction that records the event."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import String, Text, bindparam, cast, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from webapp.accounts.models import Account, SenderAccount
from webapp.channels.sms.phone import InvalidPhoneNumber, default_region, normalise_phone
from webapp.extensions import db
from webapp.notifications import rendering, workflows
from webapp.notifications.models import Message, Rule, message_order
from webapp.notifications.rules import rule_skip_reason
from webapp.notifications.scheduling import now, send_time_for
from webapp.orders.models import Order, OrderEvent
from webapp.orders.state import REPEATABLE
from webapp.rawsql import DriverStatement, persistent
from webapp.status.services import new_message_link
from webapp.tenancy import scoped, scoped_prepared

OPEN_STATES = ("review", "scheduled")


class EventRules(NamedTuple):
    """The account's rules one event type needs: read before the order is locked."""

    account_id: int
    event_type: str
    # Ids of the rules that list the event type as a stop event.
    stopping: list[int]
    # The enabled rules of the event type, in evaluation order.
    rules: list[Rule]


# Built once, it runs on every event (on the driver's cursor, see webapp.rawsql): the enabled
# rules of the event type (a disabled rule plans nothing; loading it would decode its JSON
# columns for nothing) and the rules, enabled or not, that list it as a stop event, in one
# statement. PostgreSQL's JSON type has no equality or containment operator that SQLite
# shares, so the database narrows the stop rules down by the JSON text (`"shipped"` somewhere
# in it) and Python checks the decoded list.
_RULES_FOR_EVENT = DriverStatement(
    scoped_prepared(Rule)
    .with_only_columns(*Rule.__table__.columns)
    .where(
        or_(
            (Rule.event_type == bindparam("event_type")) & Rule.enabled.is_(True),
            cast(Rule.stop_events, Text).like(bindparam("quoted_type", type_=Text)),
        )
    )
    .order_by(Rule.position, Rule.id)
)


def rules_for_event(account_id: int, event_type: str) -> EventRules:
    """Read the rules an event of `event_type` stops or triggers."""
    params = {
        "account_id": account_id,
        "event_type": event_type,
        "quoted_type": f'%"{event_type}"%',
    }
    rows = [persistent(Rule, record) for record in _RULES_FOR_EVENT.records(params)]
    stopping = [rule.id for rule in rows if event_type in (rule.stop_events or [])]
    rules = [rule for rule in rows if rule.event_type == event_type and rule.enabled]
    return EventRules(account_id, event_type, stopping, rules)


def plan_messages_for_event(
    event: OrderEvent,
    order: Order,
    *,
    at: datetime | None = None,
    rules: EventRules | None = None,
) -> list[Message]:
    """Add the messages the account's rules ask for to the session (never commits).

    Also cancels waiting messages whose rule names this event as a stop event (e.g. a
    prepayment reminder once the payment arrived). Returns the planned (or joined) messages.
    `rules` are the account's rules for the event as read beforehand; read now when None.
    """
    current = at or now()
    if rules is None or (rules.account_id, rules.event_type) != (order.account_id, event.type):
        rules = rules_for_event(order.account_id, event.type)
    cancel_messages_stopped_by(event, order, at=current, stopping=rules.stopping)
    if event.outcome == "out_of_order":
        return []
    account = db.session.get(Account, order.account_id)
    if account is None:
        return []
    planned: list[Message] = []
    for rule in rules.rules:
        if not rule.enabled or rule_skip_reason(rule, order) is not None:
            continue
        message = plan_message_for_rule(account, rule, event, order, at=current)
        if message is not None:
            planned.append(message)
    return planned


def cancel_messages_stopped_by(
    event: OrderEvent, order: Order, *, at: datetime, stopping: list[int]
) -> int:
    """Cancel waiting messages of this order whose rule lists the event as a stop event.

    `stopping`: the ids of those rules (`rules_for_event(...).stopping`).
    """
    if not stopping:
        return 0
    result = db.session.execute(
        update(Message)
        .where(
            Message.account_id == order.account_id,
            Message.order_id == order.id,
            Message.rule_id.in_(stopping),
            Message.state.in_(OPEN_STATES),
        )
        .values(state="cancelled", error=f"stopped by event {event.type}", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) or 0


def dedupe_key_for(event: OrderEvent, order: Order, rule: Rule, recipient: str) -> str:
    """The unique key of (event, rule, recipient).

    Events that cannot meaningfully repeat (a second "shipped") are keyed by the order and
    type, so an event replayed without an idempotency key still adds no message.
    """
    scope = f"e{event.id}" if event.type in REPEATABLE else f"o{order.id}.{event.type}"
    who = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:20]
    return f"{scope}:r{rule.id}:{who}"


# Run on the driver's cursor (webapp.rawsql): it runs for every planned message, while the
# order is locked.
_KEY_TAKEN = DriverStatement(
    select(Message.id)
    .where(Message.dedupe_key == bindparam("key", type_=String))
    .union_all(
        select(message_order.c.message_id).where(
            message_order.c.dedupe_key == bindparam("key_joined", type_=String)
        )
    )
    .limit(1)
)


def dedupe_key_taken(key: str) -> bool:
    """Whether a message (or an order joined to one) already carries this key."""
    return _KEY_TAKEN.first({"key": key, "key_joined": key}) is not None


def sender_for_order(order: Order, channel: str = "email") -> SenderAccount | None:
    """The shop's own sender account, else the account's general one, else any enabled."""
    shop = order.shop
    own = shop.sender_account
    if own is not None and own.enabled and own.channel == channel:
        return own
    stmt = (
        scoped(SenderAccount, order.account_id)
        .where(SenderAccount.enabled.is_(True), SenderAccount.channel == channel)
        .order_by(SenderAccount.shop_id.is_not(None), SenderAccount.id)
    )
    return db.session.execute(stmt).scalars().first()


def _suppression_reason(
    account: Account, rule: Rule, order: Order, recipient: str | None
) -> str | None:
    customer = order.customer
    if not account.service_enabled:
        return "the service is switched off for this account"
    if not wanted_channels(account, rule, order) and rule.channel == "email":
        return "the customer receives no messages (channel: none)"
    if not rule.essential and not customer.optional_messages:
        return "the customer opted out of optional messages"
    if not recipient:
        if rule.channel == "sms":
            return "the customer has no mobile phone number"
        return "the customer has no e-mail address"
    return workflows.policy_reason(rule, order)


def wanted_channels(account: Account, rule: Rule, order: Order) -> set[str]:
    """The channels this order's customer wants for the rule's event.

    The customer's preference, else the account default; "both" means e-mail and SMS. For
    goods receipt the order's own choice (else the customer's stored default) comes first,
    and pickup orders from a web shop always get the e-mail.
    """
    customer = order.customer
    preference = customer.channel or account.default_channel or "email"
    if rule.event_type == "goods_received":
        preference = order.notify_on_goods_receipt or customer.notify_on_goods_receipt or preference
    wanted = {"email", "sms"} if preference == "both" else set()
    if preference in ("email", "sms"):
        wanted.add(preference)
    if rule.event_type == "goods_received" and order.pickup and order.shop.kind == "webshop":
        wanted.add("email")
    return wanted


def _channel_fits(account: Account, rule: Rule, order: Order) -> bool:
    wanted = wanted_channels(account, rule, order)
    if not wanted:
        # Recorded once (on the e-mail rule) as suppressed, so the merchant sees why.
        return rule.channel == "email"
    return rule.channel in wanted


def sms_recipient(order: Order) -> tuple[str | None, str | None]:
    """(E.164 number, None) for the customer's mobile number, or (raw value, reason)."""
    customer = order.customer
    shop = order.shop
    region = default_region(customer.country, shop.country, shop.marketplace)
    try:
        return normalise_phone(customer.phone, region), None
    except InvalidPhoneNumber as exc:
        if not (customer.phone or "").strip():
            return None, None
        return customer.phone, f"invalid phone number: {exc.reason} ({customer.phone})"


def _bcc_for(account: Account, rule: Rule, sender: SenderAccount | None, to: str) -> list[str]:
    wanted = list(sender.bcc or []) if sender else []
    wanted += list(rule.bcc or [])
    if rule.copy_to_merchant and account.merchant_email:
        wanted.append(account.merchant_email)
    seen: set[str] = {to.lower()}
    out = []
    for address in wanted:
        if address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def plan_message_for_rule(
    account: Account, rule: Rule, event: OrderEvent, order: Order, *, at: datetime
) -> Message | None:
    """Plan one rule's message for an order event; None when it already exists or the
    customer's channel is another one."""
    if not _channel_fits(account, rule, order):
        return None
    customer = order.customer
    recipient: str | None
    invalid_phone: str | None = None
    if rule.channel == "email":
        recipient = (rule.to_contact_person and customer.contact_email) or customer.email
    else:
        recipient, invalid_phone = sms_recipient(order)
    key = dedupe_key_for(event, order, rule, recipient or f"customer:{customer.id}")
    if dedupe_key_taken(key):
        return None
    if workflows.already_notified(order, rule):
        return None

    sender = sender_for_order(order, rule.channel)
    reason = invalid_phone or _suppression_reason(account, rule, order, recipient)
    if reason is None and sender is None:
        kind = "SMS" if rule.channel == "sms" else "e-mail"
        reason = f"no enabled {kind} sender account for this shop"

    if reason is None and rule.coalesce_minutes:
        joined = _join_open_message(rule, order, event, key, recipient or "", sender, at=at)
        if joined is not None:
            return joined

    from webapp.message_templates.context import choose_language

    language = choose_language(customer.language, order.shop.language, account.default_language)
    message = Message(
        account_id=account.id,
        dedupe_key=key,
        order_id=order.id,
        event_id=event.id,
        rule_id=rule.id,
        sender_account_id=sender.id if sender else None,
        channel=rule.channel,
        purpose=rule.purpose,
        language=language,
        to_address=recipient or "",
        to_name=customer.name,
        bcc=_bcc_for(account, rule, sender, recipient or "") if rule.channel == "email" else [],
        context={"template_id": rule.template_id} if rule.template_id else {},
        attachments=[],
        repeat_index=0,
        attempts=0,
    )
    send_after = send_time_for(
        account,
        base=at,
        delay_minutes=rule.delay_minutes + rule.coalesce_minutes,
        # No SMS at 3 a.m., whatever the rule says.
        respect_quiet_hours=rule.respect_quiet_hours or rule.channel == "sms",
        business_days_only=rule.business_days_only,
    )
    if reason is None:
        send_after, reason = workflows.apply_timing_policy(account, rule, order, send_after)
    if reason is not None:
        message.state = "suppressed"
        message.error = reason
        message.send_after = at
    else:
        manual = rule.mode == "review" or order.fulfillment in (rule.review_fulfillments or [])
        message.state = "review" if manual else "scheduled"
        message.send_after = send_after
        if rule.coalesce_minutes:
            message.coalesce_until = at + timedelta(minutes=rule.coalesce_minutes)
    link = None
    if message.state != "suppressed":
        # Each message mints its own signed link (none for Amazon), in the same transaction.
        # Its URL is known before the message is written, so the message is inserted with it.
        minted = new_message_link(message)
        if minted is not None:
            link, message.status_url = minted
    _insert_message(message, order, event, key)
    if link is not None:
        link.message_id = message.id
        db.session.add(link)  # written by the event's next flush or its commit
    if message.state == "review":
        _render_for_review(message)
    return message


def _render_for_review(message: Message) -> None:
    # Review messages are rendered now so the merchant can read and edit them; a template
    # problem must not lose the event, so it is noted on the message instead.
    try:
        rendering.prepare_message(message, force=True)
    except rendering.RenderFailed as exc:
        message.error = str(exc)


# Built once: the order a planned message is about (its key is also checked by the next
# event's dedupe_key_taken).
_INSERT_MESSAGE_ORDER = DriverStatement(
    insert(message_order).values(
        message_id=bindparam("message_id"),
        order_id=bindparam("order_id"),
        event_id=bindparam("event_id"),
        dedupe_key=bindparam("dedupe_key"),
    )
)


def _insert_message(message: Message, order: Order, event: OrderEvent, key: str) -> None:
    """Write the planned message and its message_order row, in the caller's transaction.

    No savepoint: planning runs only inside record_event, under the order's lock (the write
    lock on SQLite, the order row's lock on PostgreSQL), and every key it plans names the
    order or the event, so no other transaction can plan the same key meanwhile; the check
    above catches replays. Should the unique constraint fire anyway, the IntegrityError
    aborts the event's transaction and the API answers 409, which the client retries.
    """
    db.session.add(message)
    db.session.flush()
    _INSERT_MESSAGE_ORDER.execute(
        {"message_id": message.id, "order_id": order.id, "event_id": event.id, "dedupe_key": key}
    )


def _join_open_message(
    rule: Rule,
    order: Order,
    event: OrderEvent,
    key: str,
    recipient: str,
    sender: SenderAccount | None,
    *,
    at: datetime,
) -> Message | None:
    stmt = (
        scoped(Message, order.account_id)
        .where(
            Message.rule_id == rule.id,
            Message.to_address == recipient,
            Message.state.in_(OPEN_STATES),
            Message.coalesce_until >= at,
            Message.repeat_index == 0,
            Message.sender_account_id == (sender.id if sender else None),
        )
        .order_by(Message.id)
    )
    message = db.session.execute(stmt).scalars().first()
    if message is None:
        return None
    try:
        with db.session.begin_nested():
            db.session.execute(
                insert(message_order).values(
                    message_id=message.id, order_id=order.id, event_id=event.id, dedupe_key=key
                )
            )
    except IntegrityError:
        return None
    db.session.expire(message, ["orders"])
    if message.state == "review":
        _render_for_review(message)
    return message
