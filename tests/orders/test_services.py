"""Order services called directly: upsert, events with signal receivers, documents."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from webapp.accounts.services import ValidationError
from webapp.extensions import db
from webapp.notifications.models import Message
from webapp.orders.models import Customer, Order, OrderEvent
from webapp.orders.services import (
    get_order,
    open_document,
    record_event,
    store_document,
    upsert_order,
)
from webapp.orders.signals import event_committed, event_recorded
from webapp.tenancy import NotFound


def _order_data(**overrides):
    data = {
        "number": "7001",
        "shop": "web",
        "fulfillment": "FBM",
        "customer": {"name": "Jan", "email": "jan@example.com", "phone": "+31 6 12345678"},
        "items": [{"sku": "X", "title": "Thing", "quantity": 2}],
    }
    data.update(overrides)
    return data


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_upsert_creates_then_updates(tenant):
    order, created = upsert_order(tenant.account.id, _order_data())
    assert created
    assert order.customer.phone == "+31612345678"
    assert order.payment_method == "paid" and order.currency == "EUR"

    order, created = upsert_order(
        tenant.account.id,
        _order_data(payment={"method": "prepayment", "due_days": 7}, pickup=True),
    )
    assert not created
    assert (order.payment_method, order.payment_due_days, order.pickup) == ("prepayment", 7, True)
    assert _count(Order) == 1 and _count(Customer) == 1


def test_absent_optional_fields_keep_their_values(tenant):
    upsert_order(tenant.account.id, _order_data(currency="chf", review_mail=False))
    order, _ = upsert_order(tenant.account.id, _order_data())
    assert order.currency == "CHF"
    assert order.review_mail is False


def test_phone_region_comes_from_shop_country_first(tenant):
    tenant.webshop.country = "AT"
    db.session.commit()
    order, _ = upsert_order(
        tenant.account.id, _order_data(customer={"name": "Eva", "phone": "0664 1234567"})
    )
    assert order.customer.phone == "+436641234567"


def test_invalid_phone_and_unknown_shop_raise_validation_errors(tenant):
    with pytest.raises(ValidationError) as exc:
        upsert_order(tenant.account.id, _order_data(customer={"name": "A", "phone": "99"}))
    assert exc.value.field == "customer.phone"
    with pytest.raises(ValidationError) as exc:
        upsert_order(tenant.account.id, _order_data(shop="missing"))
    assert exc.value.field == "shop"
    with pytest.raises(ValidationError) as exc:
        upsert_order(tenant.account.id, _order_data(items=[]))
    assert exc.value.field == "items"
    assert _count(Order) == 0 and _count(Customer) == 0


def test_get_order_is_scoped_to_the_account(tenant, other_tenant):
    upsert_order(tenant.account.id, _order_data())
    assert get_order(tenant.account.id, "7001").number == "7001"
    with pytest.raises(NotFound):
        get_order(other_tenant.account.id, "7001")
    with pytest.raises(NotFound):
        get_order(tenant.account.id, "bad/number")


def test_record_event_commits_receiver_messages_with_the_event(tenant):
    upsert_order(tenant.account.id, _order_data())
    seen_after_commit = []

    def plan(sender, *, event, order, **kwargs):
        message = Message(
            account_id=order.account_id,
            order_id=order.id,
            event_id=event.id,
            dedupe_key=f"svc:{event.id}",
            to_address="jan@example.com",
        )
        db.session.add(message)
        return [message]

    def after(sender, *, event, messages, **kwargs):
        # Runs after the commit: the rows are visible from a fresh session.
        with db.engine.connect() as conn:
            seen_after_commit.append(
                conn.execute(select(func.count()).select_from(OrderEvent)).scalar()
            )

    with event_recorded.connected_to(plan), event_committed.connected_to(after):
        outcome = record_event(tenant.account.id, "7001", {"type": "invoiced"})

    mine = [m for m in outcome.messages if m.dedupe_key.startswith("svc:")]
    assert len(mine) == 1 and mine[0].event_id == outcome.event.id
    assert seen_after_commit == [1]
    assert outcome.order.state == "invoiced"


def test_record_event_rolls_back_everything_when_the_hook_fails(tenant):
    upsert_order(tenant.account.id, _order_data())

    def plan(sender, *, event, order, **kwargs):
        message = Message(
            account_id=order.account_id, order_id=order.id, dedupe_key="svc:x", to_address="j@x.de"
        )
        db.session.add(message)
        return [message]

    def fail(outcome):
        raise RuntimeError("storing the response failed")

    with event_recorded.connected_to(plan), pytest.raises(RuntimeError):
        record_event(tenant.account.id, "7001", {"type": "shipped"}, before_commit=fail)

    assert _count(OrderEvent) == 0 and _count(Message) == 0
    order = get_order(tenant.account.id, "7001")
    assert order.state == "open"
    assert [i.delivered_quantity for i in order.items] == [0]


def test_record_event_validates_before_storing(tenant):
    upsert_order(tenant.account.id, _order_data())
    with pytest.raises(ValidationError) as exc:
        record_event(tenant.account.id, "7001", {"type": "delivery_date_set"})
    assert exc.value.field == "delivery_date"
    with pytest.raises(ValidationError) as exc:
        record_event(tenant.account.id, "7001", {"type": "sent_by_owl"})
    assert exc.value.field == "type"
    with pytest.raises(NotFound):
        record_event(tenant.account.id, "0000", {"type": "shipped"})
    outcome = record_event(
        tenant.account.id,
        "7001",
        {"type": "delivery_date_set", "delivery_date": date(2024, 8, 1)},
        source="admin",
    )
    assert outcome.event.source == "admin"
    assert outcome.order.delivery_date == date(2024, 8, 1)
    assert _count(OrderEvent) == 1


def test_store_and_open_document(app, tenant):
    upsert_order(tenant.account.id, _order_data())
    content = b"%PDF-1.7\n" + bytes(range(256)) * 40
    document = store_document(
        tenant.account.id, "7001", "delivery_note", "LS-1", "../../etc/passwd", io.BytesIO(content)
    )
    assert document.filename == "passwd.pdf"
    assert document.storage_key.startswith(f"{tenant.account.id}/")
    loaded, stream = open_document(tenant.account.id, document.id)
    with stream:
        assert stream.read() == content
    with pytest.raises(NotFound):
        open_document(tenant.account.id + 1000, document.id)
    with pytest.raises(ValidationError) as exc:
        store_document(tenant.account.id, "7001", "poster", "P-1", "p.pdf", io.BytesIO(content))
    assert exc.value.field == "kind"


@pytest.mark.parametrize("items_loaded_before", [False, True])
def test_items_delivered_in_full_are_seen_inside_and_after_the_event(tenant, items_loaded_before):
    two_items = [
        {"sku": "X", "title": "Thing", "quantity": 2},
        {"sku": "Y", "title": "Other", "quantity": 3},
    ]
    upsert_order(tenant.account.id, _order_data(items=two_items))
    partial = {"type": "partially_shipped", "items": [{"sku": "X", "quantity": 1}]}
    record_event(tenant.account.id, "7001", partial)
    if items_loaded_before:
        held = get_order(tenant.account.id, "7001")
        assert [i.delivered_quantity for i in held.items] == [1, 0]
    seen = []

    def look(sender, *, event, order, **kwargs):
        seen.append(([i.delivered_quantity for i in order.items], order.completely_delivered))
        return []

    with event_recorded.connected_to(look):
        record_event(tenant.account.id, "7001", {"type": "delivered"})

    assert seen == [([2, 3], True)]
    db.session.expire_all()
    order = get_order(tenant.account.id, "7001")
    assert [i.delivered_quantity for i in order.items] == [2, 3]
    assert order.state == "delivered"


def test_delivering_all_items_updates_the_items_the_session_holds(tenant):
    from webapp.orders.services import _deliver_all_items

    upsert_order(tenant.account.id, _order_data())
    order = get_order(tenant.account.id, "7001")
    (item,) = order.items
    _deliver_all_items(order)
    assert item.delivered_quantity == 2  # no reload: set on the object in the session
    assert not db.session.is_modified(item)
    db.session.commit()
    db.session.expire_all()
    assert get_order(tenant.account.id, "7001").items[0].delivered_quantity == 2


def test_an_order_changed_between_its_first_read_and_the_lock_is_read_again(tenant):
    """The order is read before the lock (with its shop and customer); a change another
    writer makes before the lock is taken must be what the event sees."""
    from sqlalchemy import update

    from webapp.orders.signals import event_arriving

    upsert_order(tenant.account.id, _order_data())
    other = Customer(account_id=tenant.account.id, name="Someone Else", email="else@example.com")
    db.session.add(other)
    db.session.commit()
    other_id = other.id
    db.session.expire_all()
    seen = []

    def change_meanwhile(sender, **kwargs):
        # Runs after the order was read and before it is locked.
        db.session.execute(
            update(Order)
            .where(Order.number == "7001")
            .values(state="cancelled", customer_id=other_id)
            .execution_options(synchronize_session=False)
        )

    def look(sender, *, event, order, **kwargs):
        seen.append((order.state, order.customer.name))
        return []

    with event_arriving.connected_to(change_meanwhile), event_recorded.connected_to(look):
        outcome = record_event(tenant.account.id, "7001", {"type": "shipped"})

    assert outcome.event.outcome == "out_of_order"
    assert (outcome.event.state_before, outcome.event.state_after) == ("cancelled", "cancelled")
    assert seen == [("cancelled", "Someone Else")]


def test_locking_an_order_the_session_does_not_hold_loads_it(tenant):
    from webapp.orders.services import _lock_order

    account_id = tenant.account.id
    upsert_order(account_id, _order_data())
    db.session.expunge_all()
    order = _lock_order(account_id, "7001")
    assert (order.number, order.state, order.customer.name) == ("7001", "open", "Jan")
    db.session.rollback()
    with pytest.raises(NotFound):
        _lock_order(account_id, "7002")
    db.session.rollback()


def test_the_event_preload_puts_the_order_and_what_planning_reads_in_the_session(tenant):
    from tests.support.sql import counted_statements
    from webapp.accounts.services import create_sender_account
    from webapp.orders.services import _preload_for_event

    account_id = tenant.account.id
    upsert_order(account_id, _order_data())
    sender = create_sender_account(
        tenant.account, "Shop mail", smtp_url="smtp://127.0.0.1:2525", from_email="s@acme.example"
    )
    order = db.session.execute(select(Order).filter_by(number="7001")).scalar_one()
    order.shop.sender_account_id = sender_id = sender.id
    db.session.commit()
    db.session.expunge_all()

    with counted_statements() as statements:
        account, order, shop, shop_sender, customer = _preload_for_event(account_id, "7001")
        # Everything planning reads of them is loaded: no further statement.
        assert (order.shop, order.customer, shop.sender_account) == (shop, customer, shop_sender)
        assert (account.id, shop_sender.id, customer.email) == (
            account_id,
            sender_id,
            "jan@example.com",
        )
        assert order.number == "7001" and order.items is not None
    assert len(statements) == 2  # the preload, then the order's items (not preloaded)
    assert not db.session.dirty and not db.session.new
    assert _preload_for_event(account_id, "no-such-order") == []
    assert _preload_for_event(account_id + 1000, "7001") == []
