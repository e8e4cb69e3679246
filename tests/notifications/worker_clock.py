"""A clock shared by the test process and a real `statuslink worker` (through a file)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.outbox import Clock
from tests.support.worker import running_worker
from webapp.notifications.scheduling import set_clock


class SharedClock(Clock):
    """The engine clock of this test; every change is written where the worker reads it."""

    def __init__(self, start: datetime, path: Path):
        self.path = path
        super().__init__(start)
        self._write()

    def _write(self) -> None:
        # Replaced atomically, so the worker never reads a half-written time.
        partial = self.path.with_suffix(".tmp")
        partial.write_text(self.current.isoformat())
        os.replace(partial, self.path)

    def set(self, when: datetime) -> None:
        super().set(when)
        self._write()

    def advance(self, **delta) -> datetime:
        value = super().advance(**delta)
        self._write()
        return value


@pytest.fixture()
def shared_clock(app, tmp_path) -> Iterator[SharedClock]:
    """Wednesday 2030-01-09 10:00 UTC (11:00 in Berlin), for this process and its worker."""
    value = SharedClock(datetime(2030, 1, 9, 10, 0, tzinfo=UTC), tmp_path / "clock.txt")
    set_clock(app, value)
    yield value
    set_clock(app, None)


def clocked_worker(app, clock: SharedClock, log_path: Path, **overrides: str):
    """A real worker whose engine clock is `clock`, with fast SMS reconciliation."""
    env = {
        "STATUSLINK_CLOCK_FILE": str(clock.path),
        "SMS_RECONCILE_SECONDS": "60",
        "SMS_UNKNOWN_GIVE_UP_SECONDS": "3600",
        **overrides,
    }
    return running_worker(app, log_path, **env)
