"""The rule editor in real Chromium on a 375-pixel phone: no sideways scrolling, inline errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.support import outbox
from tests.support.factories import PASSWORD
from webapp.extensions import db
from webapp.notifications.models import Rule

pytestmark = pytest.mark.browser

engine_ready = outbox.engine_ready
fast_delivery = outbox.fast_delivery

PHONE = {"width": 375, "height": 740}


def _fits_the_screen(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide"


def test_create_a_rule_on_a_phone(page: Page, live_server: str, engine_ready, problems, tmp_path):
    db.session.remove()  # the live server's threads use their own sessions
    page.set_viewport_size(PHONE)
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(live_server + "/")

    page.goto(live_server + "/rules/new")
    expect(page.get_by_role("heading", name="New rule")).to_be_visible()
    _fits_the_screen(page)

    page.get_by_label("Name", exact=True).fill("Pickup e-mail for FBM")
    page.get_by_label("When this happens to an order").select_option("goods_received")
    page.get_by_label("Text to send").select_option("purpose:goods_received")
    page.locator("#fulfillments").get_by_label("FBM (fulfilled by merchant)").check()
    page.locator("#review_fulfillments").get_by_label("FBM (fulfilled by merchant)").check()
    page.get_by_label("At most one such message per order").check()
    page.get_by_label("Wait before sending").fill("31")
    page.locator("#delay_unit").select_option("days")
    page.get_by_label("BCC addresses").fill("archive@acme.example, nonsense")
    page.get_by_role("button", name="Save rule").click()

    expect(page.locator("#delay_value-errors")).to_have_text("Wait at most 30 days.")
    expect(page.locator("#bcc-errors")).to_contain_text("“nonsense” is not a valid e-mail address.")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Pickup e-mail for FBM")
    _fits_the_screen(page)
    page.screenshot(path=str(tmp_path / "rule-form-errors-phone.png"), full_page=True)

    page.get_by_label("Wait before sending").fill("2")
    page.get_by_label("BCC addresses").fill("archive@acme.example")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("heading", name="Rules")).to_be_visible()
    expect(page.get_by_text("Rule “Pickup e-mail for FBM” saved.")).to_be_visible()

    rule = db.session.execute(select(Rule).filter_by(name="Pickup e-mail for FBM")).scalar_one()
    assert rule.event_type == "goods_received" and rule.delay_minutes == 2 * 24 * 60
    assert rule.fulfillments == ["FBM"] and rule.review_fulfillments == ["FBM"]
    assert rule.once_per_order is True and rule.bcc == ["archive@acme.example"]
    assert problems == []
