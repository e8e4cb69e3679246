"""Counting status-page opens: in Redis first, written to the database in batches.

Every view of a status page counts as one open of its link, and a link may have a use limit.
Counting each open with its own UPDATE made a database write of every page view (on SQLite,
one at a time across all processes), which capped the page at about a fifth of what the web
server can serve. So a link that has been opened once gets a *ledger* in Redis, a hash that
holds what an open must check:

    x   expiry (Unix seconds)          m   use limit (-1: none)
    n   opens so far                   rv  present once the link is revoked (alone: a tombstone)
    b   the highest database count a ledger was started from

and beside it, in a key that never expires, the link's opens not yet in the database:

    p   opens waiting                  f, l  first and last of those (Unix seconds)
    q   opens being written right now

- The first open of a link the ledger does not know is counted in the database itself (one
  conditional UPDATE, as without Redis, which counts the opens still waiting in Redis against
  the use limit) and then creates the ledger from the count it returned plus those waiting.
  A ledger lives LEDGER_SECONDS at most, so it is re-read from the database at least that often.
- Every later open is checked and counted by one Lua script, atomically: a revoked, expired or
  used-up link is refused there, and two simultaneous opens cannot both take the last use. For a
  cached page (pagecache.py) the same script also applies the rate limit and returns the page,
  so such a view costs one Redis round trip and no database statement.
- Waiting opens reach the database through flush_opens(): run by the web process that counted
  an open once STATUS_OPENS_FLUSH_SECONDS have passed since the last flush (one flush per
  interval across all processes), and by the workers' periodic sweep. Taken opens stay in `q`
  until their write is committed, or go back to `p` if it fails.
- Revoking a link marks its ledger, or leaves a tombstone (mark_revoked), in the same request.

What this changes: a link's open count and first/last open times in the database may lag by up
to STATUS_OPENS_FLUSH_SECONDS. If Redis loses its data (it keeps nothing on disk), the opens
not yet written are lost and a link with a use limit may be opened that many times more. A
Redis reply lost after its script ran makes that open count in the database as well (one too
many, never one too few). Without Redis every open is counted in the database directly, and
nothing is cached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, cast

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import CursorResult, Integer, bindparam, case, func, or_, update
from sqlalchemy.engine import Engine

from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.queue import run_script
from webapp.status.models import StatusLink

log = logging.getLogger(__name__)

LEDGER_SECONDS = 3600
FLUSH_BATCH = 1000

Outcome = Literal["ok", "revoked", "expired", "used_up", "absent", "unavailable"]
REFUSED: frozenset[str] = frozenset({"revoked", "expired", "used_up"})

# The ledger check and count, shared by the open script below and the cached-view script in
# pagecache.py. Arguments: ledger key, pending key, dirty-set key, flush-due key, now (Unix
# seconds, as text), link id, whether to count (HEAD requests only check), flush interval in
# ms. Returns the outcome and whether this caller should flush pending opens now (1) or not;
# for `absent`, instead, how many opens wait to be written (the database does not know them).
# A ledger holding only `rv` is a revoked link's tombstone. A pending key holds `p` (opens
# waiting, with their first and last time `f`, `l`) and `q` (opens being written right now).
LEDGER_LUA = """
local function ledger_open(key, pending, dirty, flushkey, now_text, link_id, counted, flush_ms)
  local now = tonumber(now_text)
  local v = redis.call('HMGET', key, 'x', 'm', 'n', 'rv')
  if v[4] then return 'revoked', 0 end
  if not v[1] then
    local w = redis.call('HMGET', pending, 'p', 'q')
    return 'absent', (tonumber(w[1]) or 0) + (tonumber(w[2]) or 0)
  end
  if tonumber(v[1]) <= now then return 'expired', 0 end
  local limit = tonumber(v[2])
  if limit >= 0 and tonumber(v[3]) >= limit then return 'used_up', 0 end
  if counted ~= 1 then return 'ok', 0 end
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HINCRBY', pending, 'p', 1)
  redis.call('HSETNX', pending, 'f', now_text)
  redis.call('HSET', pending, 'l', now_text)
  redis.call('SADD', dirty, link_id)
  local due = 1
  if flush_ms > 0 then
    due = redis.call('SET', flushkey, '1', 'NX', 'PX', flush_ms) and 1 or 0
  end
  return 'ok', due
end
"""

_OPEN_LUA = (
    LEDGER_LUA
    + """
local outcome, due = ledger_open(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2],
  tonumber(ARGV[3]), tonumber(ARGV[4]))
