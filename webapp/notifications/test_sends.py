"""A template's test message to the merchant ("send a test to me") through the outbox.

Like a manual message it is an outbox row in state `scheduled`, due now and rendered when it
is created, and the worker delivers it after the commit; nothing is sent from the request.
"""

from __future__ import annotations

import uuid

from webapp.accounts.models import SenderAccount, User
from webapp.accounts.services import ValidationError, record_audit
from webapp.extensions import db
from webapp.i18n import N_
from webapp.notifications.models import Message
from webapp.notifications.planning import sender_for_order
from webapp.notifications.scheduling import now
from webapp.notifications.services import request_dispatch
from webapp.orders.models import Order
from webapp.tenancy import scoped

TEST_PURPOSE = "template_test"
TEST_PREFIX = "[Test] "


def _test_sender(account_id: int, order: Order | None, shop_id: int | None) -> SenderAccount:
    if order is not None:
        sender = sender_for_order(order, "email")
    else:
        stmt = (
            scoped(SenderAccount, account_id)
            .where(SenderAccount.enabled.is_(True), SenderAccount.channel == "email")
            # The previewed shop's own sender first, then the account's general one.
            .order_by(
                (SenderAccount.shop_id == shop_id).desc() if shop_id else SenderAccount.id,
                SenderAccount.shop_id.is_not(None),
                SenderAccount.id,
            )
        )
        sender = db.session.execute(stmt).scalars().first()
    if sender is None:
        raise ValidationError("sender", N_("no enabled e-mail sender account"))
    return sender


def send_template_test(
    account_id: int,
    user: User,
    *,
    template_id: int,
    subject: str,
    text: str,
    html: str | None,
    language: str | None,
    order: Order | None = None,
    shop_id: int | None = None,
) -> Message:
    """Queue the rendered template as an e-mail to `user` (an SMS template's text as the body).

    The subject is marked "[Test]"; no status link is minted and the order's note and "last
    notified" stay as they are. Commits, then requests a dispatch. Raises ValidationError when
    the account has no enabled e-mail sender account.
    """
    if order is not None and order.account_id != account_id:
        raise ValidationError("order_number", N_("no such order"))
    sender = _test_sender(account_id, order, shop_id)
    clean_subject = " ".join((subject or "").split())[:400] or "Statuslink"
    try:
        key = f"test:{uuid.uuid4().hex}"
        message = Message(
            account_id=account_id,
            dedupe_key=key,
            order_id=None,
            sender_account_id=sender.id,
            channel="email",
            state="scheduled",
            purpose=TEST_PURPOSE,
            language=language,
            to_address=user.email,
            to_name=user.name or None,
            bcc=[],
            subject=f"{TEST_PREFIX}{clean_subject}",
            body_text=text,
            body_html=html or None,
            context={
                "manual": True,
                "test": True,
                "template_id": template_id,
                "actor": user.email,
            },  # fmt: skip
            attachments=[],
            send_after=now(),
            rendered_at=now(),
            attempts=0,
            repeat_index=0,
        )
        db.session.add(message)
        db.session.flush()
        record_audit(
            account_id,
            "message.test",
            actor=user.email,
            user_id=user.id,
            target=str(template_id),
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    request_dispatch()
    return message
