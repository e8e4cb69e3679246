"""The merchant workflows as default rules: invoices, reminders, reviews, goods receipt.

Planning is checked in-process with the engine clock; what reaches customers is checked end
to end with a real worker, a real SMTP server and a clock shared with the worker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.notifications.worker_clock import clocked_worker
from tests.support.outbox import attach_pdf, event, messages, place_order
from tests.support.worker import wait_until
from webapp.extensions import db
from webapp.notifications.defaults import DEFAULT_RULES
from webapp.notifications.delivery import deliver_due_messages
from webapp.notifications.models import Message, Rule
from webapp.notifications.rules import update_rule
from webapp.notifications.workflows import rule_by_key, set_goods_receipt_notification
from webapp.orders.models import Order

DAY = 24 * 60


def _enable(tenant, key: str, **fields) -> Rule:
    rule = rule_by_key(tenant.account.id, key)
    return update_rule(tenant.account.id, rule.id, enabled=True, **fields)


def _of_purpose(tenant, purpose: str) -> list[Message]:
    return [m for m in messages(tenant) if m.purpose == purpose]


def _waiting(tenant, number: str) -> list[Message]:
    """The order's prepayment reminders that are planned and not yet sent."""
    db.session.expire_all()
    return [
        m
        for m in _of_purpose(tenant, "prepayment_reminder")
        if m.state == "scheduled" and any(o.number == number for o in m.orders)
    ]


def _order(tenant, number: str) -> Order:
    db.session.expire_all()
    return db.session.execute(
        select(Order).where(Order.account_id == tenant.account.id, Order.number == number)
    ).scalar_one()


def test_every_workflow_has_a_default_rule():
    keys = {key for key, _ in DEFAULT_RULES}
    assert {
        "invoiced",
        "invoice_after_shipping",
        "credit_note",
        "payment_reminder",
        "review_request",
        "review_request_delivery_note",
        "review_request_automatic",
        "delivery_note_printed",
        "delivery_date_set",
        "goods_received",
        "goods_received_sms",
        "shipped_sms",
    } <= keys


# --- invoices ------------------------------------------------------------------------------


def test_invoices_automatic_for_fba_by_hand_for_fbm_and_never_twice_on_amazon(engine_ready, clock):
    _enable(engine_ready, "invoiced")
    _enable(engine_ready, "credit_note")
    place_order(engine_ready, "I-FBA", shop="amz-de", fulfillment="FBA")
    place_order(engine_ready, "I-FBM", shop="amz-de", fulfillment="FBM")
    [fba] = event(engine_ready, "I-FBA", "invoiced").messages
    [fbm] = event(engine_ready, "I-FBM", "invoiced").messages
    assert (fba.state, fbm.state) == ("scheduled", "review")

    engine_ready.amazon.invoices_uploaded_to_amazon = True
    db.session.commit()
    place_order(engine_ready, "I-UP", shop="amz-de", fulfillment="FBA")
    [uploaded] = event(engine_ready, "I-UP", "invoiced").messages
    assert uploaded.state == "suppressed" and "uploaded to Amazon" in uploaded.error
    [credit] = event(engine_ready, "I-UP", "credit_note").messages
    assert credit.state == "suppressed"
    # A web shop order is not affected by the Amazon option.
    place_order(engine_ready, "I-WEB")
    [web] = event(engine_ready, "I-WEB", "invoiced").messages
    assert web.state == "scheduled"


def test_invoice_after_shipping_waits_its_days_and_for_the_pdf(engine_ready, smtp_server, clock):
    _enable(engine_ready, "invoice_after_shipping", delay_minutes=2 * DAY)
    place_order(engine_ready, "I-2")
    planned = event(engine_ready, "I-2", "shipped").messages
    [invoice] = [m for m in planned if m.purpose == "invoiced"]
    assert invoice.send_after == clock.current + timedelta(days=2)
    deliver_due_messages()  # the shipping confirmation
    clock.advance(days=2)
    report = deliver_due_messages()
    assert report.postponed == 1 and report.sent == 0  # no PDF yet: it waits
    attach_pdf(engine_ready, "I-2", "invoice", "RE-77")
    clock.advance(minutes=15)
    assert deliver_due_messages().sent == 1
    mails = smtp_server.wait_for(2)
    assert set(mails[-1].attachments()) == {"RE-77.pdf"}


# --- review requests -----------------------------------------------------------------------


def test_review_request_per_order_switch_and_account_default(engine_ready, clock):
    _enable(engine_ready, "review_request", review_mail_default=False)
    place_order(engine_ready, "R-OFF")
    place_order(engine_ready, "R-ON", review_mail=True)
    event(engine_ready, "R-OFF", "shipped")
    event(engine_ready, "R-ON", "shipped")
    states = {m.orders[0].number: m.state for m in _of_purpose(engine_ready, "review_request")}
    assert states["R-ON"] == "scheduled"
    assert states["R-OFF"] == "suppressed"
    _enable(engine_ready, "review_request", review_mail_default=True)
    place_order(engine_ready, "R-NO", review_mail=False)
    [_, review] = event(engine_ready, "R-NO", "shipped").messages
    assert review.state == "suppressed" and "switched off for this order" in review.error


