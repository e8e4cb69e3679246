"""Real headless Chromium against the app served by a real HTTP server in a thread."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page
from werkzeug.serving import make_server

from tests.support.services import free_port

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def base_url() -> None:
    """No fixed base URL: tests use `live_server` (replaces pytest-base-url's fixture, which
    pytest 9 deprecates)."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch the system Chromium (browsers are not downloaded)."""
    executable = _chromium()
    if executable is None:
        pytest.fail("Chromium is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """An English browser on a laptop-sized window unless a test changes it."""
    return {**browser_context_args, "locale": "en-US", "viewport": {"width": 1280, "height": 800}}


@pytest.fixture()
def live_server(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, served by Werkzeug in a thread; yields its base URL."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture()
def problems(page: Page) -> list[str]:
    """What went wrong on the page: console errors (CSP violations show up here), uncaught
    script errors and failed requests. Collected as the journey runs; tests assert it is empty.
    """
    found: list[str] = []

    def on_console(msg) -> None:
        # A form with errors answers 422 on purpose; Chromium logs that, it is not a problem.
        if msg.type == "error" and "status of 422" not in msg.text:
            found.append(msg.text)

    def on_request_failed(request) -> None:
        # A request the browser aborts because the page navigated on is not a failure.
        if request.failure != "net::ERR_ABORTED":
            found.append(f"failed: {request.url} ({request.failure})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: found.append(str(exc)))
    page.on("requestfailed", on_request_failed)
    return found
