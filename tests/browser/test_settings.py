"""The settings journey in real Chromium: a new shop with its SMTP sender, checked and tested."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.factories import PASSWORD
from tests.support.smtp import RecordingSMTP
from webapp import ROOT

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture()
def smtp_server():
    server = RecordingSMTP().start()
    yield server
    server.stop()


def test_shop_with_smtp_sender_test_connection_and_test_mail(
    page: Page, live_server: str, tenant, smtp_server, problems
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(live_server + "/")

    # Settings → Shops → Add shop.
    page.get_by_role("link", name="Settings", exact=True).first.click()
    page.locator(".settings-nav").get_by_role("link", name="Shops").click()
    page.get_by_role("button", name="Add shop").click()
    page.get_by_label("Code").fill("outlet")
    page.get_by_label("Name", exact=True).fill("Acme Outlet")
    page.get_by_label("Kind").select_option("webshop")
    page.locator("select#language").select_option("de")
    page.get_by_label("Contact e-mail").fill("outlet@acme.example")
    page.get_by_label("Prices").uncheck()
    page.get_by_role("button", name="Create shop").click()
    expect(page.get_by_role("status").first).to_contain_text("Shop Acme Outlet created.")
    row = page.get_by_role("row", name=re.compile("Acme Outlet"))
    expect(row).to_contain_text("No sender")

    # A bad port is explained at the field; nothing else is lost.
    page.locator(".settings-nav").get_by_role("link", name="Sender accounts").click()
    page.get_by_role("button", name="Add sender account").click()
    page.get_by_label("Name", exact=True).fill("Outlet SMTP")
    page.get_by_label("SMTP server").fill("127.0.0.1")
    page.get_by_label("Port").fill("0")
    page.get_by_label("Security").select_option("none")
    page.get_by_label("From name").fill("Acme Outlet")
    page.get_by_label("From address").fill("outlet@acme.example")
    page.get_by_label("BCC addresses").fill("archive@acme.example")
    page.get_by_label("Shop", exact=True).select_option(label="Acme Outlet (outlet)")
    page.get_by_role("button", name="Create sender account").click()
    expect(page.locator("#port-errors")).to_have_text("Enter a port from 1 to 65535.")
    expect(page.get_by_label("SMTP server")).to_have_value("127.0.0.1")
    page.get_by_label("Port").fill(str(smtp_server.port))
    page.get_by_role("button", name="Create sender account").click()
    expect(page.get_by_role("status").first).to_contain_text("Sender account Outlet SMTP created.")

    # Test the connection, then send a test mail: HTMX fragments, no reload.
    page.evaluate("window.__settingsMarker = 1")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#sender-check")).to_contain_text("Connection works")
    page.get_by_role("button", name="Send test mail").click()
    expect(page.locator("#sender-check")).to_contain_text("Test mail sent to owner@acme.example.")
    assert page.evaluate("window.__settingsMarker") == 1
    received = smtp_server.wait_for(1)
    assert len(received) == 1
    assert received[0].subject == "Statuslink test mail"
    assert received[0].rcpt_tos == ["owner@acme.example"]  # only to me, not to the BCCs
    assert "outlet@acme.example" in str(received[0].message["From"])
    page.screenshot(path=str(SCREENSHOTS / "settings-desktop.png"), full_page=True)

    # The new shop now sends through it.
    page.locator(".settings-nav").get_by_role("link", name="Shops").click()
    expect(page.get_by_role("row", name=re.compile("Acme Outlet"))).to_contain_text("Outlet SMTP")

    # On a 375 px phone nothing overflows sideways and the check still works.
    page.set_viewport_size({"width": 375, "height": 800})
    page.locator(".settings-nav").get_by_role("link", name="Sender accounts").click()
    page.get_by_role("link", name="Outlet SMTP").click()
    expect(page).to_have_url(re.compile(r"/settings/senders/\d+$"))
    # Measure once the page and its stylesheets have loaded, not the half-built page.
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.get_by_role("button", name="Test connection").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#sender-check")).to_contain_text("Connection works")
    page.screenshot(path=str(SCREENSHOTS / "settings-phone.png"), full_page=True)

    assert problems == []
