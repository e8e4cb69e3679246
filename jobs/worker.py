"""The `statuslink worker` process: an RQ worker with an app context per job."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

# (dotted job path, interval in seconds or the config key holding it): enqueued by every
# worker's ticker, deduplicated in Redis so several workers together still enqueue each at
# most once per interval.
PERIODIC_JOBS: list[tuple[str, int | str]] = [
    ("jobs.dispatch.sweep_messages", "DISPATCH_SWEEP_SECONDS"),
    ("jobs.importing.sweep_imports", "IMPORT_SWEEP_SECONDS"),
    ("jobs.status.flush_status_opens", 5),
]

_app: Flask | None = None


class AppContextJob(Job):
    """A job that runs inside the worker's Flask app context and cleans the session after."""

    def perform(self) -> Any:
        if _app is None:
            return super().perform()
        from webapp.extensions import db

        with _app.app_context():
            try:
                return super().perform()
            finally:
                db.session.remove()


def periodic_jobs(app: Flask) -> list[tuple[str, float]]:
    """PERIODIC_JOBS with every interval resolved to seconds from the app's config."""
    out = []
    for path, interval in PERIODIC_JOBS:
        seconds = float(app.config.get(interval, 5)) if isinstance(interval, str) else interval
        out.append((path, max(0.1, float(seconds))))
    return out


def _tick_periodic(app: Flask, redis: Redis, queue: Queue, stop: threading.Event) -> None:
    jobs = periodic_jobs(app)
    while not stop.is_set():
        for path, interval in jobs:
            try:
                # SET NX with a TTL: the first worker to get here in this interval enqueues.
                key = f"statuslink:periodic:{queue.name}:{path}"
                if redis.set(key, "1", nx=True, px=int(interval * 1000)):
                    queue.enqueue(path, result_ttl=0, failure_ttl=3600)
            except RedisError as exc:
                log.warning("periodic enqueue of %s failed: %s", path, exc.__class__.__name__)
        stop.wait(min((i for _, i in jobs), default=5))


class RoutineJobFilter(logging.Filter):
    """Keeps the worker's log readable: the periodic sweeps run every few seconds, so their
    start lines and every job's "Job OK" / "result discarded" chatter are dropped at INFO.
    Warnings and errors always pass, and so does the start line of every other job."""

    ROUTINE = ("Job OK", "result discarded immediately", "Successfully completed ")

    def __init__(self, periodic_paths: list[str]):
        super().__init__()
        self.periodic_paths = tuple(periodic_paths)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        text = record.getMessage()
        if any(path in text for path in self.periodic_paths):
            return False
        return not any(marker in text for marker in self.ROUTINE)


def run_worker(app: Flask, *, burst: bool = False, queue_name: str | None = None) -> bool:
    """Run an RQ worker for the app's queue until stopped (or, with burst, until empty)."""
    global _app
    _app = app
    redis = Redis.from_url(app.config["REDIS_URL"])
    queue = Queue(queue_name or app.config["RQ_QUEUE"], connection=redis, serializer=JSONSerializer)
    worker = SimpleWorker(
        [queue], connection=redis, serializer=JSONSerializer, job_class=AppContextJob
    )
    rq_log = logging.getLogger("rq.worker")
    if not any(isinstance(f, RoutineJobFilter) for f in rq_log.filters):
        rq_log.addFilter(RoutineJobFilter([path for path, _ in PERIODIC_JOBS]))
    stop = threading.Event()
    ticker = None
    if not burst and PERIODIC_JOBS:
        ticker = threading.Thread(
            target=_tick_periodic, args=(app, redis, queue, stop), daemon=True, name="periodic"
        )
        ticker.start()
    try:
        # No RQ scheduler: no job is enqueued for later (the periodic jobs have the ticker
        # above, delays live in the database), and RQ would run it in a child process that
        # outlives a worker killed with SIGKILL.
        return worker.work(burst=burst, with_scheduler=False, logging_level="INFO")
    finally:
        stop.set()
        if ticker is not None:
            ticker.join(timeout=2)
