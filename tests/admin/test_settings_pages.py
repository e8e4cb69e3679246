"""The settings pages render for every role, in English and German, with empty states."""

from __future__ import annotations

import pytest

from tests.admin.settings_support import add_user, login

PAGES = [
    "/settings",
    "/settings/account",
    "/settings/shops",
    "/settings/shops/new",
    "/settings/senders",
    "/settings/senders/new",
    "/settings/users",
    "/settings/api-keys",
    "/settings/audit",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_the_owner(client, auth, tenant, path):
    auth.login()
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.get_data(as_text=True)
    assert 'class="settings-nav"' in html
    assert "<script>" not in html and " style=" not in html


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_in_german(client, auth, tenant, path):
    auth.login()
    html = client.get(path, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="de"' in html
    assert "Einstellungen" in html and "Absenderkonten" in html


def test_empty_account_shows_empty_states(client, app):
    from webapp.accounts import services as accounts

    account = accounts.create_account("Fresh Ltd", "fresh")
    add_user(account, "owner")
    login(client, "owner@fresh.example")
    assert "No shops yet." in client.get("/settings/shops").get_data(as_text=True)
    assert "No sender accounts yet." in client.get("/settings/senders").get_data(as_text=True)
    assert "No API keys yet." in client.get("/settings/api-keys").get_data(as_text=True)


def test_german_field_labels_and_tabs(client, auth, tenant):
    auth.login()
    html = client.get(
        f"/settings/senders/{tenant.webshop.sender_account_id}", headers={"Accept-Language": "de"}
    ).get_data(as_text=True)
    for text in ("Verbindung testen", "Test-E-Mail senden", "Absenderadresse", "Protokoll"):
        assert text in html
    assert "Test connection" not in html
