"""A small fixed-window rate limiter on Redis for the public status pages (and the login)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from flask import Flask, current_app
from redis.exceptions import RedisError

from webapp.queue import run_script

log = logging.getLogger(__name__)

# INCR, and an expiry for a counter that has none (a new window), in one atomic step. A script
# rather than `EXPIRE ... NX` (Redis 7 only) keeps the limiter working on Redis 6, and no
# counter can ever be left without its expiry. Shared with the cached status-page view
# (pagecache.py), which counts its hit in its own round trip.
HIT_LUA = """
local function count_hit(key, window)
  local count = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, window)
    ttl = tonumber(window)
  end
  return count, ttl
end
"""
_HIT_SCRIPT = (
    HIT_LUA
    + """
local count, ttl = count_hit(KEYS[1], ARGV[1])
return {count, ttl}
"""
)


@dataclass(frozen=True)
class RateResult:
    """Whether a hit is allowed, after how many seconds the window resets, and whether Redis
    answered."""

    allowed: bool
    retry_after: int
    reachable: bool = True


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


def limiter_key(bucket: str, identity: str) -> str:
    """The Redis counter of `identity` (hashed, never stored as such) in `bucket`."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    namespace = current_app.config["STATUS_RATE_NAMESPACE"]
    return f"statuslink:rl:{namespace}:{bucket}:{digest}"


def hit(
    bucket: str,
    identity: str,
    limit: int,
    window: int,
    *,
    fail_open: bool,
) -> RateResult:
    """Count one hit of `identity` in `bucket`; allowed while at most `limit` per `window` s.

    When Redis is unreachable the hit is allowed if `fail_open` (reading a page must not
    depend on Redis) and refused otherwise (guessing postcodes must stay limited).
    """
    key = limiter_key(bucket, identity)
    try:
        count, ttl = run_script("hit", _HIT_SCRIPT, [key], [window])
    except RedisError as exc:
        log.warning("rate limiter unavailable (%s)", exc.__class__.__name__)
        return RateResult(fail_open, window, reachable=False)
    return RateResult(int(count) <= limit, max(int(ttl), 1))
