"""Request parsing for the API: size limit, JSON decoding and marshmallow error paths."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Request, current_app, g
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.api.errors import ApiError, too_large


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, str]:
    """Marshmallow's nested error messages as `{"customer.email": "...", "items.0.x": ...}`."""
    flat: dict[str, str] = {}

    def add(path: str, text: str) -> None:
        path = path or "body"
        flat[path] = f"{flat[path]} {text}" if path in flat else text

    if isinstance(messages, Mapping):
        for key, value in messages.items():
            # "_schema" holds errors of the object itself (e.g. a string where one was expected).
            path = prefix if key == "_schema" else ".".join(p for p in (prefix, str(key)) if p)
            for sub_path, text in flatten_messages(value, path).items():
                add(sub_path, text)
    elif isinstance(messages, list | tuple):
        for value in messages:
            if isinstance(value, Mapping | list | tuple):
                for sub_path, text in flatten_messages(value, prefix).items():
                    add(sub_path, text)
            else:
                add(prefix, str(value))
    else:
        add(prefix, str(messages))
    return flat


def read_json_object(req: Request) -> dict[str, Any]:
    """The request body as a JSON object, refusing wrong types, bad JSON and large bodies."""
    if not is_json_request(req):
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the request body as JSON with 'Content-Type: application/json'.",
        )
    limit = int(current_app.config["API_MAX_JSON_BYTES"])
    if req.content_length is not None and req.content_length > limit:
        raise too_large(limit)
    # Also bounds chunked bodies that carry no Content-Length.
    req.max_content_length = limit
    try:
        raw = req.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise too_large(limit) from exc
    if len(raw) > limit:
        raise too_large(limit)
    if not raw.strip():
        raise ApiError(400, "bad_json", "The request body is empty; send a JSON object.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "bad_json", "The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "The request body must be a JSON object.")
    g.api_json_body = data
    return data


class ApiParser(FlaskParser):
    """webargs parser that raises ApiError with dotted field paths instead of aborting."""

    DEFAULT_VALIDATION_STATUS = 422
    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def _raw_load_json(self, req: Request) -> Any:
        return read_json_object(req)

    def load_multipart(self, req: Request, schema: ma.Schema) -> Any:
        """Form fields and files of a multipart/form-data body, together."""
        if req.mimetype != "multipart/form-data":
            raise ApiError(
                415,
                "unsupported_media_type",
                "Send the file as multipart/form-data with the parts 'file', 'kind', 'number'.",
            )
        try:
            merged: CombinedMultiDict[str, Any] = CombinedMultiDict([req.form, req.files])  # type: ignore[list-item]
        except RequestEntityTooLarge as exc:
            raise too_large(int(current_app.config["MAX_CONTENT_LENGTH"])) from exc
        return self._makeproxy(merged, schema)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):  # type: ignore[override]
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1:
            location = next(iter(messages))
            if location in self.__location_map__:
                messages = messages[location]
        raise ApiError(
            error_status_code or self.DEFAULT_VALIDATION_STATUS,
            "validation_error",
            "The request is invalid.",
            fields=flatten_messages(messages),
        )