def test_review_request_only_after_complete_delivery(engine_ready, clock):
    _enable(engine_ready, "review_request")
    place_order(engine_ready, "R-P", items=[{"title": "A", "quantity": 2}])
    event(engine_ready, "R-P", "partially_shipped", items=[{"title": "A", "quantity": 1}])
    assert _of_purpose(engine_ready, "review_request") == []
    event(engine_ready, "R-P", "shipped")
    assert len(_of_purpose(engine_ready, "review_request")) == 1


def test_amazon_review_window_and_one_per_order_hold_whatever_the_rules_say(engine_ready, clock):
    _enable(engine_ready, "review_request", delay_minutes=1 * DAY)
    _enable(engine_ready, "review_request_delivery_note", delay_minutes=0)
    _enable(engine_ready, "review_request_automatic", delay_minutes=0)
    place_order(engine_ready, "A-R", shop="amz-de", fulfillment="FBA")
    event(engine_ready, "A-R", "shipped", occurred_at=clock.current)
    [review] = _of_purpose(engine_ready, "review_request")
    assert review.send_after >= clock.current + timedelta(days=5)  # moved from 1 day to 5
    # Further triggers never plan a second one for an Amazon order.
    event(engine_ready, "A-R", "delivery_note_printed")
    event(engine_ready, "A-R", "delivered", occurred_at=clock.current)
    assert len(_of_purpose(engine_ready, "review_request")) == 1

    # Delivered 20 days ago and asked for 15 days later: 35 days is beyond Amazon's 30.
    _enable(engine_ready, "review_request_automatic", delay_minutes=15 * DAY)
    place_order(engine_ready, "A-LATE", shop="amz-de", fulfillment="FBA")
    event(engine_ready, "A-LATE", "delivered", occurred_at=clock.current - timedelta(days=20))
    [late] = [m for m in _of_purpose(engine_ready, "review_request") if m.id != review.id]
    assert late.state == "suppressed" and "5 to 30 days" in late.error


@pytest.mark.slow
def test_amazon_review_request_arrives_once_after_five_days(
    app, engine_ready, smtp_server, shared_clock, tmp_path
):
    clock = shared_clock
    _enable(engine_ready, "review_request", delay_minutes=2 * DAY, respect_quiet_hours=False)
    _enable(engine_ready, "review_request_delivery_note", delay_minutes=0)
    place_order(engine_ready, "A-W", shop="amz-de", fulfillment="FBA")
    event(engine_ready, "A-W", "shipped", occurred_at=clock.current)
    event(engine_ready, "A-W", "delivery_note_printed")
    start = clock.current
    with clocked_worker(app, clock, tmp_path / "worker.log") as worker:
        assert len(smtp_server.wait_for(1, timeout=10)) == 1, worker.output()  # shipped
        clock.set(start + timedelta(days=4, hours=23))
        wait_until(lambda: False, 1.5)
        assert len(smtp_server.messages()) == 1  # not before 5 days
        clock.set(start + timedelta(days=5))
        assert len(smtp_server.wait_for(2, timeout=10)) == 2, worker.output()

        def review_sent() -> bool:
            return [m.state for m in _of_purpose(engine_ready, "review_request")] == ["sent"]

        assert wait_until(review_sent, 10), worker.output()
        clock.set(start + timedelta(days=12))
        wait_until(lambda: False, 1.5)
    assert len(smtp_server.messages()) == 2
    [review] = _of_purpose(engine_ready, "review_request")
    assert review.state == "sent" and review.sent_at == start + timedelta(days=5)


# --- prepayment reminders ------------------------------------------------------------------


