"""The admin shell: dashboard, HTMX fragments, language switch, navigation, error pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.support.client import PerRequestContextClient
from tests.support.html import csrf_token
from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.admin.nav import NavItem, add_nav_item


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    app.test_client_class = PerRequestContextClient


def _user(db, email: str = "owner@acme.example") -> User:
    db.session.expire_all()
    return db.session.execute(select(User).filter_by(email=email)).scalar_one()


def test_dashboard_requires_login(client, tenant):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_dashboard_lists_only_own_shops_and_senders(client, auth, tenant, other_tenant):
    auth.login()
    html = client.get("/").get_data(as_text=True)
    assert "Acme GmbH" in html
    for text in ("Acme Shop", "Acme Amazon.de", "amazon.de", "shop@acme.example"):
        assert text in html
    assert "127.0.0.1:2525" in html
    assert "Main SMTP" in html and "Amazon SMTP" in html
    assert "Globex" not in html
    assert "globex.example" not in html


def test_dashboard_shows_sender_details_but_never_the_password(client, auth, db, tenant):
    accounts.create_sender_account(
        tenant.account,
        "Secure SMTP",
        smtp_url="smtp://mailer:s3cret-Passw0rd@mail.acme.example:587",
        security="starttls",
        from_email="news@acme.example",
        from_name="Acme News",
        bcc=["archive@acme.example", "boss@acme.example"],
    )
    auth.login()
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert "mail.acme.example:587" in html
    assert "STARTTLS" in html
    assert "Acme News" in html and "news@acme.example" in html
    assert "archive@acme.example, boss@acme.example" in html
    assert "s3cret-Passw0rd" not in html
    assert "s3cret" not in response.headers.get("Set-Cookie", "")


def test_dashboard_empty_states(client, db, tenant):
    account = accounts.create_account("Empty Ltd", "empty")
    accounts.create_user(account, "owner@empty.example", "a long password 1", role="owner")
    page = client.get("/login")
    client.post(
        "/login",
        data={
            "email": "owner@empty.example",
            "password": "a long password 1",
            "csrf_token": csrf_token(page),
        },
    )
    html = client.get("/").get_data(as_text=True)
    assert "Empty Ltd" in html
    assert "No shops yet." in html
    assert "No sender accounts yet." in html
    assert "Acme" not in html


def test_htmx_request_returns_only_the_shops_partial(client, auth, tenant):
    auth.login()
    response = client.get("/", headers={"HX-Request": "true", "HX-Target": "shops"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="shops"')
    assert "Acme Amazon.de" in html
    assert "<html" not in html and "<nav" not in html
    assert 'id="senders"' not in html  # the sender list is not part of the fragment
    assert "HX-Request" in response.headers["Vary"]


def test_full_page_contains_the_same_partial(client, auth, tenant):
    auth.login()
    page = client.get("/").get_data(as_text=True)
    fragment = client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True).strip()
    assert fragment in page
    assert page.count('id="shops"') == 1


def test_boosted_request_gets_the_full_page(client, auth, tenant):
    auth.login()
    html = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"}).get_data(
        as_text=True
    )
    assert "<html" in html


def test_page_carries_csrf_header_for_htmx_and_strict_csp(client, auth, tenant):
    auth.login()
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", html)
    assert "<script>" not in html and "onclick" not in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert re.search(r'<html lang="en"', html)


def test_navigation_has_no_dead_links(client, auth, tenant):
    import re

    auth.login()
    html = client.get("/").get_data(as_text=True)
    nav = html[html.index('<nav class="container app-nav"') : html.index("</nav>")]
    assert 'aria-current="page"' in nav
    links = re.findall(r'href="([^"]+)"', nav)
    assert "/" in links and "/orders" in links and "/settings" in links
    for link in links:
        assert client.get(link).status_code == 200, link


def test_navigation_takes_new_pages_from_data(app, client, auth, tenant):
    add_nav_item(app, NavItem("health.healthz", "Health", order=95))
    auth.login()
    html = client.get("/").get_data(as_text=True)
    assert 'href="/healthz">Health</a>' in html


def test_german_ui_from_accept_language(client, auth, tenant):
    auth.login()
    response = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    html = response.get_data(as_text=True)
    assert '<html lang="de"' in html
    assert "Absenderkonten" in html and "Einstellungen" in html
    assert "Sender accounts" not in html


def test_german_ui_from_user_setting_wins_over_browser(client, auth, db, tenant):
    user = _user(db)
    user.language = "de"
    db.session.commit()
    auth.login()
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="de"' in html
    assert "Übersicht" in html and "Abmelden" in html


def test_language_switch_over_htmx_returns_fragment_and_stores_choice(client, auth, db, tenant):
    auth.login()
    token = csrf_token(client.get("/"))
    response = client.post(
        "/settings/language",
        data={"language": "de"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert response.headers["HX-Refresh"] == "true"
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div class="language-switch"')
    assert "Sprache auf Deutsch umgestellt." in html
    assert _user(db).language == "de"
    page = client.get("/settings").get_data(as_text=True)
    assert "Einstellungen" in page and "Sprache auf Deutsch umgestellt." in page


def test_language_switch_refuses_unknown_language(client, auth, db, tenant):
    auth.login()
    token = csrf_token(client.get("/"))
    response = client.post(
        "/settings/language",
        data={"language": "xx"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 400
    assert _user(db).language is None


def test_language_switch_without_htmx_redirects_to_settings(client, auth, db, tenant):
    auth.login()
    token = csrf_token(client.get("/"))
    response = client.post("/settings/language", data={"language": "de", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings"


def test_settings_page_shows_login_and_account(client, auth, tenant):
    auth.login()
    html = client.get("/settings").get_data(as_text=True)
    assert "owner@acme.example" in html and "Owner" in html and "acme" in html
    assert 'hx-post="/settings/language"' in html


@pytest.mark.parametrize(
    ("method", "path", "code", "title"),
    [
        ("get", "/no-such-page", 404, "Page not found"),
        ("put", "/login", 405, "This action is not possible here"),
    ],
)
def test_error_pages_use_the_layout(client, method, path, code, title):
    response = getattr(client, method)(path)
    assert response.status_code == code
    html = response.get_data(as_text=True)
    assert title in html
    assert "/static/css/app.css" in html
    assert f"Error {code}" in html


def test_error_page_in_german(client):
    html = client.get("/nope", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Seite nicht gefunden" in html


def test_csrf_error_page_does_not_leak_details(client):
    response = client.post("/login", data={"email": "a@b.example", "password": "x"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The request could not be processed" in html
    assert "token is missing" not in html and "Traceback" not in html


def test_internal_error_page_leaks_nothing(app, client):
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals: db password is hunter2")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom-for-test")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side" in html
    assert "hunter2" not in html and "RuntimeError" not in html


@pytest.mark.parametrize("code", [403, 413, 429])
def test_other_error_codes_render(app, client, code):
    from flask import abort

    app.add_url_rule(f"/abort-{code}", f"abort_{code}", lambda: abort(code))
    response = client.get(f"/abort-{code}")
    assert response.status_code == code
    assert f"Error {code}" in response.get_data(as_text=True)
