"""A small fixed-window rate limiter on Redis for the public status pages (and the login)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask, current_app
from redis import Redis
from redis.commands.core import Script
from redis.exceptions import RedisError

from webapp.queue import get_redis

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
# The hit; then the values of any further keys (KEYS[2..n]), so a caller can read what it
# needs in the same round trip.
_HIT_SCRIPT = (
    HIT_LUA
    + """
local count, ttl = count_hit(KEYS[1], ARGV[1])
local reply = {count, ttl}
for i = 2, #KEYS do
  reply[i + 1] = redis.call('GET', KEYS[i])
end
return reply
"""
)
_script: Script | None = None


@dataclass(frozen=True)
class RateResult:
    """Whether a hit is allowed, after how many seconds the window resets, and the values of
    the keys `hit(..., read=...)` asked for (None for an unset key; () without Redis)."""

    allowed: bool
    retry_after: int
    values: tuple[bytes | None, ...] = ()
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


def _run_script(client: Redis, keys: list[str], args: list[int]) -> list:
    """EVALSHA of the hit script on `client` (redis-py loads it on a NOSCRIPT reply)."""
    global _script
    if _script is None:
        _script = client.register_script(_HIT_SCRIPT)
    return _script(keys=keys, args=args, client=client)


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
    read: Sequence[str] = (),
) -> RateResult:
    """Count one hit of `identity` in `bucket`; allowed while at most `limit` per `window` s.

    When Redis is unreachable the hit is allowed if `fail_open` (reading a page must not
    depend on Redis) and refused otherwise (guessing postcodes must stay limited). `read`
    names Redis keys whose values are fetched in the same round trip (`RateResult.values`).
    """
    key = limiter_key(bucket, identity)
    try:
        count, ttl, *values = _run_script(get_redis(), [key, *read], [window])
    except RedisError as exc:
        log.warning("rate limiter unavailable (%s)", exc.__class__.__name__)
        return RateResult(fail_open, window, reachable=False)
    values += [None] * (len(read) - len(values))  # Lua ends a reply at its first nil
    return RateResult(int(count) <= limit, max(int(ttl), 1), tuple(values))
