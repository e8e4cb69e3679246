"""How many SQL statements one POST /events costs: a regression guard, not a timing test.

On SQLite the statements from the order's lock to the commit run while the database's single
write lock is held, so their number bounds how many events per second the API can take at all;
the account's rules are therefore read before the lock.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support.sql import counted_statements
from webapp.extensions import db
from webapp.notifications.models import Message
from webapp.orders.models import Order, OrderEvent

SHIPPED = {"type": "shipped", "tracking": {"carrier": "DHL", "number": "JJD000111222333"}}
# Measured: 15 for a first `shipped` that plans a message (key, idempotency check, order with
# its account, shop and the shop's sender account, the rules it triggers or stops; then under the
# lock: the locking read, classification, items delivered, event, planning: dedupe,
# once-per-order, message (with its status URL), message_order, status link, idempotency
# record), 9 for a repeat and 2 for a replay. One spare each; the path took 27 and 12 before it
# was trimmed.
MAX_FIRST = 16
MAX_REPEATED = 10
MAX_REPLAYED = 2


@pytest.fixture()
def with_rules(tenant):
    """The tenant with the default templates and rules (a `shipped` plans an e-mail)."""
    from webapp.message_templates.services import install_default_templates
    from webapp.notifications.defaults import install_default_rules

    install_default_templates(tenant.account)
    install_default_rules(tenant.account)
    return tenant


def _post(api, number: str, key: str):
    return api.event(number, SHIPPED, headers={"Idempotency-Key": key})


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_statements_per_event_stay_bounded(api, with_rules):
    api.create_order(number="Q-1")

    with counted_statements() as first:
        response = _post(api, "Q-1", "k-1")
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["event"]["outcome"] == "applied"
    assert _count(Message) == 1
    assert len(first) <= MAX_FIRST, "\n".join(first)

    with counted_statements() as repeated:
        response = _post(api, "Q-1", "k-2")
    assert response.status_code == 202
    assert response.get_json()["event"]["outcome"] == "repeated"
    assert _count(Message) == 1
    assert len(repeated) <= MAX_REPEATED, "\n".join(repeated)

    with counted_statements() as replayed:
        response = _post(api, "Q-1", "k-2")
    assert response.headers.get("Idempotent-Replayed") == "true"
    assert _count(OrderEvent) == 2
    assert len(replayed) <= MAX_REPLAYED, "\n".join(replayed)


def test_once_per_order_check_reads_the_orders_messages_only(api, with_rules):
    """The once-per-order check asks for one order's messages, whatever else the account has."""
    for n in range(3):
        api.create_order(number=f"M-{n}")
        assert _post(api, f"M-{n}", f"m-{n}").status_code == 202
    api.create_order(number="M-last")
    with counted_statements() as statements:
        assert _post(api, "M-last", "m-last").status_code == 202
    checks = [s for s in statements if "message.account_id + " in s]
    assert checks, "no once-per-order check ran"
    for check in checks:
        # Looked up by the order (its own messages or those joined to it), never by scanning
        # the account's messages for a purpose and state.
        assert "message.order_id =" in check and "message_order.order_id =" in check
        assert "message.purpose" not in check.split("WHERE", 1)[1]


def _locked_part(statements: list[str]) -> list[str]:
    """The statements from the one that locks the order (takes SQLite's write lock) on."""
    lock = next(i for i, s in enumerate(statements) if "FOR UPDATE" in s or s.startswith("UPDATE"))
    return statements[lock:]


def test_rules_are_read_before_the_order_is_locked(api, with_rules):
    """Other writers wait while the order is locked: the rules are read before that."""
    api.create_order(number="R-1")
    for key, outcome in (("r-1", "applied"), ("r-2", "repeated")):
        with counted_statements() as statements:
            response = _post(api, "R-1", key)
        assert response.get_json()["event"]["outcome"] == outcome
        assert any("FROM rule" in s for s in statements), "the rules were not read at all"
        assert not [s for s in _locked_part(statements) if "FROM rule" in s]
    assert _count(Message) == 1


def test_the_shops_sender_account_is_read_before_the_order_is_locked(api, with_rules):
    """Planning picks the shop's own sender account; it is read with the order beforehand."""
    api.create_order(number="S-1")
    with counted_statements() as statements:
        response = _post(api, "S-1", "s-1")
    assert response.get_json()["event"]["outcome"] == "applied"
    assert len(response.get_json()["messages"]) == 1
    before = statements[: len(statements) - len(_locked_part(statements))]
    assert any("sender_account" in s for s in before)
    assert not [s for s in _locked_part(statements) if "FROM sender_account" in s]


def test_a_rule_switched_off_before_the_event_plans_nothing(api, with_rules):
    """Rules are read for every event, not kept in a per-process copy that could be stale."""
    from webapp.notifications.models import Rule

    api.create_order(number="R-2")
    for rule in db.session.execute(select(Rule)).scalars():
        rule.enabled = False
    db.session.commit()
    response = _post(api, "R-2", "r-3")
    assert response.status_code == 202
    assert response.get_json()["messages"] == []
    assert _count(Message) == 0


def test_a_key_planned_meanwhile_aborts_the_event_with_409_and_a_retry_records_it(
    api, with_rules, monkeypatch
):
    """The dedupe check runs under the order's lock, so only a bug could let two transactions
    plan one key; should it happen, the unique constraint aborts the event (nothing half
    stored, no 500) and the retried request records it without a second message."""
    from webapp.notifications import planning

    api.create_order(number="R-1")
    assert _post(api, "R-1", "r-1").status_code == 202
    assert _count(Message) == 1
    # The order back as it was before the event, its message kept: the state another
    # transaction's planning would leave behind.
    db.session.execute(OrderEvent.__table__.delete().where(OrderEvent.type == "shipped"))
    db.session.execute(Order.__table__.update().values(state="open"))
    db.session.commit()
    events_before = _count(OrderEvent)

    # As if the checks had run before the other transaction's message was written.
    monkeypatch.setattr(planning, "dedupe_key_taken", lambda key: False)
    monkeypatch.setattr(planning.workflows, "already_notified", lambda *a, **k: False)
    response = _post(api, "R-1", "r-2")
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]["code"] == "conflict"
    assert _count(OrderEvent) == events_before and _count(Message) == 1

    monkeypatch.undo()
    retried = _post(api, "R-1", "r-2")
    assert retried.status_code == 202
    assert retried.get_json()["event"]["outcome"] == "applied"
    assert retried.get_json()["messages"] == []
    assert _count(Message) == 1
