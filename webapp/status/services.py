"""Status links (mint, resolve, revoke, record opens) and the status page's read model."""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from webapp.accounts.models import Account, Shop
from webapp.accounts.services import record_audit
from webapp.config import SUPPORTED_LANGUAGES
from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.orders import documents as document_storage
from webapp.orders.models import Customer, Document, Order, OrderEvent
from webapp.orders.state import REPEATABLE
from webapp.signing import (
    STATUS_DOCUMENT,
    STATUS_LINK,
    BadSignature,
    SignatureExpired,
    secret_keys,
    sign,
    unsign,
)
from webapp.status import opens
from webapp.status.models import StatusLink
from webapp.status.texts import LANGUAGE_NAMES, texts_for
from webapp.tenancy import NotFound, get_scoped, get_scoped_or_raise, scoped

if TYPE_CHECKING:
    from webapp.notifications.models import Message

SECTIONS = ("timeline", "items", "prices", "delivery_date", "documents", "tracking", "contact")
PUBLIC_DOCUMENT_KINDS = ("invoice", "credit_note", "delivery_note")
PAGE_CHANNELS = ("email", "sms")
_LINK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
_HEX_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_LOGO_DATA_RE = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+$")
_MAX_INLINE_LOGO_BYTES = 100 * 1024
_MAX_TOKEN_LENGTH = 200

# Carriers whose public tracking page takes the number in the URL; used when the order has
# no tracking URL of its own.
CARRIER_TRACKING_URLS = {
    "dhl": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={n}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{n}",
    "ups": "https://www.ups.com/track?tracknum={n}",
    "gls": "https://gls-group.eu/track/{n}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={n}",
    "postnl": "https://jouw.postnl.nl/track-and-trace/{n}",
}


class PreferenceError(ValueError):
    """The customer chose something the page does not offer."""


class DocumentLinkExpired(Exception):
    """A document download URL was genuine but is older than its lifetime."""


# --- links ---------------------------------------------------------------------------------


@dataclass
class StatusOutcome:
    """What a status token leads to: an open page, a gone link (why) or nothing at all."""

    kind: Literal["ok", "gone", "not_found"]
    link: StatusLink | None = None
    reason: Literal["expired", "revoked", "used_up"] | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def link_lifetime(account_id: int) -> timedelta:
    """How long a new link lives: the account's setting, else STATUS_LINK_DAYS."""
    account = db.session.get(Account, account_id)
    days = account.status_link_days if account and account.status_link_days else None
    return timedelta(days=days or int(current_app.config["STATUS_LINK_DAYS"]))


def status_token(link: StatusLink, *, now: datetime | None = None) -> str:
    """The signed token for a link; it carries the random link id and nothing else."""
    return sign(STATUS_LINK, link.link_id, now=now)


def status_url(link: StatusLink, *, now: datetime | None = None) -> str:
    """The public URL of a link's status page (BASE_URL + /s/ + token)."""
    return f"{current_app.config['BASE_URL']}/s/{status_token(link, now=now)}"


def _order_of_account(account_id: int, order_id: int) -> Order:
    """The order `order_id` if it belongs to `account_id`, else NotFound.

    By primary key, so an order the session already holds (the message planner's, inside the
    event's transaction) costs no query; the account is checked as a scoped query would.
    """
    order = db.session.get(Order, order_id)
    if order is None or order.account_id != account_id:
        raise NotFound("Order")
    return order


def new_status_link(
    account_id: int,
    order_id: int,
    message_id: int | None = None,
    *,
    source: str = "message",
    now: datetime | None = None,
) -> tuple[StatusLink, str]:
    """A fresh link to an order's status page (not yet in the session) and its public URL.

    The URL depends only on the link's random id, so it is known before anything is written.
    Raises NotFound for an order of another account.
    """
    order = _order_of_account(account_id, order_id)
    now = now or utcnow()
    link = StatusLink(
        account_id=account_id,
        link_id=secrets.token_urlsafe(16),
        order_id=order.id,
        message_id=message_id,
        source=source,
        created_at=now,
        expires_at=now + link_lifetime(account_id),
        open_count=0,
        max_opens=order.shop.status_link_max_opens,
    )
    return link, status_url(link, now=now)


def mint_status_link(
    account_id: int,
    order_id: int,
    message_id: int | None = None,
    *,
    source: str = "message",
    now: datetime | None = None,
) -> tuple[StatusLink, str]:
    """Create a fresh link to an order's status page, commit, and return it with its public
    URL. Raises NotFound for an order of another account."""
    link, url = new_status_link(account_id, order_id, message_id, source=source, now=now)
    db.session.add(link)
    db.session.commit()
    return link, url


