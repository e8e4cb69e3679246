"""The renderer's per-process caches: same output as without them, a changed source is checked
again before it is rendered, and every cache stays within its bound."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_currency
from markupsafe import Markup

from tests.message_templates.conftest import make_order
from webapp.config import SUPPORTED_LANGUAGES
from webapp.extensions import db
from webapp.message_templates import renderer, services
from webapp.message_templates.caches import BoundedCache
from webapp.message_templates.context import render_items_table, sample_context
from webapp.message_templates.defaults import default_variants
from webapp.message_templates.models import MessageTemplate, TemplateVariant
from webapp.message_templates.renderer import (
    TemplateProblem,
    TemplateSources,
    html_to_text,
    render_sources,
    render_template,
)


def _clear_caches() -> None:
    renderer._CHECKED.clear()
    renderer._COMPILED.clear()
    renderer._FORMATTED.clear()


def _render_all(language: str) -> list[tuple[str, str | None, str]]:
    out = []
    for default in default_variants(language):
        amazon = default.marketplace_kind == "amazon"
        context = sample_context(language, amazon=amazon)
        sources = TemplateSources(default.subject, default.body_html, default.body_text)
        rendered = render_sources(
            sources, context, channel=default.channel, language=language, amazon=amazon
        )
        out.append((rendered.subject, rendered.html, rendered.text))
    return out


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_default_templates_render_the_same_from_cold_and_warm_caches(language, monkeypatch):
    _clear_caches()
    cold = _render_all(language)
    assert renderer._COMPILED.misses > 0 and len(renderer._COMPILED) > 0
    warm = _render_all(language)
    assert renderer._COMPILED.hits > 0 and renderer._CHECKED.hits > 0
    assert warm == cold
    # And with every cache bypassed: a fresh check, compile and Babel call on each use.
    monkeypatch.setattr(renderer, "_CHECKED", _NeverCache())
    monkeypatch.setattr(renderer, "_COMPILED", _NeverCache())
    monkeypatch.setattr(renderer, "_FORMATTED", _NeverCache())
    assert _render_all(language) == cold


class _NeverCache(BoundedCache):
    """Forgets everything: every lookup misses."""

    def __init__(self) -> None:
        super().__init__(1)

    def put(self, key, value) -> None:
        return None


def test_a_changed_source_is_checked_again_before_it_is_rendered(monkeypatch):
    checked: list[str] = []
    real = renderer._check_template

    def spy(source, kind, known, amazon, limits):
        checked.append(source)
        return real(source, kind, known, amazon, limits)

    monkeypatch.setattr(renderer, "_check_template", spy)
    _clear_caches()
    context = sample_context("en")
    first = "<p>Cache probe A {{ order.number }}</p>"
    assert render_template(first, "html", context) == "<p>Cache probe A SL-10042</p>"
    assert render_template(first, "html", context) == "<p>Cache probe A SL-10042</p>"
    assert checked == [first]  # checked once, then the stored result is used
    changed = "<p>Cache probe B {{ order.__class__ }}</p>"
    with pytest.raises(TemplateProblem, match="not allowed"):
        render_template(changed, "html", context)
    assert checked == [first, changed]
    # The refused source was never compiled, so it can never be rendered from the cache.
    assert (("html", renderer._source_digest(changed))) not in renderer._COMPILED
    with pytest.raises(TemplateProblem):
        render_template(changed, "html", context)


def test_check_and_compile_caches_stay_within_their_bounds(monkeypatch):
    monkeypatch.setattr(renderer, "_CHECKED", BoundedCache(3))
    monkeypatch.setattr(renderer, "_COMPILED", BoundedCache(3))
    context = sample_context("en")
    for n in range(10):
        assert render_template(f"Bound {n}: {{{{ order.number }}}}", "text", context) == (
            f"Bound {n}: SL-10042"
        )
        assert len(renderer._CHECKED) <= 3 and len(renderer._COMPILED) <= 3
    # An evicted source is checked and compiled again, with the same result.
    assert render_template("Bound 0: {{ order.number }}", "text", context) == "Bound 0: SL-10042"
    assert len(renderer._CHECKED) == 3 and len(renderer._COMPILED) == 3


def test_limits_still_hold_for_a_cached_template():
    context = sample_context("en")
    source = "{% for i in items %}{{ 'x' * 100 }}{% endfor %}"
    small = renderer.Limits(output_chars=150)
    assert len(render_template(source, "text", context)) == 100 * len(context["items"])
    with pytest.raises(TemplateProblem, match="output is longer"):
        render_template(source, "text", context, limits=small)


def test_bounded_cache_evicts_the_least_recently_used():
    cache: BoundedCache[str] = BoundedCache(2)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"  # "a" is now the most recent
    cache.put("c", "3")
    assert "b" not in cache and cache.get("a") == "1" and cache.get("c") == "3"
    assert len(cache) == 2
    assert cache.get_or_make("d", lambda: "4") == "4" and len(cache) == 2
    with pytest.raises(ValueError):
        BoundedCache(0)


def test_memoised_formatting_equals_babel_and_is_bounded(monkeypatch):
    monkeypatch.setattr(renderer, "_FORMATTED", BoundedCache(5))
    for locale in renderer.LOCALES.values():
        for amount in (Decimal("24.9"), Decimal("24.90"), Decimal("-0"), Decimal("1234567.891"), 5):
            for _ in range(2):
                assert renderer.format_money_in(amount, "EUR", locale) == format_currency(
                    amount, "EUR", locale=locale
                )
        for day in (date(2025, 3, 1), date(2030, 12, 31)):
            assert renderer.format_date_in(day, "medium", locale) == format_date(
                day, format="medium", locale=locale
            )
        assert len(renderer._FORMATTED) <= 5
    # Datetimes are formatted directly, never kept: equal instants in different zones fall
    # on different days.
    renderer._FORMATTED.clear()
    late = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    assert renderer.format_date_in(late, "medium", "en_GB") == "1 Mar 2025"
    assert len(renderer._FORMATTED) == 0


def test_items_table_markup_is_unchanged():
    items = [
        {"quantity": 2, "title": "Mug <b> & co", "line_total": "25,80\xa0€"},
        {"quantity": 1, "title": Markup("<i>kept</i>"), "line_total": ""},
    ]
    cell = "padding:6px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top;"
    table = render_items_table(items, "25,80\xa0€", "en", "table")
    assert isinstance(table, Markup)
    assert table == (
        '<table role="presentation" cellpadding="0" cellspacing="0" '
        'style="width:100%;border-collapse:collapse;margin:12px 0;">'
        f'<tr><th align="left" style="{cell}">Qty</th><th align="left" style="{cell}">Item</th>'
        f'<th align="right" style="{cell}">Price</th></tr>'
        f'<tr><td style="{cell}">2</td><td style="{cell}">Mug &lt;b&gt; &amp; co</td>'
        f'<td align="right" style="{cell}white-space:nowrap;">25,80\xa0€</td></tr>'
        f'<tr><td style="{cell}">1</td><td style="{cell}"><i>kept</i></td>'
        f'<td align="right" style="{cell}white-space:nowrap;"></td></tr>'
        '<tr><td></td><td style="padding:6px 8px;"><strong>Total</strong></td>'
        '<td align="right" style="padding:6px 8px;white-space:nowrap;">'
        "<strong>25,80\xa0€</strong></td></tr></table>"
    )
    without_prices = render_items_table(items[1:], "", "en", "table")
    assert "Price" not in without_prices and "<strong>" not in without_prices


# --- HTML to text ----------------------------------------------------------------------------


def _slow(html: str) -> str:
    return "".join(renderer._extracted_parts(html, fast=False))


def _fast_ok(html: str) -> bool:
    return renderer._feed_fast(renderer._TextExtractor(), html)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_html_to_text_takes_the_fast_path_for_default_bodies_with_the_same_result(language):
    for default in default_variants(language):
        if default.channel != "email":
            continue
        amazon = default.marketplace_kind == "amazon"
        context = sample_context(language, amazon=amazon)
        body = render_template(default.body_html, "html", context, language=language)
        assert _fast_ok(body), default.purpose
        assert "".join(renderer._extracted_parts(body)) == _slow(body)


PIECES = [
    "<p>", "</p>", "<P>", "</P >", "<br>", "<br/>", "<br />", "<hr/>", "<p/>", "<li/>",
    '<a href="https://x.example/?a=1&amp;b=2">', "<a href='mailto:q@example.com'>",
    '<a href="#top">', "<a href=x>", '<a href = "y">', "<a>", "<a href>", '<a href="">',
    '<A HREF="Z">', "</a>", '<a href="u"/>', '<a\thref="t"\n>', '<a href="v"title="w">',
    '<a href="1" href="2">', '<img alt="pic &amp; more">', "<img alt='x' src=\"y\"/>",
    "<img alt>", "<img src=a alt=b>", "<td>", "</td>", "<th>", "<tr>", "</tr>", "<table>",
    "</table>", "<ul>", "<li>", "</li>", "<pre>", "</pre>", "<div>", "</div>", "<h1>",
    "</h1>", '<span style="a:b">', "<script>var a = '<p>';</script>", "<style>p{}</style>",
    "<title>T</title>", "<head>", "</head>", "<textarea><b>x</b></textarea>", "<!-- c -->",
    "<!---->", "<!-->", "<!--->", "<!-- a -- b -->", "<!-- x --->", "<!--[if mso]>X<![endif]-->",
    "<!DOCTYPE html>", "<?php ?>", "<![CDATA[x]]>", "</ a>", "</>", "<", ">", "a < b", "<3",
    "&amp;", "&nbsp;", "&#39;", "&#x41;", "&", "&amp", "&foo;", "&lt;p&gt;", " ", "\n", "\t",
    "\xa0", "\u2003", "\x0b", "\r\n", "text", "Hello World", "x|y", " | ", "ü€",
    '<p\x0bclass="x">', '<p class="a"\xa0id="b">', '<a href="x" / >', "<br//>", "<x-y>",
]  # fmt: skip


def test_html_to_text_fast_path_matches_htmlparser_on_random_html():
    rng = random.Random(20301)
    valid = [p for p in PIECES if _fast_ok(p)]
    fast = 0
    for n in range(3000):
        pool = valid if n % 2 else PIECES
        html = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        fast += _fast_ok(html)
        assert "".join(renderer._extracted_parts(html)) == _slow(html), repr(html)
    assert fast > 1000  # the comparison really covered the fast path


def test_html_to_text_falls_back_for_raw_text_elements():
    html = "<p>a</p><script>if (a < b) { x = '<p>'; }</script><p>b &amp; c</p>"
    assert not _fast_ok(html)
    assert html_to_text(html) == "a\n\nb & c\n"


# --- templates edited while a process renders ----------------------------------------------


def _shipped_variant(tenant) -> tuple[MessageTemplate, TemplateVariant]:
    variant = services.select_variant(tenant.account.id, "shipped", "email", "de", tenant.webshop)
    assert variant is not None
    return variant.template, variant


def test_an_edited_variant_is_checked_again_and_its_new_text_used(tenant):
    services.install_default_templates(tenant.account)
    order = make_order(tenant, "C-1")
    template, variant = _shipped_variant(tenant)
    first = services.render_message(tenant.account.id, "shipped", "email", order)
    assert first.variant_id == variant.id
    again = services.render_message(tenant.account.id, "shipped", "email", order)
    assert again == first

    # Saved through the editor: checked on save, the new text is used on the next render.
    services.save_variant(
        tenant.account.id, template.id, language="de",
        subject="Neu: {{ order.number }}", body_html="<p>Neu für {{ customer.name }}</p>",
    )  # fmt: skip
    edited = services.render_message(tenant.account.id, "shipped", "email", order)
    assert edited.subject == "Neu: C-1"
    assert edited.text == "Neu für Jana Roth\n"

    # Changed behind the checker's back (no new checksum): refused, never rendered.
    variant.body_html = "<p>{{ customer.name|safe }}</p>"
    db.session.flush()
    with pytest.raises(services.TemplateCheckFailed, match="safe"):
        services.render_message(tenant.account.id, "shipped", "email", order)

    # A valid change behind its back is checked first, then rendered with its new text.
    variant.body_html = "<p>Ganz neu {{ order.number }}</p>"
    db.session.flush()
    fixed = services.render_message(tenant.account.id, "shipped", "email", order)
    assert fixed.text == "Ganz neu C-1\n"
    assert variant.checked_checksum == services.content_checksum(
        "email", False, TemplateSources(variant.subject, variant.body_html, variant.body_text)
    )


def test_template_lookups_remember_the_template_but_read_it_through_the_session(tenant):
    services.install_default_templates(tenant.account)
    order = make_order(tenant, "C-2")
    lookups = services.TemplateLookups()
    plain = services.render_message(tenant.account.id, "shipped", "email", order)
    shared = services.render_message(tenant.account.id, "shipped", "email", order, lookups=lookups)
    assert shared == plain
    template, _ = _shipped_variant(tenant)
    db.session.expire_all()  # e.g. a rollback: the remembered row is read again
    assert (
        services.render_message(tenant.account.id, "shipped", "email", order, lookups=lookups)
        == plain
    )
    # Another account's lookups never see this account's template.
    assert lookups.template(tenant.account.id + 1000, "shipped", "email", None) is None
    assert lookups.template(tenant.account.id, "shipped", "email", None) is template


def test_items_list_escapes_titles_once_and_keeps_its_list_elements():
    items = [{"quantity": 1, "title": "<b>Mug</b> & co", "line_total": ""}]
    html = render_items_table(items, "", "en", "list")
    assert isinstance(html, Markup)
    assert html == (
        '<ul style="padding-left:20px;margin:12px 0;">'
        "<li>1 × &lt;b&gt;Mug&lt;/b&gt; &amp; co</li></ul>"
    )


def _reference_text(html: str) -> str:
    """html_to_text written plainly: each line's blanks collapsed and stripped, table rows
    joined with " | ", then tidied (one blank line at most, no blank lines at either end)."""
    lines = []
    for line in "".join(renderer._extracted_parts(html, fast=False)).split("\n"):
        line = re.sub(r"[ \t]+", " ", line).strip()
        if " | " in line or line.startswith("| ") or line.endswith(" |"):
            line = " | ".join(cell.strip() for cell in line.split("|") if cell.strip())
        lines.append(line)
    return renderer._tidy_text("\n".join(lines))


def test_html_to_text_matches_its_plain_definition_on_random_html():
    rng = random.Random(20302)
    rows = 0
    for _ in range(3000):
        html = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        text = html_to_text(html)
        assert text == _reference_text(html), repr(html)
        rows += " | " in text
    assert rows > 100  # table rows were among them
