"""`statuslink templates ...`: render a template file in the production sandbox."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.config import SUPPORTED_LANGUAGES
from webapp.message_templates.context import build_context, choose_language, sample_context
from webapp.message_templates.renderer import (
    DEFAULT_LIMITS,
    TemplateProblem,
    TemplateSources,
    check_sources,
    render_sources,
)
from webapp.message_templates.services import get_account, get_order_for_preview


def _fail(message: str) -> None:
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(1)


def _read_sources(path: Path, channel: str) -> tuple[TemplateSources, int]:
    """The sources in the file and the line offset of its body (1 after a Subject line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}")
    if len(raw) > DEFAULT_LIMITS.source_chars * 4:
        _fail(f"{path} is too large for a template")
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail(f"{path} is not UTF-8 text")
    if channel == "sms":
        return TemplateSources(body_text=content), 0
    first, _, body = content.partition("\n")
    if not first.lower().startswith("subject:"):
        _fail("line 1: the first line must be 'Subject: ...'")
    subject = first.split(":", 1)[1].strip()
    if "<" in body and any(
        tag in body.lower()
        for tag in ("<p", "<br", "<div", "<table", "<a ", "<ul", "<h", "<strong")
    ):
        return TemplateSources(subject=subject, body_html=body), 1
    return TemplateSources(subject=subject, body_text=body), 1


@click.group("templates", help="Message templates.")
def templates_cli() -> None:
    """Message templates."""


@templates_cli.command("render")
@click.option("--account", "slug", required=True, help="Account slug.")
@click.option(
    "--file", "path", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="Template file; for e-mail the first line is 'Subject: ...'.",
)  # fmt: skip
@click.option("--order", "number", default=None, help="Render against this order.")
@click.option("--language", default=None, help="Message language (default: from the order).")
@click.option("--channel", type=click.Choice(["email", "sms"]), default="email")
@with_appcontext
def render_command(
    slug: str, path: Path, number: str | None, language: str | None, channel: str
) -> None:
    """Render a template file against a real order (or sample data) and print it."""
    account = get_account(slug)
    if account is None:
        _fail(f"no account with slug {slug!r}")
    assert account is not None
    if language is not None and language not in SUPPORTED_LANGUAGES:
        _fail(f"unsupported language {language!r} (use {', '.join(SUPPORTED_LANGUAGES)})")
    order = None
    if number is not None:
        order = get_order_for_preview(account.id, number)
        if order is None:
            _fail(f"no order {number!r} in account {slug!r}")
    sources, offset = _read_sources(path, channel)
    amazon = bool(order is not None and order.shop.kind == "amazon")
    problems = check_sources(sources, channel, amazon=amazon)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        _report(errors[0].line, errors[0].message, errors[0].part, offset)
    for warning in problems:
        if warning.severity == "warning":
            line = _file_line(warning.line, warning.part, offset)
            where = f"line {line}: " if line else ""
            click.echo(f"warning: {where}{warning.message}", err=True)
    if order is not None:
        lang = language or choose_language(
            order.customer.language, order.shop.language, account.default_language
        )
        status_url = f"{current_app.config.get('BASE_URL', '')}/s/preview"
        context = build_context(order, language=lang, status_url=status_url)
    else:
        lang = language or account.default_language
        context = sample_context(lang)
    try:
        rendered = render_sources(sources, context, channel=channel, language=lang,
                                  amazon=amazon)  # fmt: skip
    except TemplateProblem as exc:
        _report(exc.line, exc.message, exc.part, offset)
        return
    if channel == "sms":
        click.echo(rendered.text.rstrip("\n"))
        return
    click.echo(f"Subject: {rendered.subject}")
    click.echo("")
    click.echo(rendered.text.rstrip("\n"))
    if rendered.html is not None:
        click.echo("")
        click.echo("----- HTML -----")
        click.echo(rendered.html.rstrip("\n"))


def _file_line(line: int | None, part: str, offset: int) -> int | None:
    if part == "subject":
        return 1
    if line is None:
        return None
    return line + offset


def _report(line: int | None, message: str, part: str, offset: int) -> None:
    file_line = _file_line(line, part, offset)
    _fail(f"line {file_line}: {message}" if file_line else message)
