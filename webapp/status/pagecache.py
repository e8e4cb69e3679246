"""A short-lived cache of rendered status pages in Redis, shared by every web process.

A status page is read far more often than its order changes, and building it (order, items,
documents, events, localisation, template) costs milliseconds, so the rendered HTML of a
link's page is kept in Redis for `STATUS_PAGE_CACHE_SECONDS` (10 s by default, see config.py;
0 switches the cache off).

A view of a cached page is one Redis round trip (`cached_view`, one Lua script): it counts the
client's hit in the rate limiter, finds the page, and checks and counts the open in the link's
ledger (opens.py), so it needs no database statement at all. `CachedPages`, a WSGI middleware
in front of Flask, makes that round trip and answers from the cache without building a Flask
request: an entry holds the response's headers as Flask made them (the public-page headers
included) beside its HTML. Everything else (a page not cached, a link that may not be opened,
a client over its limit) goes on to the Flask view with what the lookup found.

What the cache never skips: the token's signature (checked before Redis is asked), the link's
state (revoked, expired, use limit; in its ledger) and the rate limit. What may be old: the
order's data as the page shows it. An entry is kept twice `STATUS_PAGE_CACHE_SECONDS`; the
first view that finds it older than one lifetime is still served from it, and has it built
again on a background thread of its process (one view per lifetime does this), so no view
waits for a page to be rebuilt while it is being read. A page shown is therefore at most
one lifetime old where it is read often, and at most two where it is not. The customer's own
changes on the page (preferences) show at once: saving them raises a generation number, and
pages cached under an older generation are not served. Without Redis nothing is cached.
Entries are keyed by a hash of the token (never the token itself) and the requested language.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from flask import Flask, current_app
from redis.exceptions import RedisError

from webapp.config import SUPPORTED_LANGUAGES
from webapp.dbtypes import utcnow
from webapp.queue import get_redis, run_script
from webapp.status import opens
from webapp.status.ratelimit import HIT_LUA, limiter_key
from webapp.status.services import verified_link_id

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

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


# KEYS: limiter counter, generation, page, ledger, dirty set, flush-due, page refresh lock,
# the link's pending opens.
# ARGV: window, limit, now, link id, counted (1/0), flush interval (ms), page lifetime (s).
# Replies {hit count, window ttl, outcome, generation[, page, flush due, refresh]}; outcome is
# `limited` (nothing else done), `miss` (no page of the current generation; no open counted),
# or the ledger's outcome, with the page only when that is `ok`. `refresh` is 1 for the one
# view (per lifetime) that finds the page older than its lifetime: it is served, and built
# again in the background.
_VIEW_LUA = (
    HIT_LUA
    + opens.LEDGER_LUA
    + """
local count, ttl = count_hit(KEYS[1], ARGV[1])
if count > tonumber(ARGV[2]) then return {count, ttl, 'limited', false} end
local generation = redis.call('GET', KEYS[2]) or '0'
local stored = redis.call('GET', KEYS[3])
local cut = stored and string.find(stored, '\\n', 1, true)
if not cut or string.sub(stored, 1, cut - 1) ~= generation then
  return {count, ttl, 'miss', generation}
end
local cut2 = string.find(stored, '\\n', cut + 1, true)
if not cut2 then return {count, ttl, 'miss', generation} end
local outcome, due = ledger_open(KEYS[4], KEYS[8], KEYS[5], KEYS[6], ARGV[3], ARGV[4],
  tonumber(ARGV[5]), tonumber(ARGV[6]))
if outcome ~= 'ok' then return {count, ttl, outcome, generation} end
local refresh = 0
local lifetime = tonumber(ARGV[7])
local built = tonumber(string.sub(stored, cut + 1, cut2 - 1)) or 0
if tonumber(ARGV[3]) - built >= lifetime then
  if redis.call('SET', KEYS[7], '1', 'NX', 'PX', lifetime * 1000) then refresh = 1 end
