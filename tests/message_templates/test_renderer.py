"""The sandboxed renderer: attack corpus, placeholders, escaping, limits, HTML to text."""

from __future__ import annotations

import time

import pytest

from webapp.message_templates.context import sample_context
from webapp.message_templates.renderer import (
    Limits,
    TemplateProblem,
    TemplateSources,
    check_template,
    html_to_text,
    render_sources,
    render_template,
)


@pytest.fixture(scope="module")
def context():
    return sample_context("en")


def errors(source: str, kind: str = "html", **kwargs) -> list[str]:
    return [str(p) for p in check_template(source, kind, **kwargs) if p.severity == "error"]


# Each attack must be refused by the checker, or stopped by a bound while rendering; either
# way quickly, and never with output that reveals Python internals.
ATTACKS = [
    "{{ order.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ order.number.mro() }}",
    "{{ order['__class__'] }}",
    "{{ order|attr('__class__') }}",
    "{{ items|map(attribute='__class__')|list }}",
    "{{ '{0.__class__}'.format(order) }}",
    "{{ '{x}'.format_map(order) }}",
    "{{ '%s' % order }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'a' * 10**9 }}",
    "{{ (items * 10**9)|length }}",
    "{{ 10 ** 1000000 }}",
    "{{ ((10 ** 100) ** 100) ** 100 }}",
    "{% set a = 'aaaaaaaaaaaaaaaa' %}" + "{% set a = a ~ a %}" * 30 + "{{ a|length }}",
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ cycler(1, 2).next() }}",
    "{{ lipsum(10**6) }}",
    "{{ namespace(a=1) }}",
    "{{ joiner(',') }}",
    "{{ dict(a=1) }}",
    "{{ order.items() }}",
    "{% include 'x.html' %}",
    "{% extends 'base.html' %}",
    "{% import 'macros.html' as m %}",
    "{% set x %}{{ order }}{% endset %}",
    "{% for x in items recursive %}{{ loop(items) }}{% endfor %}",
    "{% autoescape false %}{{ customer.name }}{% endautoescape %}",
    "{{ customer.name|safe }}",
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'|indent(10**9) }}",
    "{{ 'x'|replace('', 'y' * 200000) }}",
    "{{ (items * 100000)|join('y' * 1000) }}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
    "{{ f(40) }}",
    "{% for a in 'x' * 200000 %}{% for b in 'xyz' %}{% endfor %}{% endfor %}",
    "{{ loop.__class__ }}",
    "{{ (items|first).__class__.__init__.__globals__ }}",
    # Lazy filters that pad to the requested size allocate inside one step.
    "{{ items|batch(1000000000, 'x')|first|length }}",
    "{{ items|slice(10000000)|list|length }}",
]


@pytest.mark.parametrize("source", ATTACKS)
@pytest.mark.parametrize("kind", ["html", "text"])
def test_attack_is_rejected_or_bounded(source, kind, context):
    started = time.monotonic()
    problems = errors(source, kind)
    if not problems:
        with pytest.raises(TemplateProblem) as info:
            render_template(source, kind, context)
        assert info.value.message
    assert time.monotonic() - started < 2.5


def test_batch_and_slice_still_work_within_bounds(context):
    rendered = render_template(
        "{% for row in items|batch(2, '-') %}{{ row|length }}{% endfor %}", "text", context
    )
    assert rendered and set(rendered) <= set("12")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ order.__class__ }}", "access to '__class__' is not allowed"),
        ("{{ order|attr('x') }}", "the filter 'attr' is not allowed"),
        ("{{ 'x'.format(1) }}", "access to 'format' is not allowed"),
        ("{{ 'x'.format_map(order) }}", "access to 'format_map' is not allowed"),
        ("{% for i in range(3) %}{% endfor %}", "range() is not available"),
        ("{{ cycler(1) }}", "cycler() is not available"),
        ("{{ lipsum() }}", "lipsum() is not available"),
        ("{{ namespace() }}", "namespace() is not available"),
        ("{{ self }}", "'self' is not available"),
        ("{% include 'x' %}", "{% include %} is not allowed"),
    ],
)
def test_check_names_the_reason(source, reason):
    assert any(reason in e for e in errors(source))


def test_unknown_placeholder_reported_with_line_and_suggestion():
    source = "Hello {{ customer.name }},\n\nyour order\n{{ order.nmber }} is here.\n{{ shopname }}"
    problems = check_template(source, "text")
    messages = [(p.line, p.message) for p in problems]
    assert (4, "unknown placeholder 'order.nmber' (did you mean 'order.number'?)") in messages
    assert any(line == 5 and "'shopname'" in msg for line, msg in messages)
    assert len(problems) == 2


