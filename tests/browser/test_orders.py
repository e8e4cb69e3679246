"""Orders in real Chromium: an order created through the API appears in the list; recording
an event on its page shows up in the timeline at once."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.support.factories import PASSWORD
from webapp import ROOT

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"


def api_post(base: str, path: str, key: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        assert response.status in (200, 201)
        return json.loads(response.read())


def login(page: Page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(base + "/")


def test_api_order_in_list_and_event_on_its_page(page: Page, live_server: str, tenant):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    for number, name in (("WEB-1001", "Erika Mustermann"), ("WEB-1002", "Max Muster")):
        api_post(live_server, "/api/v1/orders", tenant.api_key, {
            "number": number, "shop": "web", "fulfillment": "FBM",
            "payment": {"method": "prepayment"},
            "customer": {"name": name, "email": f"{number.lower()}@example.com", "language": "de"},
            "items": [{"sku": "BK-1", "title": "The Book", "quantity": 2, "unit_price": 12.5},
                      {"title": "Bookmark", "quantity": 1, "unit_price": 1}],
        })  # fmt: skip

    login(page, live_server)
    page.get_by_role("link", name="Orders").click()
    expect(page).to_have_url(live_server + "/orders")
    results = page.locator("#order-results")
    expect(results).to_contain_text("WEB-1001")
    expect(results).to_contain_text("WEB-1002")

    # Active search: typing narrows the list over htmx and puts the query into the URL.
    page.get_by_label("Search", exact=True).fill("Erika")
    expect(results).not_to_contain_text("WEB-1002")
    expect(results).to_contain_text("WEB-1001")
    expect(page).to_have_url(re.compile(r"q=Erika"))

    results.get_by_role("link", name="WEB-1001").click()
    expect(page.get_by_role("heading", name="Order WEB-1001")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Nothing has happened yet.")

    # Record "shipped" with tracking, from the keyboard-usable form.
    page.get_by_label("What happened?").select_option("shipped")
    page.get_by_text("Tracking and delivery date (optional)").click()
    page.get_by_label("Carrier").fill("DHL")
    page.get_by_label("Tracking number").fill("00340434161234")
    page.get_by_role("button", name="Record event").click()
    expect(page.locator("#event-form")).to_contain_text("Shipped recorded.")
    expect(page.locator("#timeline")).to_contain_text("Shipped")
    expect(page.locator("#timeline")).to_contain_text("via admin")
    expect(page.locator("#order-header")).to_contain_text("00340434161234")

    # The note saves inline; a too-long note is refused inline.
    page.get_by_label("Note (visible to your team only)").fill("Customer asked for gift wrap")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator("#note-form")).to_contain_text("Saved.")

    page.screenshot(path=str(SCREENSHOTS / "order-page-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    expect(page.get_by_role("heading", name="Order WEB-1001")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(SCREENSHOTS / "order-page-phone.png"), full_page=True)
    assert problems == []
