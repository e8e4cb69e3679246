"""Statuslink: order notifications by e-mail and SMS with signed status pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application."""
    from webapp import models  # noqa: F401 - every table known to the metadata and Alembic
    from webapp.accounts.auth import register_auth
    from webapp.blueprints import register_blueprints
    from webapp.cli import register_cli
    from webapp.config import build_config
    from webapp.errors import register_errors
    from webapp.extensions import register_extensions
    from webapp.i18n import register_i18n
    from webapp.notifications import register_notifications
    from webapp.queue import register_queue

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(build_config(app.instance_path, config))
    app.config.setdefault("MIGRATIONS_DIR", str(ROOT / "migrations"))
    register_extensions(app)
    register_i18n(app)
    register_auth(app)
    register_queue(app)
    register_notifications(app)
    register_blueprints(app)
    register_errors(app)
    register_cli(app)
    _trust_proxies(app)
    return app


def _trust_proxies(app: Flask) -> None:
    hops = int(app.config.get("PROXY_FIX") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
