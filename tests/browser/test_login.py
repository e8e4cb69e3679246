"""The login journey in real Chromium: log in, see the dashboard, switch language, log out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.factories import PASSWORD
from webapp import ROOT

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"


def test_login_dashboard_language_logout(page: Page, live_server: str, tenant, problems):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # Anonymous visitors land on the login form, on a phone.
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "login.png"), full_page=True)

    # Wrong password: a clear message, still on the form.
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("E-mail or password is wrong.")

    # The keyboard is enough: type the password and press Enter.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(live_server + "/")
    expect(page.get_by_role("heading", name="Acme GmbH")).to_be_visible()
    shops = page.locator("#shops")
    expect(shops).to_contain_text("Acme Amazon.de")
    expect(shops).to_contain_text("amazon.de")
    expect(page.locator("#senders")).to_contain_text("127.0.0.1:2525")

    # Nothing overflows sideways on a 375 px phone.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

    # The HTMX refresh of the shops list swaps in the fragment.
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true") as info:
        page.get_by_role("button", name="Refresh").click()
    assert info.value.status == 200
    expect(shops).to_contain_text("Acme Shop")
    expect(page.locator("#shops")).to_have_count(1)

    # Desktop screenshot of the dashboard.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    # Switch to German through the HTMX control in the user menu (CSRF via header).
    page.get_by_label("User menu").click()
    with page.expect_response(re.compile(r"/settings/language$")) as info:
        page.get_by_role("button", name="Deutsch").click()
    assert info.value.status == 200
    expect(page.get_by_role("heading", name="Shops")).to_be_visible()
    expect(page.get_by_role("link", name="Übersicht")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Sprache auf Deutsch umgestellt.")
    expect(page.locator("html")).to_have_attribute("lang", "de")

    # Escape closes the menu again; then log out (a POST form) from the menu.
    page.get_by_label("Benutzermenü").click()
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Abmelden")).to_be_hidden()
    page.get_by_label("Benutzermenü").click()
    page.get_by_role("button", name="Abmelden").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")

    # The session is gone for real.
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile(r"/login"))

    assert problems == []