def new_message_link(message: Message) -> tuple[StatusLink, str] | None:
    """The status link a message will carry and its URL, not yet in the session; None for a
    message without an order and for Amazon shops (Amazon forbids external links in buyer
    messages). The caller sets the link's message_id once the message has one and adds it."""
    if message.order_id is None:
        return None
    order = _order_of_account(message.account_id, message.order_id)
    if order.shop.is_amazon:
        return None
    return new_status_link(message.account_id, order.id, message.id)


def mint_link_for_message(message: Message) -> str | None:
    """Mint the status link of one message and return its URL; None for Amazon shops.

    Flushes the message when it has no id yet and adds the link to the session; the caller
    commits both together.
    """
    minted = new_message_link(message)
    if minted is None:
        return None
    link, url = minted
    if message.id is None:
        db.session.add(message)
        db.session.flush()
    link.message_id = message.id
    db.session.add(link)
    return url


def link_state(link: StatusLink, *, now: datetime | None = None) -> str:
    """`active`, `revoked`, `expired` or `used_up`."""
    now = now or utcnow()
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    if link.max_opens is not None and link.open_count >= link.max_opens:
        return "used_up"
    return "active"


def verified_link_id(token: str) -> str | None:
    """The random link id a genuine token carries, or None for anything else.

    Only an HMAC: forged, truncated, wrong-salt and rotated-out tokens never reach the
    database (or the page cache). Genuine tokens are remembered per set of keys (a status
    link's token does not expire by itself; its link does), since every page view asks.
    """
    if len(token) > _MAX_TOKEN_LENGTH:
        return None
    keys = tuple(secret_keys())
    known = _verified.get((keys, token))
    if known is not None:
        return known
    try:
        link_id = unsign(STATUS_LINK, token)
    except BadSignature:
        return None
    if not isinstance(link_id, str) or not _LINK_ID_RE.match(link_id):
        return None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[(keys, token)] = link_id
    return link_id


# Genuine status tokens seen by this process (only those: a forged one costs an HMAC each time
# but takes no memory), emptied when full.
_verified: dict[tuple[tuple[str, ...], str], str] = {}
_VERIFIED_MAX = 5_000


def resolve_status_token(token: str, *, now: datetime | None = None) -> StatusOutcome:
    """Check a token's signature, then find its link and say whether it may be opened.

    The signature is verified before any database query, so forged, truncated, wrong-salt and
    rotated-out tokens cost nothing but an HMAC. Commits nothing.
    """
    link_id = verified_link_id(token)
    if link_id is None:
        return StatusOutcome("not_found")
    # The one lookup not scoped to an account: the signed random id is what names the account.
    link = db.session.execute(
        select(StatusLink).where(StatusLink.link_id == link_id)
    ).scalar_one_or_none()
    if link is None:
        return StatusOutcome("not_found")
    state = link_state(link, now=now)
    if state != "active":
        return StatusOutcome("gone", link, state)  # type: ignore[arg-type]
    return StatusOutcome("ok", link)


def get_order_for_link(link: StatusLink) -> Order:
    """The order a link points to (always within the link's own account)."""
    return get_scoped_or_raise(Order, link.account_id, id=link.order_id)


def get_order_for_page(link: StatusLink) -> Order:
    """The link's order with what its status page shows (shop, customer, items, documents)
    loaded in two round trips instead of one query per relation."""
    stmt = (
        scoped(Order, link.account_id)
        .where(Order.id == link.order_id)
        .options(
            joinedload(Order.shop),
            joinedload(Order.customer),
            selectinload(Order.items),
            selectinload(Order.documents),
        )
    )
    order = db.session.execute(stmt).unique().scalar_one_or_none()
    if order is None:
        raise NotFound("Order")
    return order


def get_account_for_page(link: StatusLink) -> Account | None:
    """The link's account (its time zone and default language shape the page)."""
    return db.session.get(Account, link.account_id)


def links_for_order(account_id: int, order_id: int) -> list[StatusLink]:
    """Every link of an order, newest first (for the API and the admin's order page)."""
    stmt = (
        scoped(StatusLink, account_id)
        .where(StatusLink.order_id == order_id)
        .order_by(StatusLink.created_at.desc(), StatusLink.id.desc())
    )
    return list(db.session.execute(stmt).scalars())


