"""Login and logout through the real forms: credentials, lockout, sessions, redirects, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support.client import PerRequestContextClient
from tests.support.factories import PASSWORD
from tests.support.html import csrf_token
from webapp.accounts.models import User
from webapp.accounts.views import safe_next_url
from webapp.dbtypes import utcnow

WRONG = "E-mail or password is wrong."


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    app.test_client_class = PerRequestContextClient


def _user(db, email: str = "owner@acme.example") -> User:
    db.session.expire_all()
    return db.session.execute(select(User).filter_by(email=email)).scalar_one()


def _post_login(client, email: str, password: str, *, next_url: str | None = None):
    page = client.get("/login" + (f"?next={next_url}" if next_url else ""))
    data = {"email": email, "password": password, "csrf_token": csrf_token(page)}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


def test_login_page_renders_form_with_csrf_token(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="email"' in html and 'type="password"' in html
    assert csrf_token(response)
    assert "Content-Security-Policy" in response.headers


def test_login_success_shows_dashboard_with_own_shops(client, auth, tenant):
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Acme GmbH" in html
    assert "Acme Shop" in html and "Acme Amazon.de" in html


def test_wrong_password_shows_form_message(client, auth, tenant):
    response = auth.login(password="not the password")
    assert response.status_code == 200
    assert WRONG in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_message(client, auth, tenant):
    unknown = auth.login(email="nobody@acme.example", password="whatever-it-is")
    wrong = auth.login(password="not the password")
    assert unknown.status_code == wrong.status_code == 200
    assert WRONG in unknown.get_data(as_text=True)
    assert WRONG in wrong.get_data(as_text=True)


def test_malformed_email_gets_the_same_message(auth, tenant):
    response = auth.login(email="not-an-address", password="whatever-it-is")
    assert response.status_code == 200
    assert WRONG in response.get_data(as_text=True)


def test_empty_form_shows_field_messages(client, tenant):
    token = csrf_token(client.get("/login"))
    response = client.post("/login", data={"csrf_token": token, "email": "", "password": ""})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Enter your e-mail address." in html
    assert "Enter your password." in html


def test_lockout_after_max_failures_grows_and_refuses_correct_password(app, auth, db, tenant):
    app.config["LOGIN_MAX_FAILURES"] = 3
    app.config["LOGIN_LOCKOUT_SECONDS"] = 30
    for _ in range(2):
        assert WRONG in auth.login(password="wrong password").get_data(as_text=True)
    third = auth.login(password="wrong password").get_data(as_text=True)
    assert "Too many failed attempts. Try again in 30 seconds." in third

    locked = auth.login()  # the right password does not help while locked
    assert locked.status_code == 200
    assert "Too many failed attempts. Try again in" in locked.get_data(as_text=True)
    assert _user(db).failed_logins == 3

    # The lock runs out; the next failure locks for twice as long.
    user = _user(db)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    again = auth.login(password="wrong password").get_data(as_text=True)
    assert "Too many failed attempts. Try again in 60 seconds." in again

    user = _user(db)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert auth.login().headers["Location"] == "/"
    assert _user(db).failed_logins == 0


def test_lockout_message_in_german(app, client, tenant):
    app.config["LOGIN_MAX_FAILURES"] = 1
    token = csrf_token(client.get("/login"))
    response = client.post(
        "/login",
        data={"email": "owner@acme.example", "password": "wrong password", "csrf_token": token},
        headers={"Accept-Language": "de"},
    )
    assert "Zu viele Fehlversuche. Versuchen Sie es in 30 Sekunden erneut." in response.get_data(
        as_text=True
    )


def test_session_is_cleared_on_login(client, auth, tenant):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        old_csrf = session.get("csrf_token")
    auth.login()
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != old_csrf
        assert session.get("_user_id")


def test_next_redirect_to_own_path(client, tenant):
    response = _post_login(client, "owner@acme.example", PASSWORD, next_url="/settings")
    assert response.headers["Location"] == "/settings"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_open_redirect_refused(client, tenant, target):
    response = _post_login(client, "owner@acme.example", PASSWORD, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_safe_next_url_accepts_only_relative_paths():
    assert safe_next_url("/orders?page=2") == "/orders?page=2"
    assert safe_next_url("https://evil.example/") is None
    assert safe_next_url("//evil.example") is None
    assert safe_next_url("evil.example") is None
    assert safe_next_url("/\tevil") is None
    assert safe_next_url(None) is None


def test_login_required_redirects_with_next(client, tenant):
    response = client.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/settings"


def test_login_required_tells_htmx_to_load_the_login_page(client, tenant):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_logged_in_user_visiting_login_goes_to_dashboard(client, auth, tenant):
    auth.login()
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_ends_session_even_for_a_copied_cookie(app, client, auth, db, tenant):
    auth.login()
    assert client.get("/").status_code == 200
    copied = client.get_cookie("session").value
    version = _user(db).session_version

    response = auth.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert _user(db).session_version == version + 1

    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_logout_requires_post(client, auth, tenant):
    auth.login()
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_login_without_csrf_token_is_refused(client, tenant):
    response = client.post("/login", data={"email": "owner@acme.example", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_logout_without_csrf_token_is_refused(client, auth, tenant):
    auth.login()
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_csrf_header_works_for_htmx_posts(client, auth, db, tenant):
    auth.login()
    token = csrf_token(client.get("/"))
    refused = client.post(
        "/settings/language", data={"language": "de"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 400
    assert _user(db).language is None

    accepted = client.post(
        "/settings/language",
        data={"language": "de"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert accepted.status_code == 200
    assert _user(db).language == "de"
