"""The demo account: shops, a sender account, an admin user and an API key, seeded idempotently."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from webapp.accounts.models import Account, SenderAccount, Shop, User
from webapp.accounts.services import (
    Conflict,
    create_account,
    create_api_key,
    create_sender_account,
    create_shop,
    create_user,
    get_account_by_slug,
    get_shop_by_code,
    normalise_email,
    parse_smtp_url,
    record_audit,
    set_user_password,
)
from webapp.crypto import encrypt_secret
from webapp.extensions import db
from webapp.tenancy import get_scoped

DEMO_SLUG = "demo"
DEMO_ACCOUNT_NAME = "Demo GmbH"
DEMO_ADMIN_EMAIL = "admin@demo.example"
DEMO_SENDER_NAME = "Demo SMTP"
DEMO_FROM_EMAIL = "shop@demo.example"


@dataclass(frozen=True)
class DemoShop:
    code: str
    name: str
    kind: str
    marketplace: str | None
    language: str


DEMO_SHOPS: tuple[DemoShop, ...] = (
    DemoShop("amazon-de", "Demo Amazon.de", "amazon", "amazon.de", "de"),
    DemoShop("webshop", "Demo Web Shop", "webshop", None, "de"),
    DemoShop("store", "Demo Bookshop", "store", None, "de"),
)

# Further seeding (default templates, rules, ...) registers itself here. Each step receives the
# demo account after its shops and sender account exist, may commit, and must be idempotent:
# `statuslink demo` refreshes an existing demo account by running every step again.
DEMO_SEED_STEPS: list[Callable[[Account], None]] = []


@dataclass(frozen=True)
class DemoCredentials:
    """What `statuslink demo` prints: how to log in and call the API of the demo account."""

    account: str
    api_key: str
    admin_email: str
    admin_password: str
    shops: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `statuslink demo --json`."""
        return asdict(self)


def smtp_security_for_url(url: str) -> str:
    """The usual transport security for an SMTP URL: ssl for smtps/465, starttls for 587."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme == "smtps" or port == 465:
        return "ssl"
    if port == 587:
        return "starttls"
    return "none"


def mail_catcher_url() -> str:
    """The SMTP URL of the local development mail catcher."""
    return f"smtp://127.0.0.1:{current_app.config['MAIL_CATCHER_PORT']}"


def _ensure_sender(account: Account, smtp_url: str) -> SenderAccount:
    security = smtp_security_for_url(smtp_url)
    sender = get_scoped(SenderAccount, account.id, name=DEMO_SENDER_NAME)
    if sender is None:
        return create_sender_account(
            account,
            DEMO_SENDER_NAME,
            smtp_url=smtp_url,
            from_email=DEMO_FROM_EMAIL,
            security=security,
            from_name="Demo Shop",
            actor="demo",
        )
    target = parse_smtp_url(smtp_url)
    sender.smtp_host = target.host
    sender.smtp_port = target.port
    sender.smtp_security = security
    sender.smtp_username = target.username
    sender.secret_encrypted = encrypt_secret(target.password) if target.password else None
    sender.enabled = True
    db.session.commit()
    return sender


def _ensure_shop(account: Account, spec: DemoShop) -> Shop:
    shop = get_shop_by_code(account.id, spec.code)
    if shop is None:
        shop = create_shop(
            account,
            spec.code,
            spec.name,
            spec.kind,
            marketplace=spec.marketplace,
            language=spec.language,
            actor="demo",
        )
    return shop


def _ensure_admin(account: Account, password: str) -> User:
    email = normalise_email(DEMO_ADMIN_EMAIL)
    user = db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none()
    if user is None:
        return create_user(account, email, password, role="owner", name="Demo Admin")
    if user.account_id != account.id:
        raise Conflict("admin_email", f"{email} belongs to another account")
    user.role = "owner"
    user.active = True
    set_user_password(user, password)
    return user


def seed_demo_account(smtp_url: str | None = None) -> DemoCredentials:
    """Create or refresh the demo account and return fresh credentials for it.

    Creates account `demo` with an amazon.de shop, a web shop and a store, one SMTP sender
    account (at `smtp_url`, else the local mail catcher) used by every shop, runs every step in
    `DEMO_SEED_STEPS`, (re)sets the owner's password to a new random one and creates a new API
    key. Safe to run again: existing rows are reused, nothing is duplicated. Commits several
    times (through the account services); enqueues nothing.
    """
    smtp_url = smtp_url or mail_catcher_url()
    parse_smtp_url(smtp_url)  # validate before anything is written

    account = get_account_by_slug(DEMO_SLUG)
    if account is None:
        account = create_account(DEMO_ACCOUNT_NAME, DEMO_SLUG, default_language="de")

    shops = [_ensure_shop(account, spec) for spec in DEMO_SHOPS]
    sender = _ensure_sender(account, smtp_url)
    for shop in shops:
        shop.sender_account_id = sender.id
    db.session.commit()

    for step in DEMO_SEED_STEPS:
        step(account)

    password = secrets.token_urlsafe(12)
    admin = _ensure_admin(account, password)
    api_key = create_api_key(account, "demo", actor="demo")
    record_audit(account.id, "demo.seed", actor="cli", target=DEMO_SLUG)
    db.session.commit()

    return DemoCredentials(
        account=account.slug,
        api_key=api_key,
        admin_email=admin.email,
        admin_password=password,
        shops=[
            {
                "code": shop.code,
                "kind": shop.kind,
                "marketplace": shop.marketplace,
                "language": shop.language,
            }
            for shop in shops
        ],
    )
