"""The review queue in real Chromium: approve a message; screenshots of dashboard and queue."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support import outbox
from tests.support.factories import PASSWORD
from tests.support.outbox import event, messages, place_order
from webapp import ROOT
from webapp.extensions import db
from webapp.notifications.models import Message
from webapp.notifications.rules import list_rules, update_rule

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"

engine_ready = outbox.engine_ready
fast_delivery = outbox.fast_delivery


def _login(page: Page, live_server: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Acme GmbH")).to_be_visible()


def _history(tenant) -> None:
    """Some sent and failed messages of the past days, so the chart has something to show."""
    from datetime import timedelta

    from webapp.dbtypes import utcnow

    for day in range(12):
        number = f"H-{day:02d}"
        place_order(tenant, number, email=f"h{day}@example.org")
        event(tenant, number, "shipped")
        message = messages(tenant)[-1]
        message.state = "failed" if day % 5 == 4 else "sent"
        message.sent_at = utcnow() - timedelta(days=day * 2, hours=1)
    db.session.commit()


def test_approve_from_the_review_queue(page: Page, live_server: str, engine_ready, problems):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    rule = next(r for r in list_rules(engine_ready.account.id) if r.default_key == "shipped")
    update_rule(engine_ready.account.id, rule.id, mode="review")
    for number, email in (("B-1001", "erika@example.org"), ("B-1002", "max@example.org")):
        place_order(engine_ready, number, email=email)
        event(engine_ready, number, "shipped")
    first_id, second_id = (m.id for m in messages(engine_ready))
    _history(engine_ready)
    db.session.remove()  # the live server's threads use their own sessions

    _login(page, live_server)
    expect(page.locator("#dashboard-stats")).to_contain_text("Waiting for review")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-desktop.png"), full_page=True)

    page.get_by_role("link", name="Review", exact=True).click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.locator(f"#review-{first_id}")).to_contain_text("B-1001")
    page.screenshot(path=str(SCREENSHOTS / "review-queue-desktop.png"), full_page=True)

    # Edit the first message, then approve it with the edits.
    page.locator(f"#review-{first_id}").get_by_role("button", name="Edit").click()
    subject = page.locator(f"#review-{first_id}").get_by_label("Subject")
    expect(subject).to_be_visible()
    subject.fill("Ihre Wanderschuhe sind unterwegs")
    page.locator(f"#review-{first_id}").get_by_role("button", name="Save and approve").click()
    expect(page.locator(f"#review-{first_id}")).to_contain_text(
        "Approved. The message is being sent."
    )

    # The second one by keyboard: select it and approve the selection.
    checkbox = page.get_by_label(f"Select message {second_id}")
    checkbox.focus()
    page.keyboard.press("Space")
    expect(checkbox).to_be_checked()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator("#review-list")).to_contain_text("1 message approved.")
    expect(page.locator("#review-list")).to_contain_text("Nothing to review.")

    db.session.expire_all()
    approved = db.session.get(Message, first_id)
    assert approved.state in ("scheduled", "sending", "sent", "failed")
    assert approved.subject == "Ihre Wanderschuhe sind unterwegs"
    assert db.session.get(Message, second_id).state != "review"
    assert problems == []


def test_phone_screenshots(page: Page, live_server: str, engine_ready, problems):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    rule = next(r for r in list_rules(engine_ready.account.id) if r.default_key == "shipped")
    update_rule(engine_ready.account.id, rule.id, mode="review")
    place_order(engine_ready, "B-2001", email="erika@example.org")
    event(engine_ready, "B-2001", "shipped")
    db.session.remove()

    page.set_viewport_size({"width": 375, "height": 800})
    _login(page, live_server)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=str(SCREENSHOTS / "dashboard-phone.png"), full_page=True)
    page.goto(live_server + "/review")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=str(SCREENSHOTS / "review-queue-phone.png"), full_page=True)
    assert problems == []
