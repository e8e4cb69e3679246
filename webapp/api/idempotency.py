"""Idempotency-Key handling: the first response is stored with the change it describes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, request
from sqlalchemy import bindparam, insert

from webapp.api.errors import ApiError, error_response
from webapp.api.models import IdempotencyRecord
from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.rawsql import DriverStatement
from webapp.tenancy import scoped_prepared

HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"^[\x20-\x7e]{1,255}$")

# Built once: both run on every state-changing API call, on the driver's cursor (see
# webapp.rawsql). A replay needs only three columns, not the ORM object; the record is written
# inside the write transaction of the change it describes.
_STORED = DriverStatement(
    scoped_prepared(IdempotencyRecord)
    .with_only_columns(
        IdempotencyRecord.request_hash,
        IdempotencyRecord.status_code,
        IdempotencyRecord.response,
    )
    .where(IdempotencyRecord.key == bindparam("key"))
)
_RECORD_COLUMNS = ("account_id", "key", "request_hash", "status_code", "response", "created_at")
_RECORD = DriverStatement(
    insert(IdempotencyRecord).values({column: bindparam(column) for column in _RECORD_COLUMNS})
)


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 over method, path and the body as canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


def _json_response(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


class IdempotentCall:
    """One state-changing API call whose response is remembered under its Idempotency-Key.

    The record is added by `hook(render)`, which a service runs inside its transaction just
    before commit, so the stored response and the change it reports commit together; a
    concurrent duplicate fails on the unique (account_id, key) and replays the first response.
    """

    def __init__(self, account_id: int, key: str | None, fingerprint: str):
        self.account_id = account_id
        self.key = key
        self.fingerprint = fingerprint
        self.body: dict[str, Any] | None = None
        self.status = 200

    @classmethod
    def from_request(cls, account_id: int) -> IdempotentCall:
        """Read and check the Idempotency-Key header of the current (already parsed) request."""
        key = request.headers.get(HEADER)
        if key is not None and not _KEY_RE.match(key):
            raise ApiError(
                400,
                "bad_idempotency_key",
                f"{HEADER} must be 1 to 255 printable ASCII characters.",
            )
        body = g.get("api_json_body")
        return cls(account_id, key, request_fingerprint(request.method, request.path, body))

    def _stored(self) -> dict[str, Any] | None:
        """The stored request_hash, status_code and response for this key, or None."""
        if self.key is None:
            return None
        records = _STORED.records({"account_id": self.account_id, "key": self.key})
        return records[0] if records else None

    def _replay(self, record: dict[str, Any]) -> Response:
        if record["request_hash"] != self.fingerprint:
            raise ApiError(
                422,
                "idempotency_mismatch",
                f"This {HEADER} was already used with a different request.",
            )
        response = _json_response(record["response"], record["status_code"])
        response.headers["Idempotent-Replayed"] = "true"
        return response

    def replay(self) -> Response | None:
        """The stored first response for this key, or None when the key is new or absent."""
        record = self._stored()
        return None if record is None else self._replay(record)

    def hook(self, render: Callable[..., tuple[dict[str, Any], int]]) -> Callable[..., None]:
        """A before-commit callback: renders the response and stores it with the key."""

        def before_commit(*args: Any) -> None:
            self.body, self.status = render(*args)
            if self.key is not None:
                _RECORD.execute(
                    {
                        "account_id": self.account_id,
                        "key": self.key,
                        "request_hash": self.fingerprint,
                        "status_code": self.status,
                        "response": self.body,
                        "created_at": utcnow(),
                    }
                )

        return before_commit

    def response(self) -> Response:
        """The response rendered inside the committed transaction."""
        assert self.body is not None
        return _json_response(self.body, self.status)

    def conflict_response(self) -> Response:
        """After a unique violation: the first response if it is readable now, else 409."""
        db.session.rollback()
        record = self._stored()
        if record is not None:
            return self._replay(record)
        return error_response(
            409,
            "conflict",
            "A concurrent request changed the same data; retry the request.",
        )
