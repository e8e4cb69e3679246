"""`make run` orchestration: ports and Redis URL for the processes, demo seeded only once."""

from __future__ import annotations

import json
import socket
import stat

import pytest
from sqlalchemy import func, select

from tests.support.services import free_port
from webapp.accounts.models import Account, ApiKey
from webapp.accounts.services import authenticate_api_key, authenticate_user
from webapp.devtools import redis_server
from webapp.devtools.run import DevSetupError, ensure_demo_credentials, process_environment


def test_without_redis_url_every_process_gets_the_local_redis(monkeypatch):
    redis_port, web_port, mail_port = free_port(), free_port(), free_port()
    env = process_environment(
        {"PATH": "/usr/bin", "DEV_REDIS_PORT": str(redis_port), "PORT": str(web_port)},
        mail_port=mail_port,
    )
    assert env["REDIS_URL"] == f"redis://127.0.0.1:{redis_port}/0"
    assert env["DEV_REDIS_MANAGED"] == "1"
    assert env["BASE_URL"] == f"http://127.0.0.1:{web_port}"
    assert env["STATUSLINK_ENV"] == "development" and env["STATUSLINK_DEMO"] == "1"
    assert env["PATH"].endswith("/usr/bin") and env["PATH"] != "/usr/bin"


def test_an_external_redis_url_is_kept():
    env = process_environment(
        {"REDIS_URL": "redis://redis.internal:6379/3", "PORT": str(free_port())},
        mail_port=free_port(),
    )
    assert env["REDIS_URL"] == "redis://redis.internal:6379/3"
    assert "DEV_REDIS_MANAGED" not in env


def test_a_busy_port_is_named(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(DevSetupError, match=f"{taken} \\(set MAIL_CATCHER_PORT"):
            process_environment(
                {"PORT": str(free_port()), "DEV_REDIS_PORT": str(free_port())}, mail_port=taken
            )
        monkeypatch.setattr(redis_server, "DEFAULT_PORT", taken)
        env = process_environment({"PORT": str(free_port())}, mail_port=free_port())
        assert env["DEV_REDIS_PORT"] != str(taken)


def test_demo_is_seeded_once_and_the_credentials_kept_private(app, db, tmp_path):
    creds, seeded = ensure_demo_credentials(tmp_path)
    assert seeded
    stored = tmp_path / "demo.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text()) == creds

    again, seeded_again = ensure_demo_credentials(tmp_path)
    assert not seeded_again and again == creds
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1
    assert authenticate_api_key(creds["api_key"]) is not None
    assert authenticate_user(creds["admin_email"], creds["admin_password"]).user is not None


def test_demo_is_seeded_again_when_the_database_lost_it(app, db, tmp_path):
    first, _ = ensure_demo_credentials(tmp_path)
    db.session.delete(db.session.execute(select(Account)).scalar_one())
    db.session.commit()
    second, seeded = ensure_demo_credentials(tmp_path)
    assert seeded and second["api_key"] != first["api_key"]
    assert json.loads((tmp_path / "demo.json").read_text()) == second


def test_dev_run_no_start_prints_the_login(runner, app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    app.config["MAIL_CATCHER_PORT"] = free_port()
    monkeypatch.setenv("PORT", str(free_port()))
    monkeypatch.setenv("DEV_REDIS_PORT", str(free_port()))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("BASE_URL", raising=False)
    result = runner.invoke(args=["dev", "run", "--no-start"])
    assert result.exit_code == 0, result.output
    creds = json.loads((tmp_path / "demo.json").read_text())
    assert creds["api_key"] in result.stdout
    assert creds["admin_password"] in result.stdout
    assert "/login" in result.stdout and "Demo account created" in result.stdout
