"""Account, user, API key, shop and sender-account services."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from argon2 import PasswordHasher
from argon2 import profiles as argon2_profiles
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import bindparam, func, select

from webapp.accounts.models import (
    CHANNELS,
    ROLES,
    SHOP_KINDS,
    SMTP_SECURITY,
    Account,
    ApiKey,
    AuditLog,
    SenderAccount,
    Shop,
    User,
)
from webapp.config import ADMIN_LANGUAGES, SUPPORTED_LANGUAGES
from webapp.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.i18n import N_
from webapp.rawsql import DriverStatement
from webapp.tenancy import NotFound, get_scoped, get_scoped_or_raise, scoped


def _hasher() -> PasswordHasher:
    """The app's argon2id hasher: RFC 9106 parameters, or the cheapest profile under TESTING."""
    hasher = current_app.extensions.get("statuslink.password_hasher")
    if hasher is None:
        if current_app.config.get("TESTING"):
            hasher = PasswordHasher.from_parameters(argon2_profiles.CHEAPEST)
        else:
            hasher = PasswordHasher()
        current_app.extensions["statuslink.password_hasher"] = hasher
    return hasher


def _dummy_hash() -> str:
    # A valid hash of a random password: verifying against it when the user does not exist
    # keeps the response time of "unknown user" equal to "wrong password".
    cached = current_app.extensions.get("statuslink.dummy_hash")
    if cached is None:
        cached = _hasher().hash(secrets.token_urlsafe(16))
        current_app.extensions["statuslink.dummy_hash"] = cached
    return cached


SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
API_KEY_RE = re.compile(r"^sl_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{20,})$")


class ValidationError(ValueError):
    """Bad input for a service; `field` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Conflict(ValueError):
    """The thing to create already exists."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- helpers -------------------------------------------------------------------------------


