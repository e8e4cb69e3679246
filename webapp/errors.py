"""Error responses: JSON under /api/, friendly HTML pages elsewhere; never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def api_error(status: int, code: str, message: str, fields: dict[str, str] | None = None):
    """A JSON error response in the API's format."""
    body: dict = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return jsonify(body), status


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register_errors(app: Flask) -> None:
    """Install the error handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if _wants_json():
            return api_error(400, "csrf", exc.description)
        return render_template("errors/error.html", code=400, message=exc.description), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if _wants_json():
            name = (exc.name or "error").lower().replace(" ", "_")
            return api_error(code, name, exc.description or exc.name)
        return render_template("errors/error.html", code=code, message=exc.description), code

    @app.errorhandler(Exception)
    def unhandled(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return api_error(500, "internal_error", "Something went wrong on our side.")
        return (
            render_template("errors/error.html", code=500, message=InternalServerError.description),
            500,
        )
