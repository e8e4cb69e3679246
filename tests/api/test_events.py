"""POST /api/v1/orders/{number}/events: the state machine, order data, messages, errors."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.api.conftest import assert_error
from webapp.extensions import db
from webapp.notifications.models import Message
from webapp.orders.models import Order, OrderEvent
from webapp.orders.signals import event_committed, event_recorded
from webapp.tenancy import scoped


def _order(tenant) -> Order:
    db.session.expire_all()
    return db.session.execute(scoped(Order, tenant.account.id)).scalar_one()


def test_shipped_event_is_accepted_with_tracking(api, tenant):
    api.create_order()

    response = api.event(
        "1001",
        {
            "type": "shipped",
            "occurred_at": "2024-06-01T08:30:00+02:00",
            "tracking": {"carrier": "DHL", "number": "00340434", "url": "https://dhl.de/t/1"},
        },
    )

    assert response.status_code == 202
    body = response.get_json()
    event = body["event"]
    assert (event["type"], event["outcome"], event["state_before"], event["state_after"]) == (
        "shipped",
        "applied",
        "open",
        "shipped",
    )
    assert event["occurred_at"] == "2024-06-01T06:30:00+00:00"
    assert event["data"]["tracking"]["number"] == "00340434"
    assert isinstance(body["messages"], list)
    order = _order(tenant)
    assert order.state == "shipped"
    assert (order.tracking_carrier, order.tracking_number, order.tracking_url) == (
        "DHL",
        "00340434",
        "https://dhl.de/t/1",
    )
    # "shipped" without items ships everything.
    assert [i.delivered_quantity for i in order.items] == [2, 1]
    assert order.completely_delivered
    assert order.shipped_at.isoformat() == "2024-06-01T06:30:00+00:00"
    shown = api.get("/api/v1/orders/1001").get_json()
    assert shown["tracking"] == {
        "carrier": "DHL",
        "number": "00340434",
        "url": "https://dhl.de/t/1",
    }


def test_partial_shipments_count_items_by_sku_and_title(api, tenant):
    api.create_order()
    first = api.event(
        "1001", {"type": "partially_shipped", "items": [{"sku": "BK-1", "quantity": 1}]}
    )
    second = api.event(
        "1001",
        {"type": "partially_shipped", "items": [{"title": "bookmark", "quantity": 1}]},
    )

    assert first.get_json()["event"]["outcome"] == "applied"
    assert second.get_json()["event"]["outcome"] == "applied"
    order = _order(tenant)
    assert order.state == "partially_shipped"
    assert [i.delivered_quantity for i in order.items] == [1, 1]
    assert not order.completely_delivered

    api.event("1001", {"type": "shipped", "items": [{"sku": "BK-1", "quantity": 5}]})
    order = _order(tenant)
    assert order.state == "shipped"
    assert [i.delivered_quantity for i in order.items] == [2, 1]


def test_event_item_that_is_not_in_the_order_is_422_and_nothing_is_recorded(api, tenant):
    api.create_order()
    response = api.event(
        "1001",
        {"type": "partially_shipped", "items": [{"sku": "BK-1", "quantity": 1}, {"sku": "NO"}]},
    )
    error = assert_error(response, 422)
    assert "items.1.quantity" in error["fields"]

    response = api.event(
        "1001", {"type": "partially_shipped", "items": [{"sku": "NOPE", "quantity": 1}]}
    )
    error = assert_error(response, 422)
    assert list(error["fields"]) == ["items.0.sku"]
    assert db.session.scalar(select(func.count()).select_from(OrderEvent)) == 0
    assert [i.delivered_quantity for i in _order(tenant).items] == [0, 0]


def test_out_of_order_and_repeated_events_never_move_the_state_back(api, tenant):
    api.create_order()
    outcomes = []
    for event_type in ["invoiced", "delivered", "shipped", "delivered", "cancelled", "invoiced"]:
        response = api.event("1001", {"type": event_type})
        assert response.status_code == 202
        event = response.get_json()["event"]
        outcomes.append((event_type, event["outcome"], event["state_after"]))

    assert outcomes == [
        ("invoiced", "applied", "invoiced"),
        ("delivered", "applied", "delivered"),
        ("shipped", "out_of_order", "delivered"),
        ("delivered", "repeated", "delivered"),
        ("cancelled", "out_of_order", "delivered"),
        ("invoiced", "repeated", "delivered"),
    ]
    order = _order(tenant)
    assert order.state == "delivered"
    assert order.shipped_at is None
    events = api.get("/api/v1/orders/1001").get_json()["events"]
    assert [e["outcome"] for e in events] == [o for _t, o, _s in outcomes]


def test_out_of_order_event_does_not_change_order_data(api, tenant):
    api.create_order()
    api.event("1001", {"type": "cancelled"})
    response = api.event(
        "1001", {"type": "shipped", "tracking": {"carrier": "UPS", "number": "1Z"}}
    )
    assert response.get_json()["event"]["outcome"] == "out_of_order"
    order = _order(tenant)
    assert order.state == "cancelled"
    assert order.tracking_number is None
    assert [i.delivered_quantity for i in order.items] == [0, 0]


def test_payment_and_delivery_date_update_data_without_moving_state(api, tenant):
    api.create_order()
    paid = api.event("1001", {"type": "payment_received", "occurred_at": "2024-06-02T12:00:00Z"})
    dated = api.event("1001", {"type": "delivery_date_set", "delivery_date": "2024-06-10"})
    redated = api.event("1001", {"type": "delivery_date_set", "delivery_date": "2024-06-12"})

    assert paid.get_json()["event"]["state_after"] == "open"
    assert dated.get_json()["event"]["outcome"] == "applied"
    assert redated.get_json()["event"]["outcome"] == "applied"
    order = _order(tenant)
    assert order.state == "open"
    assert order.paid_at.isoformat() == "2024-06-02T12:00:00+00:00"
    assert order.delivery_date.isoformat() == "2024-06-12"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "type"),
        ({"type": "teleported"}, "type"),
        ({"type": 3}, "type"),
        ({"type": "delivery_date_set"}, "delivery_date"),
        ({"type": "delivery_date_set", "delivery_date": "soon"}, "delivery_date"),
        ({"type": "shipped", "occurred_at": "2024-13-45T00:00:00Z"}, "occurred_at"),
        ({"type": "shipped", "tracking": {"carrier": "DHL"}}, "tracking.number"),
        ({"type": "shipped", "tracking": {"carrier": "DHL", "number": 7}}, "tracking.number"),
        (
            {"type": "shipped", "tracking": {"carrier": "DHL", "number": "1", "url": "ftp://x"}},
            "tracking.url",
        ),
        ({"type": "shipped", "tracking": "DHL 123"}, "tracking"),
        ({"type": "shipped", "items": [{"quantity": 1}]}, "items.0.sku"),
        ({"type": "shipped", "items": [{"sku": "BK-1", "quantity": 1.5}]}, "items.0.quantity"),
        ({"type": "shipped", "items": "all"}, "items"),
        ({"type": "shipped", "parcel": 1}, "parcel"),
    ],
)
def test_invalid_event_bodies_are_422_by_path(api, body, path):
    api.create_order()
    error = assert_error(api.event("1001", body), 422, "validation_error")
    assert path in error["fields"], error
    assert db.session.scalar(select(func.count()).select_from(OrderEvent)) == 0


def test_event_bad_json_and_content_type(api):
    api.create_order()
    response = api.post("/api/v1/orders/1001/events", data="{oops", content_type="application/json")
    assert_error(response, 400, "bad_json")
    response = api.post("/api/v1/orders/1001/events", data="type=shipped")
    assert_error(response, 415)


def test_event_for_unknown_order_is_404(api):
    error = assert_error(api.event("404-1", {"type": "shipped"}), 404, "not_found")
    assert error["message"] == "Order not found."


def _message_for(event, order, key: str) -> Message:
    return Message(
        account_id=order.account_id,
        order_id=order.id,
        event_id=event.id,
        dedupe_key=key,
        channel="email",
        state="scheduled",
        to_address=order.customer.email,
        subject=f"About {event.type}",
    )


def test_messages_returned_by_receivers_are_in_the_response_and_committed(api, tenant):
    api.create_order()
    committed = []

    def plan(sender, *, event, order, **kwargs):
        message = _message_for(event, order, f"test:{event.id}")
        db.session.add(message)
        return [message]

    def after_commit(sender, *, event, messages, **kwargs):
        committed.append((event.id, [m.id for m in messages]))

    with event_recorded.connected_to(plan), event_committed.connected_to(after_commit):
        response = api.event("1001", {"type": "shipped"})

    assert response.status_code == 202
    body = response.get_json()
    planned = [m for m in body["messages"] if m["id"] in {c for _e, ids in committed for c in ids}]
    assert len(planned) == 1
    assert set(planned[0]) == {"id", "channel", "state", "send_after"}
    assert planned[0]["state"] == "scheduled"
    assert committed[0][0] == body["event"]["id"]
    stored = db.session.get(Message, planned[0]["id"])
    assert stored.event_id == body["event"]["id"]
    shown = api.get("/api/v1/orders/1001").get_json()
    assert planned[0]["id"] in [m["id"] for m in shown["messages"]]


def test_a_failing_receiver_rolls_back_event_and_messages(app, api, tenant):
    api.create_order()

    def plan_then_fail(sender, *, event, order, **kwargs):
        db.session.add(_message_for(event, order, "test:fail"))
        db.session.flush()
        raise RuntimeError("planner broke")

    app.testing = False  # the error handler answers instead of re-raising in the client
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with event_recorded.connected_to(plan_then_fail):
        response = api.event("1001", {"type": "shipped"})

    assert_error(response, 500, "internal_error")
    assert db.session.scalar(select(func.count()).select_from(OrderEvent)) == 0
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert _order(tenant).state == "open"
