"""Signed, timestamped tokens (itsdangerous) with one salt per purpose and key rotation."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

__all__ = [
    "STATUS_DOCUMENT",
    "STATUS_LINK",
    "BadSignature",
    "SignatureExpired",
    "sign",
    "unsign",
]

# Salts: a token minted for one purpose never verifies for another.
STATUS_LINK = "status-link"
STATUS_DOCUMENT = "status-document"


class _ClockSigner(TimestampSigner):
    """A TimestampSigner whose clock can be fixed, so expiry is testable without sleeping."""

    def __init__(self, *args: Any, now: datetime | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        if self._now is not None:
            return int(self._now.timestamp())
        return super().get_timestamp()


def secret_keys() -> list[str]:
    """The keys that verify tokens, oldest first; the last one (SECRET_KEY) signs."""
    old = [k for k in current_app.config.get("SECRET_KEYS_OLD") or [] if k]
    return [*old, current_app.config["SECRET_KEY"]]


def _serializer(purpose: str, now: datetime | None) -> URLSafeTimedSerializer:
    if now is None:
        return _current_serializer(tuple(secret_keys()), purpose)
    return _make_serializer(list(secret_keys()), purpose, now)


def _make_serializer(keys: list[str], purpose: str, now: datetime | None) -> URLSafeTimedSerializer:
    # itsdangerous accepts a list of keys: it signs with the last and verifies with any.
    return URLSafeTimedSerializer(
        keys, salt=purpose, signer=_ClockSigner, signer_kwargs={"now": now}
    )


@lru_cache(maxsize=32)
def _current_serializer(keys: tuple[str, ...], purpose: str) -> URLSafeTimedSerializer:
    """The serializer on the real clock for these keys and purpose, built once (it keeps no
    state between calls; every status-page view verifies a token)."""
    return _make_serializer(list(keys), purpose, None)


def sign(purpose: str, value: Any, *, now: datetime | None = None) -> str:
    """A URL-safe token carrying `value` (JSON-serialisable), signed for `purpose`."""
    return _serializer(purpose, now).dumps(value)


def unsign(
    purpose: str, token: str, *, max_age: int | None = None, now: datetime | None = None
) -> Any:
    """The value inside a token signed for `purpose` by any configured key.

    Raises SignatureExpired when older than `max_age` seconds (measured at `now`), and
    BadSignature for anything forged, truncated, signed for another purpose or by a key that
    is no longer configured. Touches no database.
    """
    return _serializer(purpose, now).loads(token, max_age=max_age)
