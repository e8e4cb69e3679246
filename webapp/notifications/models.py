"""The outbox: one Message row per e-mail or SMS to one recipient, and its attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.dbtypes import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.orders.models import Order
from webapp.tenancy import TenantOwned

MESSAGE_STATES = (
    "review",
    "scheduled",
    "sending",
    "sent",
    "failed",
    "cancelled",
    "suppressed",
    # An SMS whose send ended without a clear answer: reconciled with the provider, never
    # resent blindly.
    "unknown",
)
RULE_MODES = ("automatic", "review")
RULE_CHANNELS = ("email", "sms")
MAX_DELAY_MINUTES = 30 * 24 * 60

# Every order a message is about (one for most messages, several for coalesced ones). The
# dedupe key of the (event, rule, recipient) that put the order there is unique, so replaying
# an event can never attach it twice either.
message_order = Table(
    "message_order",
    db.Model.metadata,
    Column("message_id", ForeignKey("message.id", ondelete="CASCADE"), primary_key=True),
    # Indexed on its own: "the messages of this order" (order page, once-per-order checks).
    Column("order_id", ForeignKey("order.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("event_id", ForeignKey("order_event.id", ondelete="SET NULL"), nullable=True),
    Column("dedupe_key", String(200), nullable=False, unique=True),
)


class Rule(TenantOwned, db.Model):
    """When an event happens to a matching order, send a template over a channel."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    event_type: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(8), default="email")
    # The template: a MessageTemplate id when pinned, else the purpose looked up at render time.
    template_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    purpose: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(12), default="automatic")
    # Non-essential messages (reviews, marketing-like reminders) respect the customer's opt-out.
    essential: Mapped[bool] = mapped_column(Boolean, default=True)
    # Conditions; an empty list means "any".
    shop_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    marketplaces: Mapped[list[str]] = mapped_column(JSON, default=list)
    fulfillments: Mapped[list[str]] = mapped_column(JSON, default=list)
    payment_methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    complete_delivery_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: any order; True: pickup orders only; False: no pickup orders.
    pickup: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Send to the customer's contact person ("attention of") when one is set.
    to_contact_person: Mapped[bool] = mapped_column(Boolean, default=False)
    # Timing.
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # E-mail at once is expected at any hour; SMS and reminders wait for the morning.
    respect_quiet_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    business_days_only: Mapped[bool] = mapped_column(Boolean, default=False)
    coalesce_minutes: Mapped[int] = mapped_column(Integer, default=0)
    repeat_interval_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    repeat_max_count: Mapped[int] = mapped_column(Integer, default=1)
    stop_events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Extras.
    document_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    attach_account_files: Mapped[bool] = mapped_column(Boolean, default=True)
    # The order's status page as one self-contained HTML file ("customer status file").
    attach_status_file: Mapped[bool] = mapped_column(Boolean, default=False)
    bcc: Mapped[list[str]] = mapped_column(JSON, default=list)
    copy_to_merchant: Mapped[bool] = mapped_column(Boolean, default=False)
    # Workflow options.
    # Orders of these fulfilment types go to the review queue even when the rule is automatic
    # ("automatic only for FBA, FBM by hand": ["FBM"]).
    review_fulfillments: Mapped[list[str]] = mapped_column(JSON, default=list)
    # At most one message of this rule's purpose and channel per order (e.g. one shipping
    # confirmation whether it came from "shipped" or from the printed delivery note).
    once_per_order: Mapped[bool] = mapped_column(Boolean, default=False)
    # Review requests: whether an order without its own review_mail setting gets one.
    review_mail_default: Mapped[bool] = mapped_column(Boolean, default=True)
    # Marks rules installed by install_default_rules, so installing again changes nothing.
    default_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("account_id", "default_key"),)


class AttachmentFile(TenantOwned, db.Model):
    """A file of the account (terms, withdrawal form) attached to messages that match it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Conditions; an empty list means "any".
    marketplaces: Mapped[list[str]] = mapped_column(JSON, default=list)
    fulfillments: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(TenantOwned, db.Model):
    """One e-mail or SMS to one recipient about one or more orders."""

    __table_args__ = (
        Index("ix_message_due", "state", "send_after"),
        Index("ix_message_account_created", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique per (event, rule, recipient): a replayed event can never add a second message.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("order.id", ondelete="CASCADE"), nullable=True, index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_event.id", ondelete="SET NULL"), nullable=True
    )
    rule_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    sender_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("sender_account.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(8), default="email")
    state: Mapped[str] = mapped_column(String(12), default="scheduled")
    purpose: Mapped[str | None] = mapped_column(String(40), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    to_address: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    bcc: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str | None] = mapped_column(String(500), nullable=True)
    body_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    send_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # [{"type": "document"|"file", "id": int}], resolved when the message is planned.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    template_variant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    repeat_index: Mapped[int] = mapped_column(Integer, default=0)
    # Open for more orders of the same customer until this time (coalescing rules only).
    coalesce_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The SMS provider's id of the sent message, kept for reconciliation.
    provider_message_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Set (and committed) just before an SMS goes to the provider: a worker that dies after
    # this point may have sent it, so its message is reconciled instead of sent again.
    provider_call_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    orders: Mapped[list[Order]] = relationship(secondary=message_order, order_by="Order.id")
    attempt_log: Mapped[list[MessageAttempt]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="MessageAttempt.id"
    )


class MessageAttempt(TenantOwned, db.Model):
    """One delivery attempt of a message with the server's reply."""

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))
    reply_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)

    message: Mapped[Message] = relationship(back_populates="attempt_log")


QUICK_REPLY_CHANNELS = ("email", "sms")


class QuickReply(TenantOwned, db.Model):
    """A ready answer sent from an order in two clicks: a template purpose or a fixed text."""

    __table_args__ = (UniqueConstraint("account_id", "default_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(8), default="email")
    # Either a template purpose (rendered in the customer's language) or a fixed text.
    purpose: Mapped[str | None] = mapped_column(String(40), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(500), nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Kinds of the order's own documents attached (e.g. ["invoice"]).
    document_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
