"""The worker never sends a message through another account's sender account."""

from __future__ import annotations

from sqlalchemy import update

from tests.support.outbox import event, messages, place_order
from webapp.extensions import db
from webapp.notifications.delivery import deliver_due_messages
from webapp.notifications.models import Message


def test_message_pointing_at_a_foreign_sender_fails_and_is_not_sent(
    engine_ready, other_tenant, smtp_server, clock
):
    place_order(engine_ready, "W-90")
    [planned] = event(engine_ready, "W-90").messages
    foreign_sender = other_tenant.webshop.sender_account_id
    db.session.execute(
        update(Message).where(Message.id == planned.id).values(sender_account_id=foreign_sender)
    )
    db.session.commit()
    report = deliver_due_messages()
    assert report.sent == 0 and report.failed == 1
    [message] = messages(engine_ready)
    assert message.state == "failed"
    assert message.error == "the sender account belongs to another account"
    assert smtp_server.messages() == []


def test_own_sender_still_sends(engine_ready, smtp_server, clock):
    place_order(engine_ready, "W-91")
    event(engine_ready, "W-91")
    assert deliver_due_messages().sent == 1
    assert len(smtp_server.wait_for(1)) == 1
