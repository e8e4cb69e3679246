"""Bearer-key authentication for the API: `Authorization: Bearer <api key>`."""

from __future__ import annotations

from datetime import timedelta

from flask import g, request
from sqlalchemy import or_, update

from webapp.accounts.models import ApiKey
from webapp.accounts.services import identify_api_key
from webapp.api.errors import ApiError
from webapp.dbtypes import utcnow
from webapp.extensions import db

# last_used_at is informational; writing it at most once a minute per key keeps every API
# request from becoming a write (and, on SQLite, from queueing behind the write lock).
_TOUCH_INTERVAL = timedelta(seconds=60)
_REALM = 'Bearer realm="statuslink"'


def authenticate_request() -> None:
    """Resolve the API key of the request into `g.api_account_id`; 401 otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "unauthorized",
            "Send your API key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": _REALM},
        )
    key = identify_api_key(token)
    if key is None:
        raise ApiError(
            401,
            "invalid_api_key",
            "The API key is not valid (unknown or revoked).",
            headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
        )
    g.api_account_id = key.account_id
    g.api_key_id = key.id
    now = utcnow()
    if key.last_used_at is None or key.last_used_at < now - _TOUCH_INTERVAL:
        db.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key.id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - _TOUCH_INTERVAL),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def current_account_id() -> int:
    """The account the authenticated API key belongs to."""
    return int(g.api_account_id)
