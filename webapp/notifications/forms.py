"""Forms of the review queue, the message log, manual sending and the rules editor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.accounts.services import ValidationError as EngineValidationError
from webapp.accounts.services import normalise_email
from webapp.i18n import N_
from webapp.notifications.manual import MAX_SUBJECT, MAX_TEXT
from webapp.notifications.models import MAX_DELAY_MINUTES

EVENT_LABELS = {
    "invoiced": N_("Invoice created"),
    "shipped": N_("Shipped"),
    "partially_shipped": N_("Partially shipped"),
    "delivered": N_("Delivered"),
    "cancelled": N_("Cancelled"),
    "credit_note": N_("Credit note issued"),
    "goods_received": N_("Goods received (ready for pickup)"),
    "payment_received": N_("Payment received"),
    "delivery_date_set": N_("Delivery date set"),
    "delivery_note_printed": N_("Delivery note printed"),
}
STATE_LABELS = {
    "review": N_("Waiting for review"),
    "scheduled": N_("Scheduled"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "failed": N_("Failed"),
    "cancelled": N_("Discarded"),
    "suppressed": N_("Not sent"),
    "unknown": N_("Outcome unclear"),
}
CHANNEL_LABELS = {"email": N_("E-mail"), "sms": N_("SMS")}
FULFILLMENT_LABELS = {
    "FBA": N_("FBA (fulfilled by Amazon)"),
    "FBM": N_("FBM (fulfilled by merchant)"),
    "own": N_("Own shipping"),
}
PAYMENT_LABELS = {
    "prepayment": N_("Prepayment"),
    "invoice": N_("On invoice"),
    "paid": N_("Paid"),
}
DOCUMENT_LABELS = {
    "invoice": N_("Invoice"),
    "credit_note": N_("Credit note"),
    "delivery_note": N_("Delivery note"),
    "other": N_("Other document"),
}
UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}
# Marketplaces as the shops name them (amazon.de, ebay.fr); compared in lower case.
MARKETPLACE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_BCC = 10
MAX_POSITION = 100_000


def _c(*pairs: tuple[str, Any]) -> list[SelectChoice]:
    """Choices as SelectChoice (plain tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (easier on a phone than a multiple select)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        values = {str(value) for value, *_ in self.iter_choices()}
        for item in self.data or []:
            if str(item) not in values:
                raise ValidationError(self.gettext("Not a valid choice."))


def _no_line_breaks(form: Any, field: Any) -> None:
    if field.data and ("\r" in field.data or "\n" in field.data):
        raise ValidationError(_l("The subject must not contain line breaks."))


class ReviewForm(FlaskForm):
    """Subject and text of a message waiting for review."""

    subject = StringField(
        _l("Subject"), validators=[Optional(), Length(max=MAX_SUBJECT * 2), _no_line_breaks]
    )
    body_text = TextAreaField(
        _l("Text"),
        validators=[
            DataRequired(message=_l("The text must not be empty.")),
            Length(max=MAX_TEXT * 4),
        ],
        render_kw={"rows": 10},
    )


class ResendForm(FlaskForm):
    """A corrected recipient address."""

    to_address = StringField(
        _l("Corrected address"),
        validators=[DataRequired(message=_l("Enter the address.")), Length(max=254)],
        render_kw={"autocomplete": "off", "inputmode": "email"},
    )


class ManualSendForm(FlaskForm):
    """A message written by hand from an order."""

    channel = RadioField(
        _l("Send as"),
        choices=_c(("email", _l("E-mail")), ("sms", _l("SMS"))),
        default="email",
    )
    template_id = SelectField(_l("Text"), choices=[], default="")
    subject = StringField(
        _l("Subject"),
        validators=[Optional(), Length(max=MAX_SUBJECT), _no_line_breaks],
    )
    # No Optional(): it would end the chain before validate_body can ask for a text.
    body = TextAreaField(_l("Message"), validators=[Length(max=MAX_TEXT)], render_kw={"rows": 6})
    copy_to_me = BooleanField(_l("Send me a copy"))

    def validate_body(self, field: Any) -> None:
        if not self.template_id.data and not (field.data or "").strip():
            raise ValidationError(_l("Enter the message text or choose a template."))


@dataclass(frozen=True)
class TemplateOption:
    """What one "text to send" choice of a rule means: its purpose and the channels it has."""

    purpose: str
    channels: frozenset[str]
    template_id: int | None = None


def _add_error(field: Any, message: Any) -> None:
    field.errors = [*field.errors, message]


class RuleForm(FlaskForm):
    """Every option of a rule, in plain language.

    The view fills the choices that depend on the account, and `template_options`, which
    says what each "text to send" choice stands for (its purpose and channels).
    """

    name = StringField(
        _l("Name"), validators=[DataRequired(message=_l("Enter a name.")), Length(max=200)]
    )
    enabled = BooleanField(_l("Switched on"), default=True)
    event_type = SelectField(_l("When this happens to an order"), choices=[])
    channel = RadioField(_l("Send as"), choices=[], default="email")
    template = SelectField(_l("Text to send"), choices=[])
    # Which orders.
    shop_ids = MultiCheckboxField(_l("Only for these shops"), coerce=int, choices=[])
    marketplaces = StringField(
        _l("Only for these marketplaces"),
        validators=[Optional(), Length(max=500)],
        render_kw={"placeholder": "amazon.de, amazon.fr", "autocomplete": "off"},
    )
    fulfillments = MultiCheckboxField(_l("Only for this fulfilment"), choices=[])
    payment_methods = MultiCheckboxField(_l("Only for this payment method"), choices=[])
    pickup = SelectField(
        _l("Pickup orders"),
        choices=_c(
            ("any", _l("All orders")),
            ("yes", _l("Only pickup orders")),
            ("no", _l("No pickup orders")),
        ),
        default="any",
    )
    complete_delivery_only = BooleanField(_l("Only when everything has been delivered"))
    # Recipient.
    to_contact_person = BooleanField(_l("Send to the contact person when one is set"))
    essential = BooleanField(
        _l("Essential message (also for customers who opted out of optional messages)"),
        default=True,
    )
    review_mail_default = BooleanField(
        _l("Review requests: send to orders without a choice of their own"), default=True
    )
    # Review and duplicates.
    mode = RadioField(
        _l("Sending"),
        choices=_c(
            ("automatic", _l("Automatically")),
            ("review", _l("Into the review queue first (edit and approve by hand)")),
        ),
        default="automatic",
    )
    review_fulfillments = MultiCheckboxField(
        _l("Into the review queue anyway for this fulfilment"), choices=[]
    )
    once_per_order = BooleanField(_l("At most one such message per order"))
    # Timing.
    delay_value = IntegerField(
        _l("Wait before sending"),
        default=0,
        validators=[Optional(), NumberRange(min=0, message=_l("Enter 0 or more."))],
        render_kw={"inputmode": "numeric", "min": 0},
    )
    delay_unit = SelectField(
        _l("Unit"),
        choices=_c(("minutes", _l("minutes")), ("hours", _l("hours")), ("days", _l("days"))),
        default="minutes",
    )
    respect_quiet_hours = BooleanField(_l("Wait until the quiet hours are over"))
    business_days_only = BooleanField(_l("Send on business days only"))
    coalesce_minutes = IntegerField(
        _l("Combine orders of one customer placed within (minutes)"),
        default=0,
        validators=[
            Optional(),
            NumberRange(min=0, max=1440, message=_l("Enter 0 to 1440 minutes.")),
        ],
        render_kw={"inputmode": "numeric", "min": 0, "max": 1440},
    )
    # Reminders.
    repeat = BooleanField(_l("Repeat (reminder)"))
    repeat_value = IntegerField(
        _l("Repeat every"),
        validators=[Optional(), NumberRange(min=1, message=_l("Enter 1 or more."))],
        render_kw={"inputmode": "numeric", "min": 1},
    )
    repeat_unit = SelectField(
        _l("Unit"),
        choices=_c(("minutes", _l("minutes")), ("hours", _l("hours")), ("days", _l("days"))),
        default="days",
    )
    repeat_max_count = IntegerField(
        _l("Send at most (messages in total)"),
        default=1,
        validators=[Optional(), NumberRange(min=1, max=50, message=_l("Enter 1 to 50."))],
        render_kw={"inputmode": "numeric", "min": 1, "max": 50},
    )
    stop_events = MultiCheckboxField(_l("Stop when one of these happens"), choices=[])
    # Attachments and copies.
    document_kinds = MultiCheckboxField(_l("Attach the order's documents"), choices=[])
    attach_account_files = BooleanField(
        _l("Attach matching files of the attachment library (terms, withdrawal form)"),
        default=True,
    )
    attach_status_file = BooleanField(
        _l("Attach the order's status page as a file (customer status file)"),
        default=False,
    )
    bcc = StringField(
        _l("BCC addresses"),
        validators=[Optional(), Length(max=1000)],
        render_kw={
            "placeholder": "archive@example.com, office@example.com",
            "autocomplete": "off",
            "inputmode": "email",
        },
    )
    copy_to_merchant = BooleanField(_l("Send a copy to the merchant"))
    position = IntegerField(
        _l("Order of evaluation"),
        default=0,
        validators=[
            Optional(),
            NumberRange(min=0, max=MAX_POSITION, message=_l("Enter 0 to 100000.")),
        ],
        render_kw={"inputmode": "numeric", "min": 0, "max": MAX_POSITION},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template_options: dict[str, TemplateOption] = {}

    def validate_marketplaces(self, field: Any) -> None:
        for value in _split(field.data):
            if not MARKETPLACE_RE.match(value.lower()):
                raise ValidationError(
                    gettext(
                        "“%(value)s” is not a marketplace name; write it like amazon.de.",
                        value=value[:40],
                    )
                )

    def validate_bcc(self, field: Any) -> None:
        addresses = _split(field.data)
        if len(addresses) > MAX_BCC:
            raise ValidationError(gettext("Enter at most %(num)d addresses.", num=MAX_BCC))
        for address in addresses:
            try:
                normalise_email(address, "bcc")
            except EngineValidationError as exc:
                raise ValidationError(
                    gettext("“%(address)s” is not a valid e-mail address.", address=address[:80])
                ) from exc

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        # Checks across fields; not inline validators, as Optional() ends a field's chain
        # when it is empty.
        if not self.delay_value.errors and _minutes(self.delay_value, self.delay_unit) > (
            MAX_DELAY_MINUTES
        ):
            _add_error(self.delay_value, _l("Wait at most 30 days."))
            valid = False
        if self.repeat.data and not self.repeat_value.errors:
            if not self.repeat_value.data:
                _add_error(self.repeat_value, _l("Enter how often the message repeats."))
                valid = False
            elif _minutes(self.repeat_value, self.repeat_unit) > MAX_DELAY_MINUTES:
                _add_error(self.repeat_value, _l("Repeat at most every 30 days."))
                valid = False
        option = self.template_options.get(self.template.data or "")
        channel = self.channel.data or ""
        if (
            option is not None
            and not self.template.errors
            and not self.channel.errors
            and channel not in option.channels
        ):
            channel_name = gettext(CHANNEL_LABELS.get(channel, channel))
            if option.template_id is not None:
                message = gettext(
                    "This template is not for %(channel)s. Choose a %(channel)s text.",
                    channel=channel_name,
                )
            else:
                message = gettext(
                    "There is no %(channel)s text for this yet. Choose another text or add "
                    "one under Templates.",
                    channel=channel_name,
                )
            _add_error(self.template, message)
            valid = False
        return valid

    def rule_fields(self) -> dict[str, Any]:
        """The form's values as fields of the engine's Rule."""
        option = self.template_options.get(self.template.data or "")
        repeat_interval = None
        if self.repeat.data and self.repeat_value.data:
            repeat_interval = _minutes(self.repeat_value, self.repeat_unit)
        return {
            "name": (self.name.data or "").strip(),
            "enabled": bool(self.enabled.data),
            "event_type": self.event_type.data,
            "channel": self.channel.data,
            "template_id": option.template_id if option else None,
            "purpose": option.purpose if option else None,
            "mode": self.mode.data,
            "review_fulfillments": list(self.review_fulfillments.data or []),
            "once_per_order": bool(self.once_per_order.data),
            "essential": bool(self.essential.data),
            "review_mail_default": bool(self.review_mail_default.data),
            "shop_ids": list(self.shop_ids.data or []),
            "marketplaces": _split(self.marketplaces.data),
            "fulfillments": list(self.fulfillments.data or []),
            "payment_methods": list(self.payment_methods.data or []),
            "complete_delivery_only": bool(self.complete_delivery_only.data),
            "pickup": {"yes": True, "no": False}.get(self.pickup.data or "any"),
            "to_contact_person": bool(self.to_contact_person.data),
            "delay_minutes": _minutes(self.delay_value, self.delay_unit),
            "respect_quiet_hours": bool(self.respect_quiet_hours.data),
            "business_days_only": bool(self.business_days_only.data),
            "coalesce_minutes": self.coalesce_minutes.data or 0,
            "repeat_interval_minutes": repeat_interval,
            "repeat_max_count": (self.repeat_max_count.data or 1) if repeat_interval else 1,
            "stop_events": list(self.stop_events.data or []),
            "document_kinds": list(self.document_kinds.data or []),
            "attach_account_files": bool(self.attach_account_files.data),
            "attach_status_file": bool(self.attach_status_file.data),
            "bcc": _split(self.bcc.data),
            "copy_to_merchant": bool(self.copy_to_merchant.data),
            "position": self.position.data or 0,
        }

    def fill_from(self, rule: Any) -> None:
        """Show an existing rule (delay and repeat in the largest whole unit)."""
        for name in (
            "name", "enabled", "event_type", "channel", "mode", "essential",
            "complete_delivery_only", "to_contact_person", "respect_quiet_hours",
            "business_days_only", "coalesce_minutes", "repeat_max_count",
            "attach_account_files", "attach_status_file", "copy_to_merchant", "position",
            "once_per_order", "review_mail_default",
        ):  # fmt: skip
            getattr(self, name).data = getattr(rule, name)
        for name in (
            "shop_ids", "fulfillments", "payment_methods", "stop_events", "document_kinds",
            "review_fulfillments",
        ):  # fmt: skip
            getattr(self, name).data = list(getattr(rule, name) or [])
        self.marketplaces.data = ", ".join(rule.marketplaces or [])
        self.bcc.data = ", ".join(rule.bcc or [])
        self.pickup.data = {True: "yes", False: "no"}.get(rule.pickup, "any")
        self.template.data = (
            f"template:{rule.template_id}" if rule.template_id else f"purpose:{rule.purpose}"
        )
        self.delay_value.data, self.delay_unit.data = split_minutes(rule.delay_minutes or 0)
        self.repeat.data = bool(rule.repeat_interval_minutes)
        if rule.repeat_interval_minutes:
            self.repeat_value.data, self.repeat_unit.data = split_minutes(
                rule.repeat_interval_minutes
            )


def _minutes(value: Any, unit: Any) -> int:
    return int(value.data or 0) * UNITS.get(unit.data or "", 1)


def split_minutes(minutes: int) -> tuple[int, str]:
    """Minutes as (value, unit) in the largest unit that divides them."""
    if minutes and minutes % UNITS["days"] == 0:
        return minutes // UNITS["days"], "days"
    if minutes and minutes % UNITS["hours"] == 0:
        return minutes // UNITS["hours"], "hours"
    return minutes, "minutes"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace(";", ",").split(",") if part.strip()]
