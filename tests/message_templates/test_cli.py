"""`statuslink templates render`: the same sandbox as production, one-line errors."""

from __future__ import annotations

import pytest

from tests.message_templates.conftest import make_order


def _render(runner, tmp_path, content: str, *args: str):
    path = tmp_path / "template.txt"
    path.write_text(content, encoding="utf-8")
    return runner.invoke(
        args=["templates", "render", "--account", "acme", "--file", str(path), *args]
    )


def test_render_sample_html(runner, tenant, tmp_path):
    result = _render(
        runner, tmp_path,
        "Subject: Order {{ order.number }}\n<p>Hello {{ customer.name }}</p>\n{{ items_table }}\n",
        "--language", "en",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Subject: Order SL-10042"
    assert "Hello Emma Taylor" in lines
    assert "----- HTML -----" in lines
    assert "<table" in result.stdout


def test_render_real_order_in_its_language(runner, tenant, tmp_path):
    make_order(tenant, "7001", language="de")
    result = _render(
        runner, tmp_path,
        "Subject: Bestellung {{ order.number }}\nSumme: {{ items[0].line_total }}\n",
        "--order", "7001",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Subject: Bestellung 7001"
    assert "Summe: 1.234,56\xa0€" in result.stdout


def test_render_sms(runner, tenant, tmp_path):
    result = _render(runner, tmp_path, "{{ shop.name }}: {{ order.number }}", "--channel", "sms",
                     "--language", "en")  # fmt: skip
    assert result.exit_code == 0
    assert result.stdout == "Hartley Home: SL-10042\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "Subject: x\nok\n{{ order.__class__ }}\n",
            "error: line 3: access to '__class__' is not allowed",
        ),  # noqa: E501
        ("Subject: x\n{{ cycler(1) }}", "error: line 2: cycler() is not available"),
        ("Subject: {{ order|attr('x') }}\nbody", "error: line 1: the filter 'attr' is not allowed"),
        ("Subject: x\n{{ 'a' * 10**9 }}", "error: line 2: repetition would produce more than"),
        (
            "Subject: x\n{% for i in items %}\n{{ i.prize }}{% endfor %}",
            "error: line 3: unknown placeholder 'i.prize'",
        ),  # noqa: E501
        ("no subject line\n", "error: line 1: the first line must be 'Subject: ...'"),
    ],
)
def test_template_errors_exit_1_with_one_line(runner, tenant, tmp_path, content, expected):
    result = _render(runner, tmp_path, content)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(expected)
    assert "Traceback" not in result.stderr


def test_unknown_account_and_order(runner, tenant, tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Subject: x\ny", encoding="utf-8")
    result = runner.invoke(args=["templates", "render", "--account", "nope", "--file", str(path)])
    assert result.exit_code == 1 and result.stderr == "error: no account with slug 'nope'\n"
    result = _render(runner, tmp_path, "Subject: x\ny", "--order", "missing")
    assert (
        result.exit_code == 1 and result.stderr == "error: no order 'missing' in account 'acme'\n"
    )


def test_other_tenants_order_is_not_found(runner, tenant, other_tenant, tmp_path):
    from tests.support.factories import Tenant  # noqa: F401 - documents the fixture type

    make_order(other_tenant, "9001")
    result = _render(runner, tmp_path, "Subject: x\ny", "--order", "9001")
    assert result.exit_code == 1
    assert "no order '9001'" in result.stderr
