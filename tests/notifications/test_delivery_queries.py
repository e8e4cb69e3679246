"""The batched delivery path: statements per message (a regression guard), claims that still
hold mid-batch, and one SMTP connection per sender account for a whole run."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.support.outbox import event, messages, place_order
from tests.support.sql import counted_checkouts, counted_statements
from webapp.accounts.models import SenderAccount
from webapp.extensions import db
from webapp.notifications.delivery import deliver_due_messages
from webapp.notifications.models import Message, MessageAttempt

# Per delivered message: the claim check and the outcome (message, attempt, order); the
# batch's own reads (claim, orders, rules, templates, files) add ~1 at a batch of 20. Measured
# 4.9; the bound leaves room for one more without letting the path slide back towards the ~20
# it once took.
MAX_STATEMENTS_PER_MESSAGE = 6
BATCH = 20


def _plan(tenant, count: int, prefix: str) -> None:
    for n in range(count):
        place_order(tenant, f"{prefix}-{n}")
        event(tenant, f"{prefix}-{n}")
    db.session.expire_all()


def test_statements_per_delivered_message_stay_bounded(engine_ready, smtp_server, clock):
    _plan(engine_ready, BATCH, "Q")
    with counted_statements() as statements:
        report = deliver_due_messages()
    assert report.sent == BATCH
    assert len(smtp_server.wait_for(BATCH)) == BATCH
    per_message = len(statements) / BATCH
    assert per_message <= MAX_STATEMENTS_PER_MESSAGE, (
        f"{len(statements)} statements for {BATCH} messages"
    )
    # One claim for the whole batch, and the claim check is a narrow read per message. (On
    # SQLite the claim is a single UPDATE that picks the rows, so the run's last look for due
    # messages, which finds none, is one too.)
    claims = [s for s in statements if s.lstrip().upper().startswith("UPDATE MESSAGE SET STATE")]
    expected = 2 if db.engine.dialect.name == "sqlite" else 1
    assert sum("IN (" in s.upper() for s in claims) == expected
    full_reloads = [s for s in statements if "message.dedupe_key" in s]
    assert len(full_reloads) == 1  # the claimed batch, loaded once


def test_a_run_takes_one_database_connection_for_all_its_transactions(
    engine_ready, smtp_server, clock
):
    _plan(engine_ready, BATCH, "C")
    db.session.commit()
    with counted_checkouts() as checkouts:
        report = deliver_due_messages()
    assert report.sent == BATCH
    # Leases recovered (one), the look for unknown SMS that the first claim commits (one),
    # then one for the lane's BATCH per-message transactions (one lane: the batch of 20 is
    # below DISPATCH_BATCH_SIZE); not one per transaction.
    assert len(checkouts) <= 3, len(checkouts)


def test_a_batch_reads_its_sender_account_fresh(engine_ready, smtp_server, clock):
    """Rows the session still holds (here, by this test's references) are read again for
    each batch: a change made meanwhile by another process takes effect."""
    _plan(engine_ready, 2, "F")
    [first, _] = messages(engine_ready)
    sender = db.session.get(SenderAccount, first.sender_account_id)
    assert sender is not None
    db.session.commit()
    with db.engine.begin() as other_process:
        other_process.execute(
            update(SenderAccount)
            .where(SenderAccount.id == sender.id)
            .values(from_email="news@acme.example")
        )
    report = deliver_due_messages()
    assert report.sent == 2
    assert {mail.mail_from for mail in smtp_server.wait_for(2)} == {"news@acme.example"}
    assert sender.from_email == "news@acme.example"


def test_batching_keeps_every_outcome_recorded(engine_ready, smtp_server, clock):
    _plan(engine_ready, 5, "R")
    deliver_due_messages()
    sent = messages(engine_ready)
    assert [m.state for m in sent] == ["sent"] * 5
    assert all(m.attempts == 1 and m.sent_at == clock.current for m in sent)
    assert all(m.orders[0].last_notified_at == clock.current for m in sent)
    attempts = list(db.session.execute(select(MessageAttempt.message_id)).scalars())
    assert sorted(attempts) == sorted(m.id for m in sent)
    ids = {mail.message_id for mail in smtp_server.wait_for(5)}
    assert len(ids) == 5


def test_one_smtp_connection_serves_every_batch_of_a_run(
    app, engine_ready, smtp_server, clock, monkeypatch
):
    from webapp.channels import email as email_channel

    opened: list[int] = []
    real = email_channel._TimedConnection.configure_host

    def counting(self):
        opened.append(1)
        return real(self)

    monkeypatch.setattr(email_channel._TimedConnection, "configure_host", counting)
    # One lane (a second lane has its own connection, as in the test of lanes).
    app.config.update(DISPATCH_BATCH_SIZE=2, DISPATCH_LANES=1)
    _plan(engine_ready, 5, "C")
    report = deliver_due_messages()
    assert (report.claimed, report.sent) == (5, 5)
    assert len(opened) == 1
    assert len(smtp_server.wait_for(5)) == 5


def test_a_message_whose_claim_passed_to_another_worker_mid_batch_is_not_sent(
    engine_ready, smtp_server, clock, monkeypatch
):
    from webapp.channels.email import SmtpSession

    _plan(engine_ready, 3, "T")
    ids = sorted(m.id for m in messages(engine_ready))
    real_finish = SmtpSession.finish

    def send_then_lose_the_second(self):
        reply = real_finish(self)
        # Meanwhile our lease on the second message ran out and another worker took it;
        # the third was cancelled.
        db.session.execute(
            update(Message).where(Message.id == ids[1]).values(lease_owner="other-worker")
        )
        db.session.execute(update(Message).where(Message.id == ids[2]).values(state="cancelled"))
        return reply

    monkeypatch.setattr(SmtpSession, "finish", send_then_lose_the_second)
    report = deliver_due_messages()
    assert report.sent == 1
    first, second, third = messages(engine_ready)
    assert first.state == "sent"
    assert (second.state, second.lease_owner, second.attempts) == ("sending", "other-worker", 0)
    assert (third.state, third.attempts) == ("cancelled", 0)
    assert [m.message_id for m in smtp_server.messages()] == [
        f"<msg-{ids[0]}.{engine_ready.account.id}.statuslink@statuslink.test>"
    ]


def _wire_id(tenant, message_id: int) -> bytes:
    return f"<msg-{message_id}.{tenant.account.id}.statuslink@".encode()


def _plan_with_second_answered(tenant, smtp_server, prefix: str, reply: str) -> list[int]:
    """Three messages planned; the server gives the second this final reply. Their ids."""
    _plan(tenant, 3, prefix)
    ids = sorted(m.id for m in messages(tenant))
    smtp_server.data_replies[_wire_id(tenant, ids[1])] = reply
    return ids


def test_each_final_reply_decides_its_own_message_while_the_next_is_prepared(
    engine_ready, smtp_server, clock
):
    ids = _plan_with_second_answered(engine_ready, smtp_server, "F", "554 5.7.1 Refused as spam")
    report = deliver_due_messages()
    assert (report.sent, report.failed) == (2, 1)
    first, second, third = messages(engine_ready)
    assert (first.state, second.state, third.state) == ("sent", "failed", "sent")
    assert second.error.startswith("554") and second.body_html  # its rendering is kept
    attempts = db.session.execute(
        select(MessageAttempt.message_id, MessageAttempt.outcome, MessageAttempt.reply_code)
    ).all()
    assert sorted(attempts) == [
        (ids[0], "sent", 250),
        (ids[1], "failed", 554),
        (ids[2], "sent", 250),
    ]
    assert [m.message_id for m in smtp_server.wait_for(2)] == [
        _wire_id(engine_ready, i).decode() + "statuslink.test>" for i in (ids[0], ids[2])
    ]


def test_a_connection_lost_before_a_final_reply_puts_the_rest_of_the_batch_back(
    engine_ready, smtp_server, clock
):
    _plan_with_second_answered(engine_ready, smtp_server, "L", "drop")
    report = deliver_due_messages()
    assert (report.sent, report.retried) == (1, 2)
    first, second, third = messages(engine_ready)
    assert first.state == "sent"
    for message in (second, third):
        assert message.state == "scheduled" and message.lease_owner is None
        assert message.send_after > clock.current and "connection lost" in message.error
    assert second.body_html  # rendered before the connection went: kept
    assert (second.attempts, third.attempts) == (1, 1)


def test_an_error_while_the_next_message_renders_still_records_the_one_in_flight(
    engine_ready, smtp_server, clock, monkeypatch
):
    from webapp.notifications import delivery

    _plan(engine_ready, 3, "E")
    ids = sorted(m.id for m in messages(engine_ready))
    real_prepare = delivery._prepare_email
    calls: list[int] = []

    def prepare_then_break(message, sender):
        calls.append(message.id)
        # The third is rendered while the second's envelope is answered: the first message
        # is in flight now.
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real_prepare(message, sender)

    monkeypatch.setattr(delivery, "_prepare_email", prepare_then_break)
    with pytest.raises(RuntimeError):
        deliver_due_messages()
    db.session.expire_all()
    first, second, third = messages(engine_ready)
    # Accepted by the server, so recorded as sent, with the rendering it was sent with.
    assert (first.state, first.attempts) == ("sent", 1)
    assert first.subject and first.body_html and first.rendered_at is not None
    assert (second.state, third.state) == ("sending", "sending")  # their leases expire
    assert [m.message_id for m in smtp_server.wait_for(1)] == [
        _wire_id(engine_ready, ids[0]).decode() + "statuslink.test>"
    ]


def test_an_error_while_recording_an_accepted_message_records_it_again(
    engine_ready, smtp_server, clock, monkeypatch
):
    from webapp.notifications import delivery

    _plan(engine_ready, 2, "W")
    real_record = delivery._record_sent
    failures: list[int] = []

    def record_failing_once(message, *args, **kwargs):
        if not failures:
            failures.append(message.id)
            real_record(message, *args, **kwargs)  # written, then the commit never comes
            raise RuntimeError("disk I/O error")
        return real_record(message, *args, **kwargs)

    monkeypatch.setattr(delivery, "_record_sent", record_failing_once)
    with pytest.raises(RuntimeError):
        deliver_due_messages()
    db.session.expire_all()
    first, second = messages(engine_ready)
    assert (first.id, first.state, first.attempts) == (failures[0], "sent", 1)
    assert first.subject and first.body_html
    assert len(db.session.execute(select(MessageAttempt.id)).all()) == 1
    assert second.state == "sending"  # its lease expires; it was never begun
    assert len(smtp_server.wait_for(1)) == 1


def test_the_next_envelope_goes_out_before_the_previous_outcome_is_recorded(
    app, engine_ready, smtp_server, clock, monkeypatch
):
    """The server answers the next message's envelope while the previous outcome is being
    committed: one round trip per message is not waited for."""
    from webapp.channels.email import SmtpSession
    from webapp.notifications import delivery

    steps: list[str] = []
    real_start, real_record = SmtpSession.start, delivery._record_reply

    def start(self, email):
        steps.append("envelope")
        return real_start(self, email)

    def record(*args, **kwargs):
        steps.append("recorded")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(SmtpSession, "start", start)
    monkeypatch.setattr(delivery, "_record_reply", record)
    app.config.update(DISPATCH_LANES=1)
    _plan(engine_ready, 3, "N")
    assert deliver_due_messages().sent == 3
    assert steps == ["envelope", "envelope", "recorded", "envelope", "recorded", "recorded"]
    assert len({mail.message_id for mail in smtp_server.wait_for(3)}) == 3
    assert [m.state for m in messages(engine_ready)] == ["sent"] * 3


def _closing_after(smtp_server, key: bytes, reply: str) -> None:
    """The server answers the data containing `key` with `reply` and closes the connection."""
    real = smtp_server.handle_DATA

    async def handle_data(server, session, envelope):
        if key in (envelope.original_content or envelope.content):
            server.transport.write(f"{reply}\r\n".encode())
            server.transport.close()
            return reply
        return await real(server, session, envelope)

    smtp_server.handle_DATA = handle_data


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "stepwise"])
def test_a_server_closing_after_a_421_takes_the_rest_on_a_new_connection(
    app, engine_ready, smtp_server, clock, pipelining
):
    """A 421 after a message's data (a provider's rate limit) defers that message alone: the
    next envelope, written after that data, goes out again on a new connection."""
    app.config.update(DISPATCH_LANES=1)
    smtp_server.pipelining = pipelining
    _plan(engine_ready, 3, "G")
    ids = sorted(m.id for m in messages(engine_ready))
    _closing_after(smtp_server, _wire_id(engine_ready, ids[0]), "421 4.3.2 Closing connection")
    report = deliver_due_messages()
    assert (report.sent, report.retried) == (2, 1)
    first, second, third = messages(engine_ready)
    assert (first.state, second.state, third.state) == ("scheduled", "sent", "sent")
    assert first.error.startswith("421")
    assert len(smtp_server.wait_for(2)) == 2


def test_a_failed_write_of_the_next_envelope_records_every_message(
    app, engine_ready, smtp_server, clock, monkeypatch
):
    """The connection breaks while the next envelope is written after a message's data:
    that message's reply is lost with it, so it is retried (with its Message-ID) like the
    rest; nothing stays claimed and the run goes on."""
    from tests.support.smtp import BrokenWrites
    from webapp.channels.email import SmtpSession
    from webapp.notifications import delivery

    real = SmtpSession._send_envelope
    calls: list[int] = []

    def breaking_on_the_second(self, host, envelope):
        calls.append(1)
        if len(calls) == 2:
            host.sock = BrokenWrites(host.sock)
        return real(self, host, envelope)

    app.config.update(DISPATCH_LANES=1)
    monkeypatch.setattr(SmtpSession, "_send_envelope", breaking_on_the_second)
    _plan(engine_ready, 3, "H")
    report = delivery.deliver_due_messages()
    assert (report.sent, report.retried) == (0, 3)
    assert [m.state for m in messages(engine_ready)] == ["scheduled"] * 3
    assert all("connection lost" in m.error for m in messages(engine_ready))
