"""Shared fixtures: app, db, client, runner, auth; real Redis; SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.support.client import PerRequestContextClient
from tests.support.factories import PASSWORD, Tenant, make_tenant
from tests.support.services import private_postgres_database, running_redis
from webapp import create_app
from webapp.extensions import db as _db

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: $REDIS_URL, else a private redis-server started for this session."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A database URL per backend, with the schema created once per session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        yield url
    else:
        with private_postgres_database(os.environ["TEST_DATABASE_URL"]) as url:
            yield url


@pytest.fixture(scope="session")
def _schema(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    app = create_app(_test_config(database_url, redis_url, tmp_path_factory.mktemp("files")))
    with app.app_context():
        _db.create_all()
        _db.engine.dispose()
    return database_url


def _test_config(database_url: str, redis_url: str, files: Path) -> dict:
    return {
        "ENV_NAME": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "DOCUMENTS_DIR": str(files / "documents"),
        "BASE_URL": "http://statuslink.test",
        "RQ_QUEUE": f"test-{os.getpid()}",
        # Status-link opens reach the database after every open (tests of the delay raise it).
        "STATUS_OPENS_FLUSH_SECONDS": 0,
    }


def _truncate_all(app: Flask) -> None:
    with app.app_context():
        tables = list(reversed(_db.metadata.sorted_tables))
        if _db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            _db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                _db.session.execute(table.delete())
        _db.session.commit()


@pytest.fixture()
def app(_schema: str, redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A fresh app on an empty database (SQLite, and PostgreSQL when configured)."""
    application = create_app(_test_config(_schema, redis_url, tmp_path))
    # Each test request gets its own app context (as on a server), so Flask-Login's user,
    # the CSRF token in `g` and the database session never leak between requests.
    application.test_client_class = PerRequestContextClient
    _truncate_all(application)
    with application.app_context():
        yield application
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture()
def db(app: Flask):
    """The Flask-SQLAlchemy handle, inside the app context."""
    return _db


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture()
def tenant(app: Flask) -> Tenant:
    """Account `acme` with owner, API key, a web shop and an Amazon shop."""
    return make_tenant("acme")


@pytest.fixture()
def other_tenant(app: Flask) -> Tenant:
    """A second account, `globex`, to prove tenant isolation."""
    return make_tenant("globex")


class AuthActions:
    """Log in and out through the real login form (CSRF token included)."""

    def __init__(self, client: FlaskClient):
        self._client = client

    def login(self, email: str = "owner@acme.example", password: str = PASSWORD):
        from tests.support.html import csrf_token

        page = self._client.get("/login")
        return self._client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf_token(page)},
        )

    def logout(self):
        from tests.support.html import csrf_token

        page = self._client.get("/")
        return self._client.post("/logout", data={"csrf_token": csrf_token(page)})


@pytest.fixture()
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