def normalise_email(value: str, field: str = "email", *, sender: bool = False) -> str:
    """Validate an e-mail address syntactically and return its normalised form.

    An address messages are sent from or copied to (`sender`) must not need SMTPUTF8
    (characters outside ASCII before the @), which delivery does not support: every message
    would fail on it. A customer's address may: only that customer's messages fail, with the
    reason."""
    try:
        return validate_email(
            value, check_deliverability=False, allow_smtputf8=not sender
        ).normalized
    except EmailNotValidError as exc:
        raise ValidationError(field, str(exc)) from exc


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Check a password against its hash in constant time."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def record_audit(
    account_id: int,
    action: str,
    *,
    actor: str,
    target: str | None = None,
    user_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit-log row to the session (committed with the caller's change)."""
    db.session.add(
        AuditLog(
            account_id=account_id,
            user_id=user_id,
            actor=actor,
            action=action,
            target=target,
            details=details or {},
        )
    )


# --- accounts and users --------------------------------------------------------------------


def get_account_by_slug(slug: str) -> Account | None:
    """The account with this slug, or None."""
    return db.session.execute(select(Account).filter_by(slug=slug)).scalar_one_or_none()


def create_account(name: str, slug: str, *, default_language: str = "en") -> Account:
    """Create an account. Commits."""
    if not name.strip():
        raise ValidationError("name", "must not be empty")
    if not SLUG_RE.match(slug):
        raise ValidationError("slug", "use 2-63 lower-case letters, digits and '-'")
    if default_language not in SUPPORTED_LANGUAGES:
        raise ValidationError("language", f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
    if get_account_by_slug(slug):
        raise Conflict("slug", f"an account with slug {slug!r} already exists")
    account = Account(name=name.strip(), slug=slug, default_language=default_language)
    db.session.add(account)
    db.session.flush()
    record_audit(account.id, "account.create", actor="cli", target=slug)
    db.session.commit()
    return account


def validate_password(password: str) -> None:
    """Refuse passwords that are too short to be safe."""
    if len(password) < 10:
        raise ValidationError("password", "must be at least 10 characters long")


def create_user(
    account: Account,
    email: str,
    password: str,
    *,
    role: str = "agent",
    name: str = "",
    actor: str = "cli",
    actor_id: int | None = None,
) -> User:
    """Create a user in an account with a hashed password. Commits."""
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    email = normalise_email(email)
    validate_password(password)
    if db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none():
        raise Conflict("email", f"a user with e-mail {email} already exists")
    user = User(
        account_id=account.id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    record_audit(
        account.id,
        "user.create",
        actor=actor,
        user_id=actor_id,
        target=email,
        details={"role": role},
    )
    db.session.commit()
    return user


def set_user_password(user: User, password: str) -> None:
    """Set a new password and end every existing session of the user. Commits."""
    validate_password(password)
    user.password_hash = hash_password(password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    db.session.commit()


@dataclass
class LoginResult:
    user: User | None
    locked_seconds: int = 0


def _lockout_seconds(failures: int) -> int:
    """The lock after `failures` failed logins: 0 below the limit, then 30 s, 60 s, ... 1 h."""
    max_failures = current_app.config["LOGIN_MAX_FAILURES"]
    if failures < max_failures:
        return 0
    steps = failures - max_failures
    return int(min(current_app.config["LOGIN_LOCKOUT_SECONDS"] * (2**steps), 3600))


def _unknown_login_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    # The rate limiter's namespace keeps the counters of separate test apps apart.
    namespace = current_app.config.get("STATUS_RATE_NAMESPACE", "")
    return f"statuslink:login-fail:{namespace}:{digest}"


def _fail_unknown_login(email: str, password: str) -> LoginResult:
    """A failed login for an address without an active user, locked exactly like a user's.

    Without this, "Too many failed attempts" would only ever appear for existing addresses
    and tell an attacker which ones exist. The counter lives in Redis (there is no row to keep
    it in); when Redis is down the failure is simply not counted.
    """
    from redis.exceptions import RedisError

    from webapp.queue import get_redis

    key = _unknown_login_key(email)
    try:
        redis = get_redis()
        remaining_ms = int(redis.pttl(f"{key}:lock"))
        if remaining_ms > 0:
            return LoginResult(None, remaining_ms // 1000 + 1)
        verify_password(_dummy_hash(), password)
        pipe = redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 24 * 3600)
        failures = int(pipe.execute()[0])
        locked = _lockout_seconds(failures)
        if locked:
            redis.set(f"{key}:lock", "1", ex=locked)
        return LoginResult(None, locked)
    except RedisError:
        verify_password(_dummy_hash(), password)
        return LoginResult(None)


def authenticate_user(email: str, password: str) -> LoginResult:
    """Check a login; throttles each address with a lockout that grows per failure.

    Known users keep their counter in the database, unknown or inactive addresses in Redis,
    so both get the same answers. Commits.
    """
    try:
        email = normalise_email(email)
    except ValidationError:
        return _fail_unknown_login(email, password)
    user = db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none()
    if user is None or not user.active:
        return _fail_unknown_login(email, password)
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        return LoginResult(None, int((user.locked_until - now).total_seconds()) + 1)
    if verify_password(user.password_hash, password):
        if _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        db.session.commit()
        return LoginResult(user)
    user.failed_logins += 1
    locked = _lockout_seconds(user.failed_logins)
    if locked:
        user.locked_until = now + timedelta(seconds=locked)
        record_audit(user.account_id, "user.locked", actor=email, details={"seconds": locked})
    db.session.commit()
    return LoginResult(None, locked)


def load_user_from_session(identity: str) -> User | None:
    """The user for a session identity `id:version`; None when the session was ended."""
    user_id, _, version = identity.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def end_user_sessions(user: User) -> None:
    """Invalidate every session cookie of this user (logout everywhere). Commits."""
    user.session_version += 1
    db.session.commit()


def set_user_language(user: User, language: str) -> None:
    """Set the language of the user's admin UI (one of ADMIN_LANGUAGES). Commits."""
    if language not in ADMIN_LANGUAGES:
        raise ValidationError("language", f"must be one of {', '.join(ADMIN_LANGUAGES)}")
    user.language = language
    db.session.commit()


# --- API keys ------------------------------------------------------------------------------


def _hash_api_key(key: str) -> str:
    # API keys carry 190+ bits of randomness, so a fast keyed hash is sufficient and lets
    # every request authenticate without argon2's deliberate slowness.
    return hmac.new(b"statuslink.api-key", key.encode(), hashlib.sha256).hexdigest()


def create_api_key(account: Account, name: str = "default", *, actor: str = "cli") -> str:
    """Create an API key and return it in full; only its hash is stored. Commits."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(8))
    key = f"sl_{prefix}_{secrets.token_urlsafe(32)}"
    db.session.add(
        ApiKey(account_id=account.id, name=name[:100], prefix=prefix, key_hash=_hash_api_key(key))
    )
    record_audit(
        account.id, "apikey.create", actor=actor, target=f"sl_{prefix}", details={"name": name}
    )
    db.session.commit()
    return key


@dataclass(frozen=True)
class ApiKeyIdentity:
    """What an API request needs of its key: which key, whose, and when it was last used."""

    id: int
    account_id: int
    last_used_at: datetime | None


# Every API request runs this: on the driver's cursor, five columns, no ORM object.
_KEY_BY_PREFIX = DriverStatement(
    select(
        ApiKey.id, ApiKey.account_id, ApiKey.key_hash, ApiKey.revoked_at, ApiKey.last_used_at
    ).where(ApiKey.prefix == bindparam("prefix"))
)


def identify_api_key(key: str) -> ApiKeyIdentity | None:
    """The active API key a presented key is, or None (unknown, revoked or wrong secret)."""
    match = API_KEY_RE.match(key or "")
    if not match:
        return None
    row = next(iter(_KEY_BY_PREFIX.records({"prefix": match.group(1)})), None)
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(row["key_hash"], _hash_api_key(key)):
        return None
    return ApiKeyIdentity(row["id"], row["account_id"], row["last_used_at"])


def authenticate_api_key(key: str) -> ApiKey | None:
    """The active API key row for a presented key, or None."""
    identity = identify_api_key(key)
    return db.session.get(ApiKey, identity.id) if identity is not None else None


def revoke_api_key(account_id: int, key_id: int, *, actor: str) -> None:
    """Revoke an API key of this account. Commits."""
    row = get_scoped(ApiKey, account_id, id=key_id)
    if row is None:
        raise ValidationError("id", "no such API key")
    row.revoked_at = utcnow()
    record_audit(account_id, "apikey.revoke", actor=actor, target=f"sl_{row.prefix}")
    db.session.commit()


# --- shops and sender accounts -------------------------------------------------------------


def list_shops(account_id: int) -> list[Shop]:
    """The account's shops by code."""
    return list(db.session.execute(scoped(Shop, account_id).order_by(Shop.code)).scalars())


def list_sender_accounts(account_id: int) -> list[SenderAccount]:
    """The account's sender accounts by name."""
    stmt = scoped(SenderAccount, account_id).order_by(SenderAccount.name)
    return list(db.session.execute(stmt).scalars())


def get_shop_by_code(account_id: int, code: str) -> Shop | None:
    """The shop with this code in the account, or None."""
    return get_scoped(Shop, account_id, code=code)


def create_shop(
    account: Account,
    code: str,
    name: str,
    kind: str,
    *,
    marketplace: str | None = None,
    language: str | None = None,
    contact_email: str | None = None,
    actor: str = "cli",
) -> Shop:
    """Create a shop in an account. Commits."""
    if not CODE_RE.match(code):
        raise ValidationError("code", "use letters, digits, '.', '_' or '-' (max. 64)")
    if not name.strip():
        raise ValidationError("name", "must not be empty")
    if kind not in SHOP_KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(SHOP_KINDS)}")
    if kind == "amazon" and not marketplace:
        raise ValidationError("marketplace", "an Amazon shop needs its marketplace, e.g. amazon.de")
    language = language or _language_for_marketplace(marketplace) or account.default_language
    if language not in SUPPORTED_LANGUAGES:
        raise ValidationError("language", f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
    if contact_email:
        contact_email = normalise_email(contact_email, "contact_email")
    if get_shop_by_code(account.id, code):
        raise Conflict("code", f"a shop with code {code!r} already exists")
    shop = Shop(
        account_id=account.id,
        code=code,
        name=name.strip(),
        kind=kind,
        marketplace=marketplace,
        language=language,
        contact_email=contact_email,
        status_sections={},
    )
    db.session.add(shop)
    record_audit(account.id, "shop.create", actor=actor, target=code)
    db.session.commit()
    return shop


_MARKETPLACE_LANGUAGES = {
    "de": "de",
    "at": "de",
    "fr": "fr",
    "it": "it",
    "es": "es",
    "nl": "nl",
    "pl": "pl",
    "se": "sv",
    "co.uk": "en",
    "com": "en",
    "ie": "en",
    "com.be": "fr",
}


def _language_for_marketplace(marketplace: str | None) -> str | None:
    if not marketplace or "." not in marketplace:
        return None
    return _MARKETPLACE_LANGUAGES.get(marketplace.split(".", 1)[1])


@dataclass
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """Parse `smtp://[user:pass@]host:port` into its parts."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValidationError("smtp", "expected smtp://[user:pass@]host:port")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise ValidationError("smtp", "the port must be a number between 1 and 65535") from exc
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def create_sender_account(
    account: Account,
    name: str,
    *,
    smtp_url: str,
    from_email: str,
    security: str = "none",
    from_name: str | None = None,
    bcc: list[str] | None = None,
    shop: Shop | None = None,
    actor: str = "cli",
) -> SenderAccount:
    """Create an SMTP sender account; its password is stored encrypted. Commits.

    When `shop` is given and the shop has no sender yet, it becomes the shop's sender.
    """
    if not name.strip():
        raise ValidationError("name", "must not be empty")
    target = parse_smtp_url(smtp_url)
    if security not in SMTP_SECURITY:
        raise ValidationError("security", f"must be one of {', '.join(SMTP_SECURITY)}")
    if target.port == 465 and smtp_url.startswith("smtps"):
        security = "ssl"
    from_email = normalise_email(from_email, "from_email", sender=True)
    bcc_list = [normalise_email(b.strip(), "bcc", sender=True) for b in (bcc or []) if b.strip()]
    if from_name and any(c in from_name for c in "\r\n"):
        raise ValidationError("from_name", "must not contain line breaks")
    sender = SenderAccount(
        account_id=account.id,
        name=name.strip(),
        channel="email",
        smtp_host=target.host,
        smtp_port=target.port,
        smtp_security=security,
        smtp_username=target.username,
        secret_encrypted=encrypt_secret(target.password) if target.password else None,
        from_email=from_email,
        from_name=from_name,
        bcc=bcc_list,
        shop_id=shop.id if shop else None,
        provider_settings={},
    )
    db.session.add(sender)
    db.session.flush()
    if shop is not None and shop.sender_account_id is None:
        shop.sender_account_id = sender.id
    record_audit(account.id, "sender.create", actor=actor, target=name)
    db.session.commit()
    return sender


# --- settings pages: shops -----------------------------------------------------------------

STATUS_SECTIONS = (
    "items",
    "prices",
    "delivery_date",
    "documents",
    "tracking",
    "contact",
    "timeline",
)
HEX_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
MARKETPLACE_RE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
PHONE_RE = re.compile(r"^\+?[0-9 ()/.-]{3,40}$")
MAX_LOGO_BYTES = 512 * 1024
_LOGO_KINDS = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}


@dataclass
class ShopSettings:
    """Everything the shop form edits (the code is fixed once the shop exists)."""

    name: str
    kind: str
    marketplace: str | None = None
    language: str = "en"
    country: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    website: str | None = None
    brand_color: str = "#1f6feb"
    status_sections: dict[str, bool] | None = None
    status_link_max_opens: int | None = None
    invoices_uploaded_to_amazon: bool = False
    sender_account_id: int | None = None


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _apply_shop_settings(account_id: int, shop: Shop, settings: ShopSettings) -> None:
    name = settings.name.strip()
    if not name:
        raise ValidationError("name", N_("must not be empty"))
    if len(name) > 200:
        raise ValidationError("name", N_("must be at most 200 characters long"))
    if settings.kind not in SHOP_KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(SHOP_KINDS)}")
    marketplace = _blank_to_none(settings.marketplace)
    if marketplace:
        marketplace = marketplace.lower()
        if not MARKETPLACE_RE.match(marketplace) or len(marketplace) > 64:
            raise ValidationError("marketplace", N_("enter a domain such as amazon.de"))
    if settings.kind == "amazon" and not marketplace:
        raise ValidationError(
            "marketplace", N_("an Amazon shop needs its marketplace, e.g. amazon.de")
        )
    if settings.language not in SUPPORTED_LANGUAGES:
        raise ValidationError("language", f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
    country = _blank_to_none(settings.country)
    if country:
        country = country.upper()
        if not COUNTRY_RE.match(country):
            raise ValidationError("country", N_("use the two-letter country code, e.g. DE"))
    contact_email = _blank_to_none(settings.contact_email)
    if contact_email:
        contact_email = normalise_email(contact_email, "contact_email")
    phone = _blank_to_none(settings.contact_phone)
    if phone and not PHONE_RE.match(phone):
        raise ValidationError("contact_phone", N_("use digits, spaces and an optional leading +"))
    website = _blank_to_none(settings.website)
    if website:
        parts = urlsplit(website)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(website) > 300:
            raise ValidationError("website", N_("enter a full address starting with https://"))
    colour = (settings.brand_color or "").strip()
    if not HEX_COLOUR_RE.match(colour):
        raise ValidationError("brand_color", N_("use a colour such as #1f6feb"))
    max_opens = settings.status_link_max_opens
    if max_opens is not None and not 1 <= max_opens <= 100000:
        raise ValidationError("status_link_max_opens", N_("must be between 1 and 100000"))
    sender_id = settings.sender_account_id
    if sender_id is not None and get_scoped(SenderAccount, account_id, id=sender_id) is None:
        raise ValidationError("sender_account_id", N_("no such sender account"))
    sections = settings.status_sections or {}
    shop.name = name
    shop.kind = settings.kind
    shop.marketplace = marketplace
    shop.language = settings.language
    shop.country = country
    shop.contact_email = contact_email
    shop.contact_phone = phone
    shop.website = website
    shop.brand_color = colour.lower()
    shop.status_sections = {key: bool(sections.get(key, False)) for key in STATUS_SECTIONS}
    shop.status_link_max_opens = max_opens
    shop.invoices_uploaded_to_amazon = bool(settings.invoices_uploaded_to_amazon)
    shop.sender_account_id = sender_id


def get_shop(account_id: int, shop_id: int) -> Shop:
    """One shop of the account; raises NotFound for unknown ids and other accounts' shops."""
    return get_scoped_or_raise(Shop, account_id, id=shop_id)


def create_shop_with_settings(
    account: Account, code: str, settings: ShopSettings, *, actor: str, user_id: int | None = None
) -> Shop:
    """Create a shop with every setting of the shop form. Commits."""
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise ValidationError("code", N_("use letters, digits, '.', '_' or '-' (max. 64)"))
    shop = Shop(account_id=account.id, code=code, name="", kind="webshop", status_sections={})
    _apply_shop_settings(account.id, shop, settings)
    if get_shop_by_code(account.id, code):
        raise Conflict("code", f"a shop with code {code!r} already exists")
    db.session.add(shop)
    record_audit(account.id, "shop.create", actor=actor, user_id=user_id, target=code)
    db.session.commit()
    return shop


def update_shop(
    account_id: int, shop_id: int, settings: ShopSettings, *, actor: str, user_id: int | None = None
) -> Shop:
    """Change a shop's settings (the code stays). Commits."""
    shop = get_shop(account_id, shop_id)
    before = _shop_snapshot(shop)
    try:
        _apply_shop_settings(account_id, shop, settings)
    except ValidationError:
        db.session.rollback()
        raise
    after = _shop_snapshot(shop)
    changed = sorted(k for k in after if after[k] != before[k])
    record_audit(
        account_id,
        "shop.update",
        actor=actor,
        user_id=user_id,
        target=shop.code,
        details={"changed": changed},
    )
    db.session.commit()
    return shop


def _shop_snapshot(shop: Shop) -> dict[str, Any]:
    return {
        "name": shop.name,
        "kind": shop.kind,
        "marketplace": shop.marketplace,
        "language": shop.language,
        "country": shop.country,
        "contact_email": shop.contact_email,
        "contact_phone": shop.contact_phone,
        "website": shop.website,
        "brand_color": shop.brand_color,
        "status_sections": dict(shop.status_sections or {}),
        "status_link_max_opens": shop.status_link_max_opens,
        "invoices_uploaded_to_amazon": shop.invoices_uploaded_to_amazon,
        "sender_account_id": shop.sender_account_id,
    }


def _logos_dir() -> Path:
    return Path(current_app.config["LOGOS_DIR"])


def shop_logo_file(shop: Shop) -> Path | None:
    """The stored logo file of a shop (inside LOGOS_DIR), when there is one."""
    if not shop.logo_path or shop.logo_path.startswith("data:"):
        return None
    root = _logos_dir().resolve()
    path = (root / shop.logo_path).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def check_logo_image(data: bytes) -> str:
    """Refuse anything but a PNG or JPEG of at most MAX_LOGO_BYTES; returns its file suffix.

    The type is taken from the content, never from the uploaded name.
    """
    if not data:
        raise ValidationError("logo", N_("the file is empty"))
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError("logo", N_("the file is larger than 512 KB"))
    suffix = next((s for magic, s in _LOGO_KINDS.items() if data.startswith(magic)), None)
    if suffix is None:
        raise ValidationError("logo", N_("only PNG and JPEG images are accepted"))
    return suffix


def set_shop_logo(
    account_id: int, shop_id: int, data: bytes, *, actor: str, user_id: int | None = None
) -> Shop:
    """Store a PNG or JPEG logo (at most MAX_LOGO_BYTES) for a shop under LOGOS_DIR. Commits."""
    shop = get_shop(account_id, shop_id)
    suffix = check_logo_image(data)
    old = shop_logo_file(shop)
    relative = f"{account_id}/shop-{shop.id}-{secrets.token_hex(8)}{suffix}"
    path = _logos_dir() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    shop.logo_path = relative
    record_audit(account_id, "shop.logo", actor=actor, user_id=user_id, target=shop.code)
    db.session.commit()
    if old is not None and old != path.resolve():
        old.unlink(missing_ok=True)
    return shop


def remove_shop_logo(
    account_id: int, shop_id: int, *, actor: str, user_id: int | None = None
) -> Shop:
    """Remove a shop's logo (and its file). Commits."""
    shop = get_shop(account_id, shop_id)
    old = shop_logo_file(shop)
    shop.logo_path = None
    record_audit(account_id, "shop.logo_remove", actor=actor, user_id=user_id, target=shop.code)
    db.session.commit()
    if old is not None:
        old.unlink(missing_ok=True)
    return shop


# --- settings pages: sender accounts -------------------------------------------------------


@dataclass
class SmtpSettings:
    """Everything the SMTP sender form edits. `password` None or "" keeps the stored one."""

    name: str
    host: str
    port: int | None
    security: str
    from_email: str
    username: str | None = None
    password: str | None = None
    clear_password: bool = False
    from_name: str | None = None
    reply_to: str | None = None
    bcc: list[str] | None = None
    shop_id: int | None = None
    enabled: bool = True


HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,253})$|^\[[0-9A-Fa-f:.]+\]$")


def parse_address_list(text: str | None) -> list[str]:
    """Split addresses separated by commas, semicolons, spaces or line breaks."""
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def _apply_smtp_settings(account_id: int, sender: SenderAccount, settings: SmtpSettings) -> None:
    name = settings.name.strip()
    if not name:
        raise ValidationError("name", N_("must not be empty"))
    if len(name) > 100:
        raise ValidationError("name", N_("must be at most 100 characters long"))
    host = settings.host.strip()
    if not host or not HOST_RE.match(host):
        raise ValidationError("host", N_("enter a host name such as smtp.example.com"))
    if settings.port is None or not 1 <= settings.port <= 65535:
        raise ValidationError("port", N_("must be a number between 1 and 65535"))
    if settings.security not in SMTP_SECURITY:
        raise ValidationError("security", f"must be one of {', '.join(SMTP_SECURITY)}")
    username = _blank_to_none(settings.username)
    if username and len(username) > 255:
        raise ValidationError("username", N_("must be at most 255 characters long"))
    from_email = normalise_email((settings.from_email or "").strip(), "from_email", sender=True)
    from_name = _blank_to_none(settings.from_name)
    if from_name and (any(c in from_name for c in "\r\n") or len(from_name) > 200):
        raise ValidationError("from_name", N_("must be one line of at most 200 characters"))
    reply_to = _blank_to_none(settings.reply_to)
    if reply_to:
        reply_to = normalise_email(reply_to, "reply_to", sender=True)
    bcc = [normalise_email(b, "bcc", sender=True) for b in settings.bcc or []]
    if len(bcc) > 10:
        raise ValidationError("bcc", N_("at most 10 addresses"))
    if settings.shop_id is not None and get_scoped(Shop, account_id, id=settings.shop_id) is None:
        raise ValidationError("shop_id", N_("no such shop"))
    sender.name = name
    sender.channel = "email"
    sender.smtp_host = host
    sender.smtp_port = settings.port
    sender.smtp_security = settings.security
    sender.smtp_username = username
    if settings.clear_password:
        sender.secret_encrypted = None
    elif settings.password:
        sender.secret_encrypted = encrypt_secret(settings.password)
    sender.from_email = from_email
    sender.from_name = from_name
    sender.reply_to = reply_to
    sender.bcc = list(dict.fromkeys(bcc))
    sender.shop_id = settings.shop_id
    sender.enabled = bool(settings.enabled)


def get_sender_account(account_id: int, sender_id: int) -> SenderAccount:
    """One sender account; raises NotFound for unknown ids and other accounts' senders."""
    return get_scoped_or_raise(SenderAccount, account_id, id=sender_id)


def create_smtp_sender_account(
    account: Account, settings: SmtpSettings, *, actor: str, user_id: int | None = None
) -> SenderAccount:
    """Create an SMTP sender account from the sender form; the password is encrypted. Commits.

    When it is linked to a shop without a sender, it becomes that shop's sender.
    """
    sender = SenderAccount(account_id=account.id, name="", provider_settings={}, bcc=[])
    _apply_smtp_settings(account.id, sender, settings)
    db.session.add(sender)
    db.session.flush()
    if sender.shop_id is not None:
        shop = get_scoped(Shop, account.id, id=sender.shop_id)
        if shop is not None and shop.sender_account_id is None:
            shop.sender_account_id = sender.id
    record_audit(account.id, "sender.create", actor=actor, user_id=user_id, target=sender.name)
    db.session.commit()
    return sender


def update_sender_account(
    account_id: int,
    sender_id: int,
    settings: SmtpSettings,
    *,
    actor: str,
    user_id: int | None = None,
) -> SenderAccount:
    """Change an SMTP sender account; an empty password keeps the stored one. Commits."""
    sender = get_sender_account(account_id, sender_id)
    had_secret = sender.secret_encrypted
    try:
        _apply_smtp_settings(account_id, sender, settings)
    except ValidationError:
        db.session.rollback()
        raise
    details: dict[str, Any] = {}
    if sender.secret_encrypted != had_secret:
        details["password"] = "removed" if sender.secret_encrypted is None else "changed"
    record_audit(
        account_id,
        "sender.update",
        actor=actor,
        user_id=user_id,
        target=sender.name,
        details=details,
    )
    db.session.commit()
    return sender


def set_sender_enabled(
    account_id: int, sender_id: int, enabled: bool, *, actor: str, user_id: int | None = None
) -> SenderAccount:
    """Switch a sender account on or off. Commits."""
    sender = get_sender_account(account_id, sender_id)
    sender.enabled = enabled
    action = "sender.enable" if enabled else "sender.disable"
    record_audit(account_id, action, actor=actor, user_id=user_id, target=sender.name)
    db.session.commit()
    return sender


def delete_sender_account(
    account_id: int, sender_id: int, *, actor: str, user_id: int | None = None
) -> None:
    """Delete a sender account; shops using it are left without a sender. Commits."""
    sender = get_sender_account(account_id, sender_id)
    for shop in db.session.execute(
        scoped(Shop, account_id).filter_by(sender_account_id=sender.id)
    ).scalars():
        shop.sender_account_id = None
    name = sender.name
    db.session.delete(sender)
    record_audit(account_id, "sender.delete", actor=actor, user_id=user_id, target=name)
    db.session.commit()


@dataclass
class SenderCheck:
    """The outcome of a connection test or a test mail."""

    ok: bool
    message: str


def _smtp_error_text(exc: Exception) -> str:
    from webapp.channels.email import NOT_SMTP_SERVER
    from webapp.netpolicy import TargetRefused

    if isinstance(exc, TargetRefused):
        return exc.reason
    if isinstance(exc, smtplib.SMTPConnectError):
        # Whatever answered is not an SMTP server; its banner is not shown back.
        return NOT_SMTP_SERVER
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused ({exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"{exc.smtp_code} {' '.join(text.split())[:200]}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib turns a read timeout into "Connection unexpectedly closed: timed out".
        if "timed out" in str(exc):
            return N_("no answer from the server (timeout)")
        return N_("the server closed the connection")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return N_("the server does not support this (e.g. STARTTLS or login)")
    if isinstance(exc, TimeoutError | socket.timeout):
        return N_("no answer from the server (timeout)")
    if isinstance(exc, ConnectionRefusedError):
        return N_("connection refused")
    if isinstance(exc, socket.gaierror):
        return N_("unknown host")
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc.__class__.__name__}"
    return exc.__class__.__name__


def test_sender_connection(
    account_id: int, sender_id: int, *, timeout: float = 10.0
) -> SenderCheck:
    """Connect to the sender's SMTP server, say EHLO, start TLS and log in when configured.

    Nothing is sent and nothing is committed; the password is never part of the result.
    """
    sender = get_sender_account(account_id, sender_id)
    if sender.channel != "email" or not sender.smtp_host:
        return SenderCheck(False, N_("not an SMTP account"))
    password: str | None = None
    if sender.secret_encrypted:
        try:
            password = decrypt_secret(sender.secret_encrypted)
        except SecretUnreadable:
            return SenderCheck(False, N_("the stored password cannot be decrypted; enter it again"))
    from webapp.channels.email import CheckedSMTP, CheckedSMTP_SSL

    host: smtplib.SMTP | None = None
    try:
        if sender.smtp_security == "ssl":
            host = CheckedSMTP_SSL(
                sender.smtp_host,
                sender.smtp_port or 465,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            host = CheckedSMTP(sender.smtp_host, sender.smtp_port or 25, timeout=timeout)
        code, _ = host.ehlo()
        if code != 250:
            return SenderCheck(False, f"EHLO refused ({code})")
        if sender.smtp_security == "starttls":
            host.starttls(context=ssl.create_default_context())
            host.ehlo()
        if sender.smtp_username and password:
            host.login(sender.smtp_username, password)
        return SenderCheck(True, f"{sender.smtp_host}:{sender.smtp_port}")
    except (OSError, smtplib.SMTPException) as exc:
        return SenderCheck(False, _smtp_error_text(exc))
    finally:
        if host is not None:
            try:
                host.quit()
            except (OSError, smtplib.SMTPException):
                host.close()


def send_test_mail(
    account_id: int, sender_id: int, to_email: str, *, timeout: float = 15.0
) -> SenderCheck:
    """Send a short test e-mail through the sender account to `to_email`, synchronously.

    Commits only the sender's error state: a failure is stored as its last error, a success
    clears it.
    """
    from webapp.channels.email import (
        HeaderInjection,
        OutgoingEmail,
        PermanentFailure,
        SmtpSession,
        TemporaryFailure,
    )

    sender = get_sender_account(account_id, sender_id)
    if sender.channel != "email" or not sender.from_email:
        return SenderCheck(False, N_("not an SMTP account"))
    to_email = normalise_email(to_email, "to")
    host = urlsplit(current_app.config.get("BASE_URL", "")).hostname or "localhost"
    email = OutgoingEmail(
        message_id=make_msgid("test", domain=host),
        from_email=sender.from_email,
        from_name=sender.from_name,
        to_email=to_email,
        to_name=None,
        subject="Statuslink test mail",
        text=(
            "This is a test mail from Statuslink.\n\n"
            f"Sender account: {sender.name}\n"
            f"Server: {sender.smtp_host}:{sender.smtp_port}\n\n"
            "If you can read this, messages to your customers can go out through this account.\n"
        ),
        reply_to=sender.reply_to,
    )
    try:
        with SmtpSession(sender, timeout=timeout) as session:
            reply = session.send(email)
    except HeaderInjection as exc:  # the address, not the account: nothing recorded
        return SenderCheck(False, str(exc))
    except (PermanentFailure, TemporaryFailure) as exc:
        sender.last_error = f"test mail: {exc.reason}"[:1000]
        sender.last_error_at = utcnow()
        db.session.commit()
        return SenderCheck(False, exc.reason)
    sender.last_error = None
    sender.last_error_at = None
    db.session.commit()
    return SenderCheck(True, f"{reply.code} {reply.text}".strip())


# --- settings pages: account ---------------------------------------------------------------

TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass
class AccountSettings:
    """Everything the account form edits."""

    name: str
    service_enabled: bool
    default_channel: str
    default_language: str
    timezone: str
    quiet_hours_start: str | None
    quiet_hours_end: str | None
    business_days: list[int]
    status_link_days: int | None
    merchant_email: str | None


def update_account_settings(
    account_id: int, settings: AccountSettings, *, actor: str, user_id: int | None = None
) -> Account:
    """Change the account-wide settings; the audit row names every changed field. Commits."""
    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound("Account")
    name = settings.name.strip()
    if not name:
        raise ValidationError("name", N_("must not be empty"))
    if len(name) > 200:
        raise ValidationError("name", N_("must be at most 200 characters long"))
    if settings.default_channel not in CHANNELS:
        raise ValidationError("default_channel", f"must be one of {', '.join(CHANNELS)}")
    if settings.default_language not in SUPPORTED_LANGUAGES:
        raise ValidationError(
            "default_language", f"must be one of {', '.join(SUPPORTED_LANGUAGES)}"
        )
    zone = (settings.timezone or "").strip()
    try:
        if not zone or zone not in available_timezones():
            raise ZoneInfoNotFoundError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError("timezone", N_("unknown time zone, e.g. Europe/Berlin")) from exc
    start = _blank_to_none(settings.quiet_hours_start)
    end = _blank_to_none(settings.quiet_hours_end)
    for field, value in (("quiet_hours_start", start), ("quiet_hours_end", end)):
        if value is not None and not TIME_RE.match(value):
            raise ValidationError(field, "use HH:MM, e.g. 21:00")
    if (start is None) != (end is None):
        raise ValidationError("quiet_hours_end", N_("set both start and end, or neither"))
    if start is not None and start == end:
        raise ValidationError("quiet_hours_end", N_("start and end must differ"))
    days = sorted(set(settings.business_days))
    if not days:
        raise ValidationError("business_days", N_("choose at least one business day"))
    if any(d not in range(7) for d in days):
        raise ValidationError("business_days", N_("unknown day"))
    link_days = settings.status_link_days
    if link_days is not None and not 1 <= link_days <= 365:
        raise ValidationError("status_link_days", N_("must be between 1 and 365"))
    merchant_email = _blank_to_none(settings.merchant_email)
    if merchant_email:
        merchant_email = normalise_email(merchant_email, "merchant_email", sender=True)
    values: dict[str, Any] = {
        "name": name,
        "service_enabled": bool(settings.service_enabled),
        "default_channel": settings.default_channel,
        "default_language": settings.default_language,
        "timezone": zone,
        "quiet_hours_start": start,
        "quiet_hours_end": end,
        "business_days": ",".join(str(d) for d in days),
        "status_link_days": link_days,
        "merchant_email": merchant_email,
    }
    changed = sorted(k for k, v in values.items() if getattr(account, k) != v)
    for key, value in values.items():
        setattr(account, key, value)
    if changed:
        details: dict[str, Any] = {"changed": changed}
        if "service_enabled" in changed:
            details["service_enabled"] = values["service_enabled"]
        record_audit(
            account_id,
            "account.update",
            actor=actor,
            user_id=user_id,
            target=account.slug,
            details=details,
        )
    db.session.commit()
    return account


# --- settings pages: users and API keys ----------------------------------------------------


def list_users(account_id: int) -> list[User]:
    """The account's users: active first, then by e-mail."""
    stmt = scoped(User, account_id).order_by(User.active.desc(), User.email)
    return list(db.session.execute(stmt).scalars())


def get_user(account_id: int, user_id: int) -> User:
    """One user of the account; raises NotFound for unknown ids and other accounts' users."""
    return get_scoped_or_raise(User, account_id, id=user_id)


def invite_user(
    account: Account,
    email: str,
    password: str,
    *,
    role: str,
    name: str = "",
    actor: str,
    user_id: int | None = None,
) -> User:
    """Create a user with an initial password (given to them by the owner). Commits."""
    name = (name or "").strip()
    if len(name) > 200:
        raise ValidationError("name", N_("must be at most 200 characters long"))
    return create_user(
        account, email, password, role=role, name=name, actor=actor, actor_id=user_id
    )


def _active_owner_count(account_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(User)
        .where(User.account_id == account_id, User.role == "owner", User.active.is_(True))
    )
    return int(db.session.execute(stmt).scalar_one())


def change_user_role(account_id: int, user_id: int, role: str, *, actor_user: User) -> User:
    """Give a user another role; the last owner and the acting user keep theirs. Commits."""
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}")
    user = get_user(account_id, user_id)
    if user.role == role:
        return user
    if user.id == actor_user.id:
        raise ValidationError("role", N_("you cannot change your own role"))
    if user.role == "owner" and user.active and _active_owner_count(account_id) <= 1:
        raise ValidationError("role", N_("the account needs at least one owner"))
    old = user.role
    user.role = role
    record_audit(
        account_id,
        "user.role",
        actor=actor_user.email,
        user_id=actor_user.id,
        target=user.email,
        details={"from": old, "to": role},
    )
    db.session.commit()
    return user


def deactivate_user(account_id: int, user_id: int, *, actor_user: User) -> User:
    """Deactivate a user and end their sessions; never yourself or the last owner. Commits."""
    user = get_user(account_id, user_id)
    if not user.active:
        return user
    if user.id == actor_user.id:
        raise ValidationError("active", N_("you cannot deactivate yourself"))
    if user.role == "owner" and _active_owner_count(account_id) <= 1:
        raise ValidationError("active", N_("the account needs at least one active owner"))
    user.active = False
    user.session_version += 1
    record_audit(
        account_id,
        "user.deactivate",
        actor=actor_user.email,
        user_id=actor_user.id,
        target=user.email,
    )
    db.session.commit()
    return user


def reactivate_user(account_id: int, user_id: int, *, actor_user: User) -> User:
    """Let a deactivated user log in again. Commits."""
    user = get_user(account_id, user_id)
    if user.active:
        return user
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    record_audit(
        account_id,
        "user.reactivate",
        actor=actor_user.email,
        user_id=actor_user.id,
        target=user.email,
    )
    db.session.commit()
    return user


def list_api_keys(account_id: int) -> list[ApiKey]:
    """The account's API keys, active first, newest first."""
    stmt = scoped(ApiKey, account_id).order_by(
        ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc()
    )
    return list(db.session.execute(stmt).scalars())


# --- settings pages: audit log -------------------------------------------------------------


@dataclass
class AuditPage:
    """One page of the audit log, newest first."""

    entries: list[AuditLog]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def list_audit_log(account_id: int, page: int = 1, per_page: int = 25) -> AuditPage:
    """A page of the account's audit log, newest first (page numbers start at 1)."""
    per_page = min(max(per_page, 1), 200)
    total = int(
        db.session.execute(
            select(func.count()).select_from(AuditLog).where(AuditLog.account_id == account_id)
        ).scalar_one()
    )
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    stmt = (
        scoped(AuditLog, account_id)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return AuditPage(list(db.session.execute(stmt).scalars()), page, per_page, total)


# Named for what it does; keeps pytest from collecting it when a test module imports it.
test_sender_connection.__test__ = False  # type: ignore[attr-defined]
