"""StatusLink: one signed, expiring, revocable link to an order's status page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.dbtypes import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.tenancy import TenantOwned

LINK_SOURCES = ("message", "fallback", "manual")


class StatusLink(TenantOwned, db.Model):
    """A link to one order's status page; the public token carries only `link_id`."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random, unguessable; the signed token wraps it so a forged id never reaches the database.
    link_id: Mapped[str] = mapped_column(String(43), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"), nullable=True, index=True
    )
    source: Mapped[str] = mapped_column(String(16), default="message")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    max_opens: Mapped[int | None] = mapped_column(Integer, nullable=True)
