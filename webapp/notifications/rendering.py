"""Filling a message with its rendered text and its attachments.

Automatic messages are rendered when a worker claims them, so a template fix or a late
invoice upload still reaches a message that waits for its delay; review messages are
rendered when planned so the merchant can read and edit them. A stored rendering is never
rendered again (the merchant's edits win), except when a coalesced review message gains an
order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app

from webapp.extensions import db
from webapp.notifications.models import AttachmentFile, Message, Rule
from webapp.orders.models import Order
from webapp.tenancy import NotFound, scoped


class RenderFailed(RuntimeError):
    """The message's template could not be rendered; the reason is user-readable."""


def prepare_message(message: Message, *, force: bool = False) -> None:
    """Render subject and bodies and choose the attachments, unless already done."""
    if message.rendered_at is not None and not force:
        return
    from webapp.message_templates.renderer import TemplateProblem
    from webapp.message_templates.services import (
        TemplateCheckFailed,
        TemplateUnavailable,
        render_message,
    )
    from webapp.notifications.scheduling import now

    first = db.session.get(Order, message.order_id) if message.order_id else None
    orders = list(message.orders) or ([first] if first is not None else [])
    attachments = choose_attachments(message, orders)
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
        )
    except (TemplateUnavailable, TemplateCheckFailed, TemplateProblem, NotFound) as exc:
        raise RenderFailed(f"template could not be rendered: {exc}") from exc
    message.subject = rendered.subject
    message.body_html = rendered.html or None
    message.body_text = rendered.text
    message.language = rendered.language or message.language
    message.template_variant_id = rendered.variant_id
    message.rendered_at = now()
    message.attachments = attachments


def choose_attachments(message: Message, orders: list[Order]) -> list[dict[str, Any]]:
    """The order documents and account files this message carries, by the rule's settings."""
    rule = db.session.get(Rule, message.rule_id) if message.rule_id else None
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
        files = db.session.execute(
            scoped(AttachmentFile, message.account_id)
            .where(AttachmentFile.enabled.is_(True))
            .order_by(AttachmentFile.id)
        ).scalars()
        for item in files:
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


def storage_root() -> Path:
    """Where documents and account files are kept."""
    return Path(current_app.config["DOCUMENTS_DIR"])


def load_attachments(message: Message) -> list[tuple[str, str, bytes]]:
    """(filename, content type, bytes) of every attachment, read from storage.

    Raises FileNotFoundError when a stored file is gone; delivery reports that as a failure.
    """
    from webapp.orders.services import open_document

    out: list[tuple[str, str, bytes]] = []
    root = storage_root().resolve()
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
