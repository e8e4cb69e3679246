"""Forms of the template editor: which variant, its texts, the order to preview with."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional, Regexp

from webapp.config import SUPPORTED_LANGUAGES
from webapp.i18n import language_name
from webapp.message_templates.renderer import DEFAULT_LIMITS

SOURCE_LIMIT = DEFAULT_LIMITS.source_chars
GENERIC = "generic"
AMAZON = "amazon"


def target_choices(shops: list[Any]) -> list[tuple[str, str]]:
    """The variant targets: all shops, every Amazon shop, or one shop."""
    return [
        (GENERIC, gettext("All shops")),
        (AMAZON, gettext("Amazon marketplaces")),
        *((f"shop-{shop.id}", gettext("Shop: %(name)s", name=shop.name)) for shop in shops),
    ]


def language_choices() -> list[tuple[str, str]]:
    """The languages a variant can be written in, named in the UI language."""
    return [(code, language_name(code)) for code in SUPPORTED_LANGUAGES]


def parse_target(value: str | None, shops: list[Any]) -> tuple[int | None, str | None] | None:
    """(shop_id, marketplace_kind) for a target value, or None when it is not one of ours."""
    if not value or value == GENERIC:
        return None, None
    if value == AMAZON:
        return None, "amazon"
    if value.startswith("shop-") and value[5:].isdigit():
        shop_id = int(value[5:])
        if any(shop.id == shop_id for shop in shops):
            return shop_id, None
    return None


def target_value(shop_id: int | None, marketplace_kind: str | None) -> str:
    """The target value of a stored variant."""
    if shop_id is not None:
        return f"shop-{shop_id}"
    return AMAZON if marketplace_kind == "amazon" else GENERIC


class VariantForm(FlaskForm):
    """The texts of one variant (subject, HTML, text) plus the order number for the preview."""

    language = HiddenField()
    target = HiddenField()
    subject = StringField(
        _l("Subject"),
        validators=[
            Length(max=500, message=_l("The subject can hold at most %(max)d characters.")),
        ],
        render_kw={"data-placeholder-target": "", "autocomplete": "off", "spellcheck": "true"},
    )
    body_html = TextAreaField(
        _l("HTML body"),
        validators=[
            Length(max=SOURCE_LIMIT, message=_l("The text can hold at most %(max)d characters."))
        ],
        render_kw={"data-placeholder-target": "", "rows": 14, "spellcheck": "false"},
    )
    body_text = TextAreaField(
        _l("Text body"),
        validators=[
            Length(max=SOURCE_LIMIT, message=_l("The text can hold at most %(max)d characters."))
        ],
        render_kw={"data-placeholder-target": "", "rows": 10, "spellcheck": "true"},
    )
    order_number = StringField(
        _l("Preview with order"),
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", message=_l("This is not an order number.")),
        ],
        render_kw={"placeholder": _l("Sample data"), "autocomplete": "off"},
    )
