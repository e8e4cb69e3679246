"""Customers, orders, their items, events and documents."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import Shop
from webapp.dbtypes import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.tenancy import TenantOwned

FULFILLMENTS = ("FBA", "FBM", "own")
PAYMENT_METHODS = ("prepayment", "invoice", "paid")
DOCUMENT_KINDS = ("invoice", "credit_note", "delivery_note", "other")


class Customer(TenantOwned, db.Model):
    """An end customer of the merchant; never logs in."""

    __table_args__ = (Index("ix_customer_account_email", "account_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(8), nullable=True)
    contact_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    postcode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    optional_messages: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_on_goods_receipt: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(TenantOwned, db.Model):
    """An order of one customer in one shop, with its current state."""

    __table_args__ = (
        UniqueConstraint("account_id", "number"),
        Index("ix_order_account_created", "account_id", "created_at"),
        # The order list, newest first, reads the index in order and stops after one page.
        # SQLite's (account_id) index holds the rowid and serves it as well; PostgreSQL's does
        # not, and sorted all of an account's orders for every page (190 ms at 100,000).
        Index("ix_order_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fulfillment: Mapped[str] = mapped_column(String(8), default="own")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    payment_method: Mapped[str] = mapped_column(String(16), default="paid")
    payment_due_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(24), default="open")
    pickup: Mapped[bool] = mapped_column(Boolean, default=False)
    review_mail: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # "email" | "sms" | "both" | "none"; None: the customer's default (bookshop flow).
    notify_on_goods_receipt: Mapped[str | None] = mapped_column(String(8), nullable=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    tracking_carrier: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tracking_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivery_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    shop: Mapped[Shop] = relationship()
    customer: Mapped[Customer] = relationship()
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.position"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderEvent.id"
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Document.id"
    )

    @property
    def total(self) -> Decimal | None:
        total = Decimal("0")
        for item in self.items:
            if item.unit_price is None:
                return None
            total += item.unit_price * item.quantity
        return total if self.items else None

    @property
    def completely_delivered(self) -> bool:
        return bool(self.items) and all(i.delivered_quantity >= i.quantity for i in self.items)


class OrderItem(TenantOwned, db.Model):
    """One line of an order."""

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    delivered_quantity: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="items")


class OrderEvent(TenantOwned, db.Model):
    """A state change reported for an order; recorded even when it does not move the state."""

    # Every event asks whether its order already had one of its type (orders.services
    # _APPLIED_BEFORE, scoped to the account like every query). Given only single-column
    # indexes, or (order_id, type), SQLite's planner took account_id's and read every event
    # of the account; this one extends account_id's, so the planner always prefers it.
    __table_args__ = (Index("ix_order_event_account_order_type", "account_id", "order_id", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="api")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state_before: Mapped[str] = mapped_column(String(24))
    state_after: Mapped[str] = mapped_column(String(24))
    # "applied": moved the state or updated data; "repeated": same type seen before;
    # "out_of_order": not allowed from the current state, recorded only.
    outcome: Mapped[str] = mapped_column(String(16), default="applied")

    order: Mapped[Order] = relationship(back_populates="events")


class Document(TenantOwned, db.Model):
    """A PDF belonging to an order (invoice, credit note, delivery note), stored on disk."""

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="documents")