return {outcome, due}
"""
)

# Create a ledger after an open counted in the database (ARGV[3]: the count it returned; `b`
# keeps the highest such count), adding the opens still waiting to be written. If another
# process created it meanwhile from a lower count, the difference is added, so the ledger is
# exact whichever of two first opens seeds first. A revoked link's tombstone stays as it is.
_SEED_LUA = """
local counted = tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HEXISTS', KEYS[1], 'x') == 1 then
    local base = tonumber(redis.call('HGET', KEYS[1], 'b') or '0')
    if counted > base then
      redis.call('HINCRBY', KEYS[1], 'n', counted - base)
      redis.call('HSET', KEYS[1], 'b', counted)
    end
  end
  return 0
end
local w = redis.call('HMGET', KEYS[2], 'p', 'q')
local waiting = (tonumber(w[1]) or 0) + (tonumber(w[2]) or 0)
redis.call('HSET', KEYS[1], 'x', ARGV[1], 'm', ARGV[2], 'n', counted + waiting, 'b', counted)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# Mark links revoked: their ledgers, or a tombstone where there is none yet (so that an open
# counted just before the revoke cannot create a ledger without the mark).
_REVOKE_LUA = """
for i = 1, #KEYS do
  local fresh = redis.call('EXISTS', KEYS[i]) == 0
  redis.call('HSET', KEYS[i], 'rv', '1')
  if fresh then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
return #KEYS
"""

# Take up to ARGV[1] links' pending opens for writing to the database: they move from `p` to
# `q` (still counted by a seed meanwhile) until the write is done or handed back.
_TAKE_LUA = """
local ids = redis.call('SPOP', KEYS[1], ARGV[1])
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[2] .. id
  local v = redis.call('HMGET', key, 'p', 'f', 'l')
  local opens = tonumber(v[1]) or 0
  if opens > 0 then
    redis.call('HDEL', key, 'p', 'f', 'l')
    redis.call('HINCRBY', key, 'q', opens)
    table.insert(out, {id, v[1], v[2], v[3]})
  else
    redis.call('HDEL', key, 'p', 'f', 'l')
    if redis.call('HLEN', key) == 0 then redis.call('DEL', key) end
  end
end
return out
"""

# The taken opens are in the database (ARGV: id, count pairs): forget them.
_DONE_LUA = """
for i = 1, #ARGV, 2 do
  local key = KEYS[1] .. ARGV[i]
  if redis.call('HINCRBY', key, 'q', -tonumber(ARGV[i + 1])) <= 0 then
    redis.call('HDEL', key, 'q')
    if redis.call('HLEN', key) == 0 then redis.call('DEL', key) end
  end
end
return 1
"""

# Hand back taken opens whose database write failed (the next flush tries again).
_GIVE_BACK_LUA = """
local key = ARGV[2] .. ARGV[1]
if redis.call('HINCRBY', key, 'q', -tonumber(ARGV[3])) <= 0 then redis.call('HDEL', key, 'q') end
redis.call('HINCRBY', key, 'p', ARGV[3])
local first = redis.call('HGET', key, 'f')
if not first or tonumber(first) > tonumber(ARGV[4]) then redis.call('HSET', key, 'f', ARGV[4]) end
local last = redis.call('HGET', key, 'l')
if not last or tonumber(last) < tonumber(ARGV[5]) then redis.call('HSET', key, 'l', ARGV[5]) end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
"""


def _prefix() -> str:
    return f"statuslink:opens:{current_app.config['STATUS_RATE_NAMESPACE']}"


def ledger_key(link_id: str) -> str:
    """The Redis key of one link's ledger (the link id is no secret: tokens carry it signed)."""
    return f"{_prefix()}:link:{link_id}"


def pending_prefix() -> str:
    return f"{_prefix()}:pending:"


def pending_key(link_id: str) -> str:
    """One link's opens not yet written (count, first and last time); never expires, so the
    ledger's expiry cannot lose them."""
    return pending_prefix() + link_id


def dirty_key() -> str:
    """The set of link ids with opens not yet written to the database."""
    return f"{_prefix()}:dirty"


def flush_due_key() -> str:
    """Set for STATUS_OPENS_FLUSH_SECONDS by the process that takes the next flush."""
    return f"{_prefix()}:flush-due"


def flush_interval_ms() -> int:
    return max(0, int(float(current_app.config["STATUS_OPENS_FLUSH_SECONDS"]) * 1000))


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _from_epoch(value: bytes | str | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), UTC)


# --- counting an open ----------------------------------------------------------------------


