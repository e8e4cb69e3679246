"""The `statuslink` command line: a Flask CLI group with Statuslink's commands."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

F = TypeVar("F", bound=Callable[..., Any])


def _create_app() -> Flask:
    from webapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, help="Statuslink command line.")
def main() -> None:
    """Statuslink command line."""


def register_cli(app: Flask) -> None:
    """Attach every Statuslink command to `app.cli` (so `statuslink` and test runners see them)."""
    from webapp.accounts.cli import (
        account_cli,
        apikey_cli,
        demo_command,
        sender_cli,
        shop_cli,
        user_cli,
    )
    from webapp.devtools.cli import dev_cli
    from webapp.message_templates.cli import templates_cli

    for command in (
        account_cli,
        user_cli,
        apikey_cli,
        shop_cli,
        sender_cli,
        demo_command,
        worker_command,
        dev_cli,
        templates_cli,
    ):
        app.cli.add_command(command)


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def cli_errors(func: F) -> F:
    """Turn domain and database errors into one line on stderr and exit code 1.

    Services raise `ValidationError`/`Conflict` (with `field` and `message`) or `NotFound`;
    a command must never show a traceback for bad input. The session is rolled back so a
    half-made change is not committed by a later step.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from webapp.extensions import db
        from webapp.tenancy import NotFound

        try:
            return func(*args, **kwargs)
        except click.ClickException:
            db.session.rollback()
            raise
        except NotFound as exc:
            db.session.rollback()
            raise click.ClickException(_one_line(f"not found: {exc}")) from None
        except ValueError as exc:
            db.session.rollback()
            field, message = getattr(exc, "field", None), getattr(exc, "message", None)
            if field is None or message is None:
                raise
            raise click.ClickException(_one_line(f"{field}: {message}")) from None
        except SQLAlchemyError as exc:
            db.session.rollback()
            # Only the driver's message: the full error carries SQL parameters (hashes, secrets).
            reason = _one_line(str(getattr(exc, "orig", None) or exc.__class__.__name__), 160)
            hint = "is the database migrated? Run `statuslink db upgrade`."
            raise click.ClickException(f"database error ({reason}); {hint}") from None

    return wrapper  # type: ignore[return-value]


def _wait_for_redis(url: str, timeout: float) -> None:
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    deadline = time.monotonic() + timeout
    announced = False
    try:
        while True:
            try:
                client.ping()
                return
            except (RedisError, OSError) as exc:
                if time.monotonic() >= deadline:
                    raise click.ClickException(
                        f"Redis at {redact_url(url)} is not reachable "
                        f"({exc.__class__.__name__}); set REDIS_URL or start Redis"
                    ) from None
                if not announced:
                    click.echo(f"Waiting for Redis at {redact_url(url)} ...", err=True)
                    announced = True
                time.sleep(0.25)
    finally:
        client.close()


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe to print or log."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


@click.command("worker")
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then exit.")
@click.option("--queue", "queue_name", default=None, help="Queue to listen to (default RQ_QUEUE).")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=lambda: float(os.environ.get("WORKER_REDIS_WAIT", "30")),
    show_default="30",
    help="Seconds to wait for Redis to answer before giving up.",
)
@with_appcontext
def worker_command(burst: bool, queue_name: str | None, wait_seconds: float) -> None:
    """Run an RQ worker (with the periodic jobs) for this app."""
    # The CLI is an entry point like wsgi.py, so it may reach into jobs/ (webapp/ proper never
    # does); the import is local so `statuslink --help` stays light.
    from jobs.worker import run_worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _wait_for_redis(app.config["REDIS_URL"], wait_seconds)
    run_worker(app, burst=burst, queue_name=queue_name)
