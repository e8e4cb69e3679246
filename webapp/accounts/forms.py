"""Forms of the login page and the settings pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    ColorField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
)
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.accounts.services import (
    CODE_RE,
    HEX_COLOUR_RE,
    HOST_RE,
    PHONE_RE,
    normalise_email,
    parse_address_list,
)
from webapp.accounts.services import ValidationError as ServiceValidationError


class LoginForm(FlaskForm):
    """E-mail and password; the credentials themselves are checked by the accounts service."""

    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(message=_l("Enter your e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "autofocus": True, "inputmode": "email"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


# --- settings forms ------------------------------------------------------------------------
# The forms check what a browser can get wrong and say so in the user's language; the
# services check everything again (they are also used by the CLI and the API).


def select_choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Choices for a select or checkbox field from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes that posts a list of values."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _none_or_int(value: object) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(str(value))


def _bcc_addresses(form: FlaskForm, field: TextAreaField) -> None:
    addresses = parse_address_list(field.data)
    if len(addresses) > 10:
        raise StopValidation(_l("At most 10 addresses."))
    for address in addresses:
        try:
            normalise_email(address, field.name)
        except ServiceValidationError as exc:
            raise StopValidation(
                _l("Not a valid e-mail address: %(address)s", address=address)
            ) from exc


_OPTIONAL = Optional(strip_whitespace=True)
_EMAIL = Email(message=_l("Enter a valid e-mail address."), check_deliverability=False)


class ShopForm(FlaskForm):
    """Create or edit a shop: identity, language, contact, branding and the status page."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(message=_l("Enter a short code, e.g. web or amz-de.")),
            Regexp(CODE_RE, message=_l("Use letters, digits, '.', '_' or '-' (max. 64).")),
        ],
        description=_l("Used by the API and the CLI; cannot be changed later."),
    )
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Enter a name.")), Length(max=200)],
    )
    kind = SelectField(_l("Kind"), choices=[])
    marketplace = StringField(
        _l("Marketplace"),
        validators=[_OPTIONAL, Length(max=64)],
        description=_l("For Amazon shops, e.g. amazon.de."),
    )
    language = SelectField(_l("Language"), choices=[])
    country = StringField(
        _l("Country"),
        validators=[
            _OPTIONAL,
            Regexp(r"^[A-Za-z]{2}$", message=_l("Use the two-letter country code, e.g. DE.")),
        ],
    )
    contact_email = EmailField(
        _l("Contact e-mail"), validators=[_OPTIONAL, _EMAIL, Length(max=254)]
    )
    contact_phone = StringField(
        _l("Contact phone"),
        validators=[
            _OPTIONAL,
            Regexp(PHONE_RE, message=_l("Use digits, spaces and an optional leading +.")),
        ],
    )
    website = URLField(
        _l("Website"),
        validators=[
            _OPTIONAL,
            URL(require_tld=False, message=_l("Enter a full address starting with https://.")),
            Length(max=300),
        ],
    )
    brand_color = ColorField(
        _l("Brand colour"),
        default="#1f6feb",
        validators=[
            Regexp(HEX_COLOUR_RE, message=_l("Use a colour such as #1f6feb.")),
        ],
    )
    logo = FileField(
        _l("Logo"),
        description=_l("PNG or JPEG, at most 512 KB. Shown on the status page."),
        render_kw={"accept": "image/png,image/jpeg"},
    )
    remove_logo = BooleanField(_l("Remove the logo"))
    status_sections = MultiCheckboxField(_l("Sections of the status page"), choices=[])
    status_link_max_opens = IntegerField(
        _l("Maximum opens per status link"),
        validators=[
            _OPTIONAL,
            NumberRange(min=1, max=100000, message=_l("Enter a number from 1 to 100000.")),
        ],
        description=_l("Empty: no limit."),
    )
    invoices_uploaded_to_amazon = BooleanField(
        _l("Invoices are uploaded to Amazon (do not e-mail them again)")
    )
    sender_account_id = SelectField(_l("Sender account"), choices=[], coerce=_none_or_int)


