"""Filling a message with its rendered text and its attachments.

Automatic messages are rendered when a worker claims them, so a template fix or a late
invoice upload still reaches a message that waits for its delay; review messages are
rendered when planned so the merchant can read and edit them. A stored rendering is never
rendered again (the merchant's edits win), except when a coalesced review message gains an
order.

A worker renders the messages of a claimed batch one after the other; the lookups they share
(which template a purpose resolves to, the account's attachment files) are made once per
batch, see _BatchLookups. The next batch looks everything up afresh, so an edit made meanwhile
is seen there.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app

from webapp.extensions import db
from webapp.notifications.models import AttachmentFile, Message, Rule
from webapp.orders.models import Order
from webapp.rawsql import get_loaded
from webapp.tenancy import NotFound, scoped

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from webapp.message_templates.services import TemplateLookups


class RenderFailed(RuntimeError):
    """The message's template could not be rendered; the reason is user-readable."""


@dataclass(frozen=True)
class _FileRule:
    """What choose_attachments and load_attachments read of an enabled account file."""

    id: int
    marketplaces: tuple[str, ...]
    fulfillments: tuple[str, ...]
    languages: tuple[str, ...]
    event_types: tuple[str, ...]
    filename: str
    content_type: str
    storage_key: str


@dataclass
class _BatchLookups:
    """Lookups shared by the messages of one claimed batch.

    A batch is recognised by its claim: the worker gives every batch a lease owner of its own
    (worker identity plus a fresh random part), so messages in state "sending" under the same
    lease owner, rendered in the same database session, belong to the same batch. Anything
    else (a review rendering, a preview) gets no shared lookups.
    """

    session: weakref.ReferenceType[Session]
    lease_owner: str
    templates: TemplateLookups
    files: dict[int, tuple[_FileRule, ...]] = field(default_factory=dict)


_local = threading.local()


def _batch_lookups(message: Message) -> _BatchLookups | None:
    if message.state != "sending" or not message.lease_owner:
        return None
    from webapp.message_templates.services import TemplateLookups

    session = db.session()
    current: _BatchLookups | None = getattr(_local, "batch", None)
    if (
        current is None
        or current.lease_owner != message.lease_owner
        or current.session() is not session
    ):
        current = _BatchLookups(weakref.ref(session), message.lease_owner, TemplateLookups())
        _local.batch = current  # only the latest batch is kept
    return current


# The columns rendering fills in (what `rendered_values` returns).
RENDERED_COLUMNS = (
    "subject",
    "body_html",
    "body_text",
    "language",
    "template_variant_id",
    "rendered_at",
    "attachments",
)


def prepare_message(message: Message, *, force: bool = False) -> None:
    """Render subject and bodies and choose the attachments, unless already done."""
    if message.rendered_at is not None and not force:
        return
    for key, value in rendered_values(message).items():
        setattr(message, key, value)


def rendered_values(message: Message) -> dict[str, Any]:
    """Subject, bodies, language, variant and attachments of the message, rendered now, as
    values of RENDERED_COLUMNS; the message itself is left as it is. Raises RenderFailed."""
    from webapp.message_templates.renderer import TemplateProblem
    from webapp.message_templates.services import (
        TemplateCheckFailed,
        TemplateUnavailable,
        render_message,
    )
    from webapp.notifications.scheduling import now

    first = get_loaded(Order, message.order_id) if message.order_id else None
    orders = list(message.orders) or ([first] if first is not None else [])
    batch = _batch_lookups(message)
    attachments = choose_attachments(message, orders, batch=batch)
    document_ids = {ref["id"] for ref in attachments if ref["type"] == "document"}
    documents = [d for o in orders for d in o.documents if d.id in document_ids]
    try:
        rendered = render_message(
            message.account_id,
            message.purpose or "",
            message.channel,
            orders[0],
            language=message.language,
            status_url=message.status_url or "",
            template_id=message.context.get("template_id"),
            orders=orders if len(orders) > 1 else None,
            documents=documents,
            lookups=batch.templates if batch is not None else None,
        )
    except (TemplateUnavailable, TemplateCheckFailed, TemplateProblem, NotFound) as exc:
        raise RenderFailed(f"template could not be rendered: {exc}") from exc
    return {
        "subject": rendered.subject,
        "body_html": rendered.html or None,
        "body_text": rendered.text,
        "language": rendered.language or message.language,
        "template_variant_id": rendered.variant_id,
        "rendered_at": now(),
        "attachments": attachments,
    }


