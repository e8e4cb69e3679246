"""The CSV import in real Chromium: upload, map, start; a real worker runs it while the page's
progress bar, polled over htmx, climbs to 100% and the bad rows appear with their lines."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.factories import PASSWORD
from tests.support.worker import running_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def login(page: Page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(base + "/")


def test_upload_map_and_watch_the_import(page: Page, live_server: str, app, tenant, tmp_path):
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    polls: list[str] = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if request.headers.get("hx-request") else None,
    )

    rows = "".join(f"IMP-{n};web;Kundin {n};k{n}@example.com;0151 2345678{n % 10};Bücher;1\n"
                   for n in range(30))  # fmt: skip
    csv_file = tmp_path / "bestellungen.csv"
    csv_file.write_bytes(
        (
            "Bestellnummer;Shop;Name;E-Mail;Handy;Artikel;Menge\n"
            + rows
            + "IMP-BAD;web;Falsch;kein-mail;;Buch;1\n"  # line 32
            + "IMP-Q;web;Menge;q@example.com;;Buch;viele\n"  # line 33
        ).encode("cp1252")
    )

    login(page, live_server)
    page.goto(live_server + "/orders")
    page.get_by_role("button", name="Import CSV").click()
    expect(page.get_by_role("heading", name="Import orders")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
    expect(page.get_by_label("Handy")).to_have_value("customer_mobile")
    expect(page.get_by_label("Bestellnummer")).to_have_value("number")
    expect(page.locator(".import-preview")).to_contain_text("Kundin 0")
    page.get_by_role("button", name="Start the import").click()

    expect(page).to_have_url(re.compile(r"/orders/import/\d+$"))
    bar = page.locator("#import-bar")
    expect(page.locator("#import-progress")).to_contain_text("Waiting for a worker")
    expect(bar).to_have_attribute("value", "0")

    with running_worker(app, tmp_path / "worker.log") as worker:
        try:
            expect(bar).to_have_attribute("value", "100", timeout=30_000)
        except AssertionError:
            raise AssertionError(worker.output()) from None
    progress = page.locator("#import-progress")
    expect(progress).to_contain_text("Done")
    expect(progress).to_contain_text("30 orders created")
    expect(progress).to_contain_text("2 bad rows")
    errors = page.locator("table.import-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("32")
    expect(errors.nth(0)).to_contain_text("is not a valid e-mail address")
    expect(errors.nth(1)).to_contain_text("33")
    expect(errors.nth(1)).to_contain_text("Menge")
    assert polls, "the progress was never polled over htmx"

    # Polling stopped (286): no more requests once done.
    count = len(polls)
    page.wait_for_timeout(2500)
    assert len(polls) == count
    assert problems == []

    page.get_by_role("link", name="Show the orders").click()
    expect(page.locator("#order-results")).to_contain_text("IMP-29")
