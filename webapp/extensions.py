"""Flask extension objects, created unbound and initialised in create_app()."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import click
from flask import Flask, current_app, g
from flask.cli import ScriptInfo, with_appcontext
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as _FlaskSession
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_PINNED = "webapp.extensions.pinned_connection"


class Session(_FlaskSession):
    """Flask-SQLAlchemy's session; inside `pinned_connection()` its transactions run on one
    connection instead of taking one from the pool for each."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kw: Any) -> Any:
        if bind is None:
            pinned = self.info.get(_PINNED)
            # A transaction begun before the block ends on the connection it has.
            if pinned is not None:
                held = _held_connections(self)
                if not held or pinned in held:
                    return pinned
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kw)


def _held_connections(session: Any) -> Any:
    """The connections (and their engines) of the session's transaction; empty without one."""
    transaction = session.get_transaction()
    return transaction._connections if transaction is not None else {}  # noqa: SLF001


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})


@contextlib.contextmanager
def pinned_connection() -> Iterator[None]:
    """Run the session's transactions in the block on one connection of the default engine.

    A loop of short transactions (the delivery lanes commit once per message) otherwise
    checks a connection out of the pool and back in for each. A transaction open when the
    block starts goes on as it is; the ones after it use the connection. One still open on
    it at the end is committed, or rolled back when the block raises.
    """
    session = db.session()
    if _PINNED in session.info:
        yield
        return
    connection: Connection = db.engine.connect()
    session.info[_PINNED] = connection

    try:
        yield
        if connection in _held_connections(session):
            session.commit()
    except BaseException:
        if connection in _held_connections(session):
            session.rollback()
        raise
    finally:
        session.info.pop(_PINNED, None)
        connection.close()


login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()
htmx = HTMX()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # pragma: no cover - driver hook
    """Switch SQLite into WAL with a busy timeout so web and worker can write concurrently."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    if isinstance(dbapi_connection, SerialisedWriterConnection):
        files = [row[2] for row in cursor.execute("PRAGMA database_list") if row[1] == "main"]
        if files and files[0]:
            dbapi_connection.writer_lock_path = f"{files[0]}-writer.lock"
    cursor.close()


# SQLite allows one writer at a time. Writers that wait for it inside SQLite's busy handler
# sleep in growing steps (1, 2, 5, ... up to 100 ms) and miss the moment it frees, so under load
# one process can starve for seconds while the other writes. Writers therefore queue first on
# a process-wide lock (threads of one process) and then on an advisory file lock next to the
# database (processes), both handed over the moment the holder commits; SQLite's own busy
# handler then arbitrates only with writers outside this scheme. Both waits are bounded, after
# which SQLite's busy timeout applies as before.
#
# While a thread holds the write lock, every other writer waits for it, so its transaction
# should finish as fast as the CPU allows. The other threads of the same process would take the
# GIL from it between its statements; instead they pause before each read statement until the
# writer commits, for at most _READER_YIELD_WAIT per statement. The other process keeps
# working meanwhile. Measured under the ingest benchmark: the lock is held ~30 % shorter.
_SQLITE_WRITER = threading.Lock()
_READER_YIELD_WAIT = 0.05
_NO_LOCAL_WRITER = threading.Event()
_NO_LOCAL_WRITER.set()
_writer_thread: int | None = None
_SQLITE_WRITER_WAIT = 10.0
_FILE_LOCK_WAIT = 30.0
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# One descriptor per (process, lock file): flock locks belong to the open file description,
# which a forked child would otherwise share with its parent.
_LOCK_FDS: dict[tuple[int, str], int] = {}
_LOCK_FDS_GUARD = threading.Lock()


def _lock_fd(path: str) -> int | None:
    key = (os.getpid(), path)
    fd = _LOCK_FDS.get(key)
    if fd is None:
        with _LOCK_FDS_GUARD:
            fd = _LOCK_FDS.get(key)
            if fd is None:
                try:
                    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                except OSError:
                    return None
                _LOCK_FDS[key] = fd
    return fd


def _acquire_file_lock(fd: int) -> bool:
    """flock(LOCK_EX) on fd, polling in steps of at most 1 ms for up to _FILE_LOCK_WAIT s."""
    deadline = time.monotonic() + _FILE_LOCK_WAIT
    pause = 0.0001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.001)
        except OSError:
            return False


class _WriterCursor(sqlite3.Cursor):
    def _run(self, run: Any, sql: str, parameters: Any) -> sqlite3.Cursor:
        connection = self.connection
        connection._before_statement(sql)  # type: ignore[attr-defined]
        try:
            return run(self, sql, parameters)  # type: ignore[no-any-return]
        finally:
            # An autocommit write is over when execute returns: hand the lock on at once.
            if not connection.in_transaction:
                connection._release_writer()  # type: ignore[attr-defined]

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        return self._run(sqlite3.Cursor.execute, sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        return self._run(sqlite3.Cursor.executemany, sql, seq_of_parameters)


_IS_WRITE: dict[str, bool] = {}


def _is_write(sql: str) -> bool:
    """Whether a statement writes (remembered per SQL text: the same few statements recur)."""
    known = _IS_WRITE.get(sql)
    if known is None:
        known = sql.lstrip()[:7].upper().startswith(_WRITE_VERBS)
        if len(_IS_WRITE) < 4096:
            _IS_WRITE[sql] = known
    return known


class SerialisedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on a per-process lock and, for a
    database file, on an advisory lock file shared by every process using it."""

    _holds_writer = False
    _held_fd: int | None = None
    # Set when the connection is opened (file databases only).
    writer_lock_path: str | None = None

    def cursor(self, factory: Any = _WriterCursor) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory)

    def _before_statement(self, sql: str) -> None:
        global _writer_thread
        if self._holds_writer:
            return
        if not _is_write(sql):
            if not _NO_LOCAL_WRITER.is_set() and _writer_thread != threading.get_ident():
                _NO_LOCAL_WRITER.wait(_READER_YIELD_WAIT)
            return
        self._holds_writer = _SQLITE_WRITER.acquire(timeout=_SQLITE_WRITER_WAIT)
        if self._holds_writer and self.writer_lock_path:
            fd = _lock_fd(self.writer_lock_path)
            if fd is not None and _acquire_file_lock(fd):
                self._held_fd = fd
        if self._holds_writer:
            _writer_thread = threading.get_ident()
            _NO_LOCAL_WRITER.clear()

    def _release_writer(self) -> None:
        global _writer_thread
        if self._held_fd is not None:
            fd, self._held_fd = self._held_fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        if self._holds_writer:
            self._holds_writer = False
            _writer_thread = None
            _NO_LOCAL_WRITER.set()
            _SQLITE_WRITER.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release_writer()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release_writer()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release_writer()

    def __del__(self) -> None:
        # A connection dropped without close() must not keep the other threads waiting.
        self._release_writer()


