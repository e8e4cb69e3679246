"""A small fixed-window rate limiter on Redis (INCR + EXPIRE) for the public status pages."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from flask import Flask, current_app
from redis.exceptions import RedisError

from webapp.queue import get_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateResult:
    """Whether a hit is allowed, and after how many seconds the window resets."""

    allowed: bool
    retry_after: int


def register_rate_limit(app: Flask) -> None:
    """Set the limiter's defaults (requests per window, per client and per link)."""
    app.config.setdefault("STATUS_RATE_LIMIT", 60)
    app.config.setdefault("STATUS_RATE_WINDOW", 60)
    app.config.setdefault("STATUS_FALLBACK_LIMIT_CLIENT", 10)
    app.config.setdefault("STATUS_FALLBACK_LIMIT_LINK", 5)
    app.config.setdefault("STATUS_FALLBACK_WINDOW", 900)
    # Shared by every process in production; a private namespace per test app keeps one test's
    # counters from limiting the next one on the shared test Redis.
    app.config.setdefault("STATUS_RATE_NAMESPACE", secrets.token_hex(6) if app.testing else "")


def hit(bucket: str, identity: str, limit: int, window: int, *, fail_open: bool) -> RateResult:
    """Count one hit of `identity` in `bucket`; allowed while at most `limit` per `window` s.

    When Redis is unreachable the hit is allowed if `fail_open` (reading a page must not
    depend on Redis) and refused otherwise (guessing postcodes must stay limited).
    """
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    namespace = current_app.config["STATUS_RATE_NAMESPACE"]
    key = f"statuslink:rl:{namespace}:{bucket}:{digest}"
    try:
        # One round trip; no MULTI/EXEC needed: EXPIRE NX only ever sets the first expiry.
        pipe = get_redis().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        pipe.ttl(key)
        count, _, ttl = pipe.execute()
    except RedisError as exc:
        log.warning("rate limiter unavailable (%s)", exc.__class__.__name__)
        return RateResult(fail_open, window)
    return RateResult(int(count) <= limit, max(int(ttl), 1))
