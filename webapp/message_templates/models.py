"""Message templates (purpose + channel) and their variants per language, shop or marketplace."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.dbtypes import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.tenancy import TenantOwned

TEMPLATE_CHANNELS = ("email", "sms")
ITEMS_LAYOUTS = ("table", "list")
MARKETPLACE_KINDS = ("amazon",)


class MessageTemplate(TenantOwned, db.Model):
    """A message for one purpose (an event type or a workflow) on one channel."""

    __table_args__ = (Index("ix_message_template_purpose", "account_id", "purpose", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(8), default="email")
    items_layout: Mapped[str] = mapped_column(String(8), default="table")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    variants: Mapped[list[TemplateVariant]] = relationship(
        back_populates="template", cascade="all, delete-orphan", order_by="TemplateVariant.id"
    )


class TemplateVariant(TenantOwned, db.Model):
    """The texts of a template in one language, optionally for one shop or marketplace kind.

    `checked_checksum` is the checksum of the content at its last successful check; sending
    refuses (or first re-checks) a variant whose content no longer matches it.
    """

    __table_args__ = (Index("ix_template_variant_lookup", "template_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("message_template.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(8))
    shop_id: Mapped[int | None] = mapped_column(
        ForeignKey("shop.id", ondelete="CASCADE"), nullable=True
    )
    marketplace_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    template: Mapped[MessageTemplate] = relationship(back_populates="variants")
