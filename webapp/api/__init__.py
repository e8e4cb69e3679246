"""The JSON API v1; no templates."""

from __future__ import annotations

from flask import Flask


def register_api(app: Flask) -> None:
    """Attach the API v1 blueprint and its OpenAPI document (/api/v1/openapi.json)."""
    from webapp.api.spec import build_api
    from webapp.api.views import blp
    from webapp.extensions import csrf

    api = build_api(app)
    api.register_blueprint(blp)
    csrf.exempt(blp)
    app.extensions["statuslink.api"] = api
