"""Statements run on the DB-API cursor store values exactly as the ORM would, inside the
session's transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from tests.support.sql import counted_statements
from webapp.api.models import IdempotencyRecord
from webapp.extensions import db
from webapp.notifications.models import Message, MessageAttempt
from webapp.rawsql import DriverStatement

_UPDATE = DriverStatement(
    update(Message)
    .where(Message.id == bindparam("b_id"))
    .values(
        state=bindparam("state"),
        sent_at=bindparam("sent_at"),
        attachments=bindparam("attachments"),
        error=bindparam("error"),
    )
)
_INSERT = DriverStatement(
    insert(MessageAttempt).values(
        account_id=bindparam("account_id"),
        message_id=bindparam("message_id"),
        started_at=bindparam("started_at"),
        outcome=bindparam("outcome"),
        reply_code=bindparam("reply_code"),
        reply=bindparam("reply"),
    )
)
_STATE = DriverStatement(
    select(Message.state, Message.error).where(Message.id == bindparam("b_id"))
)


def _message(tenant) -> Message:
    message = Message(
        account_id=tenant.account.id,
        dedupe_key="raw-1",
        to_address="kunde@example.org",
        state="sending",
        error="old",
    )
    db.session.add(message)
    db.session.commit()
    return message


def test_values_are_stored_as_the_orm_stores_them(tenant):
    message = _message(tenant)
    when = datetime(2026, 11, 30, 23, 59, 58, 123456, tzinfo=UTC)
    changed = _UPDATE.execute(
        {
            "b_id": message.id,
            "state": "sent",
            "sent_at": when,
            "attachments": [{"type": "document", "id": 7}],
            "error": None,
        }
    )
    _INSERT.execute(
        {
            "account_id": tenant.account.id,
            "message_id": message.id,
            "started_at": when,
            "outcome": "sent",
            "reply_code": 250,
            "reply": "250 OK",
        }
    )
    db.session.commit()
    assert changed == 1
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert (stored.state, stored.sent_at, stored.error) == ("sent", when, None)
    assert stored.sent_at.tzinfo is not None
    assert stored.attachments == [{"type": "document", "id": 7}]
    (attempt,) = stored.attempt_log
    assert (attempt.started_at, attempt.reply_code, attempt.reply) == (when, 250, "250 OK")


def test_the_statements_belong_to_the_sessions_transaction(tenant):
    message = _message(tenant)
    params = {"b_id": message.id, "state": "sent", "sent_at": None, "attachments": []}
    _UPDATE.execute({**params, "error": None})
    assert _STATE.first({"b_id": message.id}) == ("sent", None)  # seen inside it
    db.session.rollback()
    assert _STATE.first({"b_id": message.id}) == ("sending", "old")  # and undone with it
    assert _STATE.first({"b_id": message.id + 1000}) is None
    # Each transaction's own connection: after a commit the next statement begins a new
    # transaction, which a rollback undoes, the committed change staying.
    _UPDATE.execute({**params, "error": "first"})
    db.session.commit()
    _UPDATE.execute({**params, "error": "second"})
    assert _STATE.first({"b_id": message.id}) == ("sent", "second")
    db.session.rollback()
    assert _STATE.first({"b_id": message.id}) == ("sent", "first")
    db.session.execute(update(Message).values(error="by the ORM").where(Message.id == message.id))
    assert _STATE.first({"b_id": message.id}) == ("sent", "by the ORM")  # same transaction
    db.session.rollback()
    assert _STATE.first({"b_id": message.id}) == ("sent", "first")


def test_statement_counters_see_them(tenant):
    message_id = _message(tenant).id
    with counted_statements() as statements:
        _STATE.first({"b_id": message_id})
    assert len(statements) == 1 and statements[0].upper().startswith("SELECT MESSAGE.STATE")


def test_a_unique_violation_is_sqlalchemys_integrity_error(tenant):
    columns = ("account_id", "key", "request_hash", "status_code", "response", "created_at")
    record = DriverStatement(
        insert(IdempotencyRecord).values({column: bindparam(column) for column in columns})
    )
    values = {
        "account_id": tenant.account.id,
        "key": "same-key",
        "request_hash": "0" * 64,
        "status_code": 202,
        "response": {"ok": True},
        "created_at": datetime(2026, 12, 1, tzinfo=UTC),
    }
    record.execute(values)
    db.session.commit()
    with pytest.raises(IntegrityError):
        record.execute({**values, "response": {"ok": False}})
    db.session.rollback()
    stored = db.session.scalars(select(IdempotencyRecord.response)).all()
    assert stored == [{"ok": True}]


def test_records_convert_values_by_column_type(tenant):
    message = _message(tenant)
    when = datetime(2026, 12, 1, 8, 0, 0, 250000, tzinfo=UTC)
    params = {"b_id": message.id, "state": "sent", "sent_at": when, "error": None}
    _UPDATE.execute({**params, "attachments": [{"type": "document", "id": 3}]})
    rows = DriverStatement(
        select(Message.id, Message.sent_at, Message.attachments).where(
            Message.id == bindparam("b_id")
        )
    ).records({"b_id": message.id})
    assert rows == [
        {"id": message.id, "sent_at": when, "attachments": [{"type": "document", "id": 3}]}
    ]
    assert rows[0]["sent_at"].tzinfo is not None


def test_persistent_makes_a_row_the_sessions_object(tenant):
    from sqlalchemy import inspect

    from webapp.rawsql import persistent

    message_id = _message(tenant).id
    read = DriverStatement(
        select(*Message.__table__.columns).where(Message.id == bindparam("b_id"))
    )
    db.session.expunge_all()
    [row] = read.records({"b_id": message_id})
    with counted_statements() as statements:
        message = persistent(Message, row)
        # Loaded as a query would load it: clean, persistent, every column readable as is.
        assert inspect(message).persistent and not db.session.dirty
        assert (message.state, message.error, message.bcc) == ("sending", "old", [])
        assert db.session.get(Message, message_id) is message
    assert statements == []
    # An object the session holds is returned as it is, its expired columns filled from the row.
    db.session.execute(
        update(Message).values(error="new", to_name="Jan").where(Message.id == message_id)
    )
    db.session.expire(message, ["error", "to_name"])
    message.state = "changed"  # a pending change stays
    message.to_name = "Set after expiry"  # so does one made to an expired attribute
    [row] = read.records({"b_id": message_id})
    with counted_statements() as statements:
        assert persistent(Message, row) is message
        assert (message.error, message.state) == ("new", "changed")
        assert message.to_name == "Set after expiry"
    assert statements == []
    assert message in db.session.dirty


def test_set_committed_sets_columns_as_loaded(tenant):
    from sqlalchemy import inspect

    from webapp.rawsql import set_committed

    message = _message(tenant)
    db.session.expire(message, ["error"])
    message.state = "changed"
    with counted_statements() as statements:
        set_committed(message, {"error": "stored", "state": "sent", "attempts": 2})
        assert (message.error, message.state, message.attempts) == ("stored", "sent", 2)
    assert statements == []  # the expired column was not loaded first
    state = inspect(message)
    assert "error" not in state.expired_attributes
    assert not state.attrs.state.history.has_changes()  # the change to it was replaced
    message.to_name = "Jan"  # later changes are tracked as usual
    db.session.commit()
    db.session.expire_all()
    assert (message.to_name, message.state, message.error) == ("Jan", "sending", "old")


def test_records_convert_numeric_columns_as_the_orm_does(tenant):
    """psycopg's Numeric needs the column's database type (the driver's type code)."""
    from decimal import Decimal

    from sqlalchemy import cast
    from sqlalchemy.types import Float, Numeric

    read = DriverStatement(
        select(
            cast(bindparam("price", type_=Numeric(12, 2)), Numeric(12, 2)).label("price"),
            cast(bindparam("ratio", type_=Float), Float).label("ratio"),
        )
    )
    [row] = read.records({"price": Decimal("24.90"), "ratio": 0.5})
    assert row == {"price": Decimal("24.90"), "ratio": 0.5}
    assert isinstance(row["price"], Decimal)


def test_persistent_objects_load_relationships_save_changes_and_refresh(tenant):
    from tests.support.outbox import event, place_order
    from webapp.orders.models import Order
    from webapp.rawsql import labelled, persistent, split_record

    place_order(tenant, "RAW-1")
    event(tenant, "RAW-1")
    read = DriverStatement(
        select(*labelled("order", Order)).where(Order.number == bindparam("number"))
    )
    db.session.expunge_all()
    [record] = read.records({"number": "RAW-1"})
    order = persistent(Order, split_record(record)["order"])
    assert order.number == "RAW-1" and not db.session.dirty
    # Relationships not read with the row load on first access, as after a query.
    assert order.shop.id == order.shop_id and [e.type for e in order.events]
    order.note = "changed"
    db.session.commit()
    assert (
        db.session.execute(select(Order.note).where(Order.id == order.id)).scalar_one() == "changed"
    )
    # refresh: every column from the row, a pending change included (as populate_existing).
    order.note = "pending"
    [record] = read.records({"number": "RAW-1"})
    assert persistent(Order, split_record(record)["order"], refresh=True) is order
    assert order.note == "changed"
    db.session.rollback()


def test_after_a_failed_flush_they_are_refused_as_the_session_refuses(tenant):
    """The remembered connection is not used once the transaction is no longer active: the
    statement raises as Session.connection() does instead of running outside it."""
    from sqlalchemy.exc import PendingRollbackError

    message_id, account_id = _message(tenant).id, tenant.account.id
    assert _STATE.first({"b_id": message_id}) == ("sending", "old")  # connection remembered
    db.session.add(MessageAttempt(account_id=account_id, message_id=987654, outcome="sent"))
    with pytest.raises(IntegrityError):  # no such message
        db.session.flush()
    params = {"b_id": message_id, "state": "sent", "sent_at": None, "attachments": []}
    with pytest.raises(PendingRollbackError):
        _UPDATE.execute({**params, "error": "lost"})
    db.session.rollback()
    assert _STATE.first({"b_id": message_id}) == ("sending", "old")
