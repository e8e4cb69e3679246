"""The form of a quick reply in the settings area."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from webapp.accounts.forms import MultiCheckboxField
from webapp.i18n import N_
from webapp.notifications.forms import EVENT_LABELS
from webapp.notifications.manual import (
    MAX_QUICK_REPLY_POSITION,
    MAX_QUICK_REPLY_TITLE,
    MAX_SUBJECT,
    MAX_TEXT,
    QUICK_REPLY_PURPOSES,
)

# The standard texts by purpose (untranslated; translated where shown).
PURPOSE_LABELS: dict[str, str] = {
    **EVENT_LABELS,
    "prepayment_reminder": N_("Prepayment reminder"),
    "quick_reply_invoice": N_("Invoice on request"),
}


def _single_line(form: Any, field: Any) -> None:
    if field.data and ("\r" in field.data or "\n" in field.data):
        raise ValidationError(_l("Use a single line."))


class QuickReplyForm(FlaskForm):
    """Name, channel, text (a standard text or your own), attachments, place and switch.

    The choices of `purpose` and `document_kinds` are filled by the view (translated labels).
    """

    title = StringField(
        _l("Name"),
        validators=[
            DataRequired(message=_l("Enter a name.")),
            Length(max=MAX_QUICK_REPLY_TITLE),
            _single_line,
        ],
        description=_l('Shown on the order page, e.g. "Where is my invoice?".'),
    )
    channel = RadioField(
        _l("Send as"),
        choices=[SelectChoice("email", _l("E-mail")), SelectChoice("sms", _l("SMS"))],
        default="email",
    )
    purpose = SelectField(
        _l("Text"),
        choices=[],
        default="",
        description=_l(
            "A standard text is the template of that message in the customer's language; "
            "your own text goes out in your “message by hand” template."
        ),
    )
    subject = StringField(
        _l("Subject"),
        validators=[Optional(), Length(max=MAX_SUBJECT), _single_line],
        description=_l("E-mail only. Leave empty for the template's subject."),
    )
    # No Optional(): it would end the chain before validate_body can ask for a text.
    body = TextAreaField(
        _l("Your text"),
        validators=[Length(max=MAX_TEXT)],
        render_kw={"rows": 6},
        description=_l("Needed unless a standard text is chosen. Sent as it is written."),
    )
    document_kinds = MultiCheckboxField(_l("Attach the order's documents (e-mail only)"))
    position = IntegerField(
        _l("Position"),
        validators=[Optional(), NumberRange(min=0, max=MAX_QUICK_REPLY_POSITION)],
        description=_l("Smaller numbers come first on the order page. Empty: at the end."),
        render_kw={"inputmode": "numeric"},
    )
    enabled = BooleanField(_l("Offer it on the order page"), default=True)

    def validate_purpose(self, field: Any) -> None:
        channel = self.channel.data or ""
        if field.data and field.data not in QUICK_REPLY_PURPOSES.get(channel, ()):
            raise ValidationError(_l("This standard text has no SMS version; choose another."))

    def validate_body(self, field: Any) -> None:
        if not self.purpose.data and not (field.data or "").strip():
            raise ValidationError(_l("Write your text or choose a standard text."))

    def validate_document_kinds(self, field: Any) -> None:
        if field.data and self.channel.data == "sms":
            raise ValidationError(_l("An SMS cannot carry documents; choose e-mail."))

    def reply_fields(self) -> dict[str, Any]:
        """The form's values as keyword arguments of the quick-reply services."""
        return {
            "title": (self.title.data or "").strip(),
            "channel": self.channel.data or "",
            "purpose": self.purpose.data or None,
            "subject": self.subject.data,
            "body": self.body.data,
            "document_kinds": list(self.document_kinds.data or []),
            "position": self.position.data,
            "enabled": bool(self.enabled.data),
        }
