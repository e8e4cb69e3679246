"""The app factory, configuration and health check."""

from webapp.accounts.models import Account
from webapp.tenancy import scoped


def test_healthz_reports_db_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"db": "ok", "redis": "ok"}


def test_healthz_names_redis_when_down(app, client):
    from redis import Redis

    app.extensions["statuslink.redis"] = Redis.from_url("redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"db": "ok", "redis": "down"}


def test_scoped_refuses_untenanted_models(app):
    import pytest

    with pytest.raises(TypeError):
        scoped(Account, 1)


def test_proxy_fix_trusts_only_the_configured_hops(_schema, redis_url, tmp_path):
    from flask import request

    from webapp import create_app

    for hops, expected in ((0, "127.0.0.1"), (1, "203.0.113.9")):
        app = create_app(
            {
                "ENV_NAME": "testing",
                "SQLALCHEMY_DATABASE_URI": _schema,
                "REDIS_URL": redis_url,
                "PROXY_FIX": hops,
            }
        )
        app.add_url_rule("/_ip", "ip", lambda: request.remote_addr or "")
        response = app.test_client().get(
            "/_ip",
            headers={"X-Forwarded-For": "203.0.113.9"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        assert response.get_data(as_text=True) == expected


def test_production_hashes_passwords_with_argon2id_rfc_parameters(tmp_path, monkeypatch):
    from argon2 import Parameters, extract_parameters
    from argon2.profiles import RFC_9106_LOW_MEMORY

    from webapp import create_app
    from webapp.accounts.services import hash_password

    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    app = create_app({"ENV_NAME": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        params: Parameters = extract_parameters(hash_password("correct horse battery"))
    assert params.type.name == "ID"
    assert params.memory_cost >= RFC_9106_LOW_MEMORY.memory_cost
    assert params.time_cost >= RFC_9106_LOW_MEMORY.time_cost
