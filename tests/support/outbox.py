"""Fixtures and helpers for outbox tests: a recording SMTP server, a clock, orders, events."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.support.smtp import RecordingSMTP
from webapp.accounts.models import SenderAccount
from webapp.extensions import db
from webapp.notifications.models import Message
from webapp.notifications.scheduling import set_clock
from webapp.orders.services import record_event, store_document, upsert_order


@pytest.fixture()
def fast_delivery(app):
    """Small delivery timings and a queue of this test's own."""
    app.config.update(
        RQ_QUEUE=f"test-{uuid.uuid4().hex[:10]}",
        DISPATCH_SWEEP_SECONDS=0.5,
        DISPATCH_LEASE_SECONDS=3,
        DISPATCH_MAX_SECONDS=20,
        DISPATCH_COALESCE_SECONDS=2,
        RETRY_BASE_SECONDS=0.2,
        RETRY_MAX_SECONDS=1,
        SMTP_TIMEOUT_SECONDS=5,
    )
    return app


@pytest.fixture()
def smtp_server(tenant) -> Iterator[RecordingSMTP]:
    """A recording aiosmtpd server; every sender account of the tenant points at it."""
    server = RecordingSMTP().start()
    db.session.execute(
        update(SenderAccount)
        .where(SenderAccount.account_id == tenant.account.id)
        .values(smtp_host="127.0.0.1", smtp_port=server.port)
    )
    db.session.commit()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def engine_ready(tenant, fast_delivery):
    """The tenant with default templates and rules installed."""
    from webapp.message_templates.services import install_default_templates
    from webapp.notifications.defaults import install_default_rules

    install_default_templates(tenant.account)
    install_default_rules(tenant.account)
    return tenant


class Clock:
    """A controllable clock for the notification engine."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when

    def advance(self, **delta) -> datetime:
        from datetime import timedelta

        self.current += timedelta(**delta)
        return self.current


@pytest.fixture()
def clock(app) -> Iterator[Clock]:
    """Wednesday 2030-01-09 10:00 UTC (11:00 in Berlin), moved by the test at will."""
    value = Clock(datetime(2030, 1, 9, 10, 0, tzinfo=UTC))
    set_clock(app, value)
    yield value
    set_clock(app, None)


# --- orders and events through the real order services ------------------------------


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def place_order(
    tenant,
    number: str,
    *,
    shop: str = "web",
    fulfillment: str = "own",
    email: str | None = "kunde@example.org",
    language: str | None = None,
    payment: str = "paid",
    **extra: Any,
):
    customer: dict[str, Any] = {"name": extra.pop("customer_name", "Erika Mustermann")}
    if email:
        customer["email"] = email
    if language:
        customer["language"] = language
    customer.update(extra.pop("customer", {}))
    data = {
        "number": number,
        "shop": shop,
        "fulfillment": fulfillment,
        "payment": {"method": payment},
        "customer": customer,
        "items": extra.pop(
            "items",
            [{"sku": "B-1", "title": "Wanderschuh Alpin", "quantity": 1, "unit_price": "89.90"}],
        ),
        **extra,
    }
    order, _ = upsert_order(tenant.account.id, data)
    return order


def event(tenant, number: str, type_: str = "shipped", **data: Any):
    return record_event(tenant.account.id, number, {"type": type_, **data})


def attach_pdf(tenant, number: str, kind: str = "invoice", doc_number: str = "RE-1"):
    return store_document(
        tenant.account.id, number, kind, doc_number, f"{doc_number}.pdf", io.BytesIO(PDF)
    )


def messages(tenant) -> list[Message]:
    db.session.expire_all()
    stmt = select(Message).where(Message.account_id == tenant.account.id).order_by(Message.id)
    return list(db.session.execute(stmt).scalars())
