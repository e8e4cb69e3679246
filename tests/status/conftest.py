"""Fixtures for the status pages: an order with customer, items, events and documents."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tests.support.factories import Tenant
from webapp.accounts.models import Shop
from webapp.extensions import db
from webapp.orders.documents import save_pdf
from webapp.orders.models import Customer, Document, Order, OrderEvent, OrderItem

PDF_BYTES = b"%PDF-1.4\n% statuslink test document\n%%EOF\n"


@dataclass
class OrderSet:
    order: Order
    customer: Customer
    invoice: Document
    internal: Document


def make_order(
    tenant: Tenant,
    number: str = "WEB-1001",
    *,
    shop: Shop | None = None,
    customer_name: str = "Kim Example",
    email: str | None = "kim@customer.example",
    phone: str | None = "+49 151 23456789",
    postcode: str | None = "10115",
    language: str | None = None,
) -> OrderSet:
    """An order with two items, a few events, an invoice and an internal document."""
    shop = shop or tenant.webshop
    account_id = tenant.account.id
    customer = Customer(
        account_id=account_id,
        name=customer_name,
        email=email,
        phone=phone,
        postcode=postcode,
        language=language,
    )
    db.session.add(customer)
    db.session.flush()
    order = Order(
        account_id=account_id,
        number=number,
        shop_id=shop.id,
        customer_id=customer.id,
        placed_at=datetime(2025, 3, 3, 9, 30, tzinfo=UTC),
        state="partially_shipped",
        currency="EUR",
        tracking_carrier="DHL",
        tracking_number="00340434161094042557",
        delivery_date=date(2025, 3, 7),
    )
    db.session.add(order)
    db.session.flush()
    db.session.add_all(
        [
            OrderItem(
                account_id=account_id,
                order_id=order.id,
                position=0,
                title="Garden chair oak",
                quantity=2,
                delivered_quantity=2,
                unit_price=Decimal("89.90"),
            ),
            OrderItem(
                account_id=account_id,
                order_id=order.id,
                position=1,
                title="Seat cushion",
                quantity=2,
                delivered_quantity=0,
                unit_price=Decimal("19.50"),
            ),
        ]
    )
    for day, event_type, before, after in (
        (4, "invoiced", "open", "invoiced"),
        (5, "partially_shipped", "invoiced", "partially_shipped"),
    ):
        db.session.add(
            OrderEvent(
                account_id=account_id,
                order_id=order.id,
                type=event_type,
                occurred_at=datetime(2025, 3, day, 14, 0, tzinfo=UTC),
                state_before=before,
                state_after=after,
                data={},
            )
        )
    documents = []
    for kind, doc_number in (("invoice", "RE-2025-0042"), ("other", "INTERNAL-7")):
        stored = save_pdf(account_id, io.BytesIO(PDF_BYTES))
        doc = Document(
            account_id=account_id,
            order_id=order.id,
            kind=kind,
            number=doc_number,
            filename=f"{doc_number}.pdf",
            storage_key=stored.storage_key,
            size=stored.size,
            sha256=stored.sha256,
        )
        db.session.add(doc)
        documents.append(doc)
    db.session.commit()
    return OrderSet(order, customer, documents[0], documents[1])


@pytest.fixture()
def order_set(tenant: Tenant) -> OrderSet:
    return make_order(tenant)
