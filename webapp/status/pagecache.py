"""A short-lived cache of rendered status pages in Redis, shared by every web process.

A status page is read far more often than its order changes, and building it (order, items,
documents, events, localisation, template) costs milliseconds, so the rendered HTML of a
link's page is kept in Redis for `STATUS_PAGE_CACHE_SECONDS` (10 s by default, see config.py;
0 switches the cache off). It is read in the rate limiter's round trip, so a cached view costs
no extra one.

What the cache never skips: the token's signature, the link's state (revoked, expired, use
limit; checked in the database by the statement that counts the open) and the rate limit.
What may be up to `STATUS_PAGE_CACHE_SECONDS` old: the order's data as the page shows it. The
customer's own changes on the page (preferences) show at once: saving them raises a
generation number, and pages cached under an older generation are not served. Without Redis
nothing is cached. Entries are keyed by a hash of the token (never the token itself) and the
requested language.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError

from webapp.queue import get_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheSlot:
    """Where one page lives in Redis, and the generation current when it was looked up."""

    key: str
    generation: bytes


def cache_seconds() -> int:
    return int(current_app.config["STATUS_PAGE_CACHE_SECONDS"])


def _prefix() -> str:
    return f"statuslink:status-page:{current_app.config['STATUS_RATE_NAMESPACE']}"


def generation_key() -> str:
    """The Redis key of the cache generation (namespaced like the rate limiter's keys)."""
    return f"{_prefix()}:generation"


def page_key(token: str, language: str | None) -> str:
    """The Redis key of one token's page in one requested language (None: its default)."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:40]
    return f"{_prefix()}:page:{digest}:{language or '-'}"


def cached_page(stored: bytes | None, generation: bytes) -> bytes | None:
    """The HTML of a stored entry if it was rendered in `generation`, else None."""
    if stored is None:
        return None
    stored_generation, _, html = stored.partition(b"\n")
    return html if stored_generation == generation else None


def store_page(slot: CacheSlot, html: str) -> None:
    """Keep a freshly rendered page for STATUS_PAGE_CACHE_SECONDS (best effort)."""
    seconds = cache_seconds()
    if seconds <= 0:
        return
    try:
        get_redis().set(slot.key, slot.generation + b"\n" + html.encode(), ex=seconds)
    except RedisError as exc:
        log.warning("status page not cached (%s)", exc.__class__.__name__)


def new_generation() -> None:
    """Stop serving every page cached so far (after a change the page must show at once)."""
    try:
        get_redis().incr(generation_key())
    except RedisError as exc:
        # Nothing is served from the cache while Redis is unreachable, and what was cached
        # before expires within STATUS_PAGE_CACHE_SECONDS.
        log.warning("status page cache generation not raised (%s)", exc.__class__.__name__)
