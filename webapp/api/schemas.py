"""Marshmallow schemas of the API's request and response bodies (also the OpenAPI document)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, pre_dump, validate, validates_schema
from werkzeug.datastructures import FileStorage

from webapp.accounts.models import CHANNELS
from webapp.config import SUPPORTED_LANGUAGES
from webapp.notifications.models import MESSAGE_STATES, Message
from webapp.orders.models import DOCUMENT_KINDS, FULFILLMENTS, PAYMENT_METHODS, Order
from webapp.orders.services import MAX_PRICE, MAX_QUANTITY, NUMBER_RE
from webapp.orders.state import EVENT_TYPES, ORDER_STATES


class Text(fields.String):
    """A string without control characters (PostgreSQL refuses NUL bytes in text)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)
        if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in result):
            raise ma.ValidationError("Must not contain control characters.")
        return result


class PdfUpload(Upload):
    """A file part of a multipart request."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, FileStorage):
            raise ma.ValidationError("Send the file as a multipart file part.")
        return value


def _datetime(**kwargs: Any) -> fields.AwareDateTime:
    # Times without an offset are read as UTC.
    return fields.AwareDateTime(default_timezone=UTC, **kwargs)


ORDER_NUMBER = validate.Regexp(
    NUMBER_RE, error="Use 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit)."
)


# --- requests ------------------------------------------------------------------------------


class PaymentIn(Schema):
    method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    due_days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 365))


class CustomerIn(Schema):
    name = Text(required=True, validate=validate.Length(1, 200))
    email = Text(allow_none=True, validate=validate.Length(max=254))
    phone = Text(allow_none=True, validate=validate.Length(max=40))
    language = fields.String(allow_none=True, validate=validate.OneOf(SUPPORTED_LANGUAGES))
    channel = fields.String(allow_none=True, validate=validate.OneOf(CHANNELS))
    external_id = Text(allow_none=True, validate=validate.Length(1, 100))
    contact_email = Text(allow_none=True, validate=validate.Length(max=254))
    notify_on_goods_receipt = fields.String(
        allow_none=True,
        validate=validate.OneOf(CHANNELS),
        metadata={
            "description": "the customer's default for goods-receipt notices "
            "(email, sms, both, none)"
        },
    )


class OrderItemIn(Schema):
    sku = Text(allow_none=True, validate=validate.Length(1, 100))
    title = Text(required=True, validate=validate.Length(1, 500))
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_QUANTITY))
    unit_price = fields.Decimal(
        places=2, allow_none=True, validate=validate.Range(Decimal("0"), MAX_PRICE)
    )


class OrderIn(Schema):
    """Create or update an order (by number)."""

    number = Text(required=True, validate=ORDER_NUMBER)
    shop = Text(required=True, validate=validate.Length(1, 64), metadata={"description": "code"})
    placed_at = _datetime(allow_none=True)
    fulfillment = fields.String(required=True, validate=validate.OneOf(FULFILLMENTS))
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Za-z]{3}$", error="Use a three-letter ISO 4217 code.")
    )
    payment = fields.Nested(PaymentIn)
    customer = fields.Nested(CustomerIn, required=True)
    items = fields.List(
        fields.Nested(OrderItemIn), required=True, validate=validate.Length(1, 1000)
    )
    pickup = fields.Boolean()
    review_mail = fields.Boolean(allow_none=True)
    notify_on_goods_receipt = fields.String(
        allow_none=True,
        validate=validate.OneOf(CHANNELS),
        metadata={
            "description": "how the customer hears that the goods arrived; "
            "null: the customer's default"
        },
    )


class TrackingIn(Schema):
    carrier = Text(required=True, validate=validate.Length(1, 64))
    number = Text(required=True, validate=validate.Length(1, 100))
    url = fields.Url(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=500))


class EventItemIn(Schema):
    sku = Text(validate=validate.Length(1, 100))
    title = Text(validate=validate.Length(1, 500))
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_QUANTITY))

    @validates_schema
    def _sku_or_title(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("sku") and not data.get("title"):
            raise ma.ValidationError("Give the item's sku or title.", "sku")


class EventIn(Schema):
    """An event that happened to an order."""

    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    occurred_at = _datetime(allow_none=True)
    tracking = fields.Nested(TrackingIn, allow_none=True)
    items = fields.List(
        fields.Nested(EventItemIn), allow_none=True, validate=validate.Length(max=1000)
    )
    delivery_date = fields.Date(allow_none=True)


class DocumentUploadIn(Schema):
    """A PDF for an order, as multipart/form-data."""

    file = PdfUpload(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(DOCUMENT_KINDS))
    number = Text(required=True, validate=validate.Length(1, 64))


# --- responses -----------------------------------------------------------------------------


class CustomerOut(Schema):
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "E.164"})
    language = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    external_id = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    notify_on_goods_receipt = fields.String(allow_none=True)


class ItemOut(Schema):
    sku = fields.String(allow_none=True)
    title = fields.String()
    quantity = fields.Integer()
    unit_price = fields.Decimal(as_string=True, allow_none=True)
    delivered_quantity = fields.Integer()


class PaymentOut(Schema):
    method = fields.String()
    due_days = fields.Integer(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)


class TrackingOut(Schema):
    carrier = fields.String(allow_none=True)
    number = fields.String()
    url = fields.String(allow_none=True)


class EventOut(Schema):
    id = fields.Integer()
    order = fields.String(attribute="order.number", metadata={"description": "order number"})
    type = fields.String(metadata={"enum": list(EVENT_TYPES)})
    occurred_at = fields.DateTime()
    received_at = fields.DateTime()
    source = fields.String()
    outcome = fields.String(metadata={"enum": ["applied", "repeated", "out_of_order"]})
    state_before = fields.String(metadata={"enum": list(ORDER_STATES)})
    state_after = fields.String(metadata={"enum": list(ORDER_STATES)})
    data = fields.Dict()


class DocumentOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(DOCUMENT_KINDS)})
    number = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()


class MessageBriefOut(Schema):
    id = fields.Integer()
    channel = fields.String()
    state = fields.String(metadata={"enum": list(MESSAGE_STATES)})
    send_after = fields.DateTime()


class MessageOut(MessageBriefOut):
    to = fields.String(attribute="to_address")
    subject = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True)
    status_url = fields.String(allow_none=True)


class MessageDetailOut(MessageOut):
    to_name = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    event_id = fields.Integer(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.DateTime()


@dataclass
class OrderView:
    """An order with the messages about it, as rendered by OrderOut."""

    order: Order
    messages: list[Message] = field(default_factory=list)
    status_url: str | None = None
    status_links: list[dict[str, Any]] = field(default_factory=list)


class OrderOut(Schema):
    """An order with its items, events, documents and messages."""

    number = fields.String()
    shop = fields.String(metadata={"description": "shop code"})
    state = fields.String(metadata={"enum": list(ORDER_STATES)})
    placed_at = fields.DateTime()
    fulfillment = fields.String()
    currency = fields.String()
    payment = fields.Nested(PaymentOut)
    customer = fields.Nested(CustomerOut)
    items = fields.List(fields.Nested(ItemOut))
    total = fields.Decimal(as_string=True, allow_none=True)
    completely_delivered = fields.Boolean()
    pickup = fields.Boolean()
    review_mail = fields.Boolean(allow_none=True)
    notify_on_goods_receipt = fields.String(allow_none=True)
    note = fields.String()
    tracking = fields.Nested(TrackingOut, allow_none=True)
    delivery_date = fields.Date(allow_none=True)
    shipped_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    last_notified_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    events = fields.List(fields.Nested(EventOut))
    documents = fields.List(fields.Nested(DocumentOut))
    messages = fields.List(fields.Nested(MessageOut))
    status_url = fields.String(
        allow_none=True, metadata={"description": "the newest status link that still opens"}
    )
    status_links = fields.List(
        fields.Dict(),
        metadata={"description": "every status link of the order with its state and opens"},
    )

    @pre_dump
    def _flatten(self, view: OrderView, **kwargs: Any) -> dict[str, Any]:
        order = view.order
        return {
            "number": order.number,
            "shop": order.shop.code,
            "state": order.state,
            "placed_at": order.placed_at,
            "fulfillment": order.fulfillment,
            "currency": order.currency,
            "payment": {
                "method": order.payment_method,
                "due_days": order.payment_due_days,
                "paid_at": order.paid_at,
            },
            "customer": order.customer,
            "items": order.items,
            "total": order.total,
            "completely_delivered": order.completely_delivered,
            "pickup": order.pickup,
            "review_mail": order.review_mail,
            "notify_on_goods_receipt": order.notify_on_goods_receipt,
            "note": order.note,
            "tracking": (
                {
                    "carrier": order.tracking_carrier,
                    "number": order.tracking_number,
                    "url": order.tracking_url,
                }
                if order.tracking_number
                else None
            ),
            "delivery_date": order.delivery_date,
            "shipped_at": order.shipped_at,
            "delivered_at": order.delivered_at,
            "last_notified_at": order.last_notified_at,
            "created_at": order.created_at,
            "updated_at": order.updated_at,
            "events": order.events,
            "documents": order.documents,
            "messages": view.messages,
            "status_url": view.status_url,
            "status_links": view.status_links,
        }


class EventAcceptedOut(Schema):
    """The recorded event and the messages planned for it."""

    event = fields.Nested(EventOut)
    messages = fields.List(fields.Nested(MessageBriefOut))


class ErrorBody(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    field_messages = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "field path (e.g. customer.email, items.0.quantity): message"},
    )


class ErrorOut(Schema):
    """Every error response."""

    error = fields.Nested(ErrorBody, required=True)
