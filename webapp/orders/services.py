"""Order services: create or update orders, record events on them, store their documents."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, BinaryIO

import phonenumbers
from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from webapp.accounts.models import CHANNELS, Account, SenderAccount, Shop
from webapp.accounts.services import CODE_RE, ValidationError, get_shop_by_code, normalise_email
from webapp.config import SUPPORTED_LANGUAGES
from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.orders.documents import delete_stored, open_stored, save_pdf
from webapp.orders.models import (
    DOCUMENT_KINDS,
    FULFILLMENTS,
    PAYMENT_METHODS,
    Customer,
    Document,
    Order,
    OrderEvent,
    OrderItem,
)
from webapp.orders.signals import event_arriving, event_committed, event_recorded
from webapp.orders.state import EVENT_TYPES, REPEATABLE, TRANSITIONS, next_state
from webapp.rawsql import (
    DriverStatement,
    attribute_keys,
    labelled,
    persistent,
    split_record,
)
from webapp.tenancy import NotFound, get_scoped, get_scoped_or_raise, scoped, scoped_prepared

if TYPE_CHECKING:
    from webapp.notifications.models import Message

log = logging.getLogger(__name__)

# Order numbers appear in URL paths, so they are limited to characters that need no escaping.
NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CURRENCY_RE = re.compile(r"^[A-Za-z]{3}$")
MAX_QUANTITY = 100_000
MAX_PRICE = Decimal("9999999999.99")
_MAX_ID = 2**31 - 1

_LANGUAGE_REGIONS = {
    "de": "DE",
    "en": "GB",
    "fr": "FR",
    "it": "IT",
    "es": "ES",
    "nl": "NL",
    "pl": "PL",
    "sv": "SE",
}


@dataclass
class EventOutcome:
    """What record_event did: the event row, the order after it, the messages planned."""

    event: OrderEvent
    order: Order
    messages: list[Message] = field(default_factory=list)


# --- small validators ----------------------------------------------------------------------


def _text(
    data: Mapping[str, Any], key: str, path: str, *, max_length: int, required: bool = False
) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(path, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(path, "must be a string")
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError(path, f"must be at most {max_length} characters long")
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in value):
        raise ValidationError(path, "must not contain control characters")
    return value


def _choice(value: Any, choices: Sequence[str], path: str) -> str:
    if value not in choices:
        raise ValidationError(path, f"must be one of {', '.join(choices)}")
    return value


def _quantity(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise ValidationError(path, f"must be a whole number from 1 to {MAX_QUANTITY}")
    return value


def _price(value: Any, path: str) -> Decimal | None:
    if value is None:
        return None
    try:
        price = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(path, "must be a number") from exc
    if not Decimal("0") <= price <= MAX_PRICE:
        raise ValidationError(path, f"must be between 0 and {MAX_PRICE}")
    return price


def _aware(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(path, "must be a date and time")
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError as exc:
        raise ValidationError(path, "is out of range") from exc


def phone_region(shop: Shop, account: Account | None) -> str | None:
    """The region used to read national phone numbers: shop country, marketplace, account."""
    candidates: list[str | None] = [shop.country]
    if shop.marketplace and "." in shop.marketplace:
        tld = shop.marketplace.split(".", 1)[1].lower()
        candidates.append({"com": "US", "co.uk": "GB", "uk": "GB"}.get(tld, tld.split(".")[-1]))
    if account is not None:
        candidates.append(_LANGUAGE_REGIONS.get(account.default_language))
    for candidate in candidates:
        if candidate and candidate.upper() in phonenumbers.SUPPORTED_REGIONS:
            return candidate.upper()
    return None


def normalise_phone(value: str, region: str | None, path: str = "customer.phone") -> str:
    """A phone number in E.164 form; national numbers are read in `region`."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(path, "is not a valid phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(path, "is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# --- orders --------------------------------------------------------------------------------


def get_order(account_id: int, number: str) -> Order:
    """The order with this number; NotFound also when it belongs to another account."""
    if not isinstance(number, str) or not NUMBER_RE.match(number):
        raise NotFound("Order")
    return get_scoped_or_raise(Order, account_id, number=number)


def _upsert_customer(
    account: Account, shop: Shop, data: Mapping[str, Any], current: Customer | None
) -> Customer:
    """Find the customer by external id, else e-mail, else the order's; update or create it."""
    name = _text(data, "name", "customer.name", max_length=200, required=True)
    external_id = _text(data, "external_id", "customer.external_id", max_length=100)
    values: dict[str, Any] = {"name": name}
    if "email" in data:
        raw = _text(data, "email", "customer.email", max_length=254)
        values["email"] = normalise_email(raw, "customer.email") if raw else None
    if "contact_email" in data:
        raw = _text(data, "contact_email", "customer.contact_email", max_length=254)
        values["contact_email"] = normalise_email(raw, "customer.contact_email") if raw else None
    if "phone" in data:
        raw = _text(data, "phone", "customer.phone", max_length=40)
        values["phone"] = normalise_phone(raw, phone_region(shop, account)) if raw else None
    if data.get("language") is not None:
        values["language"] = _choice(data["language"], SUPPORTED_LANGUAGES, "customer.language")
    elif "language" in data:
        values["language"] = None
    if data.get("channel") is not None:
        values["channel"] = _choice(data["channel"], CHANNELS, "customer.channel")
    elif "channel" in data:
        values["channel"] = None
    if data.get("notify_on_goods_receipt") is not None:
        values["notify_on_goods_receipt"] = _choice(
            data["notify_on_goods_receipt"], CHANNELS, "customer.notify_on_goods_receipt"
        )
    elif "notify_on_goods_receipt" in data:
        values["notify_on_goods_receipt"] = None

    customer: Customer | None = None
    if external_id:
        customer = get_scoped(Customer, account.id, external_id=external_id)
    email = values.get("email")
    if customer is None and email:
        stmt = scoped(Customer, account.id).where(Customer.email == email)
        if external_id:
            # A customer known under another external id is a different person.
            stmt = stmt.where(Customer.external_id.is_(None))
        customer = db.session.execute(stmt.order_by(Customer.id).limit(1)).scalars().first()
    if customer is None and current is not None and not external_id and not email:
        customer = current
    if customer is None:
        customer = Customer(account_id=account.id, name=name)
        db.session.add(customer)
    if external_id:
        customer.external_id = external_id
    for key, value in values.items():
        setattr(customer, key, value)
    return customer


def _build_items(order: Order, items: Any) -> list[OrderItem]:
    """New item rows for `items`, keeping delivered quantities of matching old lines."""
    if not isinstance(items, list) or not items:
        raise ValidationError("items", "must list at least one item")
    delivered: dict[tuple[str, str], int] = {}
    for old in order.items:
        key = ("sku", old.sku) if old.sku else ("title", old.title.casefold())
        delivered[key] = delivered.get(key, 0) + old.delivered_quantity
    rows: list[OrderItem] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValidationError(f"items.{index}", "must be an object")
        sku = _text(item, "sku", f"items.{index}.sku", max_length=100)
        title = _text(item, "title", f"items.{index}.title", max_length=500, required=True)
        assert title is not None
        quantity = _quantity(item.get("quantity"), f"items.{index}.quantity")
        key = ("sku", sku) if sku else ("title", title.casefold())
        kept = min(delivered.pop(key, 0), quantity)
        rows.append(
            OrderItem(
                account_id=order.account_id,
                position=index,
                sku=sku,
                title=title,
                quantity=quantity,
                unit_price=_price(item.get("unit_price"), f"items.{index}.unit_price"),
                delivered_quantity=kept,
            )
        )
    return rows


def upsert_order(
    account_id: int,
    data: Mapping[str, Any],
    *,
    before_commit: Callable[[Order, bool], None] | None = None,
) -> tuple[Order, bool]:
    """Create the order `data["number"]` or update it; returns (order, created).

    `data` has the API's shape: number, shop (code), placed_at, fulfillment, currency,
    payment {method, due_days}, customer {name, email, phone, language, channel, external_id,
    contact_email, notify_on_goods_receipt}, items [{sku, title, quantity, unit_price}], pickup,
    review_mail, notify_on_goods_receipt. Optional
    keys that are absent keep their current value. The customer is matched by external id,
    else e-mail; items are replaced, keeping delivered quantities of lines with the same sku
    (or title). `before_commit(order, created)` runs inside the transaction after a flush and
    may add rows. Commits once; enqueues nothing. Raises ValidationError.
    """
    number = _text(data, "number", "number", max_length=64, required=True)
    if not number or not NUMBER_RE.match(number):
        raise ValidationError("number", "use 1-64 letters, digits, '.', '_' or '-'")
    shop_code = data.get("shop")
    shop = (
        get_shop_by_code(account_id, shop_code)
        if isinstance(shop_code, str) and CODE_RE.match(shop_code)
        else None
    )
    if shop is None:
        raise ValidationError("shop", f"no shop with code {shop_code!r} in this account")
    customer_data = data.get("customer")
    if not isinstance(customer_data, Mapping):
        raise ValidationError("customer", "is required")
    placed_at = _aware(data.get("placed_at"), "placed_at")
    fulfillment = data.get("fulfillment")
    if fulfillment is not None:
        _choice(fulfillment, FULFILLMENTS, "fulfillment")
    currency = data.get("currency")
    if currency is not None and (not isinstance(currency, str) or not CURRENCY_RE.match(currency)):
        raise ValidationError("currency", "must be a three-letter ISO 4217 code")
    payment = data.get("payment")
    if payment is not None:
        if not isinstance(payment, Mapping):
            raise ValidationError("payment", "must be an object")
        _choice(payment.get("method"), PAYMENT_METHODS, "payment.method")
        due_days = payment.get("due_days")
        if due_days is not None and (
            isinstance(due_days, bool) or not isinstance(due_days, int) or not 0 <= due_days <= 365
        ):
            raise ValidationError("payment.due_days", "must be a whole number from 0 to 365")

    goods_receipt = data.get("notify_on_goods_receipt")
    if goods_receipt is not None:
        _choice(goods_receipt, CHANNELS, "notify_on_goods_receipt")

    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound("Account")
    try:
        order = db.session.execute(
            scoped(Order, account_id).filter_by(number=number).with_for_update()
        ).scalar_one_or_none()
        created = order is None
        customer = _upsert_customer(
            account, shop, customer_data, None if order is None else order.customer
        )
        if order is None:
            order = Order(account_id=account_id, number=number, state="open", note="")
            db.session.add(order)
        order.shop = shop
        order.customer = customer
        if placed_at is not None or created:
            order.placed_at = placed_at or utcnow()
        if fulfillment is not None or created:
            order.fulfillment = fulfillment or "own"
        if currency is not None or created:
            order.currency = (currency or "EUR").upper()
        if payment is not None:
            order.payment_method = payment["method"]
            order.payment_due_days = payment.get("due_days")
        elif created:
            order.payment_method = "paid"
        if "pickup" in data or created:
            order.pickup = bool(data.get("pickup", False))
        if "notify_on_goods_receipt" in data:
            order.notify_on_goods_receipt = goods_receipt
        if "review_mail" in data:
            review_mail = data["review_mail"]
            order.review_mail = None if review_mail is None else bool(review_mail)
        order.items = _build_items(order, data.get("items"))
        db.session.flush()
        if before_commit is not None:
            before_commit(order, created)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return order, created


# --- events --------------------------------------------------------------------------------


# SQLite's lock: the UPDATE takes the database's write lock and returns the row as it is
# now; run on the driver's cursor, its values refresh the order the session already holds.
_LOCK_RETURNING = DriverStatement(
    update(Order)
    .where(Order.account_id == bindparam("account_id"), Order.number == bindparam("number"))
    .values(updated_at=bindparam("updated_at"))
    .returning(*Order.__table__.columns)
)
_MISSING = object()


def _lock_order(account_id: int, number: str) -> Order:
    """Load the order for a state change, holding its row lock until commit."""
    if not isinstance(number, str) or not NUMBER_RE.match(number):
        raise NotFound("Order")
    dialect = db.engine.dialect
    if dialect.name == "sqlite":
        # SQLite has no row locks: taking the database write lock before reading the state
        # makes read-check-write atomic against other writers (they wait for the lock). The
        # UPDATE returns the row it locked (SQLite 3.35+), so no second statement reads it.
        now = utcnow()
        if dialect.update_returning:
            params = {"account_id": account_id, "number": number, "updated_at": now}
            rows = _LOCK_RETURNING.records(params)
            if not rows:
                raise NotFound("Order")
            order = db.session.identity_map.get(identity_key(Order, rows[0]["id"]))
            if order is None:  # not read before the lock: load it (the lock is held)
                return db.session.get_one(Order, rows[0]["id"], populate_existing=True)
            # The order read before the lock (_preload_for_event) is current unless another
            # writer changed it in between: then it is expired, and read again (with its
            # shop and customer) when used, under the lock.
            loaded, order_attributes = order.__dict__, attribute_keys(Order)
            if any(
                loaded.get(order_attributes[column], _MISSING) != value
                for column, value in rows[0].items()
                if column != "updated_at"
            ):
                db.session.expire(order)
            set_committed_value(order, "updated_at", now)
            return order
        db.session.execute(
            update(Order)
            .where(Order.account_id == account_id, Order.number == number)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
    stmt = (
        scoped(Order, account_id)
        .filter_by(number=number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    order = db.session.execute(stmt).scalar_one_or_none()
    if order is None:
        raise NotFound("Order")
    return order


# Built once: the order with its account, shop (and the shop's own sender account: planning
# picks it, sender_for_order, under the lock) and customer, in one statement on the driver's
# cursor (see webapp.rawsql), each column labelled with its row's name.
_PRELOADED = (
    ("order", Order),
    ("account", Account),
    ("shop", Shop),
    ("sender", SenderAccount),
    ("customer", Customer),
)
_ORDER_FOR_EVENT = DriverStatement(
    select(*(column for name, model in _PRELOADED for column in labelled(name, model)))
    .select_from(Order)
    .join(Account, Account.id == Order.account_id)
    .join(Shop, Shop.id == Order.shop_id)
    .outerjoin(SenderAccount, SenderAccount.id == Shop.sender_account_id)
    .join(Customer, Customer.id == Order.customer_id)
    .where(Order.account_id == bindparam("account_id"), Order.number == bindparam("number"))
)


def _preload_for_event(account_id: int, number: str) -> list[Any]:
    """Read the account, the order's shop (with its sender account) and customer before the
    write lock is taken.

    They land in the session's identity map, so the locked part of record_event (and the
    planning it triggers) finds them there instead of querying while every other writer
    waits. The order itself is re-read under the lock. The caller keeps the returned rows
    referenced: the identity map holds them only weakly.
    """
    if not isinstance(number, str) or not NUMBER_RE.match(number):
        return []
    records = _ORDER_FOR_EVENT.records({"account_id": account_id, "number": number})
    if not records:
        return []  # the order is not found under the lock either
    rows = split_record(records[0])
    order = persistent(Order, rows["order"])
    account = persistent(Account, rows["account"])
    shop = persistent(Shop, rows["shop"])
    sender = persistent(SenderAccount, rows["sender"]) if rows["sender"]["id"] is not None else None
    customer = persistent(Customer, rows["customer"])
    # The many-to-one links the ORM's joined loading would have set.
    for parent, key, value in ((order, "shop", shop), (order, "customer", customer),
                               (shop, "sender_account", sender)):  # fmt: skip
        if key not in parent.__dict__:
            set_committed_value(parent, key, value)
    return [account, order, shop, sender, customer]


# Built once: it runs on every event, while the order is locked (on the driver's cursor, see
# webapp.rawsql: it returns one id or nothing).
_APPLIED_BEFORE = DriverStatement(
    scoped_prepared(OrderEvent)
    .with_only_columns(OrderEvent.id)
    .where(
        OrderEvent.order_id == bindparam("order_id"),
        OrderEvent.type == bindparam("type"),
        OrderEvent.outcome == "applied",
    )
    .limit(1)
)


def _classify(order: Order, event_type: str) -> str:
    """applied / repeated / out_of_order for an event on the order in its current state."""
    if event_type not in REPEATABLE:
        params = {"account_id": order.account_id, "order_id": order.id, "type": event_type}
        if _APPLIED_BEFORE.first(params) is not None:
            return "repeated"
    if event_type in TRANSITIONS and next_state(order.state, event_type) is None:
        return "out_of_order"
    return "applied"


def _clean_tracking(tracking: Any) -> dict[str, str | None] | None:
    if tracking is None:
        return None
    if not isinstance(tracking, Mapping):
        raise ValidationError("tracking", "must be an object")
    return {
        "carrier": _text(tracking, "carrier", "tracking.carrier", max_length=64, required=True),
        "number": _text(tracking, "number", "tracking.number", max_length=100, required=True),
        "url": _text(tracking, "url", "tracking.url", max_length=500),
    }


def _match_items(order: Order, items: Any) -> list[tuple[OrderItem, int, dict[str, Any]]]:
    """Resolve event item lines (by sku, else title) to the order's items."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValidationError("items", "must be a list")
    matched = []
    for index, line in enumerate(items):
        if not isinstance(line, Mapping):
            raise ValidationError(f"items.{index}", "must be an object")
        sku = _text(line, "sku", f"items.{index}.sku", max_length=100)
        title = _text(line, "title", f"items.{index}.title", max_length=500)
        quantity = _quantity(line.get("quantity"), f"items.{index}.quantity")
        if sku:
            item = next((i for i in order.items if i.sku == sku), None)
            if item is None:
                raise ValidationError(f"items.{index}.sku", "no item with this sku in the order")
        elif title:
            item = next((i for i in order.items if i.title.casefold() == title.casefold()), None)
            if item is None:
                raise ValidationError(
                    f"items.{index}.title", "no item with this title in the order"
                )
        else:
            raise ValidationError(f"items.{index}.sku", "give the item's sku or title")
        record = {k: v for k, v in (("sku", sku), ("title", title)) if v}
        matched.append((item, quantity, {**record, "quantity": quantity}))
    return matched


# Every item of the order delivered in full: one statement on the driver's cursor under the
# order's lock, instead of loading the items and flushing an UPDATE for each.
_DELIVER_ALL_ITEMS = DriverStatement(
    update(OrderItem)
    .where(
        OrderItem.account_id == bindparam("account_id"),
        OrderItem.order_id == bindparam("order_id"),
        OrderItem.delivered_quantity != OrderItem.quantity,
    )
    .values(delivered_quantity=OrderItem.quantity)
)


def _deliver_all_items(order: Order) -> None:
    _DELIVER_ALL_ITEMS.execute({"account_id": order.account_id, "order_id": order.id})
    # Items the session already holds are set as if loaded after the statement.
    for item in order.__dict__.get("items") or ():
        set_committed_value(item, "delivered_quantity", item.quantity)


# The event row is written on the driver's cursor (webapp.rawsql) while the order is locked;
# the order's own changes go with the next flush (the planned messages') or the commit.
_EVENT_COLUMNS = (
    "account_id",
    "order_id",
    "type",
    "occurred_at",
    "received_at",
    "source",
    "data",
    "state_before",
    "state_after",
    "outcome",
)
_INSERT_EVENT = DriverStatement(
    insert(OrderEvent)
    .values({column: bindparam(column) for column in _EVENT_COLUMNS})
    .returning(OrderEvent.id)
)


def _insert_event(**values: Any) -> OrderEvent:
    """Insert an order event with these column values and return it as a persistent object
    of the session, as if loaded after the INSERT (its `order` comes from the identity map)."""
    row = _INSERT_EVENT.first(values)
    assert row is not None
    return persistent(OrderEvent, {"id": row[0], **values})


def _apply_event(
    order: Order,
    event_type: str,
    occurred_at: datetime,
    tracking: dict[str, str | None] | None,
    lines: list[tuple[OrderItem, int, dict[str, Any]]],
    delivery_date: date | None,
) -> None:
    """Change the order's data for an applied event (the state is set by the caller)."""
    if tracking is not None:
        order.tracking_carrier = tracking["carrier"]
        order.tracking_number = tracking["number"]
        order.tracking_url = tracking["url"]
    if delivery_date is not None:
        order.delivery_date = delivery_date
    if event_type in ("shipped", "partially_shipped"):
        for item, quantity, _record in lines:
            item.delivered_quantity = min(item.quantity, item.delivered_quantity + quantity)
        if event_type == "shipped":
            if not lines:
                _deliver_all_items(order)
            order.shipped_at = occurred_at
    elif event_type == "delivered":
        _deliver_all_items(order)
        order.delivered_at = occurred_at
    elif event_type == "payment_received":
        order.paid_at = occurred_at


def record_event(
    account_id: int,
    number: str,
    data: Mapping[str, Any],
    *,
    source: str = "api",
    before_commit: Callable[[EventOutcome], None] | None = None,
) -> EventOutcome:
    """Record an event on an order and apply it through the state machine.

    `data`: type, occurred_at, tracking {carrier, number, url}, items [{sku|title, quantity}],
    delivery_date. `event_arriving` is sent first, before the order row is locked: what its
    receivers read (the rules) is as of that moment. The order row is locked while recording.
    An event that is not allowed from the current state is stored with outcome
    "out_of_order", a second one of a non-repeatable type with "repeated"; neither changes the
    order. In the same transaction `event_recorded` is sent and the Message rows its receivers
    return are kept, then `before_commit(outcome)` runs. Commits once, then sends
    `event_committed` (whose receivers enqueue delivery).
    Raises ValidationError or NotFound; nothing is stored then.
    """
    event_type = _choice(data.get("type"), EVENT_TYPES, "type")
    occurred_at = _aware(data.get("occurred_at"), "occurred_at") or utcnow()
    tracking = _clean_tracking(data.get("tracking"))
    delivery_date = data.get("delivery_date")
    if delivery_date is not None and (
        not isinstance(delivery_date, date) or isinstance(delivery_date, datetime)
    ):
        raise ValidationError("delivery_date", "must be a date")
    if event_type == "delivery_date_set" and delivery_date is None:
        raise ValidationError("delivery_date", "is required for a delivery_date_set event")

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    preloaded = _preload_for_event(account_id, number)  # noqa: F841 - kept in the identity map
    prepared = dict(event_arriving.send(app, account_id=account_id, event_type=event_type))
    try:
        order = _lock_order(account_id, number)
        lines = _match_items(order, data.get("items"))
        state_before = order.state
        outcome = _classify(order, event_type)
        if outcome == "applied":
            # One UPDATE of the order at the next flush, not one per lazy load in between.
            with db.session.no_autoflush:
                _apply_event(order, event_type, occurred_at, tracking, lines, delivery_date)
                order.state = next_state(order.state, event_type) or order.state
        payload: dict[str, Any] = {}
        if tracking is not None:
            payload["tracking"] = {k: v for k, v in tracking.items() if v is not None}
        if lines:
            payload["items"] = [record for _item, _qty, record in lines]
        if delivery_date is not None:
            payload["delivery_date"] = delivery_date.isoformat()
        event = _insert_event(
            account_id=account_id,
            order_id=order.id,
            type=event_type,
            occurred_at=occurred_at,
            received_at=utcnow(),
            source=source[:16],
            data=payload,
            state_before=state_before,
            state_after=order.state,
            outcome=outcome,
        )
        messages: list[Message] = []
        recorded = event_recorded.send(app, event=event, order=order, prepared=prepared)
        for _receiver, planned in recorded:
            messages.extend(planned or [])
        db.session.flush()
        result = EventOutcome(event=event, order=order, messages=messages)
        if before_commit is not None:
            before_commit(result)
        session = db.session()
        # The receivers of event_committed read what was just written (the messages' state
        # and send time): kept, not expired, they cost no query to reload. Expired afterwards,
        # as the commit would have done.
        previous, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = previous
    except BaseException:
        db.session.rollback()
        raise
    try:
        event_committed.send(app, event=event, messages=messages)
    except Exception:
        # The event and its messages are committed; the outbox sweep delivers them later.
        log.exception("an event_committed receiver failed for event %s", event.id)
    finally:
        db.session.expire_all()
    return result


# --- documents -----------------------------------------------------------------------------


def _clean_filename(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    name = name[:200] or "document.pdf"
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return name


def store_document(
    account_id: int,
    number: str,
    kind: str,
    doc_number: str,
    filename: str | None,
    stream: BinaryIO,
) -> Document:
    """Store a PDF for the order and record it; replaces the file of the same kind and number.

    The PDF magic bytes and the size limit (MAX_CONTENT_LENGTH) are checked while copying to
    DOCUMENTS_DIR/<account_id>/<random>.pdf; its SHA-256 is recorded. Commits; enqueues
    nothing. Raises ValidationError, DocumentTooLarge or NotFound.
    """
    _choice(kind, DOCUMENT_KINDS, "kind")
    cleaned = _text({"number": doc_number}, "number", "number", max_length=64, required=True)
    doc_number = cleaned or ""
    order = get_order(account_id, number)
    stored = save_pdf(account_id, stream)
    replaced_key: str | None = None
    try:
        document = get_scoped(Document, account_id, order_id=order.id, kind=kind, number=doc_number)
        if document is None:
            document = Document(account_id=account_id, order=order, kind=kind, number=doc_number)
            db.session.add(document)
        else:
            replaced_key = document.storage_key
            document.created_at = utcnow()
        document.filename = _clean_filename(filename)
        document.storage_key = stored.storage_key
        document.content_type = "application/pdf"
        document.size = stored.size
        document.sha256 = stored.sha256
        db.session.commit()
    except BaseException:
        db.session.rollback()
        delete_stored(stored.storage_key)
        raise
    if replaced_key:
        delete_stored(replaced_key)
    return document


def open_document(account_id: int, document_id: int) -> tuple[Document, BinaryIO]:
    """A document of this account and its file opened for reading; NotFound otherwise."""
    if not 0 < document_id <= _MAX_ID:
        raise NotFound("Document")
    document = get_scoped_or_raise(Document, account_id, id=document_id)
    try:
        return document, open_stored(document.storage_key)
    except (OSError, ValueError) as exc:
        raise NotFound("Document") from exc
