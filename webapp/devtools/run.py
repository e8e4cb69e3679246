"""`make run`: seed the demo once, print how to log in, then start every process with honcho."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from webapp.devtools.redis_server import choose_dev_redis_port, port_is_free

DEMO_MARKER = "demo.seeded"
DEMO_CREDENTIALS = "demo.json"


class DevSetupError(RuntimeError):
    """The development environment cannot start (e.g. a port is taken); the message says why."""


def write_private_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` as JSON readable only by the owner (0600), replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_demo_credentials(instance_dir: Path) -> tuple[dict[str, Any], bool]:
    """Seed the demo account on first start; return its credentials and whether it was seeded.

    Later starts reuse `instance/demo.json`; the demo is seeded again only when the marker or
    the credentials file is missing, or the database no longer has the demo account.
    """
    from webapp.accounts.demo import DEMO_SLUG, seed_demo_account
    from webapp.accounts.services import get_account_by_slug

    marker = instance_dir / DEMO_MARKER
    stored = instance_dir / DEMO_CREDENTIALS
    if marker.exists() and stored.exists() and get_account_by_slug(DEMO_SLUG) is not None:
        return json.loads(stored.read_text()), False
    creds = seed_demo_account(None).as_dict()
    write_private_json(stored, creds)
    marker.write_text("The demo account was seeded; delete this file to seed it again.\n")
    return creds, True


def process_environment(environ: Mapping[str, str], *, mail_port: int) -> dict[str, str]:
    """The environment for web, worker, redis and mail; checks that the needed ports are free.

    Without REDIS_URL a private development Redis is started, and REDIS_URL points every process
    at it (DEV_REDIS_MANAGED tells `statuslink dev redis` to start it rather than idle).
    """
    env = dict(environ)
    env.setdefault("STATUSLINK_ENV", "development")
    env.setdefault("STATUSLINK_DEMO", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    web_port = int(env.get("PORT") or 5000)
    env["PORT"] = str(web_port)
    env.setdefault("BASE_URL", f"http://127.0.0.1:{web_port}")
    taken = [(web_port, "PORT")] if not port_is_free(web_port) else []
    if not port_is_free(mail_port):
        taken.append((mail_port, "MAIL_CATCHER_PORT"))
    if not env.get("REDIS_URL"):
        redis_port = choose_dev_redis_port(env)
        if not port_is_free(redis_port):
            taken.append((redis_port, "DEV_REDIS_PORT"))
        env["DEV_REDIS_PORT"] = str(redis_port)
        env["DEV_REDIS_MANAGED"] = "1"
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    if taken:
        names = ", ".join(f"{port} (set {var} to use another)" for port, var in taken)
        raise DevSetupError(f"port already in use: {names}")
    # The Procfile calls `statuslink`; make sure it is this installation's.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    return env


def format_banner(creds: Mapping[str, Any], base_url: str, seeded: bool) -> str:
    """The block `make run` prints: admin URL, login, password, API key."""
    from webapp.accounts.cli import format_demo_summary

    title = "Demo account created" if seeded else "Demo account (from instance/demo.json)"
    rule = "=" * 72
    return "\n".join([rule, title, format_demo_summary(dict(creds), base_url), rule])


def exec_honcho(procfile: Path, env: Mapping[str, str]) -> None:
    """Replace this process with `honcho start` (Ctrl-C then stops every process)."""
    bin_dir = Path(sys.executable).parent
    honcho = shutil.which("honcho", path=os.pathsep.join([str(bin_dir), env.get("PATH", "")]))
    if honcho is None:
        raise DevSetupError("honcho is not installed; run `make install`")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(  # noqa: S606 - replace this process on purpose
        honcho,
        [honcho, "start", "-f", str(procfile), "-d", str(procfile.parent)],
        dict(env),
    )
