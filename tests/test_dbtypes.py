"""UTCDateTime binds timestamps as UTC; on SQLite in one step, to the same text as the
process_bind_param + SQLite DATETIME route it replaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from webapp.dbtypes import UTCDateTime

SQLITE = sqlite.dialect()
VALUES = [
    datetime(2026, 12, 7, 7, 29, 11, 123456, tzinfo=UTC),
    datetime(2026, 12, 7, 7, 29, 11, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2))),
    datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
]


@pytest.mark.parametrize("value", VALUES)
def test_sqlite_text_is_what_sqlalchemy_stores(value: datetime):
    column = UTCDateTime()
    expected = column.impl_instance.dialect_impl(SQLITE).bind_processor(SQLITE)(
        column.process_bind_param(value, SQLITE)
    )
    assert column.bind_processor(SQLITE)(value) == expected


def test_sqlite_text_is_utc_with_six_digit_microseconds():
    process = UTCDateTime().bind_processor(SQLITE)
    assert process(VALUES[1]) == "2026-12-07 07:29:11.000000"
    assert process(VALUES[2]) == "2026-03-29 00:30:00.000000"
    assert process(VALUES[4]) == "0999-01-02 03:04:05.000000"


def test_none_passes_and_a_naive_time_is_refused():
    process = UTCDateTime().bind_processor(SQLITE)
    assert process(None) is None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 12, 7, 7, 0))


def test_postgresql_binds_an_aware_utc_datetime():
    dialect = postgresql.dialect()
    process = UTCDateTime().bind_processor(dialect)
    value = datetime(2026, 12, 7, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    bound = process(value) if process else value
    assert bound == value and bound.tzinfo == UTC
