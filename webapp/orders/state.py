"""The order state machine: which event moves an order from which state to which."""

from __future__ import annotations

EVENT_TYPES = (
    "invoiced",
    "shipped",
    "partially_shipped",
    "delivered",
    "cancelled",
    "credit_note",
    "goods_received",
    "payment_received",
    "delivery_date_set",
    "delivery_note_printed",
)

ORDER_STATES = (
    "open",
    "invoiced",
    "ready_for_pickup",
    "partially_shipped",
    "shipped",
    "delivered",
    "cancelled",
)

# event -> {allowed current state: next state}. Events missing here never move the state
# (payment, delivery date, delivery note, credit note): they are recorded and update data.
TRANSITIONS: dict[str, dict[str, str]] = {
    "invoiced": {"open": "invoiced"},
    "goods_received": {"open": "ready_for_pickup", "invoiced": "ready_for_pickup"},
    "partially_shipped": {
        "open": "partially_shipped",
        "invoiced": "partially_shipped",
        "ready_for_pickup": "partially_shipped",
        "partially_shipped": "partially_shipped",
    },
    "shipped": {
        "open": "shipped",
        "invoiced": "shipped",
        "ready_for_pickup": "shipped",
        "partially_shipped": "shipped",
    },
    "delivered": {
        "open": "delivered",
        "invoiced": "delivered",
        "ready_for_pickup": "delivered",
        "partially_shipped": "delivered",
        "shipped": "delivered",
    },
    "cancelled": {
        "open": "cancelled",
        "invoiced": "cancelled",
        "ready_for_pickup": "cancelled",
        "partially_shipped": "cancelled",
    },
}

# Events that may repeat meaningfully (a second parcel, a new date, a second invoice).
REPEATABLE = {"partially_shipped", "delivery_date_set", "credit_note", "delivery_note_printed"}


def next_state(current: str, event_type: str) -> str | None:
    """The state after `event_type`, or None when the event must not move the state."""
    return TRANSITIONS.get(event_type, {}).get(current)