def try_open(
    link: StatusLink, *, now: datetime | None = None, counted: bool = True, ledger: bool = True
) -> str:
    """Count one open of a resolved link if it may be opened now: `ok`, or why not (`revoked`,
    `expired`, `used_up`), counting nothing.

    Through the link's ledger when Redis has one, else in the database (creating the ledger).
    `ledger=False` (Redis just failed in this request) goes to the database at once.
    """
    now = now or utcnow()
    reply = ledger_open(link.link_id, now=now, counted=counted) if ledger else None
    reply = reply or LedgerReply("unavailable")
    if reply.outcome == "ok":
        if reply.flush_due:
            flush_opens()
        return "ok"
    if reply.outcome in REFUSED:
        return reply.outcome
    waiting = reply.waiting
    if not counted:
        # The caller resolved the link from the database; the opens still waiting count too.
        if link.max_opens is not None and link.open_count + waiting >= link.max_opens:
            return "used_up"
        return "ok"
    open_count = count_in_database(link.link_id, now=now, waiting=waiting)
    if open_count is None:
        return "used_up"  # resolved as usable a moment ago: the last use went meanwhile
    if reply.outcome == "absent":
        seed_ledger(link, open_count, now=now)
    return "ok"


class LedgerReply(NamedTuple):
    """What the ledger said of one open: the outcome; for `ok` whether this caller is to
    write the waiting opens now, for `absent` how many opens wait to be written."""

    outcome: Outcome
    flush_due: bool = False
    waiting: int = 0


def ledger_open(link_id: str, *, now: datetime, counted: bool = True) -> LedgerReply:
    """Check (and count) one open in the link's ledger."""
    try:
        outcome, extra = run_script(
            "open",
            _OPEN_LUA,
            [ledger_key(link_id), pending_key(link_id), dirty_key(), flush_due_key()],
            [_epoch(now), link_id, 1 if counted else 0, flush_interval_ms()],
        )
    except RedisError as exc:
        log.warning("status link opens counted in the database (%s)", exc.__class__.__name__)
        return LedgerReply("unavailable")
    kind = cast(Outcome, outcome.decode())
    if kind == "absent":
        return LedgerReply(kind, waiting=int(extra))
    return LedgerReply(kind, flush_due=kind == "ok" and bool(extra))


def seed_ledger(link: StatusLink, open_count: int, *, now: datetime | None = None) -> None:
    """Create the link's ledger from its database state (`open_count` as just counted)."""
    now = now or utcnow()
    seconds = int(min(LEDGER_SECONDS, (link.expires_at - now).total_seconds()))
    if seconds <= 0 or link.revoked_at is not None:
        return
    try:
        run_script(
            "seed",
            _SEED_LUA,
            [ledger_key(link.link_id), pending_key(link.link_id)],
            [
                _epoch(link.expires_at),
                -1 if link.max_opens is None else link.max_opens,
                open_count,
                seconds,
            ],
        )
    except RedisError as exc:
        log.warning("status link ledger not created (%s)", exc.__class__.__name__)


def mark_revoked(link_ids: Iterable[str]) -> None:
    """Make the ledgers of these links refuse every further open (after the revoke commit),
    leaving a tombstone where a link has no ledger yet."""
    keys = [ledger_key(link_id) for link_id in link_ids]
    if not keys:
        return
    try:
        run_script("revoke", _REVOKE_LUA, keys, [LEDGER_SECONDS])
    except RedisError as exc:
        # Web processes that reach Redis may open them from their ledgers (at most
        # LEDGER_SECONDS); those that do not read the database, which has the revoke.
        log.error("revoked links not marked in Redis (%s)", exc.__class__.__name__)


# --- the database side ---------------------------------------------------------------------

# One conditional UPDATE that is also the check that the link may be opened (not revoked, not
# expired, below its use limit), so two simultaneous opens cannot both take the last use; it
# returns the new count, which the ledger starts from. Built once.
_OPEN_NOW = bindparam("open_now", type_=StatusLink.__table__.c.last_opened_at.type)
_COUNT_OPEN = (
    update(StatusLink)
    .where(
        StatusLink.link_id == bindparam("open_link_id"),
        StatusLink.revoked_at.is_(None),
        StatusLink.expires_at > _OPEN_NOW,
        or_(
            StatusLink.max_opens.is_(None),
            StatusLink.open_count + bindparam("open_waiting", type_=Integer) < StatusLink.max_opens,
        ),
    )
    .values(
        open_count=StatusLink.open_count + 1,
        last_opened_at=_OPEN_NOW,
        # first_opened_at is set only while still empty (COALESCE keeps the first).
        first_opened_at=func.coalesce(StatusLink.first_opened_at, _OPEN_NOW),
    )
    .returning(StatusLink.open_count)
    .execution_options(synchronize_session=False)
)
# On PostgreSQL the statement also switches its own transaction to asynchronous commit (a
# SET LOCAL inside the one statement): counting an open then costs no wait for the WAL flush.
# A database crash may lose the opens of its last fraction of a second; nothing else changes.
_ASYNC_COMMIT = func.set_config("synchronous_commit", "off", True).is_not(None)
_COUNT_OPEN_PG = _COUNT_OPEN.where(_ASYNC_COMMIT)