class SmtpSenderForm(FlaskForm):
    """Create or edit an SMTP sender account. The password is write-only."""

    name = StringField(
        _l("Name"), validators=[DataRequired(message=_l("Enter a name.")), Length(max=100)]
    )
    host = StringField(
        _l("SMTP server"),
        validators=[
            DataRequired(message=_l("Enter the server's host name.")),
            Regexp(HOST_RE, message=_l("Enter a host name such as smtp.example.com.")),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    port = IntegerField(
        _l("Port"),
        default=587,
        validators=[
            InputRequired(message=_l("Enter the port.")),
            NumberRange(min=1, max=65535, message=_l("Enter a port from 1 to 65535.")),
        ],
    )
    security = SelectField(_l("Security"), choices=[], default="starttls")
    username = StringField(
        _l("User name"),
        validators=[_OPTIONAL, Length(max=255)],
        render_kw={"autocomplete": "off"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    clear_password = BooleanField(_l("Remove the stored password"))
    from_name = StringField(_l("From name"), validators=[_OPTIONAL, Length(max=200)])
    from_email = EmailField(
        _l("From address"),
        validators=[DataRequired(message=_l("Enter the sender address.")), _EMAIL],
    )
    reply_to = EmailField(_l("Reply-to address"), validators=[_OPTIONAL, _EMAIL])
    bcc = TextAreaField(
        _l("BCC addresses"),
        validators=[_bcc_addresses],
        description=_l(
            "Every message also goes to these addresses. One per line or comma-separated."
        ),
        render_kw={"rows": 2},
    )
    shop_id = SelectField(_l("Shop"), choices=[], coerce=_none_or_int)
    enabled = BooleanField(_l("Enabled"), default=True)


DAY_CHOICES = select_choices(
    [
        ("0", _l("Monday")),
        ("1", _l("Tuesday")),
        ("2", _l("Wednesday")),
        ("3", _l("Thursday")),
        ("4", _l("Friday")),
        ("5", _l("Saturday")),
        ("6", _l("Sunday")),
    ]
)


def _time_zone(form: FlaskForm, field: StringField) -> None:
    if (field.data or "").strip() not in available_timezones():
        raise StopValidation(_l("Unknown time zone. Use a name such as Europe/Berlin."))


_HHMM = Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", message=_l("Use HH:MM, e.g. 21:00."))


class AccountSettingsForm(FlaskForm):
    """The account-wide settings."""

    name = StringField(
        _l("Company name"),
        validators=[DataRequired(message=_l("Enter a name.")), Length(max=200)],
    )
    service_enabled = BooleanField(_l("Service on: send messages to customers"))
    default_channel = SelectField(_l("Default channel"), choices=[])
    default_language = SelectField(_l("Default language"), choices=[])
    timezone = StringField(
        _l("Time zone"),
        validators=[DataRequired(message=_l("Enter a time zone.")), _time_zone],
        render_kw={"list": "timezones", "autocomplete": "off", "spellcheck": "false"},
    )
    quiet_hours_start = StringField(
        _l("Quiet hours from"), validators=[_OPTIONAL, _HHMM], render_kw={"type": "time"}
    )
    quiet_hours_end = StringField(
        _l("Quiet hours until"), validators=[_OPTIONAL, _HHMM], render_kw={"type": "time"}
    )
    business_days = MultiCheckboxField(_l("Business days"), choices=DAY_CHOICES)
    status_link_days = IntegerField(
        _l("Status links valid for (days)"),
        validators=[
            _OPTIONAL,
            NumberRange(min=1, max=365, message=_l("Enter a number of days from 1 to 365.")),
        ],
    )
    merchant_email = EmailField(
        _l("Your e-mail for copies"),
        validators=[_OPTIONAL, _EMAIL, Length(max=254)],
        description=_l('Copies to the merchant ("copy to me") go to this address.'),
    )


class InviteUserForm(FlaskForm):
    """Create a user with an initial password the owner passes on."""

    name = StringField(_l("Name"), validators=[_OPTIONAL, Length(max=200)])
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(message=_l("Enter the e-mail address.")), _EMAIL],
        render_kw={"autocomplete": "off"},
    )
    role = SelectField(_l("Role"), choices=[], default="agent")
    password = PasswordField(
        _l("Initial password"),
        validators=[
            DataRequired(message=_l("Enter an initial password.")),
            Length(min=10, max=1024, message=_l("At least 10 characters.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class RoleForm(FlaskForm):
    """Change one user's role."""

    role = SelectField(_l("Role"), choices=[])


class ApiKeyForm(FlaskForm):
    """Name a new API key."""

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(message=_l("Name the key, e.g. the system that uses it.")),
            Length(max=100),
        ],
        default="",
    )


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change something."""
