"""Messages sent by hand from an order: free text or a template, quick replies, resends.

Every such message is an outbox row like any other (state `scheduled`, due now), rendered
when it is created, and delivered by the worker after the commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from markupsafe import escape
from sqlalchemy import func, insert, select

from webapp.accounts.models import Account, User
from webapp.accounts.services import ValidationError, normalise_email, record_audit
from webapp.extensions import db
from webapp.i18n import N_
from webapp.message_templates.defaults import EMAIL_PURPOSES, SMS_PURPOSES
from webapp.notifications.models import (
    QUICK_REPLY_CHANNELS,
    Message,
    QuickReply,
    message_order,
)
from webapp.notifications.planning import sender_for_order
from webapp.notifications.queries_admin import get_message_for_admin, get_quick_reply
from webapp.notifications.scheduling import now
from webapp.notifications.services import request_dispatch
from webapp.orders.models import DOCUMENT_KINDS, Order
from webapp.orders.services import get_order
from webapp.tenancy import scoped

MANUAL_PURPOSE = "manual"
MAX_TEXT = 5000
MAX_SUBJECT = 200
NOTE_LIMIT = 255
CHANNELS = ("email", "sms")
RESENDABLE_STATES = ("failed", "sent", "suppressed", "cancelled")

# Quick replies every account starts with: (key, fields). Titles are translated where shown.
DEFAULT_QUICK_REPLIES: list[tuple[str, dict[str, Any]]] = [
    (
        "invoice",
        {
            "title": N_("Where is my invoice?"),
            "purpose": "quick_reply_invoice",
            "document_kinds": ["invoice"],
        },
    ),
    ("on_its_way", {"title": N_("Your order is on its way"), "purpose": "shipped"}),
    ("pickup_ready", {"title": N_("Pickup ready"), "purpose": "goods_received"}),
]


@dataclass
class ManualResult:
    """The queued message, whether its text went into the order note, and who gets a copy."""

    message: Message
    note_added: bool
    copies: list[str] = field(default_factory=list)


def _clean_text(value: str | None, field_name: str, limit: int) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise ValidationError(field_name, f"must be at most {limit} characters")
    return text


def _clean_subject(value: str | None) -> str:
    subject = (value or "").strip()
    if "\r" in subject or "\n" in subject:
        raise ValidationError("subject", "must not contain line breaks")
    if len(subject) > MAX_SUBJECT:
        raise ValidationError("subject", f"must be at most {MAX_SUBJECT} characters")
    return subject


def _template(account_id: int, template_id: int, channel: str) -> Any:
    from webapp.message_templates.services import list_templates

    for template in list_templates(account_id):
        if template.id == template_id:
            if template.channel != channel:
                raise ValidationError("template_id", "is a template for another channel")
            return template
    raise ValidationError("template_id", "no such template")


def _recipient(order: Order, channel: str) -> str:
    customer = order.customer
    if channel == "email":
        if not customer.email:
            raise ValidationError("channel", "the customer has no e-mail address")
        return customer.email
    if not customer.phone:
        raise ValidationError("channel", "the customer has no mobile number")
    return customer.phone


def _unique(addresses: list[str], exclude: str) -> list[str]:
    seen = {exclude.lower()}
    out = []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def _render(
    message: Message,
    order: Order,
    *,
    purpose: str,
    template_id: int | None,
    subject: str,
    text: str,
    documents: list[Any],
    strict: bool,
) -> None:
    """Fill subject and bodies: the template when one fits, else the plain text typed."""
    from webapp.message_templates.renderer import TemplateProblem
    from webapp.message_templates.services import (
        TemplateCheckFailed,
        TemplateUnavailable,
        render_message,
    )

    try:
        rendered = render_message(
            message.account_id,
            purpose,
            message.channel,
            order,
            language=message.language,
            status_url=message.status_url or "",
            extra={"message": text},
            template_id=template_id,
            documents=documents,
        )
    except TemplateUnavailable as exc:
        if strict or not text:
            raise ValidationError("template_id", f"no template fits this order: {exc}") from exc
        message.subject = subject or f"{order.shop.name}: {order.number}"
        body = text if not message.status_url else f"{text}\n\n{message.status_url}"
        message.body_text = body
        message.body_html = None
    except (TemplateCheckFailed, TemplateProblem) as exc:
        raise ValidationError("template_id", f"the template has errors: {exc}") from exc
    else:
        message.subject = rendered.subject if message.channel == "email" else None
        message.body_html = rendered.html or None
        message.body_text = rendered.text
        message.language = rendered.language
        message.template_variant_id = rendered.variant_id
    if subject and message.channel == "email":
        message.subject = subject


def _note_with(order: Order, line: str) -> str | None:
    """The order note with `line` appended, or None when it would not fit."""
    combined = f"{order.note}\n{line}" if order.note else line
    return combined if len(combined) <= NOTE_LIMIT else None


def send_manual_message(
    account_id: int,
    order_number: str,
    *,
    channel: str = "email",
    template_id: int | None = None,
    subject: str | None = None,
    body: str | None = None,
    copy_to_me: bool = False,
    user: User | None = None,
    purpose: str | None = None,
    document_kinds: list[str] | None = None,
    note: bool = True,
) -> ManualResult:
    """Queue a message written by hand (free text, or a template with optional free text).

    The message is an outbox row in state `scheduled`, due now, rendered at once. With
    `note`, the text is appended to the order note while the note stays within 255
    characters; otherwise a copy goes to the merchant (the account's merchant e-mail, else
    the user's). `copy_to_me` adds the user as BCC. Commits, then requests a dispatch.
    Raises NotFound (order) or ValidationError(field, message).
    """
    if channel not in CHANNELS:
        raise ValidationError("channel", "must be e-mail or SMS")
    text = _clean_text(body, "body", MAX_TEXT)
    clean_subject = _clean_subject(subject)
    order = get_order(account_id, order_number)
    account = db.session.get(Account, account_id)
    assert account is not None
    recipient = _recipient(order, channel)
    sender = sender_for_order(order, channel)
    if sender is None:
        raise ValidationError("channel", f"no enabled {channel} sender account for this shop")
    strict = template_id is not None or purpose is not None
    if template_id is not None:
        purpose = _template(account_id, template_id, channel).purpose
    if purpose is None:
        purpose = MANUAL_PURPOSE
        if not text:
            raise ValidationError("body", "enter the message text")
    kinds = [k for k in (document_kinds or []) if k in DOCUMENT_KINDS]
    documents = [d for d in order.documents if d.kind in kinds]
    if kinds and not documents:
        raise ValidationError("document", f"the order has no {kinds[0].replace('_', ' ')} yet")

    from webapp.message_templates.context import choose_language

    language = choose_language(
        order.customer.language, order.shop.language, account.default_language
    )
    copies: list[str] = []
    if copy_to_me and user is not None:
        copies.append(user.email)
    note_added = False
    if note:
        line = f"{now():%Y-%m-%d} {channel}: {text or clean_subject or purpose}"
        new_note = _note_with(order, line)
        if new_note is not None:
            order.note = new_note
            note_added = True
        else:
            merchant = account.merchant_email or (user.email if user is not None else None)
            if merchant:
                copies.append(merchant)

    try:
        key = f"manual:{uuid.uuid4().hex}"
        message = Message(
            account_id=account_id,
            dedupe_key=key,
            order_id=order.id,
            sender_account_id=sender.id,
            channel=channel,
            state="scheduled",
            purpose=purpose,
            language=language,
            to_address=recipient,
            to_name=order.customer.name,
            bcc=_unique(list(sender.bcc or []) + copies, recipient) if channel == "email" else [],
            context={"manual": True, "actor": user.email if user else "system"}
            | ({"template_id": template_id} if template_id else {}),
            attachments=[{"type": "document", "id": d.id} for d in documents],
            send_after=now(),
            attempts=0,
            repeat_index=0,
        )
        db.session.add(message)
        db.session.flush()
        db.session.execute(
            insert(message_order).values(message_id=message.id, order_id=order.id, dedupe_key=key)
        )
        message.status_url = _status_link(message)
        _render(
            message,
            order,
            purpose=purpose,
            template_id=template_id,
            subject=clean_subject,
            text=text,
            documents=documents,
            strict=strict,
        )
        if channel == "sms" and not (message.body_text or "").strip():
            raise ValidationError("body", "enter the message text")
        message.rendered_at = now()
        record_audit(
            account_id,
            "message.manual",
            actor=user.email if user else "system",
            target=order.number,
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    request_dispatch()
    return ManualResult(message=message, note_added=note_added, copies=copies)


def _status_link(message: Message) -> str | None:
    from webapp.status.services import mint_link_for_message

    return mint_link_for_message(message)


# --- quick replies ----------------------------------------------------------------------

# The standard texts a quick reply can use per channel. "manual" is what a reply with its own
# text uses anyway; a review request needs a review link that only its rule provides.
QUICK_REPLY_PURPOSES: dict[str, tuple[str, ...]] = {
    "email": tuple(p for p in EMAIL_PURPOSES if p not in ("manual", "review_request")),
    "sms": SMS_PURPOSES,
}
# Spelled out again in the validation messages (translatable strings cannot be formatted).
MAX_QUICK_REPLY_TITLE = 200
MAX_QUICK_REPLY_POSITION = 9999


def install_default_quick_replies(account_id: int, *, actor: str = "system") -> list[QuickReply]:
    """Add the default quick replies the account does not have yet (by key). Commits.

    Titles are stored as their English source and translated where shown; the messages use
    the template of their purpose in the customer's language.
    """
    existing = set(
        db.session.execute(
            select(QuickReply.default_key).where(
                QuickReply.account_id == account_id, QuickReply.default_key.is_not(None)
            )
        ).scalars()
    )
    added = []
    for position, (key, spec) in enumerate(DEFAULT_QUICK_REPLIES):
        if key in existing:
            continue
        reply = QuickReply(
            account_id=account_id, default_key=key, position=position * 10, channel="email", **spec
        )
        db.session.add(reply)
        added.append(reply)
    if added:
        record_audit(account_id, "quick_reply.defaults", actor=actor, target=str(len(added)))
        db.session.commit()
    return added


def list_quick_replies(account_id: int) -> list[QuickReply]:
    """The account's enabled quick replies in order (the order page offers these)."""
    stmt = (
        scoped(QuickReply, account_id)
        .where(QuickReply.enabled.is_(True))
        .order_by(QuickReply.position, QuickReply.id)
    )
    return list(db.session.execute(stmt).scalars())


def list_all_quick_replies(account_id: int) -> list[QuickReply]:
    """Every quick reply of the account, switched-off ones too, in order (for the settings)."""
    stmt = scoped(QuickReply, account_id).order_by(QuickReply.position, QuickReply.id)
    return list(db.session.execute(stmt).scalars())


def _has_template(account_id: int, purpose: str, channel: str) -> bool:
    from webapp.message_templates.services import list_templates

    return any(t.purpose == purpose and t.channel == channel for t in list_templates(account_id))


def _next_position(account_id: int) -> int:
    last = db.session.execute(
        select(func.max(QuickReply.position)).where(QuickReply.account_id == account_id)
    ).scalar_one()
    return 0 if last is None else min(last + 10, MAX_QUICK_REPLY_POSITION)


def _quick_reply_values(
    account_id: int,
    *,
    title: str,
    channel: str,
    purpose: str | None,
    subject: str | None,
    body: str | None,
    document_kinds: list[str] | None,
    position: int | None,
    enabled: bool,
) -> dict[str, Any]:
    """The checked column values of a quick reply; raises ValidationError(field, message)."""
    title = (title or "").strip()
    if not title or len(title) > MAX_QUICK_REPLY_TITLE:
        raise ValidationError("title", N_("must be 1 to 200 characters"))
    if "\r" in title or "\n" in title:
        raise ValidationError("title", N_("must not contain line breaks"))
    if channel not in QUICK_REPLY_CHANNELS:
        raise ValidationError("channel", N_("must be e-mail or SMS"))
    purpose = purpose or None
    if purpose is not None:
        if purpose not in QUICK_REPLY_PURPOSES[channel]:
            raise ValidationError("purpose", N_("is no standard text for this channel"))
        if not _has_template(account_id, purpose, channel):
            raise ValidationError(
                "purpose", N_("the account has no template for it on this channel")
            )
    text = _clean_text(body, "body", MAX_TEXT)
    if not purpose and not text:
        raise ValidationError("body", N_("enter a text or choose a template"))
    kinds = list(dict.fromkeys(document_kinds or []))
    if any(k not in DOCUMENT_KINDS for k in kinds):
        raise ValidationError("document_kinds", N_("unknown document kind"))
    if kinds and channel == "sms":
        raise ValidationError("document_kinds", N_("an SMS cannot carry documents"))
    # An SMS has no subject; one typed while the e-mail channel was chosen is dropped.
    clean_subject = _clean_subject(subject) if channel == "email" else ""
    if position is None:
        position = _next_position(account_id)
    elif not 0 <= position <= MAX_QUICK_REPLY_POSITION:
        raise ValidationError("position", N_("must be between 0 and 9999"))
    return {
        "title": title,
        "channel": channel,
        "purpose": purpose,
        "subject": clean_subject or None,
        "body": text or None,
        "document_kinds": kinds,
        "position": position,
        "enabled": bool(enabled),
    }


def create_quick_reply(
    account_id: int,
    title: str,
    *,
    channel: str = "email",
    purpose: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    document_kinds: list[str] | None = None,
    position: int | None = None,
    enabled: bool = True,
    actor: str = "system",
) -> QuickReply:
    """Add a quick reply: a template purpose or a fixed subject and text (placed last unless
    `position` is given). Commits. Raises ValidationError(field, message)."""
    values = _quick_reply_values(
        account_id,
        title=title,
        channel=channel,
        purpose=purpose,
        subject=subject,
        body=body,
        document_kinds=document_kinds,
        position=position,
        enabled=enabled,
    )
    reply = QuickReply(account_id=account_id, **values)
    db.session.add(reply)
    record_audit(account_id, "quick_reply.create", actor=actor, target=values["title"])
    db.session.commit()
    return reply


def update_quick_reply(
    account_id: int,
    quick_reply_id: int,
    title: str,
    *,
    channel: str = "email",
    purpose: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    document_kinds: list[str] | None = None,
    position: int | None = None,
    enabled: bool = True,
    actor: str = "system",
) -> QuickReply:
    """Change every field of a quick reply (a default keeps its key, so it is not installed
    again). Commits. Raises NotFound or ValidationError(field, message)."""
    reply = get_quick_reply(account_id, quick_reply_id)
    values = _quick_reply_values(
        account_id,
        title=title,
        channel=channel,
        purpose=purpose,
        subject=subject,
        body=body,
        document_kinds=document_kinds,
        position=reply.position if position is None else position,
        enabled=enabled,
    )
    for name, value in values.items():
        setattr(reply, name, value)
    record_audit(account_id, "quick_reply.update", actor=actor, target=reply.title)
    db.session.commit()
    return reply


def set_quick_reply_enabled(
    account_id: int, quick_reply_id: int, enabled: bool, *, actor: str = "system"
) -> QuickReply:
    """Offer a quick reply on the order page again, or stop offering it. Commits.
    Raises NotFound."""
    reply = get_quick_reply(account_id, quick_reply_id)
    if reply.enabled != enabled:
        reply.enabled = enabled
        action = "quick_reply.enable" if enabled else "quick_reply.disable"
        record_audit(account_id, action, actor=actor, target=reply.title)
        db.session.commit()
    return reply


def delete_quick_reply(account_id: int, quick_reply_id: int, *, actor: str = "system") -> str:
    """Delete a quick reply (messages already sent with it stay in the log); returns its
    title. Commits. Raises NotFound."""
    reply = get_quick_reply(account_id, quick_reply_id)
    title = reply.title
    db.session.delete(reply)
    record_audit(account_id, "quick_reply.delete", actor=actor, target=title)
    db.session.commit()
    return title


def send_quick_reply(
    account_id: int, order_number: str, quick_reply_id: int, *, user: User | None = None
) -> ManualResult:
    """Queue one quick reply for an order (its template in the customer's language, or its
    fixed text, with the documents it names). Commits, then requests a dispatch; the order
    note is left alone. Raises NotFound (order or quick reply) or ValidationError."""
    reply = get_quick_reply(account_id, quick_reply_id)
    return send_manual_message(
        account_id,
        order_number,
        channel=reply.channel,
        purpose=reply.purpose or None,
        subject=reply.subject,
        body=reply.body,
        document_kinds=list(reply.document_kinds or []),
        user=user,
        note=False,
    )


# --- resending ------------------------------------------------------------------------------


def resend_message(
    account_id: int, message_id: int, to_address: str, *, actor: str = "system"
) -> Message:
    """Send a finished message again to a corrected address, as a new outbox row.

    The original keeps its history. A rule's message is rendered afresh by the worker with a
    new status link; a hand-written one keeps its text. Commits, then requests a dispatch.
    Raises NotFound or ValidationError.
    """
    original = get_message_for_admin(account_id, message_id)
    if original.state not in RESENDABLE_STATES:
        raise ValidationError("state", "only sent, failed or suppressed messages can be resent")
    address = (to_address or "").strip()
    if original.channel == "email":
        address = normalise_email(address, "to_address")
    elif not address or any(c in address for c in "\r\n") or len(address) > 40:
        raise ValidationError("to_address", "enter a mobile number")
    try:
        key = f"resend:{uuid.uuid4().hex}"
        copy = Message(
            account_id=account_id,
            dedupe_key=key,
            order_id=original.order_id,
            event_id=original.event_id,
            rule_id=original.rule_id,
            sender_account_id=original.sender_account_id,
            channel=original.channel,
            state="scheduled",
            purpose=original.purpose,
            language=original.language,
            to_address=address,
            to_name=original.to_name,
            bcc=_unique(list(original.bcc or []), address),
            context=dict(original.context or {}) | {"resend_of": original.id},
            attachments=list(original.attachments or []),
            send_after=now(),
            attempts=0,
            repeat_index=original.repeat_index,
        )
        db.session.add(copy)
        db.session.flush()
        for order in original.orders:
            db.session.execute(
                insert(message_order).values(
                    message_id=copy.id, order_id=order.id, dedupe_key=f"{key}:{order.id}"
                )
            )
        copy.status_url = _status_link(copy) if original.status_url else None
        if original.rule_id is None:
            # Typed by hand: the text cannot be produced again, so it is kept as it was.
            copy.subject = original.subject
            copy.body_text = original.body_text
            copy.body_html = original.body_html
            copy.rendered_at = now()
        record_audit(account_id, "message.resend", actor=actor, target=str(original.id))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    request_dispatch()
    return copy


def text_as_html(text: str) -> str:
    """Plain text as simple HTML paragraphs (for a review edit of a message with HTML)."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "\n".join("<p>" + str(escape(p)).replace("\n", "<br>\n") + "</p>" for p in paragraphs)
