"""The template editor in real Chromium: typing changes the live preview, including the
sandboxed HTML frame; errors show their line; saving keeps the text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.factories import PASSWORD
from webapp import ROOT
from webapp.message_templates.services import create_template, save_variant

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"


def test_edit_template_and_see_preview_change(page: Page, live_server: str, tenant):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    template = create_template(tenant.account.id, name="Shipping confirmation", purpose="shipped")
    save_variant(
        tenant.account.id, template.id, language="en",
        subject="Your order {{ order.number }} is on its way",
        body_html="<h1 style=\"color:#1f5fbf\">Hello {{ customer.name }}</h1>\n"
                  "<p>Your parcel left our warehouse.</p>\n{{ items_table }}",
        body_text="",
    )  # fmt: skip

    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="Shipping confirmation").click()
    # The pickers submit themselves once app.js has loaded; wait for it, as a user would.
    page.wait_for_load_state("load")
    page.locator("#pick-language").select_option("en")
    expect(page).to_have_url(re.compile(r"language=en"))
    expect(page.locator("#preview-subject")).to_have_text("Your order SL-10042 is on its way")
    frame = page.frame_locator("#preview-frame")
    expect(frame.locator("h1")).to_have_text("Hello Emma Taylor")

    # Typing changes the preview (fragment and sandboxed frame).
    subject = page.get_by_label("Subject")
    subject.fill("Good news about order {{ order.number }}")
    expect(page.locator("#preview-subject")).to_have_text("Good news about order SL-10042")
    body = page.get_by_label("HTML body")
    body.fill("<h1>Hi {{ customer.name }}, it shipped!</h1>")
    expect(frame.locator("h1")).to_have_text("Hi Emma Taylor, it shipped!")

    # Placeholder picker inserts at the cursor.
    body.press("End")
    page.get_by_text("Insert a placeholder").click()
    page.locator('[data-insert="{{ order.number }}"]').first.click()
    expect(body).to_have_value("<h1>Hi {{ customer.name }}, it shipped!</h1>{{ order.number }}")

    # A syntax error: shown with its line, clicking it jumps to the field.
    body.fill("<p>fine</p>\n<p>{{ order.number </p>")
    expect(page.locator("#preview-result")).to_contain_text("HTML body, line 2")
    page.screenshot(path=str(SCREENSHOTS / "template-editor-desktop.png"), full_page=True)
    body.fill("<p>Hi {{ customer.name }}</p>")
    expect(page.locator("#preview-result")).not_to_contain_text("HTML body, line 2")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Template saved.")).to_be_visible()
    expect(page.get_by_label("Subject")).to_have_value("Good news about order {{ order.number }}")

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    expect(frame.locator("p").first).to_contain_text("Hi Emma Taylor")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(SCREENSHOTS / "template-editor-phone.png"), full_page=True)
    assert problems == []


def test_a_preview_reply_arriving_while_saving_does_not_cancel_the_save(
    page: Page, live_server: str, tenant
):
    """Saving leaves the page; a live-preview reply that lands before the browser has started
    that navigation must not refresh the preview frame, as submitting the form again (to the
    frame) would replace the planned Save navigation and drop the save without a word."""
    template = create_template(tenant.account.id, name="Shipping confirmation", purpose="shipped")
    save_variant(
        tenant.account.id, template.id, language="en", subject="Order {{ order.number }}",
        body_html="<p>Hello</p>", body_text="",
    )  # fmt: skip
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.goto(f"{live_server}/templates/{template.id}?language=en&target=generic")
    page.wait_for_load_state("load")
    page.get_by_label("Subject").fill("Saved while previewing {{ order.number }}")

    # The click and the preview's reply in one task: the Save navigation is still planned.
    page.evaluate(
        """() => {
            const form = document.getElementById("template-editor");
            const buttons = [...form.querySelectorAll("button[type=submit]")];
            buttons.find((button) => button.textContent.trim() === "Save").click();
            form.dispatchEvent(new CustomEvent("htmx:afterRequest",
                {bubbles: true, detail: {elt: form, successful: true}}));
        }"""
    )
    expect(page.get_by_role("status").filter(has_text="Template saved.")).to_be_visible()
    expect(page.get_by_label("Subject")).to_have_value("Saved while previewing {{ order.number }}")