end
return {count, ttl, outcome, generation, string.sub(stored, cut2 + 1), due, refresh}
"""
)


@dataclass(frozen=True)
class CachedView:
    """What `cached_view` found: the rate limit's verdict, and the page's response headers and
    body when it may be served (its open counted), else where a freshly built page is to be
    stored."""

    allowed: bool
    retry_after: int
    outcome: str
    slot: CacheSlot
    headers: list[tuple[str, str]] | None = None
    body: bytes | None = None
    flush_due: bool = False
    refresh: bool = False


def cached_view(
    client_key: str,
    limit: int,
    window: int,
    token: str,
    link_id: str,
    language: str | None,
    *,
    counted: bool,
    now: datetime,
) -> CachedView | None:
    """One page view in one Redis round trip: the client's rate-limit hit, the cached page of
    this token and language, and the check (and count, when `counted`) of the link's open.
    None when Redis is unreachable (the caller then limits nothing and caches nothing)."""
    slot_key = page_key(token, language)
    try:
        reply = run_script(
            "view",
            _VIEW_LUA,
            [
                limiter_key("page", client_key),
                generation_key(),
                slot_key,
                opens.ledger_key(link_id),
                opens.dirty_key(),
                opens.flush_due_key(),
                slot_key + ":refresh",
                opens.pending_key(link_id),
            ],
            [
                window,
                limit,
                now.timestamp(),
                link_id,
                1 if counted else 0,
                opens.flush_interval_ms(),
                cache_seconds(),
            ],
        )
    except RedisError as exc:
        log.warning("status page cache unavailable (%s)", exc.__class__.__name__)
        return None
    count, ttl, outcome, generation, *rest = reply
    headers = body = None
    if rest:
        head, _, body = rest[0].partition(b"\n")
        try:
            headers = [(str(name), str(value)) for name, value in json.loads(head)]
        except (ValueError, TypeError):
            # Unreadable entry: the view builds the page (the open is counted already).
            log.warning("status page cache entry unreadable")
            headers = body = None
    return CachedView(
        allowed=int(count) <= limit,
        retry_after=max(int(ttl), 1),
        outcome=outcome.decode(),
        slot=CacheSlot(slot_key, generation or b"0"),
        headers=headers,
        body=body,
        flush_due=bool(rest[1]) if len(rest) > 1 else False,
        refresh=bool(rest[2]) if len(rest) > 2 else False,
    )


def store_page(
    slot: CacheSlot, headers: list[tuple[str, str]], body: bytes, *, now: datetime | None = None
) -> None:
    """Keep a freshly built page (its response headers and body, and when it was built) for
    twice STATUS_PAGE_CACHE_SECONDS (best effort): after one lifetime the next view still gets
    it and has it built again in the background. A response that sets a cookie is never kept."""
    seconds = cache_seconds()
    if seconds <= 0 or any(name.lower() == "set-cookie" for name, _ in headers):
        return
    head = json.dumps(headers, separators=(",", ":")).encode()
    built = repr((now or utcnow()).timestamp()).encode()
    try:
        get_redis().set(slot.key, b"\n".join((slot.generation, built, head, body)), ex=2 * seconds)
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


# What the middleware hands on to the Flask view in the WSGI environ: the lookup's result
# (None: Redis was unreachable), and, set by the view, where the page it built is to be kept;
# ENVIRON_REFRESH marks a background build of a page (no open is counted).
ENVIRON_VIEW = "statuslink.status_view"
ENVIRON_SLOT = "statuslink.status_page_slot"
ENVIRON_REFRESH = "statuslink.status_page_refresh"
# What a background build copies from the view that asked for it.
_REFRESH_ENVIRON = (
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "HTTP_HOST",
    "HTTP_ACCEPT_LANGUAGE",
    "wsgi.url_scheme",
)


class CachedPages:
    """WSGI middleware: answers GET and HEAD /s/<token> from the page cache when it can."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication):
        self.app = app
        self.wsgi_app = wsgi_app
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        path: str = environ.get("PATH_INFO") or ""
        if method not in ("GET", "HEAD") or not path.startswith("/s/") or "/" in path[3:]:
            return self.wsgi_app(environ, start_response)
        with self.app.app_context():
            self._look_up(environ, path[3:], counted=method == "GET")
            view: CachedView | None = environ.get(ENVIRON_VIEW)
            if view is not None and view.allowed and view.body is not None and view.headers:
                self._after_cached_view(environ, view)
                start_response("200 OK", list(view.headers))
                return [] if method == "HEAD" else [view.body]
        return self._build(environ, start_response)

    def _build(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The Flask view's answer; a page it built for the cache (ENVIRON_SLOT) is kept,
        with the response headers Flask made for it."""
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers]
            return start_response(status, headers, exc_info)

        app_iter = self.wsgi_app(environ, capture)
        slot: CacheSlot | None = environ.get(ENVIRON_SLOT)
        if slot is None or environ.get("REQUEST_METHOD") != "GET" or not captured:
            return app_iter
        if not captured[0].startswith("200 "):
            return app_iter
        try:
            body = b"".join(app_iter)
        finally:
            _close(app_iter)
        with self.app.app_context():
            store_page(slot, list(captured[1]), body)
        return [body]

    def _after_cached_view(self, environ: WSGIEnvironment, view: CachedView) -> None:
        """Housekeeping a served view took on: writing pending opens, rebuilding the page.
        Neither may fail the view (its page is ready, its open counted)."""
        try:
            if view.flush_due:
                opens.flush_opens()
            if view.refresh:
                self._refresh_later(environ, view.slot)
        except Exception:
            log.exception("status page housekeeping failed")

    def _refresh_later(self, environ: WSGIEnvironment, slot: CacheSlot) -> None:
        """Build the page again on this process's refresh thread, off the request path: the
        view that found it old is served at once, and so is every view after it."""
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():  # none yet, or forked
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="status-refresh")
                self._pool_pid = os.getpid()
        refresh: dict[str, Any] = {k: environ[k] for k in _REFRESH_ENVIRON if k in environ}
        refresh.update(
            {
                "REQUEST_METHOD": "GET",
                "wsgi.input": io.BytesIO(),
                "wsgi.errors": environ.get("wsgi.errors", sys.stderr),
                "wsgi.version": (1, 0),
                "wsgi.multithread": True,
                "wsgi.multiprocess": True,
                "wsgi.run_once": False,
                ENVIRON_VIEW: CachedView(True, 0, "refresh", slot),
                ENVIRON_REFRESH: True,
            }
        )
        self._pool.submit(self._refresh, refresh)

    def _refresh(self, environ: dict[str, Any]) -> None:
        try:
            _close(self._build(environ, lambda status, headers, exc_info=None: lambda data: None))
        except Exception:  # a refresh must never take the thread down
            log.exception("status page not refreshed")

    def _look_up(self, environ: WSGIEnvironment, token: str, *, counted: bool) -> None:
        if cache_seconds() <= 0:
            return
        link_id = verified_link_id(token)
        if link_id is None:
            return
        config = current_app.config
        environ[ENVIRON_VIEW] = cached_view(
            environ.get("REMOTE_ADDR") or "unknown",
            int(config["STATUS_RATE_LIMIT"]),
            int(config["STATUS_RATE_WINDOW"]),
            token,
            link_id,
            requested_language(environ.get("QUERY_STRING", "")),
            counted=counted,
            now=utcnow(),
        )


def _close(app_iter: Iterable[bytes]) -> None:
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


def requested_language(query_string: str) -> str | None:
    """The supported language a page's `?lang=` asks for, else None."""
    values = parse_qs(query_string).get("lang") if "lang=" in query_string else None
    lang = (values[0] if values else "").strip().lower()
    return lang if lang in SUPPORTED_LANGUAGES else None


def register_cached_pages(app: Flask) -> None:
    """Put CachedPages in front of the app (inside any proxy fix added later)."""
    app.wsgi_app = CachedPages(app, app.wsgi_app)  # type: ignore[method-assign]
