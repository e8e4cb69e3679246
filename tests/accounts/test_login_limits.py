"""Login throttling: unknown addresses lock like real ones, and a per-client limit on POST."""

from __future__ import annotations

import pytest
from redis import Redis

from tests.support.client import PerRequestContextClient
from tests.support.factories import PASSWORD
from tests.support.html import csrf_token
from tests.support.services import free_port
from webapp.queue import get_redis

LOCKED = "Too many failed attempts. Try again in 30 seconds."
WRONG = "E-mail or password is wrong."
WRONG_PASSWORD = "wrong password"  # noqa: S105 - a deliberately wrong password


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    app.test_client_class = PerRequestContextClient
    app.config["LOGIN_MAX_FAILURES"] = 3
    app.config["LOGIN_LOCKOUT_SECONDS"] = 30


def _login(client, email: str, secret: str = WRONG_PASSWORD, *, remote_addr=None, **headers):
    token = csrf_token(client.get("/login"))
    return client.post(
        "/login",
        data={"email": email, "password": secret, "csrf_token": token},
        headers=headers,
        environ_base={"REMOTE_ADDR": remote_addr or "127.0.0.1"},
    )


def _answers(client, email: str, count: int) -> list[str]:
    out = []
    for _ in range(count):
        html = _login(client, email).get_data(as_text=True)
        out.append(LOCKED if LOCKED in html else WRONG if WRONG in html else "other")
    return out


def test_unknown_address_gets_the_same_lockout_as_a_real_one(client, tenant):
    known = _answers(client, "owner@acme.example", 4)
    unknown = _answers(client, "nobody@acme.example", 4)
    assert known == unknown == [WRONG, WRONG, LOCKED, LOCKED]


def test_unknown_address_lock_counts_per_address_and_is_not_in_the_database(client, tenant, db):
    _answers(client, "ghost@acme.example", 3)
    # Another unknown address starts from zero.
    assert _answers(client, "other-ghost@acme.example", 1) == [WRONG]
    keys = [k.decode() for k in get_redis().scan_iter("statuslink:login-fail:*")]
    assert any(k.endswith(":lock") for k in keys)
    assert all("ghost" not in k for k in keys)  # hashed, not the address itself


def test_deactivated_user_answers_like_an_unknown_address(client, tenant, db):
    from webapp.accounts.models import User

    user = db.session.query(User).filter_by(email="owner@acme.example").one()
    user.active = False
    db.session.commit()
    assert _answers(client, "owner@acme.example", 3) == [WRONG, WRONG, LOCKED]


def test_without_redis_unknown_addresses_still_get_the_plain_answer(app, client, tenant):
    app.extensions["statuslink.redis"] = Redis(
        port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2
    )
    assert _answers(client, "nobody@acme.example", 4) == [WRONG] * 4
    # A real user still logs in (the per-client limit fails open).
    response = _login(client, "owner@acme.example", PASSWORD)
    assert response.status_code == 302


def test_too_many_attempts_from_one_address_are_refused_with_429(app, client, tenant):
    app.config["LOGIN_IP_MAX_ATTEMPTS"] = 4
    app.config["LOGIN_MAX_FAILURES"] = 100
    for index in range(4):
        response = _login(client, f"user{index}@acme.example")
        assert response.status_code == 200
    refused = _login(client, "owner@acme.example")
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "Too many login attempts from your network. Try again in" in html
    assert 'name="email"' in html  # the form, with its message
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    # The limit is per client address: another address is not affected.
    other = _login(client, "owner@acme.example", remote_addr="198.51.100.7")
    assert other.status_code == 200


def test_correct_password_is_refused_too_while_the_client_is_limited(app, client, tenant):
    app.config["LOGIN_IP_MAX_ATTEMPTS"] = 1
    _login(client, "owner@acme.example")
    response = _login(client, "owner@acme.example", PASSWORD)
    assert response.status_code == 429
    assert "Location" not in response.headers


def test_client_limit_message_in_german(app, client, tenant):
    app.config["LOGIN_IP_MAX_ATTEMPTS"] = 0
    response = _login(client, "owner@acme.example", **{"Accept-Language": "de"})
    assert response.status_code == 429
    assert "Zu viele Anmeldeversuche aus Ihrem Netz." in response.get_data(as_text=True)
