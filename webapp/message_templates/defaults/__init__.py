"""Default message texts per language (one module per language) and how they are assembled.

Each language module defines LABELS, SAMPLE, BLOCKS (greeting, signature, ...), EMAIL
(per purpose: subject and intro, optionally an Amazon subject/intro) and SMS texts. The
assembly here adds the shared sections (items, tracking, documents, status link, signature)
so every language has the same structure; Amazon variants leave out every link.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from webapp.config import SUPPORTED_LANGUAGES
from webapp.orders.state import EVENT_TYPES

WORKFLOW_PURPOSES = ("prepayment_reminder", "review_request", "manual", "quick_reply_invoice")
EMAIL_PURPOSES: tuple[str, ...] = EVENT_TYPES + WORKFLOW_PURPOSES
SMS_PURPOSES: tuple[str, ...] = (
    "shipped",
    "goods_received",
    "delivery_date_set",
    "prepayment_reminder",
)

# Which shared sections each purpose carries (the same in every language).
_SECTIONS: dict[str, set[str]] = {
    "invoiced": {"documents"},
    "shipped": {"items", "tracking", "documents"},
    "partially_shipped": {"partial", "tracking", "documents"},
    "delivered": {"documents"},
    "cancelled": {"items", "documents"},
    "credit_note": {"documents"},
    "goods_received": {"items"},
    "payment_received": {"documents"},
    "delivery_date_set": {"items", "tracking"},
    "delivery_note_printed": {"items", "tracking", "documents"},
    "prepayment_reminder": {"items", "documents"},
    "review_request": {"review"},
    "manual": {"message", "documents"},
    "quick_reply_invoice": {"documents"},
}


@dataclass(frozen=True)
class DefaultVariant:
    """One default text, ready to store as a TemplateVariant."""

    purpose: str
    channel: str
    language: str
    marketplace_kind: str | None
    subject: str
    body_html: str
    body_text: str = ""


@cache
def _module(language: str) -> Any:
    if language not in SUPPORTED_LANGUAGES:
        language = "en"
    return importlib.import_module(f"webapp.message_templates.defaults.{language}")


def labels_for(language: str) -> dict[str, Any]:
    """Column headings, payment methods and document kinds in `language`."""
    return _module(language).LABELS


def sample_for(language: str) -> dict[str, Any]:
    """Sample names, items and currency used for previews in `language`."""
    return _module(language).SAMPLE


def purpose_name(purpose: str, language: str = "en") -> str:
    """A readable name for a purpose (used as the default template's name)."""
    return _module(language).NAMES.get(purpose, purpose.replace("_", " ").capitalize())


def _p(text: str) -> str:
    text = text.strip()
    return text if text.startswith("<") else f"<p>{text}</p>"


def _email_body(language: str, purpose: str, amazon: bool) -> str:
    blocks = _module(language).BLOCKS
    spec = _module(language).EMAIL[purpose]
    sections = _SECTIONS[purpose]
    intro = spec.get("amazon_intro") if amazon and spec.get("amazon_intro") else spec["intro"]
    parts = [_p(blocks["greeting"]), _p(intro)]
    if "message" in sections:
        parts.append("<p>{{ message_html }}</p>")
    if "items" in sections:
        parts.append("{{ items_table }}")
    if "partial" in sections:
        parts.append(
            "<ul>{% for item in items %}<li>{{ item.title }}: "
            + blocks["partial_line"]
            + "</li>{% endfor %}</ul>"
        )
    if "tracking" in sections:
        link = (
            ""
            if amazon
            else '{% if tracking.url %}<br><a href="{{ tracking.url }}">'
            + blocks["tracking_link"]
            + "</a>{% endif %}"
        )
        parts.append("{% if tracking.number %}<p>" + blocks["tracking"] + link + "</p>{% endif %}")
    if "documents" in sections:
        parts.append(
            "{% if documents %}<p>"
            + blocks["documents_amazon" if amazon else "documents"]
            + "</p><ul>{% for document in documents %}<li>{{ document.kind_label }} "
            "{{ document.number }}</li>{% endfor %}</ul>{% endif %}"
        )
    if "review" in sections and not amazon:
        parts.append(
            '{% if review_url %}<p><a href="{{ review_url }}">'
            + blocks["review_link"]
            + "</a></p>{% endif %}"
        )
    if not amazon:
        parts.append(
            '{% if status_url %}<p>' + blocks["status"] + '<br><a href="{{ status_url }}">'
            + blocks["status_link"] + "</a></p>{% endif %}"
        )  # fmt: skip
    parts.append(_p(blocks["questions_amazon"] if amazon else blocks["questions"]))
    if amazon:
        parts.append(_p(blocks["closing"] + "<br>{{ merchant.name }}"))
    else:
        parts.append(
            _p(
                blocks["closing"] + "<br>{{ merchant.name }}"
                "{% if merchant.email %}<br>{{ merchant.email }}{% endif %}"
                "{% if merchant.phone %}<br>{{ merchant.phone }}{% endif %}"
            )
        )
    return "\n".join(parts) + "\n"


def default_variants(language: str) -> list[DefaultVariant]:
    """Every default text in `language`: e-mail (generic and Amazon) and SMS."""
    module = _module(language)
    out: list[DefaultVariant] = []
    for purpose in EMAIL_PURPOSES:
        spec = module.EMAIL[purpose]
        out.append(
            DefaultVariant(
                purpose, "email", language, None, spec["subject"],
                _email_body(language, purpose, amazon=False),
            )
        )  # fmt: skip
        out.append(
            DefaultVariant(
                purpose, "email", language, "amazon", spec.get("amazon_subject", spec["subject"]),
                _email_body(language, purpose, amazon=True),
            )
        )  # fmt: skip
    for purpose in SMS_PURPOSES:
        out.append(DefaultVariant(purpose, "sms", language, None, "", "", module.SMS[purpose]))
    return out
