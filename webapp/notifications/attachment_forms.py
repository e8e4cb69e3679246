"""Forms of the attachment library in the settings area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, Optional

from webapp.accounts.forms import MultiCheckboxField


class AttachmentForm(FlaskForm):
    """A library file's name and conditions; the PDF itself only when uploading."""

    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Enter a name.")), Length(max=200)],
        description=_l('For you, e.g. "Terms and conditions (German)".'),
    )
    file = FileField(
        _l("PDF file"), render_kw={"accept": "application/pdf,.pdf"}, validators=[Optional()]
    )
    marketplaces = StringField(
        _l("Marketplaces"),
        validators=[Optional(strip_whitespace=True), Length(max=500)],
        description=_l("Comma-separated, e.g. amazon.de, amazon.fr. Empty: every shop."),
        render_kw={"spellcheck": "false", "autocomplete": "off"},
    )
    fulfillments = MultiCheckboxField(_l("Fulfilment"), choices=[])
    languages = MultiCheckboxField(_l("Languages of the message"), choices=[])
    event_types = MultiCheckboxField(_l("Events"), choices=[])
    enabled = BooleanField(_l("Attach to matching messages"), default=True)