@pytest.mark.slow
def test_prepayment_reminders_at_their_times_at_most_n_and_none_after_payment(
    app, engine_ready, smtp_server, shared_clock, tmp_path
):
    clock = shared_clock
    _enable(
        engine_ready,
        "payment_reminder",
        delay_minutes=2 * DAY,
        repeat_interval_minutes=3 * DAY,
        repeat_max_count=3,
        business_days_only=False,
        respect_quiet_hours=False,
    )
    place_order(engine_ready, "P-MAX", payment="prepayment", email="max@example.org")
    place_order(engine_ready, "P-PAID", payment="prepayment", email="paid@example.org")
    place_order(engine_ready, "P-CARD", payment="paid", email="card@example.org")
    for number in ("P-MAX", "P-PAID", "P-CARD"):
        event(engine_ready, number, "invoiced")
    start = clock.current

    def received(to: str) -> int:
        return sum(1 for m in smtp_server.messages() if to in m.rcpt_tos)

    with clocked_worker(app, clock, tmp_path / "worker.log") as worker:
        clock.set(start + timedelta(days=2) - timedelta(minutes=1))
        wait_until(lambda: False, 1.5)
        assert smtp_server.messages() == []  # not before X days
        clock.set(start + timedelta(days=2))
        assert wait_until(lambda: received("paid@example.org") == 1, 10), worker.output()
        assert wait_until(lambda: received("max@example.org") == 1, 10), worker.output()
        # The SMTP server sees the mail before the worker commits it and plans the next
        # reminder; pay once that reminder waits, so the payment has something to cancel.
        assert wait_until(lambda: _waiting(engine_ready, "P-PAID"), 10), worker.output()
        event(engine_ready, "P-PAID", "payment_received")
        for n, day in ((2, 5), (3, 8)):
            # Move the clock only once the worker has planned the next reminder (it plans it
            # from the time the previous one went out).
            assert wait_until(lambda: _waiting(engine_ready, "P-MAX"), 10), worker.output()
            clock.set(start + timedelta(days=day) - timedelta(minutes=1))
            wait_until(lambda: False, 1)
            assert received("max@example.org") == n - 1  # every Y days, not earlier
            clock.set(start + timedelta(days=day))
            assert wait_until(lambda n=n: received("max@example.org") == n, 10), worker.output()
        clock.set(start + timedelta(days=30))
        wait_until(lambda: False, 1.5)
    assert received("max@example.org") == 3  # at most N
    assert received("paid@example.org") == 1  # none after the payment
    assert received("card@example.org") == 0  # only prepayment orders
    reminders = _of_purpose(engine_ready, "prepayment_reminder")
    assert sorted(m.state for m in reminders) == ["cancelled", "sent", "sent", "sent", "sent"]


# --- shipping confirmation on the delivery note; delivery date ----------------------------------


def test_shipping_confirmation_on_delivery_note_goes_to_the_contact_person_once(
    engine_ready, clock
):
    _enable(engine_ready, "delivery_note_printed")
    place_order(engine_ready, "D-1", customer={"contact_email": "einkauf@firma.example"})
    [confirmation] = event(engine_ready, "D-1", "delivery_note_printed").messages
    assert confirmation.purpose == "shipped"
    assert confirmation.to_address == "einkauf@firma.example"
    assert event(engine_ready, "D-1", "delivery_note_printed").messages == []
    assert event(engine_ready, "D-1", "shipped").messages == []  # one confirmation per order


def test_delivery_date_notification_waits_for_review(engine_ready, clock):
    from datetime import date

    _enable(engine_ready, "delivery_date_set")
    place_order(engine_ready, "DD-1")
    [message] = event(
        engine_ready, "DD-1", "delivery_date_set", delivery_date=date(2030, 1, 20)
    ).messages
    assert message.state == "review" and message.body_text  # rendered for editing


# --- goods receipt -------------------------------------------------------------------------


def test_goods_receipt_channel_per_order_and_stored_as_customer_default(engine_ready, clock):
    from webapp.channels.sms.services import create_sms_sender_account

    create_sms_sender_account(engine_ready.account, "log", "log", "", "Acme", {})
    _enable(engine_ready, "goods_received")
    _enable(engine_ready, "goods_received_sms")
    place_order(engine_ready, "G-1", customer={"phone": "+491711234567", "external_id": "K1"})
    set_goods_receipt_notification(
        engine_ready.account.id, "G-1", "sms", remember_for_customer=True
    )
    [sms] = event(engine_ready, "G-1", "goods_received").messages
    assert sms.channel == "sms" and sms.to_address == "+491711234567"
    # A later order of the same customer uses the stored default.
    place_order(engine_ready, "G-2", customer={"phone": "+491711234567", "external_id": "K1"})
    assert _order(engine_ready, "G-2").customer.notify_on_goods_receipt == "sms"
    # A pickup order from the web shop always gets the e-mail as well.
    place_order(
        engine_ready, "G-3", pickup=True, customer={"phone": "+491711234567", "external_id": "K1"}
    )
    channels = sorted(m.channel for m in event(engine_ready, "G-3", "goods_received").messages)
    assert channels == ["email", "sms"]


@pytest.mark.slow
def test_goods_receipt_of_several_orders_is_one_mail_listing_all_titles(
    app, engine_ready, smtp_server, shared_clock, tmp_path
):
    clock = shared_clock
    _enable(engine_ready, "goods_received", coalesce_minutes=10)
    titles = ["Der Zauberberg", "Buddenbrooks", "Tonio Kröger"]
    for n, title in enumerate(titles):
        place_order(engine_ready, f"B-{n}", pickup=True, items=[{"title": title, "quantity": 1}])
        event(engine_ready, f"B-{n}", "goods_received")
        clock.advance(minutes=1)
    [message] = messages(engine_ready)
    assert len(message.orders) == 3
    with clocked_worker(app, clock, tmp_path / "worker.log") as worker:
        wait_until(lambda: False, 1.5)
        assert smtp_server.messages() == []  # the window is still open
        clock.advance(minutes=10)
        [mail] = smtp_server.wait_for(1, timeout=10) or [None]
        assert mail is not None, worker.output()
    text = mail.part("plain")
    assert all(title in text for title in titles)
    assert len(smtp_server.messages()) == 1
    for n in range(3):
        assert _order(engine_ready, f"B-{n}").last_notified_at == clock.current
