"""The order state machine: transitions, and that recorded events never move the state back."""

from __future__ import annotations

import random
from datetime import date

import pytest

from webapp.orders.services import record_event, upsert_order
from webapp.orders.state import EVENT_TYPES, ORDER_STATES, REPEATABLE, TRANSITIONS, next_state

# Progress of an order; "cancelled" is terminal and only reachable before shipping.
RANK = {
    "open": 0,
    "invoiced": 1,
    "ready_for_pickup": 2,
    "partially_shipped": 3,
    "shipped": 4,
    "delivered": 5,
}


def test_every_transition_is_between_known_states_and_events():
    assert set(TRANSITIONS) <= set(EVENT_TYPES)
    assert set(EVENT_TYPES) >= REPEATABLE
    for moves in TRANSITIONS.values():
        assert set(moves) | set(moves.values()) <= set(ORDER_STATES)


@pytest.mark.parametrize("state", ORDER_STATES)
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_no_transition_moves_an_order_backwards(state, event_type):
    target = next_state(state, event_type)
    if target is None:
        return
    assert state != "cancelled"
    if target != "cancelled":
        assert RANK[target] >= RANK[state]
    else:
        assert RANK[state] < RANK["shipped"]


def test_examples():
    assert next_state("open", "invoiced") == "invoiced"
    assert next_state("invoiced", "goods_received") == "ready_for_pickup"
    assert next_state("shipped", "delivered") == "delivered"
    assert next_state("delivered", "shipped") is None
    assert next_state("shipped", "cancelled") is None
    assert next_state("open", "payment_received") is None


ORDER = {
    "number": "S-1",
    "shop": "web",
    "fulfillment": "own",
    "customer": {"name": "Rita", "email": "rita@example.com"},
    "items": [{"sku": "A", "title": "A", "quantity": 3}],
}


@pytest.mark.parametrize("seed", range(5))
def test_random_event_sequences_never_move_the_state_back(tenant, seed):
    upsert_order(tenant.account.id, ORDER)
    rng = random.Random(seed)
    state = "open"
    seen: set[str] = set()
    for _ in range(25):
        event_type = rng.choice(EVENT_TYPES)
        data: dict = {"type": event_type}
        if event_type == "delivery_date_set":
            data["delivery_date"] = date(2024, 7, 1)
        outcome = record_event(tenant.account.id, "S-1", data)
        event = outcome.event
        assert event.state_before == state
        if state == "cancelled":
            assert event.state_after == "cancelled"
        elif event.state_after != "cancelled":
            assert RANK[event.state_after] >= RANK[state]
        if event.outcome in ("repeated", "out_of_order"):
            assert event.state_after == state
        if event_type in seen and event_type not in REPEATABLE:
            assert event.outcome == "repeated"
        if event.outcome == "applied":
            seen.add(event_type)
        state = event.state_after
        assert outcome.order.state == state