def test_loop_variables_are_checked_against_the_item_schema():
    ok = "{% for item in items %}{{ item.title }} {{ loop.index }}{% endfor %}"
    assert errors(ok) == []
    bad = "{% for item in items %}\n{{ item.price }}{% endfor %}"
    assert errors(bad) == [
        "line 2: unknown placeholder 'item.price' (did you mean 'item.unit_price'?)"
    ]


def test_syntax_error_has_line():
    problems = check_template("line one\n{% if order.number %}\nno end", "text")
    assert problems[0].severity == "error"
    assert problems[0].line is not None and problems[0].line >= 2
    assert problems[0].message.startswith("syntax error")


def test_template_size_limit():
    assert errors("x" * (64 * 1024 + 1)) == ["the template is longer than 64 KB"]


def test_customer_data_escaped_in_html_not_in_text(context):
    evil = dict(context, customer={**context["customer"], "name": "<script>alert(1)</script>"})
    html = render_template("<p>Hi {{ customer.name }}</p>", "html", evil)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = render_template("Hi {{ customer.name }}", "text", evil)
    assert text == "Hi <script>alert(1)</script>"


def test_items_table_is_markup_in_html(context):
    html = render_template("{{ items_table }}", "html", context)
    assert html.startswith("<table")
    assert "Ceramic mug, sage green" in html


def test_subject_newlines_cannot_inject_headers(context):
    evil = dict(context, customer={**context["customer"], "name": "A\r\nBcc: x@evil.example"})
    rendered = render_sources(
        TemplateSources("Hi {{ customer.name }}", "", "body"), evil, channel="email"
    )
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


def test_output_limit(context):
    source = "{% for item in items %}{{ 'x' * 200000 }}{% endfor %}"
    with pytest.raises(TemplateProblem, match="output is longer than 256 KB"):
        render_template(source, "text", context)


def test_time_limit(context):
    source = "{% for a in 'x' * 50000 %}{% for b in 'xy' %}{{ a ~ b }}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match="longer than 0.05 s"):
        render_template(source, "text", context, limits=Limits(seconds=0.05, steps=10**7))
    assert time.monotonic() - started < 1


def test_step_limit(context):
    source = "{% for a in 'x' * 200000 %}{% endfor %}"
    with pytest.raises(TemplateProblem, match="too much work"):
        render_template(source, "text", context)


def test_macros_and_loop_helpers_work(context):
    source = (
        "{% macro row(i) %}[{{ i.title|upper }}]{% endmacro %}"
        "{% for i in items %}{{ row(i) }}{{ loop.cycle('a', 'b') }}{% endfor %}"
    )
    assert (
        render_template(source, "text", context) == "[CERAMIC MUG, SAGE GREEN]a[LINEN TEA TOWEL]b"
    )


def test_money_and_date_filters_follow_the_language(context):
    source = "{{ order.total_amount|money('EUR') }} {{ order.delivery_date_iso|date('long') }}"
    assert render_template(source, "text", context, language="de") == "35,30\xa0€ 14. März 2025"
    assert render_template(source, "text", context, language="en") == "€35.30 14 March 2025"


def test_text_derived_from_html_when_text_empty(context):
    sources = TemplateSources(
        "Order {{ order.number }}",
        '<p>Hello {{ customer.name }},</p><p>See <a href="{{ status_url }}">your order</a>.</p>'
        "{{ items_table }}",
        "",
    )
    rendered = render_sources(sources, context, channel="email")
    assert rendered.subject == "Order SL-10042"
    assert rendered.html is not None and rendered.html.startswith("<!doctype html>")
    assert "Hello Emma Taylor," in rendered.text
    assert "See your order (https://status.example.com/s/sample-link)." in rendered.text
    assert "2 | Ceramic mug, sage green | £25.80" in rendered.text
    assert "<" not in rendered.text


def test_html_to_text_conversion():
    html = (
        "<style>p{color:red}</style><h1>Title</h1><p>One&nbsp;&amp; two<br>three</p>"
        "<ul><li>first</li><li>second</li></ul>"
        "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>"
        '<p><a href="mailto:x@example.com">x@example.com</a> '
        '<a href="https://e.example/">https://e.example/</a></p>'
    )
    text = html_to_text(html)
    assert text == (
        "Title\n\nOne & two\nthree\n\n- first\n- second\n\nA | B\n1 | 2\n\n"
        "x@example.com https://e.example/\n"
    )


def test_sms_renders_plain_text(context):
    rendered = render_sources(
        TemplateSources(body_text="{{ shop.name }}: {{ order.number }}"), context, channel="sms"
    )
    assert rendered.text == "Hartley Home: SL-10042\n"
    assert rendered.html is None


def test_amazon_variant_warns_about_status_url_and_links():
    problems = check_template(
        '<p>{{ status_url }}</p>\n<a href="https://x.example">x</a>', "html", amazon=True
    )
    assert [(p.line, p.severity) for p in problems] == [(1, "warning"), (2, "warning")]
    assert "status_url" in problems[0].message
    assert check_template("{{ status_url }}", "html") == []