_table = StatusLink.__table__
_FLUSH_FIRST = bindparam("flush_first", type_=_table.c.first_opened_at.type)
_FLUSH_LAST = bindparam("flush_last", type_=_table.c.last_opened_at.type)
_FLUSH = (
    _table.update()
    .where(_table.c.link_id == bindparam("flush_link_id"))
    .values(
        open_count=_table.c.open_count + bindparam("flush_opens"),
        first_opened_at=func.coalesce(_table.c.first_opened_at, _FLUSH_FIRST),
        last_opened_at=case(
            (
                or_(_table.c.last_opened_at.is_(None), _table.c.last_opened_at < _FLUSH_LAST),
                _FLUSH_LAST,
            ),
            else_=_table.c.last_opened_at,
        ),
    )
)


def _autocommit_engine() -> Engine:
    """The app's engine in autocommit mode (same pool), made once per app."""
    engine = db.engine
    autocommit: Engine | None = current_app.extensions.get("statuslink.autocommit_engine")
    if autocommit is None or autocommit.pool is not engine.pool:
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        current_app.extensions["statuslink.autocommit_engine"] = autocommit
    return autocommit


def count_in_database(link_id: str, *, now: datetime | None = None, waiting: int = 0) -> int | None:
    """Count one open in the database if the link may be opened: its new open count, or None
    (counting nothing) when it is unknown, revoked, expired or at its use limit, counting the
    `waiting` opens Redis holds for it too. Commits."""
    params = {"open_link_id": link_id, "open_now": now or utcnow(), "open_waiting": waiting}
    statement = _COUNT_OPEN_PG if db.engine.dialect.name == "postgresql" else _COUNT_OPEN
    if db.session().in_transaction():
        # The session holds a connection already: a second one per request could exhaust the
        # pool under load (every thread holding one, waiting for another).
        result = cast(CursorResult, db.session.execute(statement, params)).scalar_one_or_none()
        db.session.commit()
        return result
    # Nothing read yet: the statement runs on a bare connection in autocommit mode, its own
    # transaction, so SQLite's write lock is held for that statement only, and PostgreSQL
    # needs no BEGIN and COMMIT round trips.
    with _autocommit_engine().connect() as connection:
        return connection.execute(statement, params).scalar_one_or_none()


def flush_opens(limit: int = FLUSH_BATCH) -> int:
    """Write pending opens (up to `limit` links') from Redis to the database; how many opens
    were written. Opens whose write fails are handed back for the next flush."""
    try:
        taken: list[Any] = run_script("take", _TAKE_LUA, [dirty_key()], [limit, pending_prefix()])
    except RedisError as exc:
        log.warning("status link opens not flushed (%s)", exc.__class__.__name__)
        return 0
    if not taken:
        return 0
    try:
        rows = sorted(  # one order for every writer: no deadlock between two flushes
            (
                {
                    "flush_link_id": link_id.decode(),
                    "flush_opens": int(opens),
                    "flush_first": _from_epoch(first or last) or utcnow(),
                    "flush_last": _from_epoch(last or first) or utcnow(),
                }
                for link_id, opens, first, last in taken
            ),
            key=lambda row: row["flush_link_id"],
        )
        if db.session().in_transaction():
            db.session.execute(_FLUSH, rows)
            db.session.commit()
        else:
            with db.engine.begin() as connection:
                connection.execute(_FLUSH, rows)
    except Exception:
        log.exception("status link opens not written; handed back for the next flush")
        db.session.rollback()
        _give_back(taken)
        return 0
    done: list[Any] = []
    for row in rows:
        done += [row["flush_link_id"], row["flush_opens"]]
    try:
        run_script("done", _DONE_LUA, [pending_prefix()], done)
    except RedisError as exc:
        # Written; only a seed in the next moments would count them twice (never too few).
        log.warning("written status link opens not cleared (%s)", exc.__class__.__name__)
    return sum(row["flush_opens"] for row in rows)


def flush_all_opens(batches: int = 20) -> int:
    """flush_opens until nothing is pending (at most `batches` batches); how many written."""
    total = 0
    for _ in range(batches):
        written = flush_opens()
        total += written
        if written == 0:
            break
    return total


def _give_back(taken: list[Any]) -> None:
    for link_id, opens, first, last in taken:
        try:
            run_script(
                "give_back",
                _GIVE_BACK_LUA,
                [dirty_key()],
                [link_id, pending_prefix(), opens, first or last or 0, last or first or 0],
            )
        except RedisError:
            log.error("%s status link opens lost (Redis unavailable)", int(opens))
