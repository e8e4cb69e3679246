"""Sending by hand, quick replies and resends: services, and delivery by a real worker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.html import csrf_token
from tests.support.outbox import attach_pdf, event, messages, place_order
from tests.support.worker import running_worker, wait_until
from webapp.accounts.models import Account
from webapp.accounts.services import ValidationError
from webapp.extensions import db
from webapp.notifications import manual
from webapp.notifications.defaults import seed_default_rules
from webapp.notifications.models import Message, QuickReply
from webapp.orders.services import get_order
from webapp.tenancy import NotFound


def test_free_text_goes_through_the_outbox(engine_ready, clock):
    place_order(engine_ready, "M-1")
    result = manual.send_manual_message(
        engine_ready.account.id,
        "M-1",
        body="Ihr Paket ist heute unterwegs.",
        user=engine_ready.owner,
    )
    message = result.message
    assert message.state == "scheduled" and message.send_after == clock.current
    assert message.rendered_at is not None  # the worker sends this text as it is
    assert message.to_address == "kunde@example.org"
    assert [o.number for o in message.orders] == ["M-1"]
    assert "Ihr Paket ist heute unterwegs." in message.body_text
    assert message.status_url and "/s/" in message.status_url
    assert message.status_url in message.body_text
    assert result.note_added and result.copies == []
    note = get_order(engine_ready.account.id, "M-1").note
    assert note == "2030-01-09 email: Ihr Paket ist heute unterwegs."


def test_template_and_subject_override(engine_ready):
    from webapp.message_templates.services import list_templates

    place_order(engine_ready, "M-2")
    shipped = next(
        t
        for t in list_templates(engine_ready.account.id)
        if (t.purpose, t.channel) == ("shipped", "email")
    )
    result = manual.send_manual_message(
        engine_ready.account.id, "M-2", template_id=shipped.id, subject="Unterwegs!", note=False
    )
    assert result.message.subject == "Unterwegs!"
    assert "Wanderschuh Alpin" in result.message.body_text
    assert result.message.purpose == "shipped"
    assert get_order(engine_ready.account.id, "M-2").note == ""


def test_full_note_sends_a_copy_to_the_merchant(engine_ready):
    place_order(engine_ready, "M-3")
    order = get_order(engine_ready.account.id, "M-3")
    order.note = "x" * 240
    account = db.session.get(Account, engine_ready.account.id)
    account.merchant_email = "chef@acme.example"
    db.session.commit()
    result = manual.send_manual_message(
        engine_ready.account.id, "M-3", body="A longer text that no longer fits the note."
    )
    assert not result.note_added
    assert result.copies == ["chef@acme.example"]
    assert "chef@acme.example" in result.message.bcc
    assert get_order(engine_ready.account.id, "M-3").note == "x" * 240


def test_full_note_without_merchant_address_copies_the_user(engine_ready):
    place_order(engine_ready, "M-4")
    order = get_order(engine_ready.account.id, "M-4")
    order.note = "y" * 250
    db.session.commit()
    result = manual.send_manual_message(
        engine_ready.account.id, "M-4", body="Too long for the note", user=engine_ready.owner
    )
    assert result.copies == ["owner@acme.example"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "x", "subject": "Hi\nBcc: a@b.example"}, "subject"),
        ({"body": "x", "channel": "fax"}, "channel"),
        ({"body": "x" * 5001}, "body"),
        ({"body": "x", "template_id": 987654}, "template_id"),
        ({"body": "x", "channel": "sms"}, "channel"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(engine_ready, kwargs, field):
    place_order(engine_ready, "M-5")
    with pytest.raises(ValidationError) as info:
        manual.send_manual_message(engine_ready.account.id, "M-5", **kwargs)
    assert info.value.field == field
    assert messages(engine_ready) == []
    assert get_order(engine_ready.account.id, "M-5").note == ""


def test_customer_without_email_is_refused(engine_ready):
    place_order(engine_ready, "M-6", email=None)
    with pytest.raises(ValidationError, match="no e-mail address"):
        manual.send_manual_message(engine_ready.account.id, "M-6", body="Hallo")


def test_another_accounts_order_is_not_found(engine_ready, other_tenant):
    place_order(other_tenant, "G-1")
    with pytest.raises(NotFound):
        manual.send_manual_message(engine_ready.account.id, "G-1", body="Hallo")


def test_default_quick_replies_are_installed_once(engine_ready):
    assert manual.list_quick_replies(engine_ready.account.id) == []  # reading installs nothing
    seed_default_rules(engine_ready.account)
    first = manual.list_quick_replies(engine_ready.account.id)
    assert [r.title for r in first] == [
        "Where is my invoice?",
        "Your order is on its way",
        "Pickup ready",
    ]
    assert manual.install_default_quick_replies(engine_ready.account.id) == []
    count = db.session.execute(
        select(QuickReply).where(QuickReply.account_id == engine_ready.account.id)
    ).all()
    assert len(count) == 3


def test_deleted_quick_replies_are_not_installed_again(engine_ready):
    for reply in manual.install_default_quick_replies(engine_ready.account.id):
        manual.delete_quick_reply(engine_ready.account.id, reply.id, actor="test")
    assert manual.list_quick_replies(engine_ready.account.id) == []
    assert manual.list_all_quick_replies(engine_ready.account.id) == []


def test_custom_quick_reply_with_fixed_text(engine_ready):
    place_order(engine_ready, "Q-1")
    with pytest.raises(ValidationError):
        manual.create_quick_reply(engine_ready.account.id, "  ")
    reply = manual.create_quick_reply(
        engine_ready.account.id, "Opening hours", body="We are open 9-18 every weekday."
    )
    result = manual.send_quick_reply(engine_ready.account.id, "Q-1", reply.id)
    assert "We are open 9-18" in result.message.body_text
    assert get_order(engine_ready.account.id, "Q-1").note == ""


def test_quick_reply_of_another_account_is_not_found(engine_ready, other_tenant):
    place_order(engine_ready, "Q-2")
    foreign = manual.install_default_quick_replies(other_tenant.account.id)[0]
    with pytest.raises(NotFound):
        manual.send_quick_reply(engine_ready.account.id, "Q-2", foreign.id)


def test_resend_needs_a_finished_message(engine_ready):
    place_order(engine_ready, "R-1")
    event(engine_ready, "R-1", "shipped")
    (message,) = messages(engine_ready)
    with pytest.raises(ValidationError):
        manual.resend_message(engine_ready.account.id, message.id, "new@example.org")
    message.state = "failed"
    db.session.commit()
    with pytest.raises(ValidationError):
        manual.resend_message(engine_ready.account.id, message.id, "bad\r\naddress")
    copy = manual.resend_message(engine_ready.account.id, message.id, "New@Example.org")
    assert copy.to_address.lower() == "new@example.org"
    assert copy.rendered_at is None  # a rule's message is rendered afresh by the worker
    assert copy.status_url and copy.status_url != message.status_url


@pytest.mark.slow
def test_manual_send_with_copy_to_me_arrives_through_the_worker(
    app, client, auth, engine_ready, smtp_server, tmp_path
):
    place_order(engine_ready, "W-1")
    attach_pdf(engine_ready, "W-1", "invoice", "RE-9")
    auth.login()
    token = csrf_token(client.get("/orders/W-1/send"))
    with running_worker(app, tmp_path / "worker.log") as worker:
        response = client.post(
            "/orders/W-1/send",
            data={
                "channel": "email",
                "template_id": "",
                "subject": "Kurze Info zu Ihrer Bestellung",
                "body": "Ihr Wanderschuh ist da.",
                "copy_to_me": "y",
            },
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        assert response.status_code == 200
        assert "queued" in response.get_data(as_text=True)
        received = smtp_server.wait_for(1, timeout=15)
        assert received, worker.output()

        def sent() -> bool:
            db.session.rollback()
            return all(m.state == "sent" for m in messages(engine_ready))

        assert wait_until(sent, timeout=10), worker.output()
    (mail,) = received
    assert set(mail.rcpt_tos) == {"kunde@example.org", "owner@acme.example"}
    assert mail.subject == "Kurze Info zu Ihrer Bestellung"
    assert "Ihr Wanderschuh ist da." in (mail.part("plain") or "")
    assert "Bcc" not in mail.message  # a blind copy stays blind
    (message,) = messages(engine_ready)
    assert (
        mail.message_id
        == f"<msg-{message.id}.{engine_ready.account.id}.statuslink@statuslink.test>"
    )
    assert get_order(engine_ready.account.id, "W-1").last_notified_at is not None


@pytest.mark.slow
def test_quick_reply_invoice_arrives_with_the_invoice(
    app, client, auth, engine_ready, smtp_server, tmp_path
):
    place_order(engine_ready, "W-2")
    attach_pdf(engine_ready, "W-2", "invoice", "RE-10")
    reply = manual.install_default_quick_replies(engine_ready.account.id)[0]
    auth.login()
    token = csrf_token(client.get("/orders/W-2/send"))
    with running_worker(app, tmp_path / "worker.log") as worker:
        response = client.post(
            f"/orders/W-2/quick-reply/{reply.id}",
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        assert response.status_code == 200
        received = smtp_server.wait_for(1, timeout=15)
        assert received, worker.output()
    (mail,) = received
    assert "RE-10.pdf" in mail.attachments()
    assert "W-2" in mail.subject
    db.session.rollback()
    assert db.session.execute(select(Message.state)).scalars().all() == ["sent"]
