"""Forms of the order pages: search and filters, the note, recording an event, goods receipt."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, Length, Optional, ValidationError

from webapp.i18n import N_
from webapp.orders.models import FULFILLMENTS
from webapp.orders.notes import NOTE_MAX_LENGTH
from webapp.orders.state import ORDER_STATES

# Labels of the order states and event types, translated where they are shown.
STATE_LABELS = {
    "open": N_("Open"),
    "invoiced": N_("Invoiced"),
    "ready_for_pickup": N_("Ready for pickup"),
    "partially_shipped": N_("Partially shipped"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "cancelled": N_("Cancelled"),
}
EVENT_LABELS = {
    "goods_received": N_("Goods received"),
    "delivery_note_printed": N_("Delivery note printed"),
    "payment_received": N_("Payment received"),
    "invoiced": N_("Invoiced"),
    "shipped": N_("Shipped"),
    "partially_shipped": N_("Partially shipped"),
    "delivered": N_("Delivered"),
    "delivery_date_set": N_("Delivery date set"),
    "credit_note": N_("Credit note issued"),
    "cancelled": N_("Cancelled"),
}
FULFILLMENT_LABELS = {"FBA": N_("FBA (Amazon)"), "FBM": N_("FBM (merchant)"), "own": N_("Own")}
PAYMENT_LABELS = {"prepayment": N_("Prepayment"), "invoice": N_("Invoice"), "paid": N_("Paid")}


class OrderFilterForm(FlaskForm):
    """The list's search box and filters (GET; no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Search"),
        validators=[Optional(), Length(max=100)],
        render_kw={
            "placeholder": _l("Order number, customer name or e-mail"),
            "autocomplete": "off",
        },
    )
    shop = SelectField(_l("Shop"), validate_choice=False)
    state = SelectField(_l("State"), validate_choice=False)
    fulfillment = SelectField(_l("Fulfilment"), validate_choice=False)

    def __init__(self, *args: Any, shops: list[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.shop.choices = [("", gettext("All shops"))] + [(str(s.id), s.name) for s in shops]
        self.state.choices = [("", gettext("All states"))] + [
            (state, gettext(STATE_LABELS[state])) for state in ORDER_STATES
        ]
        self.fulfillment.choices = [("", gettext("All fulfilment types"))] + [
            (value, gettext(FULFILLMENT_LABELS[value])) for value in FULFILLMENTS
        ]


class NoteForm(FlaskForm):
    """The order's note field."""

    note = TextAreaField(
        _l("Note"),
        validators=[
            Length(
                max=NOTE_MAX_LENGTH,
                message=_l("The note can hold at most %(max)d characters.", max=NOTE_MAX_LENGTH),
            )
        ],
        render_kw={"maxlength": NOTE_MAX_LENGTH, "rows": 3},
    )


class EventForm(FlaskForm):
    """Record an event on the order by hand."""

    type = SelectField(_l("What happened?"), validate_choice=False)
    tracking_carrier = StringField(_l("Carrier"), validators=[Optional(), Length(max=64)])
    tracking_number = StringField(_l("Tracking number"), validators=[Optional(), Length(max=100)])
    tracking_url = URLField(
        _l("Tracking link"),
        validators=[
            Optional(),
            Length(max=500),
            URL(require_tld=False, message=_l("Enter a web address starting with https://.")),
        ],
    )
    delivery_date = DateField(
        _l("Delivery date"),
        validators=[Optional()],
        render_kw={"type": "date"},
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.type.choices = [("", gettext("Choose an event"))] + [
            (value, gettext(label)) for value, label in EVENT_LABELS.items()
        ]

    def validate_type(self, field: SelectField) -> None:
        if field.data not in EVENT_LABELS:
            raise ValidationError(_l("Choose what happened."))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        # Optional() ends the field's own chain when it is empty, so this check lives here.
        if self.type.data == "delivery_date_set" and not self.delivery_date.data:
            if not self.delivery_date.errors:
                self.delivery_date.errors = [_l("Enter the delivery date.")]
            valid = False
        if bool(self.tracking_carrier.data) != bool(self.tracking_number.data):
            self.tracking_number.errors = [
                *self.tracking_number.errors,
                _l("Enter both the carrier and the tracking number."),
            ]
            valid = False
        return valid

    def event_data(self) -> dict[str, Any]:
        """The event in the shape record_event expects."""
        data: dict[str, Any] = {"type": self.type.data}
        if self.tracking_carrier.data and self.tracking_number.data:
            data["tracking"] = {
                "carrier": self.tracking_carrier.data,
                "number": self.tracking_number.data,
                "url": self.tracking_url.data or None,
            }
        if self.delivery_date.data:
            data["delivery_date"] = self.delivery_date.data
        return data


# How the customer hears that their goods arrived ("" = the customer's default).
GOODS_RECEIPT_LABELS = {
    "email": N_("By e-mail"),
    "sms": N_("By SMS"),
    "both": N_("By e-mail and SMS"),
    "none": N_("Not at all"),
}


class GoodsReceiptForm(FlaskForm):
    """Per order: how to tell the customer that the goods arrived (bookshop flow)."""

    channel = SelectField(_l("Notify on goods receipt"), validate_choice=False)
    remember = BooleanField(_l("Use this for the customer's later orders too"))

    def __init__(self, *args: Any, customer_default: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        default = (
            gettext("Customer's default: %(choice)s", choice=gettext(label))
            if (label := GOODS_RECEIPT_LABELS.get(customer_default or ""))
            else gettext("The customer's usual channel")
        )
        self.channel.choices = [("", default)] + [
            (value, gettext(label)) for value, label in GOODS_RECEIPT_LABELS.items()
        ]

    def validate_channel(self, field: SelectField) -> None:
        if field.data and field.data not in GOODS_RECEIPT_LABELS:
            raise ValidationError(_l("Choose how the customer is notified."))
