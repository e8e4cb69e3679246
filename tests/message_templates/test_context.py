"""The render context: plain values, locale formatting, the language chain."""

from __future__ import annotations

from decimal import Decimal

import pytest
from markupsafe import Markup

from tests.message_templates.conftest import make_order
from webapp.message_templates.context import (
    build_context,
    choose_language,
    format_money,
    sample_context,
)


@pytest.mark.parametrize(
    ("customer", "shop", "account", "expected"),
    [
        ("fr", "de", "en", "fr"),
        (None, "it", "de", "it"),
        ("xx", "nl-NL", "de", "nl"),
        ("sv_SE", None, "de", "sv"),
        (None, None, "pl", "pl"),
        ("ja", "pt", "zz", "en"),
        (None, None, None, "en"),
    ],
)
def test_choose_language_chain(customer, shop, account, expected):
    assert choose_language(customer, shop, account) == expected


def test_money_formats_per_locale():
    amount = Decimal("1234.56")
    assert format_money(amount, "EUR", "de") == "1.234,56\xa0€"
    assert format_money(amount, "GBP", "en") == "£1,234.56"
    assert format_money(amount, "EUR", "en") == "€1,234.56"
    assert format_money(amount, "EUR", "fr") == "1\u202f234,56\xa0€"
    assert format_money(None, "EUR", "de") == ""


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, str | int | bool | Markup) or value is None


def test_build_context_from_real_order_has_only_plain_values(tenant, order):
    context = build_context(order, language="de", status_url="https://s.example/s/abc")
    assert _plain(context)
    assert context["order"]["number"] == "1001"
    # 23:30 UTC on 12 March is already 13 March in Berlin (the account's zone).
    assert context["order"]["placed_at"] == "13.03.2025"
    assert context["order"]["delivery_date"] == "20.03.2025"
    assert context["order"]["payment_due_date"] == "20.03.2025"
    assert context["order"]["payment_method_label"] == "Vorkasse"
    assert context["items"][0]["line_total"] == "1.234,56\xa0€"
    assert context["items"][0]["open_quantity"] == 1
    assert context["items"][1]["unit_price"] == ""
    assert context["order"]["total"] == ""  # one item has no price
    assert context["tracking"] == {
        "carrier": "DHL", "number": "0034043416", "url": "https://tracking.example/0034043416"
    }  # fmt: skip
    assert context["documents"] == [
        {"kind": "invoice", "kind_label": "Rechnung", "number": "RE-77", "filename": "RE-77.pdf"}
    ]
    assert context["status_url"] == "https://s.example/s/abc"
    assert context["merchant"]["name"] == "Acme GmbH"
    assert isinstance(context["items_table"], Markup)
    assert "<table" in context["items_table"]
    assert context["items_list"].splitlines()[0] == "2 × Tee-Set  1.234,56\xa0€"


def test_amazon_orders_never_get_a_status_link(tenant):
    order = make_order(tenant, "A-1", shop=tenant.amazon)
    context = build_context(order, language="de", status_url="https://s.example/s/abc")
    assert context["status_url"] == ""
    assert context["tracking"]["url"] == ""


def test_list_layout_and_combined_orders(tenant):
    first = make_order(tenant, "2001")
    second = make_order(tenant, "2002")
    context = build_context(first, language="en", orders=[first, second], items_layout="list")
    assert [o["number"] for o in context["orders"]] == ["2001", "2002"]
    assert len(context["items"]) == 4
    assert context["items_list"].startswith("- 2 × Tee-Set\n- 1 × Untersetzer\n- 2 × Tee-Set")
    assert context["items_table"].startswith("<ul")
    # Each item is a real list element with its title escaped once, never "&lt;li&gt;".
    assert context["items_table"].count("<li>") == 4
    assert "&lt;li&gt;" not in context["items_table"]
    assert "<li>2 × Tee-Set</li>" in context["items_table"]


def test_customer_name_is_not_markup(tenant):
    order = make_order(tenant, "X-1", name="<b>Bold</b>")
    context = build_context(order, language="en")
    assert not isinstance(context["customer"]["name"], Markup)
    assert "&lt;b&gt;Bold&lt;/b&gt;" in context["items_table"] or "<b>" not in str(
        context["items_table"]
    )


@pytest.mark.parametrize("language", ["de", "en", "fr", "it", "es", "nl", "pl", "sv"])
def test_sample_context_per_language(language):
    context = sample_context(language)
    assert _plain(context)
    assert context["customer"]["name"]
    assert context["order"]["total"]
    assert sample_context(language, amazon=True)["status_url"] == ""


def test_every_placeholder_is_documented():
    from pathlib import Path

    from webapp.message_templates.context import PLACEHOLDERS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "placeholders.md").read_text()
    for name, field in PLACEHOLDERS.items():
        assert f"`{name}" in docs, name
        if field.fields and name != "orders":
            prefix = ("document" if name == "documents" else "item") if field.many else name
            for key in field.fields:
                assert f"`{prefix}.{key}`" in docs, f"{prefix}.{key}"