def describe_link(link: StatusLink, *, now: datetime | None = None) -> dict[str, Any]:
    """A link as plain JSON-ready data: state, lifetime and opens (never the token)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "link_id": link.link_id,
        "message_id": link.message_id,
        "source": link.source,
        "state": link_state(link, now=now),
        "created_at": iso(link.created_at),
        "expires_at": iso(link.expires_at),
        "revoked_at": iso(link.revoked_at),
        "first_opened_at": iso(link.first_opened_at),
        "last_opened_at": iso(link.last_opened_at),
        "open_count": link.open_count,
        "max_opens": link.max_opens,
    }


def current_status_url(account_id: int, order_id: int) -> str | None:
    """A URL for the newest still-usable link of an order, or None when there is none."""
    now = utcnow()
    for link in links_for_order(account_id, order_id):
        if link_state(link, now=now) == "active":
            return status_url(link, now=now)
    return None


def revoke_link(account_id: int, link_id: str, *, actor: str = "admin") -> StatusLink:
    """Revoke one link (by its random id); revoking twice is harmless. Commits.

    Raises NotFound for an unknown link or one of another account.
    """
    link = get_scoped_or_raise(StatusLink, account_id, link_id=link_id)
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        record_audit(account_id, "status_link.revoke", actor=actor, target=link_id[:8])
        db.session.commit()
    opens.mark_revoked([link.link_id])
    return link


def revoke_order_links(account_id: int, order_id: int, *, actor: str = "admin") -> int:
    """Revoke every unrevoked link of an order; returns how many were revoked. Commits."""
    order = get_scoped_or_raise(Order, account_id, id=order_id)
    now = utcnow()
    revoked = []
    for link in links_for_order(account_id, order.id):
        if link.revoked_at is None:
            link.revoked_at = now
            revoked.append(link.link_id)
    count = len(revoked)
    if count:
        record_audit(
            account_id,
            "status_link.revoke_order",
            actor=actor,
            target=order.number,
            details={"links": count},
        )
    db.session.commit()
    opens.mark_revoked(revoked)
    return count


# --- fallback: a fresh link for someone who knows the order --------------------------------


def _normalise_postcode(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def _matches(secret: str, customer: Customer) -> bool:
    given = secret.strip()
    if "@" in given:
        candidates = [customer.email, customer.contact_email]
        wanted = given.casefold()
        return any(
            hmac.compare_digest(c.strip().casefold().encode(), wanted.encode())
            for c in candidates
            if c
        )
    if not customer.postcode or not given:
        return False
    return hmac.compare_digest(
        _normalise_postcode(customer.postcode).encode(), _normalise_postcode(given).encode()
    )


def continue_with_order(
    link: StatusLink, order_number: str, secret: str, *, now: datetime | None = None
) -> tuple[StatusLink, str] | None:
    """Mint a fresh link when the order number and postcode/e-mail match an order.

    Only orders of the same account and shop as `link` qualify. Returns None on any mismatch
    (the caller shows one neutral message). Commits the new link.
    """
    number = order_number.strip()
    if not number or not secret.strip() or len(number) > 64 or len(secret) > 254:
        return None
    own_order = get_scoped(Order, link.account_id, id=link.order_id)
    if own_order is None:
        return None
    order = get_scoped(Order, link.account_id, number=number, shop_id=own_order.shop_id)
    if order is None or not _matches(secret, order.customer):
        return None
    return mint_status_link(link.account_id, order.id, source="fallback", now=now)


# --- customer preferences ------------------------------------------------------------------


def channels_offered(customer: Customer) -> list[str]:
    """The channels the page offers: those the customer has an address for."""
    offered = []
    if customer.email:
        offered.append("email")
    if customer.phone:
        offered.append("sms")
    return offered


def update_customer_preferences(
    link: StatusLink, *, optional_messages: bool, channel: str | None
) -> Customer:
    """Save what the customer chose on the page (optional messages, channel). Commits.

    The link's order names the customer, so a link can change only its own customer. Raises
    PreferenceError for a channel the page did not offer.
    """
    order = get_scoped_or_raise(Order, link.account_id, id=link.order_id)
    customer = get_scoped_or_raise(Customer, link.account_id, id=order.customer_id)
    if channel is not None and channel not in channels_offered(customer):
        raise PreferenceError(channel)
    changes: dict[str, Any] = {}
    if customer.optional_messages != optional_messages:
        changes["optional_messages"] = optional_messages
        customer.optional_messages = optional_messages
    if channel is not None and customer.channel != channel:
        changes["channel"] = channel
        customer.channel = channel
    if changes:
        record_audit(
            link.account_id,
            "customer.preferences",
            actor="customer (status page)",
            target=order.number,
            details=changes,
        )
    db.session.commit()
    return customer


# --- form tokens ---------------------------------------------------------------------------

# The forms on a link's pages (preferences, fallback) carry a token signed for that link: a
# page of another link, another site or a forged one cannot post them. Bound to the link
# rather than to a session, the pages set no cookie and can be cached.
STATUS_FORM = "status-form"


def form_token(link_id: str, *, now: datetime | None = None) -> str:
    """The token the forms of this link's pages carry."""
    return sign(STATUS_FORM, link_id, now=now)


