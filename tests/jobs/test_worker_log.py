"""The worker's log stays readable: routine sweep chatter is dropped, problems are not."""

from __future__ import annotations

import logging

from jobs.worker import PERIODIC_JOBS, RoutineJobFilter


def _record(level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("rq.worker", level, __file__, 1, msg, args, None)


def test_routine_lines_are_dropped_and_the_rest_kept():
    quiet = RoutineJobFilter([path for path, _ in PERIODIC_JOBS])
    sweep = "jobs.dispatch.sweep_messages()"
    assert not quiet.filter(_record(logging.INFO, "Worker %s: %s: %s (%s)", "w", "q", sweep, "1"))
    assert not quiet.filter(
        _record(logging.INFO, "Worker %s: %s: %s (%s)", "w", "q", "Job OK", "1")
    )
    assert not quiet.filter(_record(logging.INFO, "Worker w: job 1 result discarded immediately"))
    # Other jobs still show when they start; failures always show.
    start = _record(logging.INFO, "Worker w: q: jobs.importing.run_import(7) (2)")
    assert quiet.filter(start)
    assert quiet.filter(_record(logging.ERROR, "Worker w: %s failed", sweep))
    assert quiet.filter(_record(logging.WARNING, "Worker w: job 1 result discarded immediately"))
