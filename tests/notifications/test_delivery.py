"""Delivery from the outbox to a real SMTP server (aiosmtpd on loopback), run in-process."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.support.outbox import attach_pdf, event, messages, place_order
from webapp.accounts.models import SenderAccount
from webapp.extensions import db
from webapp.notifications.delivery import (
    claim_due_messages,
    deliver_due_messages,
    recover_expired_leases,
)
from webapp.notifications.models import Message, MessageAttempt, Rule
from webapp.notifications.rules import update_rule
from webapp.notifications.services import create_attachment_file, retry_message

URL = re.compile(r"https?://[^\s\"'<>()]+")


def _rule(tenant, key: str) -> Rule:
    return db.session.execute(
        select(Rule).where(Rule.account_id == tenant.account.id, Rule.default_key == key)
    ).scalar_one()


def _attempts(message_id: int) -> list[MessageAttempt]:
    stmt = select(MessageAttempt).where(MessageAttempt.message_id == message_id)
    return list(db.session.execute(stmt.order_by(MessageAttempt.id)).scalars())


def test_german_fba_order_on_amazon_gets_a_german_mail_with_attachment_and_bcc(
    engine_ready, smtp_server, clock
):
    tenant = engine_ready
    tenant.account.merchant_email = "chef@acme.example"
    db.session.commit()
    update_rule(
        tenant.account.id,
        _rule(tenant, "shipped").id,
        bcc=["archiv@acme.example"],
        copy_to_merchant=True,
        document_kinds=["invoice"],
    )
    create_attachment_file(
        tenant.account,
        "Widerruf FBA",
        "widerruf-fba.pdf",
        b"%PDF-fba",
        marketplaces=["amazon.de"],
        fulfillments=["FBA"],
        languages=["de"],
    )
    create_attachment_file(
        tenant.account, "Widerruf FBM", "widerruf-fbm.pdf", b"%PDF-fbm", fulfillments=["FBM"]
    )
    create_attachment_file(tenant.account, "AGB FR", "cgv.pdf", b"%PDF-fr", languages=["fr"])
    place_order(
        tenant,
        "302-1234567-1234567",
        shop="amz-de",
        fulfillment="FBA",
        items=[
            {"title": "Trekkingrucksack 45 l", "quantity": 1},
            {"title": "Regenhülle", "quantity": 2},
        ],
    )
    attach_pdf(tenant, "302-1234567-1234567", "invoice", "RE-2030-1")
    [planned] = event(tenant, "302-1234567-1234567").messages

    report = deliver_due_messages()
    assert report.sent == 1

    [mail] = smtp_server.wait_for(1)
    text = mail.part("plain")
    assert "Trekkingrucksack 45 l" in text and "Regenhülle" in text
    assert set(mail.attachments()) == {"widerruf-fba.pdf", "RE-2030-1.pdf"}
    assert mail.attachments()["widerruf-fba.pdf"] == b"%PDF-fba"
    assert set(mail.rcpt_tos) == {"kunde@example.org", "archiv@acme.example", "chef@acme.example"}
    assert "Bcc" not in mail.message  # BCC goes only into the envelope
    assert mail.mail_from == "amazon@acme.example"
    assert not URL.search(text) and not URL.search(mail.part("html") or "")
    [message] = messages(tenant)
    assert message.language == "de" and message.state == "sent"
    assert mail.message_id == f"<msg-{planned.id}.{tenant.account.id}.statuslink@statuslink.test>"
    assert message.orders[0].last_notified_at == clock.current
    [attempt] = _attempts(message.id)
    assert (attempt.outcome, attempt.reply_code) == ("sent", 250)


def test_web_shop_mail_carries_the_status_link_and_both_parts(engine_ready, smtp_server, clock):
    place_order(engine_ready, "W-10")
    [planned] = event(engine_ready, "W-10").messages
    deliver_due_messages()
    [mail] = smtp_server.wait_for(1)
    first_status_url = next(u for u in URL.findall(mail.part("plain")) if "/s/" in u)
    assert first_status_url == planned.status_url
    assert mail.part("html") and "/s/" in mail.part("html")
    assert mail.message["To"].addresses[0].addr_spec == "kunde@example.org"


def test_status_file_is_attached_when_the_rule_asks_except_for_amazon(
    engine_ready, smtp_server, clock
):
    tenant = engine_ready
    update_rule(tenant.account.id, _rule(tenant, "shipped").id, attach_status_file=True)
    place_order(tenant, "W-20", items=[{"title": "Wanderkarte Harz", "quantity": 1}])
    place_order(tenant, "302-7654321-7654321", shop="amz-de", fulfillment="FBA")
    event(tenant, "W-20")
    event(tenant, "302-7654321-7654321")
    assert deliver_due_messages().sent == 2

    by_order = {("W-20" in str(m.message["Subject"])): m for m in smtp_server.wait_for(2)}
    web, amazon = by_order[True], by_order[False]
    files = web.attachments()
    assert list(files) == ["order-W-20-status.html"]
    html = files["order-W-20-status.html"].decode("utf-8")
    assert "W-20" in html and "Wanderkarte Harz" in html
    assert "<style" in html and "<script" not in html
    # Self-contained: nothing is loaded from anywhere.
    assert not re.search(r"""(src|href)=["']?https?://[^"']*\.(css|js|png|svg|woff2?)""", html)
    assert "<link" not in html
    assert amazon.attachments() == {}


def test_delayed_message_waits_for_its_time(engine_ready, smtp_server, clock):
    update_rule(
        engine_ready.account.id, _rule(engine_ready, "shipped").id, delay_minutes=3 * 24 * 60
    )
    place_order(engine_ready, "W-11")
    event(engine_ready, "W-11")
    clock.advance(days=3, seconds=-1)
    assert deliver_due_messages().sent == 0
    clock.advance(seconds=1)
    assert deliver_due_messages().sent == 1
    assert len(smtp_server.wait_for(1)) == 1


def test_550_fails_at_once_with_the_reply_kept(engine_ready, smtp_server, clock):
    smtp_server.mode = "550"
    place_order(engine_ready, "W-12")
    event(engine_ready, "W-12")
    report = deliver_due_messages()
    assert (report.sent, report.failed, report.retried) == (0, 1, 0)
    [message] = messages(engine_ready)
    assert message.state == "failed"
    assert message.error.startswith("550 5.1.1") and "User unknown" in message.error
    [attempt] = _attempts(message.id)
    assert attempt.reply_code == 550


def test_451_retries_with_backoff_until_the_server_recovers(engine_ready, smtp_server, clock):
    smtp_server.mode = "451"
    place_order(engine_ready, "W-13")
    event(engine_ready, "W-13")
    deliver_due_messages()
    [message] = messages(engine_ready)
    assert message.state == "scheduled" and message.error.startswith("451")
    first_wait = message.send_after - clock.current
    assert timedelta(0) < first_wait <= timedelta(seconds=1)
    clock.advance(seconds=2)
    deliver_due_messages()
    [message] = messages(engine_ready)
    assert message.attempts == 2 and message.state == "scheduled"
    smtp_server.mode = "accept"
    clock.advance(seconds=5)
    deliver_due_messages()
    [message] = messages(engine_ready)
    assert message.state == "sent" and message.error is None
    assert [a.reply_code for a in _attempts(message.id)] == [451, 451, 250]
    assert len(smtp_server.wait_for(1)) == 1


def test_retries_give_up_after_a_day(engine_ready, smtp_server, clock):
    smtp_server.stop()
    place_order(engine_ready, "W-14")
    event(engine_ready, "W-14")
    deliver_due_messages()
    [message] = messages(engine_ready)
    assert message.state == "scheduled" and "connection" in message.error
    clock.advance(days=1)
    deliver_due_messages()
    [message] = messages(engine_ready)
    assert message.state == "failed" and message.error.startswith("gave up after 2 attempts")


def test_failed_message_can_be_sent_again(engine_ready, smtp_server, clock):
    smtp_server.mode = "550"
    place_order(engine_ready, "W-15")
    [planned] = event(engine_ready, "W-15").messages
    deliver_due_messages()
    smtp_server.mode = "accept"
    retry_message(engine_ready.account.id, planned.id)
    deliver_due_messages()
    [message] = messages(engine_ready)
    assert message.state == "sent"
    assert len(smtp_server.wait_for(1)) == 1


def test_line_breaks_in_headers_are_refused_before_sending(engine_ready, smtp_server, clock):
    place_order(engine_ready, "W-16", customer_name="Eve\r\nBcc: victim@example.org")
    [planned] = event(engine_ready, "W-16").messages
    deliver_due_messages()
    [message] = messages(engine_ready)
    assert message.state == "failed"
    assert "line break" in message.error
    assert smtp_server.messages() == []


def test_an_address_that_needs_smtputf8_fails_alone(engine_ready, smtp_server, clock):
    # Characters outside ASCII before the @ cannot be sent: that message fails with the reason
    # and its batch goes on; a domain outside ASCII is sent in its IDNA form.
    place_order(engine_ready, "W-17", email="jürgen@example.org")
    place_order(engine_ready, "W-18", email="kunde@bücher.example")
    [refused] = event(engine_ready, "W-17").messages
    [idn] = event(engine_ready, "W-18").messages
    report = deliver_due_messages()
    assert (report.sent, report.failed) == (1, 1)
    db.session.expire_all()
    refused, idn = db.session.get(Message, refused.id), db.session.get(Message, idn.id)
    assert refused.state == "failed" and "SMTPUTF8" in refused.error
    assert [a.outcome for a in _attempts(refused.id)] == ["rejected"]
    assert idn.state == "sent"
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["kunde@xn--bcher-kva.example"]
    sender = db.session.get(SenderAccount, refused.sender_account_id)
    assert sender.last_error is None  # the customer's address, not the account, is at fault


def test_claims_are_exclusive_and_expired_leases_come_back(engine_ready, smtp_server, clock):
    for n in range(3):
        place_order(engine_ready, f"L-{n}")
        event(engine_ready, f"L-{n}")
    first = claim_due_messages("worker-a", at=clock.current, limit=2)
    second = claim_due_messages("worker-b", at=clock.current, limit=10)
    assert len(first) == 2 and len(second) == 1
    assert not {m.id for m in first} & {m.id for m in second}
    assert claim_due_messages("worker-c", at=clock.current, limit=10) == []
    # worker-a dies: its lease (3 s in tests) runs out, the messages are due again
    assert recover_expired_leases(at=clock.current + timedelta(seconds=1)) == 0
    assert recover_expired_leases(at=clock.current + timedelta(seconds=4)) == 3
    clock.advance(seconds=4)
    assert deliver_due_messages().sent == 3
    ids = sorted(m.message_id for m in smtp_server.wait_for(3))
    assert len(set(ids)) == 3


def test_a_worker_claiming_at_the_same_moment_as_another_gets_the_next_messages(
    app, engine_ready, clock
):
    """Worker B's claim is about to change rows when worker A claims: B must still get due
    messages (the ones A did not take), not an empty batch that would end its run while
    more is due."""
    import threading

    from sqlalchemy import event as sa_event

    for n in range(4):
        place_order(engine_ready, f"K-{n}")
        event(engine_ready, f"K-{n}")
    main = threading.get_ident()
    taken_by_a: list[int] = []
    interrupted: list[str] = []

    def claim_as_a() -> None:
        with app.app_context():
            try:
                claimed = claim_due_messages("worker-a", at=clock.current, limit=2)
                taken_by_a.extend(m.id for m in claimed)
            finally:
                db.session.remove()

    def before_write(conn, cursor, statement, parameters, context, executemany):
        if (
            threading.get_ident() == main
            and statement.startswith("UPDATE message SET state")
            and not interrupted
        ):
            interrupted.append(statement)
            other = threading.Thread(target=claim_as_a)
            other.start()
            other.join()

    sa_event.listen(db.engine, "before_cursor_execute", before_write)
    try:
        taken_by_b = [m.id for m in claim_due_messages("worker-b", at=clock.current, limit=2)]
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", before_write)
    assert interrupted
    assert len(taken_by_a) == 2 and len(taken_by_b) == 2
    assert not set(taken_by_a) & set(taken_by_b)
    owners = db.session.execute(select(Message.lease_owner)).scalars()
    assert sorted(owners) == ["worker-a"] * 2 + ["worker-b"] * 2


def test_a_full_batch_starts_a_second_lane_and_each_message_goes_once(
    app, engine_ready, smtp_server, clock
):
    app.config.update(DISPATCH_BATCH_SIZE=3, DISPATCH_LANES=2)
    smtp_server.delay = 0.05  # the first lane is still sending when the second claims
    for n in range(10):
        place_order(engine_ready, f"P-{n}")
        event(engine_ready, f"P-{n}")
    report = deliver_due_messages()
    assert (report.claimed, report.sent, report.failed) == (10, 10, 0)
    mails = smtp_server.wait_for(10)
    assert len(mails) == 10
    assert len({mail.message_id for mail in mails}) == 10
    # Two lanes, each with its own SMTP connection.
    assert len({mail.peer for mail in mails}) == 2
    states = db.session.execute(select(Message.state, Message.lease_owner)).all()
    assert sorted(state for state, _ in states) == ["sent"] * 10
    assert {owner for _, owner in states} == {None}


def test_one_lane_while_everything_due_fits_one_batch(app, engine_ready, smtp_server, clock):
    app.config.update(DISPATCH_BATCH_SIZE=4, DISPATCH_LANES=2)
    for n in range(3):
        place_order(engine_ready, f"Q-{n}")
        event(engine_ready, f"Q-{n}")
    assert deliver_due_messages().sent == 3
    mails = smtp_server.wait_for(3)
    assert len({mail.peer for mail in mails}) == 1


def test_an_error_in_a_second_lane_reaches_the_run(app, engine_ready, smtp_server, clock):
    import threading

    from webapp.notifications import delivery

    app.config.update(DISPATCH_BATCH_SIZE=2, DISPATCH_LANES=2)
    for n in range(6):
        place_order(engine_ready, f"E-{n}")
        event(engine_ready, f"E-{n}")
    original = delivery.claim_due_messages

    def failing_in_lanes(*args, **kwargs):
        if threading.current_thread().name.startswith("delivery-lane-"):
            raise RuntimeError("lane failed")
        return original(*args, **kwargs)

    delivery.claim_due_messages = failing_in_lanes
    try:
        with pytest.raises(RuntimeError, match="lane failed"):
            deliver_due_messages()
    finally:
        delivery.claim_due_messages = original
    # The first lane still sent everything; nothing was sent twice.
    mails = smtp_server.wait_for(6)
    assert len({mail.message_id for mail in mails}) == len(mails) == 6


def test_cancelled_while_claimed_is_not_sent(engine_ready, smtp_server, clock):
    place_order(engine_ready, "W-17")
    event(engine_ready, "W-17")
    [claimed] = claim_due_messages("worker-a", at=clock.current, limit=5)
    db.session.execute(update(Message).where(Message.id == claimed.id).values(state="cancelled"))
    db.session.commit()
    clock.advance(seconds=10)
    assert deliver_due_messages().sent == 0
    assert smtp_server.messages() == []


def test_coalesced_message_lists_every_order(engine_ready, smtp_server, clock):
    update_rule(
        engine_ready.account.id,
        _rule(engine_ready, "goods_received").id,
        enabled=True,
        coalesce_minutes=10,
    )
    place_order(engine_ready, "B-1", items=[{"title": "Der Zauberberg", "quantity": 1}])
    place_order(engine_ready, "B-2", items=[{"title": "Effi Briest", "quantity": 1}])
    event(engine_ready, "B-1", "goods_received")
    event(engine_ready, "B-2", "goods_received")
    assert deliver_due_messages().sent == 0
    clock.advance(minutes=10)
    assert deliver_due_messages().sent == 1
    [mail] = smtp_server.wait_for(1)
    assert "Der Zauberberg" in mail.part("plain") and "Effi Briest" in mail.part("plain")
    orders = messages(engine_ready)[0].orders
    assert all(o.last_notified_at == clock.current for o in orders) and len(orders) == 2


def test_prepayment_reminders_repeat_until_paid(engine_ready, smtp_server, clock):
    update_rule(
        engine_ready.account.id,
        _rule(engine_ready, "payment_reminder").id,
        enabled=True,
        business_days_only=False,
        respect_quiet_hours=False,
    )
    place_order(engine_ready, "P-1", payment="prepayment")
    event(engine_ready, "P-1", "invoiced")
    clock.advance(days=3)
    assert deliver_due_messages().sent == 1
    clock.advance(days=4)
    assert deliver_due_messages().sent == 1
    event(engine_ready, "P-1", "payment_received")
    clock.advance(days=4)
    assert deliver_due_messages().sent == 0
    states = [(m.repeat_index, m.state) for m in messages(engine_ready)]
    assert states == [(0, "sent"), (1, "sent"), (2, "cancelled")]
    assert len(smtp_server.wait_for(2)) == 2