@event.listens_for(Engine, "do_connect")
def _sqlite_connection_class(dialect, conn_rec, cargs, cparams):  # pragma: no cover - driver hook
    """Open pysqlite connections as SerialisedWriterConnection (unless a factory is given)."""
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        cparams.setdefault("factory", SerialisedWriterConnection)


# --- migrations: Flask-Migrate, imported when first used --------------------------------------
# Flask-Migrate imports Alembic, Mako and Pygments (~11 MB of memory); only the `db` commands
# and the migration tests need them, not every web and worker process.
_MIGRATE_OPTIONS = {"compare_type": True, "render_as_batch": True}


def load_migrations(app: Flask) -> Any:
    """Bind Flask-Migrate to `app` (once) and return its `app.extensions["migrate"]`."""
    current = app.extensions.get("migrate")
    if current is None or isinstance(current, _DeferredMigrations):
        from flask_migrate import Migrate

        directory = str(app.config.get("MIGRATIONS_DIR", "migrations"))
        Migrate(**_MIGRATE_OPTIONS).init_app(app, db, directory=directory)
    return app.extensions["migrate"]


class _DeferredMigrations:
    """Stands in `app.extensions["migrate"]` until Flask-Migrate is used; any attribute read
    (as `flask_migrate.upgrade()` and migrations/env.py do) loads it."""

    def __init__(self, app: Flask):
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(load_migrations(self._app), name)


class _MigrationCommands(click.Group):
    """`statuslink db ...`: Flask-Migrate's command group, imported when a `db` command runs."""

    def _app(self, ctx: click.Context) -> Flask:
        if current_app:
            return current_app._get_current_object()  # type: ignore[attr-defined]
        return ctx.ensure_object(ScriptInfo).load_app()

    def list_commands(self, ctx: click.Context) -> list[str]:
        from flask_migrate.cli import db as commands

        return commands.list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from flask_migrate.cli import db as commands

        load_migrations(self._app(ctx))
        return commands.get_command(ctx, cmd_name)


# The same options as Flask-Migrate's own group; its commands read them from `g`.
@click.group("db", cls=_MigrationCommands)
@click.option("-d", "--directory", default=None, help="Migration script directory.")
@click.option("-x", "--x-arg", multiple=True, help="Additional arguments for env.py.")
@with_appcontext
def _db_commands(directory: str | None, x_arg: tuple[str, ...]) -> None:
    """Perform database migrations."""
    g.directory = directory
    g.x_arg = x_arg


def init_migrations(app: Flask) -> None:
    """Register the `db` commands and `app.extensions["migrate"]` without importing Alembic."""
    app.extensions["migrate"] = _DeferredMigrations(app)
    app.cli.add_command(_db_commands)


def register_extensions(app: Flask) -> None:
    """Bind every extension to the app."""
    db.init_app(app)
    init_migrations(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
