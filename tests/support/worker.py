"""Start a real `statuslink worker` process against the test app's database and Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

STATUSLINK = str(Path(sys.executable).parent / "statuslink")

# Config keys the worker reads from its environment (see webapp.notifications).
PASSED_KEYS = (
    "DISPATCH_SWEEP_SECONDS",
    "DISPATCH_BATCH_SIZE",
    "DISPATCH_LEASE_SECONDS",
    "DISPATCH_MAX_SECONDS",
    "DISPATCH_COALESCE_SECONDS",
    "RETRY_BASE_SECONDS",
    "RETRY_MAX_SECONDS",
    "RETRY_GIVE_UP_SECONDS",
    "SMTP_TIMEOUT_SECONDS",
)


def worker_env(app: Flask, **overrides: str) -> dict[str, str]:
    """The environment that points a worker at the test app's database, Redis and queue."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
        RQ_QUEUE=app.config["RQ_QUEUE"],
        SECRET_KEY=app.config["SECRET_KEY"],
        STATUSLINK_ENV="testing",
        BASE_URL=app.config["BASE_URL"],
        DOCUMENTS_DIR=app.config["DOCUMENTS_DIR"],
        WORKER_REDIS_WAIT="10",
    )
    for key in PASSED_KEYS:
        if key in app.config:
            env[key] = str(app.config[key])
    env.update(overrides)
    return env


class WorkerProcess:
    """A running `statuslink worker`; its output goes to a log file for failure reports."""

    def __init__(self, app: Flask, log_path: Path, **overrides: str):
        self.app = app
        self.log_path = log_path
        self.overrides = overrides
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [STATUSLINK, "worker"],
            env=worker_env(self.app, **self.overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash of the machine's processes.

        The whole process group, so that nothing the worker started outlives it.
        """
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait; then SIGKILL whatever is left of the process group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def running_worker(app: Flask, log_path: Path, **overrides: str) -> Iterator[WorkerProcess]:
    """A worker process for the duration of the block; stopped (or killed) afterwards."""
    worker = WorkerProcess(app, log_path, **overrides).start()
    try:
        yield worker
    finally:
        worker.stop()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll `predicate` until it returns a truthy value or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
