"""SMS delivery through a real worker against local servers imitating seven.io and Twilio."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.channels.sms.fakes import FakeProvider, Reply
from tests.notifications.worker_clock import clocked_worker
from tests.support.outbox import event, messages, place_order
from tests.support.worker import wait_until
from webapp.channels.sms.services import create_sms_sender_account
from webapp.extensions import db
from webapp.notifications.models import Message, MessageAttempt
from webapp.notifications.rules import update_rule
from webapp.notifications.sms_delivery import OUTCOME_UNKNOWN
from webapp.notifications.workflows import rule_by_key

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_MESSAGES = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
PHONE = "0171 1234567"
E164 = "+491711234567"


@pytest.fixture()
def provider() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


def _seven(tenant, provider: FakeProvider):
    return create_sms_sender_account(
        tenant.account, "seven", "seven", "seven-key", "Acme", {"base_url": f"{provider.url}/api"}
    )


def _twilio(tenant, provider: FakeProvider):
    return create_sms_sender_account(
        tenant.account,
        "twilio",
        "twilio",
        "twilio-token",
        "+15005550006",
        {"account_sid": TWILIO_SID, "base_url": provider.url, "timeout": 1},
    )


def _sms_customer_order(tenant, number: str, *, channel: str = "sms", phone: str = PHONE):
    rule = rule_by_key(tenant.account.id, "shipped_sms")
    update_rule(tenant.account.id, rule.id, enabled=True)
    return place_order(tenant, number, customer={"phone": phone, "channel": channel})


def _seven_accepts(request):
    return Reply(200, {"success": "100", "messages": [{"id": "7722", "success": True}]})


def _posts(provider: FakeProvider) -> list:
    return [r for r in provider.requests if r.method == "POST"]


def _state(message_id: int):
    def check() -> str:
        db.session.rollback()
        return db.session.get(Message, message_id).state

    return check


def _attempts(message_id: int) -> list[str]:
    stmt = select(MessageAttempt.outcome).where(MessageAttempt.message_id == message_id)
    return list(db.session.execute(stmt.order_by(MessageAttempt.id)).scalars())


def test_sms_is_planned_in_e164_with_quiet_hours(engine_ready, shared_clock, provider):
    _seven(engine_ready, provider)
    _sms_customer_order(engine_ready, "S-1")
    shared_clock.set(shared_clock.current.replace(hour=22))  # 23:00 in Berlin
    [sms] = event(engine_ready, "S-1").messages
    assert (sms.channel, sms.to_address, sms.state) == ("sms", E164, "scheduled")
    assert sms.send_after.hour == 7  # 08:00 in Berlin, the end of the quiet hours
    assert sms.bcc == []


def test_invalid_number_is_suppressed_with_the_reason(engine_ready, shared_clock, provider):
    _seven(engine_ready, provider)
    order = _sms_customer_order(engine_ready, "S-2")
    order.customer.phone = "0171 12"  # stored before numbers were checked on import
    db.session.commit()
    [sms] = event(engine_ready, "S-2").messages
    assert sms.state == "suppressed"
    assert "invalid phone number" in sms.error and "0171 12" in sms.error


def test_without_an_sms_account_the_message_says_why(engine_ready, shared_clock):
    _sms_customer_order(engine_ready, "S-3")
    [sms] = event(engine_ready, "S-3").messages
    assert sms.state == "suppressed" and "no enabled SMS sender account" in sms.error


def test_both_sends_mail_and_sms_with_distinct_keys(engine_ready, shared_clock, provider):
    _seven(engine_ready, provider)
    _sms_customer_order(engine_ready, "S-4", channel="both")
    planned = event(engine_ready, "S-4").messages
    assert sorted(m.channel for m in planned) == ["email", "sms"]
    assert len({m.dedupe_key for m in planned}) == 2


@pytest.mark.slow
def test_worker_sends_sms_and_reports_an_invalid_number(
    app, engine_ready, smtp_server, shared_clock, provider, tmp_path
):
    def seven(request):
        if request.json()["to"] == "+4915199999999":
            return Reply(200, {"success": "202"})
        return _seven_accepts(request)

    provider.route("POST", "/api/sms", seven)
    _seven(engine_ready, provider)
    _sms_customer_order(engine_ready, "S-10", channel="both")
    place_order(
        engine_ready,
        "S-11",
        customer_name="Max Muster",
        email="max@example.org",
        customer={"phone": "+49 151 99999999", "channel": "sms"},
    )
    planned = event(engine_ready, "S-10").messages + event(engine_ready, "S-11").messages
    sms_ok = next(m for m in planned if m.channel == "sms" and m.to_address == E164)
    sms_bad = next(m for m in planned if m.to_address == "+4915199999999")
    with clocked_worker(app, shared_clock, tmp_path / "worker.log") as worker:
        assert wait_until(lambda: _state(sms_ok.id)() == "sent", 15), worker.output()
        assert wait_until(lambda: _state(sms_bad.id)() == "failed", 15), worker.output()
        assert len(smtp_server.wait_for(1)) == 1
    sent = next(r.json() for r in _posts(provider) if r.json()["to"] == E164)
    assert "S-10" in sent["text"] and sent["from"] == "Acme"
    assert sent["foreign_id"] == str(sms_ok.id)
    failed = db.session.get(Message, sms_bad.id)
    assert "recipient number is invalid" in failed.error
    assert _attempts(sms_ok.id) == ["sent"] and _attempts(sms_bad.id) == ["failed"]
    assert db.session.get(Message, sms_ok.id).provider_message_id == "7722"
    assert db.session.get(Message, sms_ok.id).orders[0].last_notified_at == shared_clock.current
    assert len(_posts(provider)) == 2


@pytest.mark.slow
def test_timeout_is_reconciled_and_the_sms_is_sent_exactly_once(
    app, engine_ready, shared_clock, provider, tmp_path
):
    sent_texts: list[str] = []

    def slow_accept(request):
        sent_texts.append(request.form()["Body"])
        return Reply(201, {"sid": "SM1", "status": "queued"}, delay=3)

    def listing(request):
        return Reply(200, {"messages": [{"sid": "SM1", "body": t, "status": "delivered"}
                                        for t in sent_texts]})  # fmt: skip

    provider.route("POST", TWILIO_MESSAGES, slow_accept)
    provider.route("GET", TWILIO_MESSAGES, listing)
    _twilio(engine_ready, provider)
    _sms_customer_order(engine_ready, "S-20")
    [sms] = event(engine_ready, "S-20").messages
    with clocked_worker(app, shared_clock, tmp_path / "worker.log") as worker:
        assert wait_until(lambda: _state(sms.id)() == "unknown", 15), worker.output()
        # The sweep runs several times meanwhile: an unknown SMS is not sent again.
        wait_until(lambda: False, 2)
        assert len(_posts(provider)) == 1
        shared_clock.advance(minutes=2)
        assert wait_until(lambda: _state(sms.id)() == "sent", 15), worker.output()
    assert len(_posts(provider)) == 1
    assert _attempts(sms.id) == ["unknown", "sent"]
    assert [r.query.get("To") for r in provider.requests if r.method == "GET"][0] == [E164]


@pytest.mark.slow
def test_5xx_without_status_gives_up_as_outcome_unknown(
    app, engine_ready, shared_clock, provider, tmp_path
):
    provider.route("POST", "/api/sms", Reply(502, "Bad Gateway", content_type="text/plain"))
    _seven(engine_ready, provider)
    _sms_customer_order(engine_ready, "S-30")
    [sms] = event(engine_ready, "S-30").messages
    with clocked_worker(app, shared_clock, tmp_path / "worker.log") as worker:
        assert wait_until(lambda: _state(sms.id)() == "unknown", 15), worker.output()
        shared_clock.advance(minutes=30)  # a check, still before the give-up time
        wait_until(lambda: False, 1.5)
        assert _state(sms.id)() == "unknown"
        shared_clock.advance(hours=1)
        assert wait_until(lambda: _state(sms.id)() == "failed", 15), worker.output()
    assert len(_posts(provider)) == 1
    assert db.session.get(Message, sms.id).error == OUTCOME_UNKNOWN


@pytest.mark.slow
def test_rate_limit_is_retried_with_backoff(app, engine_ready, shared_clock, provider, tmp_path):
    calls: list[int] = []

    def limited_then_accept(request):
        calls.append(1)
        if len(calls) == 1:
            return Reply(429, {"code": 20429, "message": "Too Many Requests"})
        return Reply(201, {"sid": "SM9", "status": "queued"})

    provider.route("POST", TWILIO_MESSAGES, limited_then_accept)
    _twilio(engine_ready, provider)
    _sms_customer_order(engine_ready, "S-40")
    [sms] = event(engine_ready, "S-40").messages

    def retried_and_sent() -> bool:
        if _state(sms.id)() != "sent":
            shared_clock.advance(seconds=2)  # past the (small) back-off
            return False
        return True

    with clocked_worker(app, shared_clock, tmp_path / "worker.log") as worker:
        assert wait_until(retried_and_sent, 20, interval=0.3), worker.output()
    assert _attempts(sms.id) == ["temporary", "sent"]
    assert len(calls) == 2
    assert db.session.get(Message, sms.id).provider_message_id == "SM9"
    assert all(m.state == "sent" for m in messages(engine_ready))


def test_a_crash_after_the_provider_call_is_reconciled_not_resent(
    engine_ready, shared_clock, provider
):
    from datetime import timedelta

    from webapp.notifications.delivery import recover_expired_leases

    _seven(engine_ready, provider)
    _sms_customer_order(engine_ready, "S-50")
    [sms] = event(engine_ready, "S-50").messages
    sms.state, sms.lease_owner = "sending", "dead-worker"
    sms.lease_until = shared_clock.current - timedelta(seconds=1)
    sms.provider_call_at = shared_clock.current - timedelta(seconds=5)
    db.session.commit()
    assert recover_expired_leases() == 1
    db.session.expire_all()
    assert db.session.get(Message, sms.id).state == "unknown"
    assert _posts(provider) == []
