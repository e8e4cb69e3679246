"""Fixtures for the SMS adapter tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.channels.sms.fakes import FakeProvider


@pytest.fixture(autouse=True)
def _loopback_targets_allowed(request) -> Iterator[None]:
    """The adapters talk to imitation servers on loopback, which the test config allows.

    Tests without the full `app` run in a bare app context with that one setting.
    """
    if "app" in request.fixturenames:
        yield
        return
    bare = Flask("sms-adapter-tests")
    bare.config["ALLOW_PRIVATE_NETWORK_TARGETS"] = True
    with bare.app_context():
        yield


@pytest.fixture()
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()
