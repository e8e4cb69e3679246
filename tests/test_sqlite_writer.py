"""SQLite writers queue on one lock per process and a lock file; readers yield to a writer."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from webapp import extensions
from webapp.extensions import SerialisedWriterConnection


@pytest.fixture()
def connect(tmp_path: Path) -> Iterator:
    """Open connections to one database file, as the app's engine does."""
    path = tmp_path / "w.db"
    opened: list[sqlite3.Connection] = []

    def _connect() -> SerialisedWriterConnection:
        conn = sqlite3.connect(
            path, factory=SerialisedWriterConnection, check_same_thread=False, timeout=30
        )
        _run(conn, "PRAGMA journal_mode=WAL")
        conn.writer_lock_path = f"{path}-writer.lock"
        opened.append(conn)
        return conn

    setup = _connect()
    _run(setup, "CREATE TABLE t (n INTEGER)")
    setup.commit()
    yield _connect
    for conn in opened:
        conn.close()


def _run(conn: sqlite3.Connection, sql: str) -> sqlite3.Cursor:
    # Through a cursor, as SQLAlchemy runs statements: Connection.execute bypasses cursor().
    cursor = conn.cursor()
    cursor.execute(sql)
    return cursor


def _in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_a_second_writer_waits_for_the_first_to_commit(connect):
    first, second = connect(), connect()
    _run(first, "INSERT INTO t VALUES (1)")
    done = threading.Event()

    def write() -> None:
        _run(second, "INSERT INTO t VALUES (2)")
        second.commit()
        done.set()

    thread = _in_thread(write)
    assert not done.wait(0.3), "the second writer did not wait for the lock"
    first.commit()
    thread.join(10)
    assert done.is_set()
    assert [r[0] for r in _run(first, "SELECT n FROM t ORDER BY n")] == [1, 2]


def test_a_reader_pauses_while_a_writer_of_its_process_holds_the_lock(connect, monkeypatch):
    monkeypatch.setattr(extensions, "_READER_YIELD_WAIT", 30.0)
    writer, reader = connect(), connect()
    _run(writer, "INSERT INTO t VALUES (1)")
    reading, done = threading.Event(), threading.Event()
    seen: list[int] = []

    def read() -> None:
        reading.set()
        seen.append(_run(reader, "SELECT count(*) FROM t").fetchone()[0])
        done.set()

    thread = _in_thread(read)
    assert reading.wait(10)
    assert not done.wait(0.5), "the reader did not wait for the writer"
    writer.commit()
    thread.join(10)
    # It read once the writer had committed, so it sees the new row.
    assert seen == [1]


def test_a_reader_waits_no_longer_than_the_bound(connect, monkeypatch):
    monkeypatch.setattr(extensions, "_READER_YIELD_WAIT", 0.3)
    writer, reader = connect(), connect()
    _run(writer, "INSERT INTO t VALUES (1)")
    result: list[tuple[int, float]] = []

    def read() -> None:
        started = time.monotonic()
        count = _run(reader, "SELECT count(*) FROM t").fetchone()[0]
        result.append((count, time.monotonic() - started))

    _in_thread(read).join(20)
    ((count, waited),) = result
    # The writer never committed: the reader paused for the bound, then read the old data.
    assert count == 0
    assert 0.25 <= waited < 10
    writer.rollback()


def test_an_autocommit_write_frees_readers_at_once(connect):
    writer = connect()
    writer.isolation_level = None  # every statement commits by itself
    _run(writer, "INSERT INTO t VALUES (1)")
    assert extensions._NO_LOCAL_WRITER.is_set()
    assert not writer._holds_writer


def test_a_lock_released_from_another_thread_frees_readers(connect):
    writer = connect()
    _run(writer, "INSERT INTO t VALUES (1)")
    assert not extensions._NO_LOCAL_WRITER.is_set()
    _in_thread(writer.commit).join(10)
    assert extensions._NO_LOCAL_WRITER.is_set()
    assert extensions._writer_thread is None


def test_the_writers_own_thread_reads_without_waiting(connect, monkeypatch):
    monkeypatch.setattr(extensions, "_READER_YIELD_WAIT", 30.0)
    writer, other = connect(), connect()
    _run(writer, "INSERT INTO t VALUES (1)")
    started = time.monotonic()
    assert _run(other, "SELECT count(*) FROM t").fetchone()[0] == 0
    # Waiting for itself would have taken the full 30 s bound.
    assert time.monotonic() - started < 10
    writer.commit()


@pytest.mark.parametrize("finish", ["commit", "rollback", "close"])
def test_readers_are_free_again_after_the_writer_finishes(connect, finish):
    writer = connect()
    _run(writer, "INSERT INTO t VALUES (1)")
    assert not extensions._NO_LOCAL_WRITER.is_set()
    getattr(writer, finish)()
    assert extensions._NO_LOCAL_WRITER.is_set()
    assert extensions._writer_thread is None
