"""The status page in real headless Chromium: no JS needed, accessible, nothing external."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.support.services import free_port
from webapp.extensions import db
from webapp.status import services

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "browser_assets" / "axe.min.js"
SCREENSHOT = ROOT / "docs" / "screenshots" / "status-page.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture()
def live_server(app) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app.config["BASE_URL"] = base
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture()
def open_page(live_server, playwright):
    """A factory of 375 px wide pages that may load nothing but the live server.

    The page CSP forbids inline scripts, so the pages that run axe-core are opened with
    `bypass_csp`; every journey runs under the real CSP.
    """
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    # pytest-playwright's session-wide `playwright` instance: a second sync_playwright() in a
    # process where browser journeys already ran would fail.
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    contexts = []

    def factory(*, bypass_csp: bool = False):
        context = browser.new_context(viewport={"width": 375, "height": 812}, bypass_csp=bypass_csp)
        contexts.append(context)
        page = context.new_page()
        page.foreign_requests = []
        page.console_errors = []

        def guard(route):
            if route.request.url.startswith(live_server):
                route.continue_()
            else:
                page.foreign_requests.append(route.request.url)
                route.abort()

        def on_console(msg):
            # A 404/410 page is reported as "Failed to load resource"; that is expected.
            if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
                page.console_errors.append(msg.text)

        page.route("**/*", guard)
        page.on("console", on_console)
        return page

    try:
        yield factory
    finally:
        for context in contexts:
            context.close()
        browser.close()


def serious_violations(page) -> list[dict]:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        """async () => (await axe.run(document)).violations.map(v => ({
            id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def test_status_page_in_chromium(app, tenant, order_set, live_server, open_page, caplog):
    tenant.webshop.contact_email = "service@acme.example"
    tenant.webshop.contact_phone = "+49 30 1234567"
    tenant.webshop.website = "https://acme.example"
    tenant.webshop.brand_color = "#2e7d32"
    db.session.commit()
    _, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    token = url.rsplit("/", 1)[1]

    audit = open_page(bypass_csp=True)
    assert audit.goto(url).status == 200
    audit.screenshot(path=str(SCREENSHOT), full_page=True)
    assert serious_violations(audit) == []

    page = open_page()
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        response = page.goto(url)
        assert response is not None and response.status == 200
        assert page.locator("h1").inner_text() == "Bestellung WEB-1001"
        # The CSS arrived under the strict CSP: the masthead wears the shop colour.
        colour = page.eval_on_selector(".masthead", "el => getComputedStyle(el).backgroundColor")
        assert colour == "rgb(46, 125, 50)"
        # The customer switches language and saves preferences, all without JavaScript.
        page.get_by_role("link", name="English").click()
        assert page.locator("h1").inner_text() == "Order WEB-1001"
        page.get_by_label("Send me optional messages").uncheck()
        page.get_by_label("SMS").check()
        page.get_by_role("button", name="Save").click()
        assert page.get_by_role("status").inner_text() == "Your settings have been saved."

    db.session.refresh(order_set.customer)
    assert order_set.customer.optional_messages is False
    assert order_set.customer.channel == "sms"
    for p in (audit, page):
        assert p.foreign_requests == []
    assert page.console_errors == []  # no CSP violation, nothing blocked
    assert SCREENSHOT.stat().st_size > 10_000
    access_log = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/s/" + token[:8] in line for line in access_log)
    assert not any(token in line for line in access_log)


def test_gone_page_and_fallback_in_chromium(app, tenant, order_set, live_server, open_page):
    tenant.webshop.status_link_max_opens = 1
    db.session.commit()
    _, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    page = open_page()
    assert page.goto(url).status == 200
    assert page.goto(url + "?lang=en").status == 410
    assert "WEB-1001" not in page.content()

    page.get_by_label("Order number").fill("WEB-1001")
    page.get_by_label("Postcode or e-mail address").fill("00000")
    page.get_by_role("button", name="Show my order").click()
    assert page.get_by_role("alert").inner_text() == (
        "We could not find an order with these details."
    )
    page.get_by_label("Order number").fill("WEB-1001")
    page.get_by_label("Postcode or e-mail address").fill("10115")
    page.get_by_role("button", name="Show my order").click()
    assert page.locator("h1").inner_text() == "Order WEB-1001"
    assert page.url != url and "/s/" in page.url
    assert page.foreign_requests == [] and page.console_errors == []

    audit = open_page(bypass_csp=True)
    assert audit.goto(url + "?lang=en").status == 410
    assert serious_violations(audit) == []
