"""Fixtures for the message template tests: a real order in the tenant's shops."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from webapp.extensions import db
from webapp.orders.models import Customer, Document, Order, OrderItem


def make_order(
    tenant, number: str = "1001", *, shop=None, language: str | None = "de", name: str = "Jana Roth"
) -> Order:
    """An order with two priced items, tracking and an invoice, saved in the tenant."""
    shop = shop or tenant.webshop
    customer = Customer(
        account_id=tenant.account.id, name=name, email="jana@example.com", language=language
    )
    order = Order(
        account_id=tenant.account.id,
        number=number,
        shop=shop,
        customer=customer,
        placed_at=datetime(2025, 3, 12, 23, 30, tzinfo=UTC),
        currency="EUR",
        payment_method="prepayment",
        payment_due_days=7,
        tracking_carrier="DHL",
        tracking_number="0034043416",
        tracking_url="https://tracking.example/0034043416",
        delivery_date=date(2025, 3, 20),
    )
    order.items.append(
        OrderItem(account_id=tenant.account.id, position=0, title="Tee-Set", quantity=2,
                  unit_price=Decimal("617.28"), delivered_quantity=1)
    )  # fmt: skip
    order.items.append(
        OrderItem(account_id=tenant.account.id, position=1, title="Untersetzer", quantity=1)
    )
    order.documents.append(
        Document(account_id=tenant.account.id, kind="invoice", number="RE-77",
                 filename="RE-77.pdf", storage_key="x/RE-77.pdf", size=10, sha256="0" * 64)
    )  # fmt: skip
    db.session.add(order)
    db.session.commit()
    return order


@pytest.fixture()
def order(tenant) -> Order:
    return make_order(tenant)