def choose_attachments(
    message: Message, orders: list[Order], *, batch: _BatchLookups | None = None
) -> list[dict[str, Any]]:
    """The order documents and account files this message carries, by the rule's settings.

    With `batch`, the account's files are read once for the whole batch."""
    rule = get_loaded(Rule, message.rule_id) if message.rule_id else None
    if rule is None:
        return list(message.attachments or [])
    chosen: list[dict[str, Any]] = []
    kinds = set(rule.document_kinds or [])
    event_type = rule.event_type
    for order in orders:
        shop = order.shop
        for document in order.documents:
            if document.kind not in kinds:
                continue
            if shop.is_amazon and shop.invoices_uploaded_to_amazon and document.kind == "invoice":
                continue
            chosen.append({"type": "document", "id": document.id})
    if rule.attach_status_file and message.channel == "email":
        # Amazon forbids anything but its own documents in buyer messages.
        chosen.extend(
            {"type": "status_file", "order_id": order.id}
            for order in orders
            if not order.shop.is_amazon
        )
    if rule.attach_account_files:
        first = orders[0]
        marketplace = (first.shop.marketplace or "").lower()
        for item in _account_files(message.account_id, batch):
            if item.marketplaces and marketplace not in item.marketplaces:
                continue
            if item.fulfillments and first.fulfillment not in item.fulfillments:
                continue
            if item.languages and message.language not in item.languages:
                continue
            if item.event_types and event_type not in item.event_types:
                continue
            chosen.append({"type": "file", "id": item.id})
    return chosen


def _account_files(account_id: int, batch: _BatchLookups | None) -> tuple[_FileRule, ...]:
    """The account's enabled files, by id; once per batch when there is one."""
    if batch is not None and account_id in batch.files:
        return batch.files[account_id]
    rows = db.session.execute(
        scoped(AttachmentFile, account_id)
        .where(AttachmentFile.enabled.is_(True))
        .order_by(AttachmentFile.id)
    ).scalars()
    files = tuple(
        _FileRule(
            item.id,
            tuple(item.marketplaces or ()),
            tuple(item.fulfillments or ()),
            tuple(item.languages or ()),
            tuple(item.event_types or ()),
            item.filename,
            item.content_type,
            item.storage_key,
        )
        for item in rows
    )
    if batch is not None:
        batch.files[account_id] = files
    return files


def storage_root() -> Path:
    """Where documents and account files are kept."""
    return Path(current_app.config["DOCUMENTS_DIR"])


def load_attachments(message: Message) -> list[tuple[str, str, bytes]]:
    """(filename, content type, bytes) of every attachment, read from storage.

    Raises FileNotFoundError when a stored file is gone; delivery reports that as a failure.
    """
    from webapp.orders.services import open_document

    out: list[tuple[str, str, bytes]] = []
    if not message.attachments:
        return out
    root = storage_root().resolve()
    batch = _batch_lookups(message)
    known = {f.id: f for f in batch.files.get(message.account_id, ())} if batch else {}
    for ref in message.attachments or []:
        if ref.get("type") == "status_file":
            out.append(_status_file(message, int(ref["order_id"])))
            continue
        if ref.get("type") == "document":
            try:
                document, stream = open_document(message.account_id, int(ref["id"]))
            except NotFound as exc:
                raise FileNotFoundError(f"document {ref['id']}") from exc
            with stream:
                out.append((document.filename, document.content_type, stream.read()))
            continue
        item: AttachmentFile | _FileRule | None = known.get(ref["id"])
        if item is None:
            item = db.session.execute(
                scoped(AttachmentFile, message.account_id).where(AttachmentFile.id == ref["id"])
            ).scalar_one_or_none()
        if item is None:
            raise FileNotFoundError(f"file {ref['id']}")
        path = (root / item.storage_key).resolve()
        if root not in path.parents:
            raise FileNotFoundError(item.storage_key)
        out.append((item.filename, item.content_type, path.read_bytes()))
    return out


def _status_file(message: Message, order_id: int) -> tuple[str, str, bytes]:
    """The order's status page as a self-contained HTML attachment, rendered now."""
    from webapp.status.services import render_status_file

    order = db.session.execute(
        scoped(Order, message.account_id).where(Order.id == order_id)
    ).scalar_one_or_none()
    if order is None:
        raise FileNotFoundError(f"status file of order {order_id}")
    html = render_status_file(message.account_id, order.id, message.language or "en")
    safe_number = "".join(c if c.isalnum() or c in "-_" else "-" for c in order.number)
    return f"order-{safe_number}-status.html", "text/html", html.encode("utf-8")
