"""Flask extension objects, created unbound and initialised in create_app()."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from flask import Flask
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
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


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
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
    cursor.close()


# SQLite allows one writer at a time. Threads of one process that wait for it inside SQLite's
# busy handler sleep in growing steps (up to 100 ms) and miss the moment it frees; queueing them
# on a process-wide lock first hands the write over at once and leaves SQLite to arbitrate
# between processes only. The wait is bounded, after which SQLite's own busy timeout applies.
_SQLITE_WRITER = threading.Lock()
_SQLITE_WRITER_WAIT = 10.0
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class _WriterCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection._before_statement(sql)  # type: ignore[attr-defined]
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection._before_statement(sql)  # type: ignore[attr-defined]
        return super().executemany(sql, seq_of_parameters)


class SerialisedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on a per-process lock."""

    _holds_writer = False

    def cursor(self, factory: Any = _WriterCursor) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory)

    def _before_statement(self, sql: str) -> None:
        if self._holds_writer or not sql.lstrip()[:7].upper().startswith(_WRITE_VERBS):
            return
        self._holds_writer = _SQLITE_WRITER.acquire(timeout=_SQLITE_WRITER_WAIT)

    def _release_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
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


def register_extensions(app: Flask) -> None:
    """Bind every extension to the app."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", "migrations")))
    login_manager.init_app(app)
    csrf.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
