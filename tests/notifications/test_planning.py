"""Rules turn order events into outbox rows, in the event's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.support.factories import make_tenant
from tests.support.outbox import event, messages, place_order
from webapp.accounts.services import ValidationError
from webapp.extensions import db
from webapp.notifications.defaults import DEFAULT_RULES, install_default_rules
from webapp.notifications.models import Rule, message_order
from webapp.notifications.rules import create_rule, update_rule
from webapp.notifications.services import approve_message


def _rule(tenant, key: str) -> Rule:
    return db.session.execute(
        select(Rule).where(Rule.account_id == tenant.account.id, Rule.default_key == key)
    ).scalar_one()


def test_default_rules_are_idempotent_and_only_shipping_is_on(engine_ready):
    before = db.session.scalar(select(func.count()).select_from(Rule))
    assert before == len(DEFAULT_RULES)
    assert install_default_rules(engine_ready.account) == []
    assert db.session.scalar(select(func.count()).select_from(Rule)) == before
    enabled = db.session.execute(select(Rule.default_key).where(Rule.enabled.is_(True)))
    assert list(enabled.scalars()) == ["shipped"]


def test_shipped_web_order_plans_one_german_message_with_a_status_link(engine_ready, clock):
    place_order(engine_ready, "W-1")
    outcome = event(engine_ready, "W-1")
    assert [m.state for m in outcome.messages] == ["scheduled"]
    message = outcome.messages[0]
    assert message.language == "de"
    assert message.to_address == "kunde@example.org"
    assert message.status_url.startswith("http://statuslink.test/s/")
    assert message.send_after == clock.current
    assert message.rendered_at is None  # automatic messages are rendered when claimed


def test_amazon_order_never_gets_a_status_link(engine_ready, clock):
    place_order(engine_ready, "A-1", shop="amz-de", fulfillment="FBA")
    [message] = event(engine_ready, "A-1").messages
    assert message.status_url is None


def test_language_follows_the_customer_first(engine_ready, clock):
    place_order(engine_ready, "W-2", language="fr")
    [message] = event(engine_ready, "W-2").messages
    assert message.language == "fr"


def test_replaying_an_event_never_adds_a_message(engine_ready, clock):
    place_order(engine_ready, "W-3")
    first = event(engine_ready, "W-3")
    again = event(engine_ready, "W-3")  # recorded as "repeated"
    assert again.event.id != first.event.id
    assert again.messages == []
    assert len(messages(engine_ready)) == 1
    assert db.session.scalar(select(func.count()).select_from(message_order)) == 1


def test_delay_is_counted_from_the_event(engine_ready, clock):
    update_rule(engine_ready.account.id, _rule(engine_ready, "shipped").id, delay_minutes=90)
    place_order(engine_ready, "W-4")
    [message] = event(engine_ready, "W-4").messages
    assert message.send_after == clock.current + timedelta(minutes=90)


def test_quiet_hours_push_the_message_to_the_morning(engine_ready, clock):
    update_rule(
        engine_ready.account.id, _rule(engine_ready, "shipped").id, respect_quiet_hours=True
    )
    clock.set(datetime(2030, 1, 9, 21, 15, tzinfo=UTC))  # 22:15 in Berlin
    place_order(engine_ready, "W-5")
    [message] = event(engine_ready, "W-5").messages
    assert message.send_after == datetime(2030, 1, 10, 7, 0, tzinfo=UTC)


def test_fba_only_rule_ignores_merchant_fulfilled_orders(engine_ready, clock):
    update_rule(engine_ready.account.id, _rule(engine_ready, "shipped").id, fulfillments=["FBA"])
    place_order(engine_ready, "A-2", shop="amz-de", fulfillment="FBM")
    place_order(engine_ready, "A-3", shop="amz-de", fulfillment="FBA")
    assert event(engine_ready, "A-2").messages == []
    assert len(event(engine_ready, "A-3").messages) == 1


def test_shop_payment_and_pickup_conditions(engine_ready, clock):
    rule = _rule(engine_ready, "shipped")
    update_rule(
        engine_ready.account.id,
        rule.id,
        shop_ids=[engine_ready.webshop.id],
        payment_methods=["invoice"],
        pickup=False,
    )
    place_order(engine_ready, "C-1", payment="invoice")
    place_order(engine_ready, "C-2", payment="paid")
    place_order(engine_ready, "C-3", shop="amz-de", payment="invoice")
    place_order(engine_ready, "C-4", payment="invoice", pickup=True)
    planned = {n: len(event(engine_ready, n).messages) for n in ("C-1", "C-2", "C-3", "C-4")}
    assert planned == {"C-1": 1, "C-2": 0, "C-3": 0, "C-4": 0}


def test_suppressed_messages_keep_their_reason(engine_ready, clock):
    place_order(engine_ready, "S-1", email=None)
    [no_mail] = event(engine_ready, "S-1").messages
    assert (no_mail.state, no_mail.error) == ("suppressed", "the customer has no e-mail address")

    engine_ready.account.service_enabled = False
    db.session.commit()
    place_order(engine_ready, "S-2")
    [off] = event(engine_ready, "S-2").messages
    assert off.state == "suppressed" and "switched off" in off.error


def test_optional_messages_respect_the_opt_out(engine_ready, clock):
    rule = _rule(engine_ready, "review_request")
    update_rule(engine_ready.account.id, rule.id, enabled=True)
    order = place_order(engine_ready, "R-1")
    order.customer.optional_messages = False
    db.session.commit()
    [message] = event(engine_ready, "R-1", "shipped").messages[1:]
    assert message.state == "suppressed" and "opted out" in message.error


def test_review_mode_renders_for_editing_and_waits_for_approval(engine_ready, clock):
    update_rule(engine_ready.account.id, _rule(engine_ready, "shipped").id, mode="review")
    place_order(engine_ready, "V-1")
    [message] = event(engine_ready, "V-1").messages
    assert message.state == "review"
    assert message.subject and "V-1" in message.body_text
    with pytest.raises(ValidationError):
        approve_message(engine_ready.account.id, message.id, subject="Hi\r\nBcc: x@evil.example")
    db.session.rollback()
    approved = approve_message(engine_ready.account.id, message.id, subject="Ihre Bestellung V-1")
    assert (approved.state, approved.subject) == ("scheduled", "Ihre Bestellung V-1")


def test_coalescing_joins_orders_of_one_customer(engine_ready, clock):
    rule = _rule(engine_ready, "goods_received")
    update_rule(engine_ready.account.id, rule.id, enabled=True, coalesce_minutes=10)
    place_order(engine_ready, "B-1", items=[{"title": "Der Zauberberg", "quantity": 1}])
    place_order(engine_ready, "B-2", items=[{"title": "Effi Briest", "quantity": 1}])
    place_order(
        engine_ready,
        "B-3",
        email="other@example.org",
        customer={"external_id": "other"},
        customer_name="Max Muster",
    )
    [first] = event(engine_ready, "B-1", "goods_received").messages
    clock.advance(minutes=5)
    [joined] = event(engine_ready, "B-2", "goods_received").messages
    [separate] = event(engine_ready, "B-3", "goods_received").messages
    assert joined.id == first.id and separate.id != first.id
    assert first.send_after == datetime(2030, 1, 9, 10, 10, tzinfo=UTC)
    assert [o.number for o in first.orders] == ["B-1", "B-2"]
    clock.advance(minutes=6)  # the window is closed: a new message
    place_order(engine_ready, "B-4")
    [late] = event(engine_ready, "B-4", "goods_received").messages
    assert late.id != first.id


def test_rule_validation_gives_field_errors(engine_ready):
    with pytest.raises(ValidationError) as exc:
        create_rule(
            engine_ready.account, name="x", event_type="shipped", delay_minutes=30 * 24 * 60 + 1
        )
    assert exc.value.field == "delay_minutes"
    with pytest.raises(ValidationError) as exc:
        create_rule(engine_ready.account, name="x", event_type="teleported")
    assert exc.value.field == "event_type"
    with pytest.raises(ValidationError) as exc:
        create_rule(engine_ready.account, name="x", event_type="shipped", bcc=["not-an-address"])
    assert exc.value.field == "bcc"


def test_rules_of_another_account_never_apply(engine_ready, other_tenant, clock):
    place_order(other_tenant, "O-1")
    assert event(other_tenant, "O-1").messages == []
    assert messages(other_tenant) == []


def test_stop_rules_match_the_event_type_exactly(tenant):
    """The database narrows stop rules down by the JSON text; the type must still match whole."""
    from webapp.notifications.planning import rules_for_event

    account = tenant.account
    partial = create_rule(
        account, name="p", event_type="invoiced", stop_events=["partially_shipped"]
    )
    both = create_rule(
        account, name="b", event_type="invoiced", stop_events=["shipped", "cancelled"]
    )
    create_rule(account, name="none", event_type="shipped", stop_events=[])
    other = make_tenant("other-stop")
    create_rule(other.account, name="o", event_type="invoiced", stop_events=["shipped"])

    shipped = rules_for_event(account.id, "shipped")
    assert shipped.stopping == [both.id]
    assert [r.name for r in shipped.rules] == ["none"]
    assert rules_for_event(account.id, "partially_shipped").stopping == [partial.id]
    assert rules_for_event(account.id, "cancelled").stopping == [both.id]
    assert rules_for_event(account.id, "delivered").stopping == []


def test_disabled_rules_plan_nothing_but_still_stop(tenant):
    """Planning reads only the enabled rules of the event type; a rule's stop events apply
    whether it is enabled or not (its messages already waiting are still stopped)."""
    from webapp.notifications.planning import rules_for_event

    account = tenant.account
    on = create_rule(account, name="on", event_type="shipped")
    create_rule(account, name="off", event_type="shipped", enabled=False)
    stopper = create_rule(
        account, name="stopper", event_type="invoiced", stop_events=["shipped"], enabled=False
    )
    shipped = rules_for_event(account.id, "shipped")
    assert [r.id for r in shipped.rules] == [on.id]
    assert shipped.stopping == [stopper.id]


def test_rules_read_for_an_event_are_the_sessions_objects(tenant):
    """Read on the driver's cursor, the rules are persistent objects of the session: the one
    already in its identity map (its expired attributes filled in from the row), else new."""
    from sqlalchemy import inspect

    from webapp.notifications.planning import rules_for_event

    rule = create_rule(tenant.account, name="on", event_type="shipped", delay_minutes=5)
    db.session.execute(Rule.__table__.update().where(Rule.id == rule.id).values(delay_minutes=7))
    db.session.expire(rule)  # as after a commit
    [found] = rules_for_event(tenant.account.id, "shipped").rules
    assert found is rule and rule.delay_minutes == 7
    assert not db.session.dirty and inspect(rule).persistent
    db.session.expunge_all()
    [fresh] = rules_for_event(tenant.account.id, "shipped").rules
    assert fresh is not rule and inspect(fresh).persistent and fresh.delay_minutes == 7
    assert fresh.stop_events == [] and fresh.enabled is True
    assert not db.session.dirty and not db.session.new
