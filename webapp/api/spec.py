"""The flask-smorest Api object: OpenAPI document with the bearer security scheme."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from webapp.api.schemas import ErrorOut

BEARER_SCHEME = "bearerAuth"


class StatuslinkApi(Api):
    """flask-smorest's Api without its app-wide HTTPException handler.

    webapp/errors.py answers every error under /api/ in the API's JSON format, and the API
    blueprint maps its own exceptions (webapp/api/errors.py); flask-smorest's handler would
    replace the app's HTML error pages everywhere else.
    """

    ERROR_SCHEMA = ErrorOut

    def _register_error_handlers(self) -> None:
        return None


def build_api(app: Flask) -> StatuslinkApi:
    """Create the Api for `app`, declaring bearer authentication for every operation."""
    api = StatuslinkApi(app, spec_kwargs={"security": [{BEARER_SCHEME: []}]})
    api.spec.components.security_scheme(
        BEARER_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <api key>"},
    )
    return api