def form_token_valid(link_id: str, token: str | None, *, now: datetime | None = None) -> bool:
    """Whether `token` is this link's form token (and younger than WTF_CSRF_TIME_LIMIT)."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return False
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT")
    try:
        value = unsign(STATUS_FORM, token, max_age=int(limit) if limit else None, now=now)
    except BadSignature:  # SignatureExpired included
        return False
    return isinstance(value, str) and hmac.compare_digest(value.encode(), link_id.encode())


# --- documents -----------------------------------------------------------------------------


def document_token(link: StatusLink, document_id: int, *, now: datetime | None = None) -> str:
    """A short-lived token for one document, bound to this link (and so to its order)."""
    return sign(STATUS_DOCUMENT, [link.link_id, document_id], now=now)


def resolve_document(
    link: StatusLink, token: str, *, now: datetime | None = None
) -> tuple[Document, Path]:
    """The document a download token names, with its file path.

    Raises DocumentLinkExpired for a genuine but old token and NotFound for anything else:
    forged, another link's, a document of another order or a hidden section.
    """
    try:
        value = unsign(
            STATUS_DOCUMENT,
            token,
            max_age=int(current_app.config["STATUS_DOCUMENT_URL_SECONDS"]),
            now=now,
        )
    except SignatureExpired as exc:
        raise DocumentLinkExpired() from exc
    except BadSignature as exc:
        raise NotFound("Document") from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or value[0] != link.link_id
        or not isinstance(value[1], int)
    ):
        raise NotFound("Document")
    order = get_scoped_or_raise(Order, link.account_id, id=link.order_id)
    if not section_flags(order.shop)["documents"]:
        raise NotFound("Document")
    document = get_scoped_or_raise(Document, link.account_id, id=value[1], order_id=order.id)
    if document.kind not in PUBLIC_DOCUMENT_KINDS:
        raise NotFound("Document")
    try:
        path = document_storage.path_for(document.storage_key)
    except ValueError as exc:
        raise NotFound("Document") from exc
    if not path.is_file():
        raise NotFound("Document")
    return document, path


# --- the page's read model -----------------------------------------------------------------


def section_flags(shop: Shop) -> dict[str, bool]:
    """Which sections the shop shows; a section missing from its settings is shown."""
    settings = shop.status_sections or {}
    return {key: settings.get(key, True) is not False for key in SECTIONS}


def choose_language(
    order: Order, requested: str | None = None, *, account: Account | None = None
) -> str:
    """The page language: `requested` (the customer's switch), customer, shop, account, en.

    `account`, when the caller already loaded it, must be the order's account.
    """
    if account is None or account.id != order.account_id:
        account = db.session.get(Account, order.account_id)
    for candidate in (
        requested,
        order.customer.language,
        order.shop.language,
        account.default_language if account else None,
    ):
        code = (candidate or "").strip().lower()[:2]
        if code in SUPPORTED_LANGUAGES:
            return code
    return "en"


def _zone(account_id: int, account: Account | None = None) -> ZoneInfo:
    if account is None or account.id != account_id:
        account = db.session.get(Account, account_id)
    try:
        return ZoneInfo(account.timezone if account else "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _safe_http_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def tracking_link(order: Order) -> str | None:
    """The carrier's tracking page for the order: its own URL, else a known carrier's."""
    own = _safe_http_url(order.tracking_url)
    if own:
        return own
    template = CARRIER_TRACKING_URLS.get((order.tracking_carrier or "").strip().lower())
    if template and order.tracking_number:
        return template.format(n=quote(order.tracking_number.strip(), safe=""))
    return None


def readable_on(colour: str) -> str:
    """Black or white, whichever reads better on `colour` (WCAG contrast)."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / 0.05
    return "#ffffff" if on_white >= on_black else "#111111"


def brand_colour(shop: Shop) -> str:
    """The shop's colour as #rrggbb (a safe default when unset or malformed)."""
    colour = (shop.brand_color or "").strip()
    return colour.lower() if _HEX_COLOUR_RE.match(colour) else "#1f6feb"


def logo_file(shop: Shop) -> Path | None:
    """The shop's logo file under LOGOS_DIR, when it has one that exists."""
    if not shop.logo_path or shop.logo_path.startswith("data:"):
        return None
    root = Path(current_app.config["LOGOS_DIR"]).resolve()
    path = (root / shop.logo_path).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def logo_data_uri(shop: Shop) -> str | None:
    """The logo as a data: URI (for the self-contained status file), if small enough."""
    if shop.logo_path and _LOGO_DATA_RE.match(shop.logo_path):
        return shop.logo_path
    path = logo_file(shop)
    if path is None or path.stat().st_size > _MAX_INLINE_LOGO_BYTES:
        return None
    kinds = {
        ".png": "png",
        ".jpg": "jpeg",
        ".jpeg": "jpeg",
        ".gif": "gif",
        ".webp": "webp",
        ".svg": "svg+xml",
    }
    kind = kinds.get(path.suffix.lower())
    if kind is None:
        return None
    return f"data:image/{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


@dataclass
class TimelineEntry:
    label: str
    when: str
    iso: str
    detail: str | None = None


@dataclass
class ItemLine:
    title: str
    quantity: int
    delivered: int
    delivered_text: str
    complete: bool
    price: str | None


@dataclass
class DocumentLine:
    id: int
    label: str
    token: str | None


@dataclass
class StatusView:
    """Everything the status page (or file) shows, already localised."""

    language: str
    t: dict[str, str]
    shop_name: str
    brand: str
    brand_text: str
    has_logo_file: bool
    logo_data: str | None
    contact: dict[str, str | None]
    sections: dict[str, bool]
    order_number: str
    placed_on: str
    state_label: str
    state: str
    timeline: list[TimelineEntry]
    items: list[ItemLine]
    total: str | None
    tracking: dict[str, str | None] | None
    delivery_date: str | None
    documents: list[DocumentLine]
    generated: str
    customer_channel: str | None = None
    optional_messages: bool = True
    channels: list[str] = field(default_factory=list)
    languages: list[tuple[str, str]] = field(default_factory=list)


def _event_label(t: dict[str, str], event_type: str) -> str:
    return t.get(f"event_{event_type}") or t["event_other"]


def _format_money(value: Decimal, currency: str, language: str) -> str:
    try:
        return format_currency(value, currency, locale=language)
    except (ValueError, KeyError):
        return f"{value} {currency}"


def build_status_view(
    account_id: int,
    order_id: int,
    language: str,
    *,
    link: StatusLink | None = None,
    now: datetime | None = None,
    order: Order | None = None,
    account: Account | None = None,
) -> StatusView:
    """The localised read model of one order's status page. Reads only.

    With `link`, documents get short-lived download tokens bound to it; without (the status
    file), documents are listed by name only. `order` and `account`, when the caller already
    loaded them (get_order_for_page), must be the order `order_id` of `account_id` and that
    account.
    """
    if order is None or order.id != order_id or order.account_id != account_id:
        order = get_scoped_or_raise(Order, account_id, id=order_id)
    shop = order.shop
    customer = order.customer
    now = now or utcnow()
    lang = language if language in SUPPORTED_LANGUAGES else "en"
    t = texts_for(lang)
    zone = _zone(account_id, account)
    sections = section_flags(shop)

    def when(value: datetime) -> str:
        local = value.astimezone(zone)
        time_of_day = format_time(local, "short", locale=lang)
        return f"{format_date(local, 'medium', locale=lang)}, {time_of_day}"

    def day(value: date) -> str:
        return format_date(value, "long", locale=lang)

    timeline = [
        TimelineEntry(t["event_placed"], when(order.placed_at), order.placed_at.isoformat())
    ]
    seen: set[str] = set()
    events = db.session.execute(
        scoped(OrderEvent, account_id)
        .where(OrderEvent.order_id == order.id)
        .order_by(OrderEvent.occurred_at, OrderEvent.id)
    ).scalars()
    for event in events:
        if event.outcome == "out_of_order":
            continue
        if event.type in seen and event.type not in REPEATABLE:
            continue
        seen.add(event.type)
        detail = None
        data = event.data or {}
        if event.type == "delivery_date_set" and data.get("delivery_date"):
            try:
                detail = day(date.fromisoformat(str(data["delivery_date"])))
            except ValueError:
                detail = None
        timeline.append(
            TimelineEntry(
                _event_label(t, event.type),
                when(event.occurred_at),
                event.occurred_at.isoformat(),
                detail,
            )
        )
    timeline.reverse()

    show_prices = sections["prices"]
    items = [
        ItemLine(
            title=item.title,
            quantity=item.quantity,
            delivered=item.delivered_quantity,
            delivered_text=t["delivered_of"].format(
                delivered=item.delivered_quantity, quantity=item.quantity
            ),
            complete=item.delivered_quantity >= item.quantity,
            price=_format_money(item.unit_price, order.currency, lang)
            if show_prices and item.unit_price is not None
            else None,
        )
        for item in order.items
    ]
    total = order.total
    tracking = None
    if order.tracking_number or order.tracking_url:
        tracking = {
            "carrier": order.tracking_carrier,
            "number": order.tracking_number,
            "url": tracking_link(order),
        }
    documents = [
        DocumentLine(
            id=doc.id,
            label=t.get(f"doc_{doc.kind}", "{number}").format(number=doc.number),
            token=document_token(link, doc.id, now=now) if link is not None else None,
        )
        for doc in order.documents
        if doc.kind in PUBLIC_DOCUMENT_KINDS
    ]
    colour = brand_colour(shop)
    return StatusView(
        language=lang,
        t=t,
        shop_name=shop.name,
        brand=colour,
        brand_text=readable_on(colour),
        has_logo_file=logo_file(shop) is not None,
        logo_data=shop.logo_path
        if shop.logo_path and _LOGO_DATA_RE.match(shop.logo_path)
        else None,
        contact={
            "email": shop.contact_email,
            "phone": shop.contact_phone,
            "website": _safe_http_url(shop.website),
        },
        sections=sections,
        order_number=order.number,
        placed_on=t["placed_on"].format(date=day(order.placed_at.astimezone(zone).date())),
        state=order.state,
        state_label=t.get(f"state_{order.state}", order.state),
        timeline=timeline,
        items=items,
        total=_format_money(total, order.currency, lang) if show_prices and total else None,
        tracking=tracking,
        delivery_date=day(order.delivery_date) if order.delivery_date else None,
        documents=documents,
        generated=t["generated"].format(date=when(now)),
        customer_channel=customer.channel,
        optional_messages=customer.optional_messages,
        channels=channels_offered(customer),
        languages=[(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES],
    )


@dataclass
class GoneView:
    """The little a gone link may show: the shop's name and contact, in the right language."""

    language: str
    t: dict[str, str]
    shop_name: str
    brand: str
    brand_text: str
    contact: dict[str, str | None]
    reason: str
    offer_fallback: bool
    languages: list[tuple[str, str]]


def build_gone_view(link: StatusLink, reason: str, requested: str | None = None) -> GoneView:
    """The 410 page's data for a link (no order data). Reads only."""
    order = get_scoped_or_raise(Order, link.account_id, id=link.order_id)
    shop = order.shop
    lang = choose_language(order, requested)
    colour = brand_colour(shop)
    return GoneView(
        language=lang,
        t=texts_for(lang),
        shop_name=shop.name,
        brand=colour,
        brand_text=readable_on(colour),
        contact={
            "email": shop.contact_email,
            "phone": shop.contact_phone,
            "website": _safe_http_url(shop.website),
        },
        reason=reason,
        # A revoked link was withdrawn on purpose; only expiry and the use limit offer a way on.
        offer_fallback=reason in ("expired", "used_up"),
        languages=[(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES],
    )


def _inline_css() -> str:
    css_path = Path(current_app.static_folder or "static") / "status" / "status.css"
    return css_path.read_text(encoding="utf-8")


def render_status_file(account_id: int, order_id: int, language: str) -> str:
    """The order's status as one self-contained HTML file (inline CSS, no scripts, no URLs).

    For attaching to a message; the shop's section settings apply. Reads only. Raises
    NotFound for an order of another account.
    """
    order = get_scoped_or_raise(Order, account_id, id=order_id)
    view = build_status_view(account_id, order_id, choose_language(order, language))
    view.logo_data = logo_data_uri(order.shop)
    view.has_logo_file = False
    return render_template("status/file.html", v=view, css=_inline_css())
