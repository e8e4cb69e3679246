"""pinned_connection(): the session's transactions in the block run on one connection, one
after the other, each committed or rolled back as usual; nothing stays open at its end."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.sql import counted_checkouts
from webapp.extensions import db, pinned_connection
from webapp.notifications.models import Message


def _message(tenant, key: str) -> Message:
    return Message(account_id=tenant.account.id, dedupe_key=key, to_address="a@example.org")


@pytest.fixture()
def checkouts(app):
    """The connections the engine's pool hands out while the test runs."""
    with counted_checkouts() as seen:
        yield seen


def test_the_transactions_of_the_block_share_one_connection(tenant, checkouts):
    db.session.commit()
    seen = []
    with pinned_connection():
        for n in range(3):
            db.session.add(_message(tenant, f"pin-{n}"))
            seen.append(db.session.connection().connection.dbapi_connection)
            db.session.commit()
    assert len(checkouts) == 1
    assert len({id(connection) for connection in seen}) == 1
    db.session.commit()
    assert db.session.scalars(select(Message.dedupe_key).order_by(Message.id)).all() == [
        "pin-0",
        "pin-1",
        "pin-2",
    ]
    # Outside the block the session takes connections from the pool again.
    db.session.scalar(select(Message.id).limit(1))
    db.session.commit()
    assert len(checkouts) == 2


def test_a_rollback_in_the_block_undoes_only_its_transaction(tenant):
    db.session.commit()
    with pinned_connection():
        db.session.add(_message(tenant, "kept"))
        db.session.commit()
        db.session.add(_message(tenant, "dropped"))
        db.session.flush()
        db.session.rollback()
    assert db.session.scalars(select(Message.dedupe_key)).all() == ["kept"]


def test_a_transaction_still_open_at_the_end_is_committed(tenant):
    db.session.commit()
    with pinned_connection():
        db.session.add(_message(tenant, "open"))
        db.session.flush()
    assert not db.session().in_transaction()
    db.session.expunge_all()
    assert db.session.scalars(select(Message.dedupe_key)).all() == ["open"]


def test_when_the_block_raises_its_open_transaction_is_rolled_back(tenant):
    db.session.commit()
    with pytest.raises(RuntimeError), pinned_connection():
        db.session.add(_message(tenant, "lost"))
        db.session.flush()
        raise RuntimeError("boom")
    assert not db.session().in_transaction()
    assert db.session.scalars(select(Message.dedupe_key)).all() == []


def test_a_transaction_begun_before_the_block_ends_on_its_own_connection(tenant, checkouts):
    db.session.add(_message(tenant, "before"))
    db.session.flush()
    outer = db.session.connection()
    with pinned_connection():
        assert db.session.connection() is outer
        db.session.commit()
        db.session.add(_message(tenant, "inside"))
        db.session.flush()
        pinned = db.session.connection()
        assert pinned is not outer
        db.session.commit()
        db.session.scalar(select(Message.id).limit(1))
        assert db.session.connection() is pinned
    assert not db.session().in_transaction()
    assert len(checkouts) == 2
    assert sorted(db.session.scalars(select(Message.dedupe_key))) == ["before", "inside"]


def test_a_block_inside_another_changes_nothing(tenant, checkouts):
    db.session.commit()
    with pinned_connection():
        first = db.session.connection()
        with pinned_connection():
            assert db.session.connection() is first
            db.session.commit()
        assert db.session.connection() is first
    assert len(checkouts) == 1
