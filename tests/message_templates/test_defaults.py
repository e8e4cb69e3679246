"""Every default text: checked, rendered in every language, Amazon variants without links."""

from __future__ import annotations

import pytest

from webapp.config import SUPPORTED_LANGUAGES
from webapp.message_templates.context import sample_context
from webapp.message_templates.defaults import (
    EMAIL_PURPOSES,
    SMS_PURPOSES,
    default_variants,
    labels_for,
)
from webapp.message_templates.renderer import TemplateSources, check_sources, render_sources
from webapp.orders.state import EVENT_TYPES


def test_every_event_type_and_workflow_has_a_purpose():
    assert set(EVENT_TYPES) <= set(EMAIL_PURPOSES)
    assert {"prepayment_reminder", "review_request", "manual", "quick_reply_invoice"} <= set(
        EMAIL_PURPOSES
    )


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_defaults_complete_and_render_cleanly(language):
    variants = default_variants(language)
    kinds = {(v.purpose, v.channel, v.marketplace_kind) for v in variants}
    for purpose in EMAIL_PURPOSES:
        assert (purpose, "email", None) in kinds
        assert (purpose, "email", "amazon") in kinds
    for purpose in SMS_PURPOSES:
        assert (purpose, "sms", None) in kinds
    for variant in variants:
        amazon = variant.marketplace_kind == "amazon"
        sources = TemplateSources(variant.subject, variant.body_html, variant.body_text)
        assert check_sources(sources, variant.channel, amazon=amazon) == [], variant
        context = sample_context(language, amazon=amazon)
        rendered = render_sources(
            sources, context, channel=variant.channel, language=language, amazon=amazon
        )
        for part in (rendered.subject, rendered.text, rendered.html or ""):
            assert "{{" not in part and "{%" not in part and "}}" not in part
        assert context["order"]["number"] in rendered.text
        if variant.channel == "email":
            assert context["customer"]["name"] in rendered.text
            assert context["order"]["number"] in rendered.subject
            assert context["merchant"]["name"] in rendered.text
            if not amazon and variant.purpose != "review_request":
                assert context["status_url"] in rendered.text
        else:
            assert len(rendered.text) <= 200, rendered.text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_amazon_variants_carry_no_links(language):
    for variant in default_variants(language):
        if variant.marketplace_kind != "amazon":
            continue
        for source in (variant.subject, variant.body_html, variant.body_text):
            assert "status_url" not in source
            assert "http" not in source
            assert "href" not in source
            assert "tracking.url" not in source and "review_url" not in source
        rendered = render_sources(
            TemplateSources(variant.subject, variant.body_html, variant.body_text),
            sample_context(language, amazon=True),
            channel="email", language=language, amazon=True, frame=False,
        )  # fmt: skip
        assert "http" not in (rendered.html or "") and "http" not in rendered.text


def test_amazon_invoice_mentions_the_attachment():
    for language in SUPPORTED_LANGUAGES:
        amazon = next(
            v
            for v in default_variants(language)
            if v.purpose == "invoiced" and v.marketplace_kind == "amazon"
        )
        label = labels_for(language)["document_kinds"]["invoice"].lower()
        assert label[:5] in amazon.body_html.lower()


def test_languages_differ():
    subjects = {default_variants(lang)[0].subject for lang in SUPPORTED_LANGUAGES}
    assert len(subjects) == len(SUPPORTED_LANGUAGES)
