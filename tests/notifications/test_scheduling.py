"""Quiet hours, business days and delays in the account's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from webapp.notifications.scheduling import in_quiet_hours, next_allowed_time, parse_business_days

BERLIN = "Europe/Berlin"


def allowed(when: datetime, **kwargs) -> datetime:
    options = {
        "timezone": BERLIN,
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "business_days": "0,1,2,3,4",
        "respect_quiet_hours": True,
        "business_days_only": False,
    }
    options.update(kwargs)
    return next_allowed_time(when, **options)


def test_daytime_is_left_alone():
    when = datetime(2030, 1, 9, 10, 0, tzinfo=UTC)  # 11:00 in Berlin
    assert allowed(when) == when


def test_late_evening_waits_for_the_morning_in_local_time():
    when = datetime(2030, 1, 9, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
    assert allowed(when) == datetime(2030, 1, 10, 7, 0, tzinfo=UTC)  # 08:00 in Berlin


def test_early_morning_waits_until_the_end_of_the_same_night():
    when = datetime(2030, 1, 10, 2, 0, tzinfo=UTC)  # 03:00 in Berlin
    assert allowed(when) == datetime(2030, 1, 10, 7, 0, tzinfo=UTC)


def test_summer_time_is_respected():
    when = datetime(2030, 7, 10, 20, 0, tzinfo=UTC)  # 22:00 in Berlin (CEST)
    assert allowed(when) == datetime(2030, 7, 11, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_quiet_hours_can_be_ignored():
    when = datetime(2030, 1, 9, 21, 30, tzinfo=UTC)
    assert allowed(when, respect_quiet_hours=False) == when


def test_weekend_moves_to_monday_morning():
    saturday = datetime(2030, 1, 12, 12, 0, tzinfo=UTC)
    result = allowed(saturday, business_days_only=True)
    # Monday 00:00 is inside quiet hours, so it becomes Monday 08:00 Berlin.
    assert result == datetime(2030, 1, 14, 7, 0, tzinfo=UTC)
    assert allowed(saturday, business_days_only=True, respect_quiet_hours=False) == datetime(
        2030, 1, 13, 23, 0, tzinfo=UTC
    )


def test_window_within_one_day_and_broken_settings():
    assert in_quiet_hours(datetime(2030, 1, 1, 13, 0), *_times("12:00", "14:00"))
    assert not in_quiet_hours(datetime(2030, 1, 1, 15, 0), *_times("12:00", "14:00"))
    assert parse_business_days("x,9") == set(range(7))
    when = datetime(2030, 1, 9, 21, 30, tzinfo=UTC)
    assert allowed(when, quiet_start="nonsense", timezone="Not/AZone") == when


def _times(start: str, end: str):
    from datetime import time

    return time.fromisoformat(start), time.fromisoformat(end)
