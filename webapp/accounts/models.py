"""Account (tenant), users, API keys, shops, sender accounts and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.dbtypes import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.tenancy import TenantOwned

ROLES = ("owner", "admin", "agent")
SHOP_KINDS = ("amazon", "webshop", "store")
CHANNELS = ("email", "sms", "both", "none")
SMTP_SECURITY = ("none", "starttls", "ssl")


class Account(db.Model):
    """One merchant company; the tenant boundary."""

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    service_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    default_channel: Mapped[str] = mapped_column(String(8), default="email")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5), default="21:00")
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5), default="08:00")
    business_days: Mapped[str] = mapped_column(String(20), default="0,1,2,3,4")
    status_link_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    merchant_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(UserMixin, TenantOwned, db.Model):
    """A person who logs into the admin UI of one account."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Bumped on logout and password change; part of the session identity so old cookies die.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active


class ApiKey(TenantOwned, db.Model):
    """A bearer key for the HTTP API; only its hash and a visible prefix are stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="default")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    account: Mapped[Account] = relationship()


class Shop(TenantOwned, db.Model):
    """A sales channel of the account: an Amazon marketplace, a web shop or a store."""

    __table_args__ = (UniqueConstraint("account_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    marketplace: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    contact_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    contact_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    website: Mapped[str | None] = mapped_column(String(300), nullable=True)
    brand_color: Mapped[str] = mapped_column(String(7), default="#1f6feb")
    logo_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status_sections: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status_link_max_opens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    invoices_uploaded_to_amazon: Mapped[bool] = mapped_column(Boolean, default=False)
    sender_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("sender_account.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sender_account: Mapped[SenderAccount | None] = relationship(
        foreign_keys=[sender_account_id], post_update=True
    )

    @property
    def is_amazon(self) -> bool:
        return self.kind == "amazon"


class SenderAccount(TenantOwned, db.Model):
    """An outgoing SMTP account (or SMS provider account) used to send messages."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(8), default="email")
    smtp_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    smtp_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    smtp_security: Mapped[str] = mapped_column(String(10), default="none")
    smtp_username: Mapped[str | None] = mapped_column(String(255), nullable=True)
    secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    from_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    from_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reply_to: Mapped[str | None] = mapped_column(String(254), nullable=True)
    bcc: Mapped[list[str]] = mapped_column(JSON, default=list)
    provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    provider_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sender_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    shop_id: Mapped[int | None] = mapped_column(
        ForeignKey("shop.id", ondelete="SET NULL"), nullable=True
    )
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    shop: Mapped[Shop | None] = relationship(foreign_keys=[shop_id])


class AuditLog(TenantOwned, db.Model):
    """Who changed what, when; written by services for every configuration change."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
