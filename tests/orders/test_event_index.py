"""Every event asks whether its order already had an event of its type: that question must be
answered from the order's own events, however many events the account has."""

from __future__ import annotations

from sqlalchemy import inspect

from webapp.extensions import db
from webapp.orders.services import _APPLIED_BEFORE


def test_the_order_event_index_covers_order_and_type(app):
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(db.engine).get_indexes("order_event")
    }
    assert indexes.get("ix_order_event_order_type") == ["order_id", "type"]


def test_the_check_reads_the_events_of_the_order_not_of_the_account(app, tenant):
    connection = db.session.connection()
    compiled = _APPLIED_BEFORE._for(connection.dialect)
    params = compiled.parameters(
        {"account_id": tenant.account.id, "order_id": 1, "type": "shipped"}
    )
    if connection.dialect.name == "postgresql":
        # The tables are nearly empty here: without this PostgreSQL would rightly scan them.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    plan = " | ".join(
        str(row[-1])
        for row in connection.exec_driver_sql(
            "EXPLAIN "
            + ("QUERY PLAN " if connection.dialect.name == "sqlite" else "")
            + compiled.sql,
            params,
        )
    )
    # With only single-column indexes SQLite chose ix_order_event_account_id here and read
    # every event of the account, under the write lock, for every event posted.
    assert "ix_order_event_order_type" in plan, plan
