"""Forms of the SMS sender account pages in the settings area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DecimalField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webapp.channels.sms.generic_http import AUTH_HEADERS

_OPTIONAL = Optional(strip_whitespace=True)

# Provider settings shown in the form; the field names are the settings keys, so a service
# refusal (ValidationError naming the key) lands at its field.
COMMON_SETTINGS = ("public_ip", "default_region", "timeout", "base_url")
PROVIDER_SETTINGS = {
    "seven": (),
    "twilio": ("account_sid", "api_key_sid", "messaging_service_sid"),
    "generic_http": (
        "url",
        "method",
        "body_format",
        "body_template",
        "auth_header",
        "auth_prefix",
        "success_path",
        "success_values",
        "id_path",
    ),
    "log": (),
}


def _none_or_int(value: object) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(str(value))


class SmsSenderForm(FlaskForm):
    """Create or edit an SMS sender account. The credentials are write-only."""

    name = StringField(
        _l("Name"), validators=[DataRequired(message=_l("Enter a name.")), Length(max=100)]
    )
    provider = SelectField(_l("Provider"), choices=[])
    credentials = PasswordField(
        _l("API key or token"),
        validators=[Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    sender_id = StringField(
        _l("Sender id"),
        validators=[_OPTIONAL, Length(max=32)],
        description=_l("Up to 11 letters and digits, or a phone number such as +4917112345678."),
    )
    public_ip = StringField(
        _l("Public IP address of this server"),
        validators=[_OPTIONAL, Length(max=64)],
        description=_l("For providers that only accept allow-listed addresses."),
    )
    default_region = StringField(
        _l("Default country"),
        validators=[_OPTIONAL, Length(max=2)],
        description=_l("For numbers without a country code, e.g. DE."),
    )
    timeout = DecimalField(
        _l("Timeout (seconds)"),
        places=None,
        validators=[Optional(), NumberRange(min=1, max=120, message=_l("From 1 to 120."))],
    )
    base_url = StringField(
        _l("API address"),
        validators=[_OPTIONAL, Length(max=500)],
        description=_l("Only to replace the provider's address, e.g. a regional endpoint."),
    )
    account_sid = StringField(_l("Twilio Account SID"), validators=[_OPTIONAL, Length(max=64)])
    api_key_sid = StringField(_l("Twilio API key SID"), validators=[_OPTIONAL, Length(max=64)])
    messaging_service_sid = StringField(
        _l("Twilio Messaging Service SID"), validators=[_OPTIONAL, Length(max=64)]
    )
    url = StringField(_l("Send URL"), validators=[_OPTIONAL, Length(max=500)])
    method = SelectField(
        _l("Method"), choices=[SelectChoice(m, m) for m in ("POST", "PUT", "GET")], default="POST"
    )
    body_format = SelectField(
        _l("Body format"),
        choices=[SelectChoice("json", "JSON"), SelectChoice("form", "Form")],
        default="json",
    )
    body_template = TextAreaField(
        _l("Body template"),
        validators=[_OPTIONAL, Length(max=2000)],
        description=_l("Placeholders: {to}, {text}, {sender}, {reference}."),
        render_kw={"rows": 3, "spellcheck": "false"},
    )
    auth_header = SelectField(
        _l("Header for the credentials"),
        choices=[SelectChoice("", "—")] + [SelectChoice(h, h) for h in AUTH_HEADERS],
        default="",
    )
    auth_prefix = StringField(
        _l("Prefix of the credentials"),
        validators=[Length(max=40)],
        description=_l('E.g. "Bearer " (with the space).'),
    )
    success_path = StringField(_l("Success path"), validators=[_OPTIONAL, Length(max=200)])
    success_values = StringField(
        _l("Success values"),
        validators=[_OPTIONAL, Length(max=200)],
        description=_l("Comma-separated."),
    )
    id_path = StringField(_l("Message id path"), validators=[_OPTIONAL, Length(max=200)])
    shop_id = SelectField(_l("Shop"), choices=[], coerce=_none_or_int)
    enabled = BooleanField(_l("Enabled"), default=True)

    def provider_settings(self, provider: str) -> dict[str, object]:
        """The settings of `provider` as the SMS services take them (empty values left out)."""
        out: dict[str, object] = {}
        for key in COMMON_SETTINGS + PROVIDER_SETTINGS.get(provider, ()):
            value = getattr(self, key).data
            if key == "success_values" and value:
                value = [v.strip() for v in str(value).split(",") if v.strip()]
            elif key == "timeout" and value is not None:
                value = float(value)
            elif key == "auth_prefix":
                value = value or ""
            elif isinstance(value, str):
                value = value.strip()
            out[key] = value
        return out


class TestSmsForm(FlaskForm):
    """The number a test SMS goes to."""

    to = StringField(
        _l("Mobile number"),
        validators=[DataRequired(message=_l("Enter a mobile number.")), Length(max=40)],
        render_kw={"inputmode": "tel", "autocomplete": "tel"},
    )
