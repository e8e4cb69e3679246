"""Counting the SQL statements and pool checkouts a piece of code causes: regression guards,
not timings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from webapp.extensions import db


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@contextmanager
def counted_checkouts() -> Iterator[list[object]]:
    """One entry for each connection the engine's pool hands out inside the block."""
    seen: list[object] = []

    def record(dbapi_connection, connection_record, connection_proxy) -> None:
        seen.append(dbapi_connection)

    event.listen(db.engine, "checkout", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "checkout", record)
