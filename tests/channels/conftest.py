"""Fixtures of the channel tests: a recording SMTP server and a sender account pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.smtp import RecordingSMTP
from webapp.accounts.models import SenderAccount
from webapp.accounts.services import create_sender_account


@pytest.fixture()
def server() -> Iterator[RecordingSMTP]:
    smtp = RecordingSMTP().start()
    yield smtp
    smtp.stop()


@pytest.fixture()
def sender(tenant, server: RecordingSMTP) -> SenderAccount:
    return create_sender_account(
        tenant.account, "Test", smtp_url=server.url, from_email="shop@acme.example"
    )
