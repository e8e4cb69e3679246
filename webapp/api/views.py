"""API v1 endpoints: orders, their events and documents, messages."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from webapp.api.auth import authenticate_request, current_account_id
from webapp.api.errors import register_error_handlers
from webapp.api.idempotency import HEADER, IdempotentCall
from webapp.api.parsing import ApiParser
from webapp.api.schemas import (
    DocumentOut,
    DocumentUploadIn,
    ErrorOut,
    EventAcceptedOut,
    EventIn,
    MessageDetailOut,
    OrderIn,
    OrderOut,
    OrderView,
)
from webapp.notifications.queries import get_message, messages_for_order
from webapp.orders.models import Order
from webapp.orders.services import (
    EventOutcome,
    get_order,
    record_event,
    store_document,
    upsert_order,
)
from webapp.status.services import current_status_url, describe_link, links_for_order


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint with the API's parser and a multipart location."""

    ARGUMENTS_PARSER = ApiParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }


blp = ApiBlueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Orders, their events and documents, and the messages sent about them.",
)
blp.before_request(authenticate_request)
register_error_handlers(blp)

IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Repeat a request safely: the same key and body return the first response.",
}


def _errors(*statuses: int):
    def decorator(view):
        for status in statuses:
            view = blp.alt_response(status, schema=ErrorOut, description="Error")(view)
        return view

    return decorator


def _order_view(order: Order) -> OrderView:
    links = links_for_order(order.account_id, order.id)
    return OrderView(
        order,
        messages_for_order(order.account_id, order.id),
        status_url=current_status_url(order.account_id, order.id),
        status_links=[describe_link(link) for link in links],
    )


# Schemas keep no state between dumps; built once, not per request (each builds its nested
# schemas too).
_ORDER_OUT = OrderOut()
_EVENT_ACCEPTED_OUT = EventAcceptedOut()


def _render_order(order: Order) -> dict[str, Any]:
    return _ORDER_OUT.dump(_order_view(order))


def _render_upserted(order: Order, created: bool) -> tuple[dict[str, Any], int]:
    return _render_order(order), 201 if created else 200


def _render_outcome(outcome: EventOutcome) -> tuple[dict[str, Any], int]:
    return _EVENT_ACCEPTED_OUT.dump(outcome), 202


@blp.route("/orders", methods=["POST"])
@blp.arguments(OrderIn())
@blp.response(200, OrderOut, description="The order was updated.")
@blp.alt_response(201, schema=OrderOut, description="The order was created.")
@_errors(400, 401, 409, 413, 415)
@blp.doc(parameters=[IDEMPOTENCY_PARAMETER])
def post_order(data: dict[str, Any]):
    """Create or update an order by its number."""
    call = IdempotentCall.from_request(current_account_id())
    replayed = call.replay()
    if replayed is not None:
        return replayed
    try:
        upsert_order(call.account_id, data, before_commit=call.hook(_render_upserted))
    except IntegrityError:
        return call.conflict_response()
    return call.response()


@blp.route("/orders/<string:number>", methods=["GET"])
@blp.response(200, OrderOut)
@_errors(401, 404)
def show_order(number: str):
    """An order with its items, events, documents, messages and current status link."""
    return _order_view(get_order(current_account_id(), number))


@blp.route("/orders/<string:number>/events", methods=["POST"])
@blp.arguments(EventIn())
@blp.response(202, EventAcceptedOut, description="The event was recorded.")
@_errors(400, 401, 404, 409, 413, 415)
@blp.doc(parameters=[IDEMPOTENCY_PARAMETER])
def post_event(data: dict[str, Any], number: str):
    """Record an event (state change) of an order."""
    call = IdempotentCall.from_request(current_account_id())
    replayed = call.replay()
    if replayed is not None:
        return replayed
    try:
        record_event(call.account_id, number, data, before_commit=call.hook(_render_outcome))
    except IntegrityError:
        return call.conflict_response()
    return call.response()


@blp.route("/orders/<string:number>/documents", methods=["POST"])
@blp.arguments(DocumentUploadIn(), location="multipart", content_type="multipart/form-data")
@blp.response(201, DocumentOut, description="The document was stored.")
@_errors(401, 404, 413, 415)
def post_document(data: dict[str, Any], number: str):
    """Upload a PDF (invoice, credit note, delivery note, other) for an order."""
    upload = data["file"]
    return store_document(
        current_account_id(), number, data["kind"], data["number"], upload.filename, upload.stream
    )


@blp.route("/messages/<int:message_id>", methods=["GET"])
@blp.response(200, MessageDetailOut)
@_errors(401, 404)
def show_message(message_id: int):
    """One message (e-mail or SMS) with its state."""
    return get_message(current_account_id(), message_id)
