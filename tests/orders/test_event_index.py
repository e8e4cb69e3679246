"""Every event asks whether its order already had an event of its type: that question must be
answered from the order's own events, however many events the account has."""

from __future__ import annotations

import re

from sqlalchemy import insert, inspect

from webapp.extensions import db
from webapp.orders.models import OrderEvent
from webapp.orders.services import _APPLIED_BEFORE, upsert_order


def _order(account_id: int, number: str) -> int:
    order, _ = upsert_order(
        account_id,
        {
            "number": number,
            "shop": "web",
            "fulfillment": "FBM",
            "customer": {"name": "Jan", "email": "jan@example.com"},
            "items": [{"sku": "X", "title": "Thing", "quantity": 1}],
        },
    )
    db.session.commit()
    return order.id


def test_the_order_event_index_covers_account_order_and_type(app):
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(db.engine).get_indexes("order_event")
    }
    assert indexes.get("ix_order_event_account_order_type") == ["account_id", "order_id", "type"]


def test_the_check_reads_the_events_of_the_order_not_of_the_account(app, tenant):
    account_id = tenant.account.id
    busy, quiet = _order(account_id, "7001"), _order(account_id, "7002")
    row = {"account_id": account_id, "order_id": busy, "data": {}, "state_before": "open"}
    db.session.execute(
        insert(OrderEvent),
        [{**row, "type": "note", "state_after": "open", "outcome": "applied"}] * 2000,
    )
    db.session.commit()
    connection = db.session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if not sqlite:
        connection.exec_driver_sql("ANALYZE order_event")
    compiled = _APPLIED_BEFORE._for(connection.dialect)
    params = compiled.parameters({"account_id": account_id, "order_id": quiet, "type": "shipped"})
    explain = ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + compiled.sql
    plan = " | ".join(str(line[-1]) for line in connection.exec_driver_sql(explain, params))
    # Given only single-column indexes SQLite chose ix_order_event_account_id here and read
    # every event of the account, under the write lock, for every event posted. SQLite now
    # takes the three-column index; PostgreSQL, by its statistics, either one naming the order.
    assert "ix_order_event_account_id " not in plan, plan
    if sqlite:
        assert "USING INDEX ix_order_event_account_order_type" in plan, plan
    else:
        assert re.search(
            r"Index (Only )?Scan using ix_order_event_(account_order_type|order_id)", plan
        ), plan
