"""API error responses: every failure is `{"error": {"code", "message", "fields"?}}`."""

from __future__ import annotations

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException

from webapp.accounts.services import Conflict
from webapp.accounts.services import ValidationError as DomainValidationError
from webapp.errors import api_error
from webapp.orders.documents import DocumentTooLarge
from webapp.tenancy import NotFound


class ApiError(Exception):
    """An error to answer with a given status, code, message and optional field messages."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON error response in the API's format."""
    response, _ = api_error(status, code, message, fields)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def too_large(limit: int) -> ApiError:
    """The 413 for a body over `limit` bytes."""
    return ApiError(413, "too_large", f"The request body is larger than {limit} bytes.")


def register_error_handlers(blueprint: Blueprint) -> None:
    """Map API and domain exceptions to JSON responses for requests to `blueprint`."""

    @blueprint.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @blueprint.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        # The same body whether the row does not exist or belongs to another account.
        what = str(exc.args[0]) if exc.args else "Resource"
        return error_response(404, "not_found", f"{what} not found.")

    @blueprint.errorhandler(DocumentTooLarge)
    def _document_too_large(exc: DocumentTooLarge) -> Response:
        return error_response(413, "too_large", f"The file is larger than {exc.limit} bytes.")

    @blueprint.errorhandler(DomainValidationError)
    def _invalid(exc: DomainValidationError) -> Response:
        return error_response(
            422, "validation_error", "The request is invalid.", {exc.field: exc.message}
        )

    @blueprint.errorhandler(Conflict)
    def _conflict(exc: Conflict) -> Response:
        return error_response(409, "conflict", exc.message, {exc.field: exc.message})

    @blueprint.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 413:
            return error_response(413, "too_large", "The request body is too large.")
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(status, code, exc.description or exc.name)
