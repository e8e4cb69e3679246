"""When a message may go out: delays, quiet hours and business days in the account's zone."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

from webapp.dbtypes import utcnow

_CLOCK = "statuslink.notifications.clock"


def now() -> datetime:
    """The current UTC time as the notification engine sees it.

    Tests install a controllable clock with `set_clock(app, fn)`, so delays of days are
    checked without sleeping.
    """
    clock: Callable[[], datetime] = current_app.extensions.get(_CLOCK, utcnow)
    return clock()


def set_clock(app, clock: Callable[[], datetime] | None) -> None:
    """Install (or with None remove) the clock `now()` reads for this app."""
    if clock is None:
        app.extensions.pop(_CLOCK, None)
    else:
        app.extensions[_CLOCK] = clock


class FileClock:
    """A clock read from a file holding an ISO timestamp (the real time when it is empty).

    Only for tests: a `statuslink worker` started with STATUSLINK_CLOCK_FILE in the testing
    environment reads the time from the file the test moves forward, so workflows that span
    days are checked with a real worker in seconds.
    """

    def __init__(self, path: str):
        self.path = path
        self._last: datetime | None = None

    def __call__(self) -> datetime:
        try:
            with open(self.path) as fh:
                raw = fh.read().strip()
            value = datetime.fromisoformat(raw)
        except (OSError, ValueError):
            # Missing, or caught half-written: keep the last time read.
            return self._last or utcnow()
        self._last = value if value.tzinfo else value.replace(tzinfo=UTC)
        return self._last


def install_test_clock(app) -> None:
    """Use STATUSLINK_CLOCK_FILE as the engine's clock, in the testing environment only."""
    path = os.environ.get("STATUSLINK_CLOCK_FILE")
    if path and app.config.get("TESTING"):
        set_clock(app, FileClock(path))


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _parse_hhmm(value: str | None) -> time | None:
    if not value:
        return None
    try:
        hours, minutes = value.split(":", 1)
        return time(int(hours), int(minutes))
    except ValueError:
        return None


def parse_business_days(value: str | None) -> set[int]:
    """ "0,1,2,3,4" (Monday=0) → {0, 1, 2, 3, 4}; an empty or broken value means every day."""
    days = set()
    for part in (value or "").split(","):
        part = part.strip()
        if part.isdigit() and 0 <= int(part) <= 6:
            days.add(int(part))
    return days or set(range(7))


def in_quiet_hours(local: datetime, start: time | None, end: time | None) -> bool:
    """Whether the local wall-clock time lies in the quiet window (which may span midnight)."""
    if start is None or end is None or start == end:
        return False
    moment = local.time().replace(tzinfo=None)
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def next_allowed_time(
    when: datetime,
    *,
    timezone: str | None,
    quiet_start: str | None,
    quiet_end: str | None,
    business_days: str | None,
    respect_quiet_hours: bool = True,
    business_days_only: bool = False,
) -> datetime:
    """The earliest UTC time at or after `when` outside quiet hours and on a business day."""
    zone = _zone(timezone)
    start, end = _parse_hhmm(quiet_start), _parse_hhmm(quiet_end)
    days = parse_business_days(business_days)
    local = when.astimezone(zone)
    # At most 8 days of hops: every hop lands on the end of a quiet window or a midnight.
    for _ in range(32):
        moved = False
        if respect_quiet_hours and in_quiet_hours(local, start, end):
            assert end is not None
            candidate = datetime.combine(local.date(), end, tzinfo=zone)
            if candidate <= local:
                candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
            local = candidate
            moved = True
        if business_days_only and local.weekday() not in days:
            local = datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=zone)
            moved = True
        if not moved:
            break
    return local.astimezone(when.tzinfo or ZoneInfo("UTC"))


def send_time_for(
    account,
    *,
    base: datetime,
    delay_minutes: int,
    respect_quiet_hours: bool,
    business_days_only: bool,
) -> datetime:
    """When a message planned at `base` with this delay may go out for this account."""
    return next_allowed_time(
        base + timedelta(minutes=delay_minutes),
        timezone=account.timezone,
        quiet_start=account.quiet_hours_start,
        quiet_end=account.quiet_hours_end,
        business_days=account.business_days,
        respect_quiet_hours=respect_quiet_hours,
        business_days_only=business_days_only,
    )
