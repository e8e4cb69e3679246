"""Dashboard figures: today's messages, the last 30 days per day, and failing sender accounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from webapp.accounts.models import Account, SenderAccount
from webapp.extensions import db
from webapp.notifications.models import Message, MessageAttempt
from webapp.notifications.scheduling import now
from webapp.status.models import StatusLink

DAYS = 30
FAILED_OUTCOMES = ("failed", "rejected")
# A sender whose last attempt within this window went wrong is shown as failing.
SENDER_WINDOW = timedelta(hours=24)


@dataclass
class DayFigures:
    """Messages sent and failed, and status links first opened, on one local day."""

    day: date
    sent: int = 0
    failed: int = 0
    opened: int = 0


@dataclass
class FailingSender:
    """A sender account with a recent problem and its last reason."""

    id: int
    name: str
    reason: str
    at: datetime | None


@dataclass
class DashboardStats:
    """Everything the dashboard shows about messages."""

    sent_today: int
    failed_today: int
    waiting_review: int
    scheduled: int
    days: list[DayFigures]
    failing_senders: list[FailingSender] = field(default_factory=list)
    # SMS whose provider outcome is still unclear (settled by reconciliation).
    unknown: int = 0

    @property
    def peak(self) -> int:
        """The largest daily value (at least 1, so the chart scale never divides by zero)."""
        return max([1] + [max(d.sent, d.failed, d.opened) for d in self.days])

    @property
    def totals(self) -> DayFigures:
        total = DayFigures(self.days[-1].day if self.days else date.today())
        for day in self.days:
            total.sent += day.sent
            total.failed += day.failed
            total.opened += day.opened
        return total


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _bucket(values: list[datetime], zone: ZoneInfo, start: date) -> dict[date, int]:
    counts: dict[date, int] = {}
    for value in values:
        local = value.astimezone(zone).date()
        if local >= start:
            counts[local] = counts.get(local, 0) + 1
    return counts


def dashboard_stats(account_id: int, *, at: datetime | None = None) -> DashboardStats:
    """Today's figures (in the account's time zone), 30 days per day, failing senders.

    Counted per day: messages sent (by sent_at), messages that failed for good (by the time
    of their failing attempt) and status links opened for the first time. Reads only.
    """
    current = at or now()
    account = db.session.get(Account, account_id)
    zone = _zone(account.timezone if account else None)
    today = current.astimezone(zone).date()
    first_day = today - timedelta(days=DAYS - 1)
    since = datetime.combine(first_day, time(0, 0), tzinfo=zone)

    sent_times = list(
        db.session.execute(
            select(Message.sent_at).where(
                Message.account_id == account_id,
                Message.state == "sent",
                Message.sent_at >= since,
            )
        ).scalars()
    )
    # The last failing attempt of each message that is failed now.
    failed_times = list(
        db.session.execute(
            select(func.max(MessageAttempt.started_at))
            .join(Message, Message.id == MessageAttempt.message_id)
            .where(
                Message.account_id == account_id,
                Message.state == "failed",
                MessageAttempt.outcome.in_(FAILED_OUTCOMES),
                MessageAttempt.started_at >= since,
            )
            .group_by(MessageAttempt.message_id)
        ).scalars()
    )
    open_times = list(
        db.session.execute(
            select(StatusLink.first_opened_at).where(
                StatusLink.account_id == account_id,
                StatusLink.first_opened_at.is_not(None),
                StatusLink.first_opened_at >= since,
            )
        ).scalars()
    )
    sent = _bucket([t for t in sent_times if t], zone, first_day)
    failed = _bucket([t for t in failed_times if t], zone, first_day)
    opened = _bucket([t for t in open_times if t], zone, first_day)
    days = [
        DayFigures(d, sent.get(d, 0), failed.get(d, 0), opened.get(d, 0))
        for d in (first_day + timedelta(days=i) for i in range(DAYS))
    ]

    def count_state(*states: str) -> int:
        stmt = select(func.count(Message.id)).where(
            Message.account_id == account_id, Message.state.in_(states)
        )
        return int(db.session.execute(stmt).scalar_one())

    return DashboardStats(
        sent_today=sent.get(today, 0),
        failed_today=failed.get(today, 0),
        waiting_review=count_state("review"),
        scheduled=count_state("scheduled", "sending"),
        days=days,
        failing_senders=failing_senders(account_id, at=current),
        unknown=count_state("unknown"),
    )


def failing_senders(account_id: int, *, at: datetime | None = None) -> list[FailingSender]:
    """Enabled sender accounts with a recorded error (e.g. a failed test mail) or whose last
    delivery attempt in the past 24 hours failed or was deferred."""
    current = at or now()
    senders = list(
        db.session.execute(
            select(SenderAccount)
            .where(SenderAccount.account_id == account_id, SenderAccount.enabled.is_(True))
            .order_by(SenderAccount.name)
        ).scalars()
    )
    out: list[FailingSender] = []
    for sender in senders:
        last = db.session.execute(
            select(MessageAttempt.outcome, MessageAttempt.reply, MessageAttempt.started_at)
            .join(Message, Message.id == MessageAttempt.message_id)
            .where(
                Message.account_id == account_id,
                Message.sender_account_id == sender.id,
                MessageAttempt.started_at >= current - SENDER_WINDOW,
            )
            .order_by(MessageAttempt.started_at.desc(), MessageAttempt.id.desc())
            .limit(1)
        ).first()
        if last is not None and last.outcome != "sent":
            out.append(FailingSender(sender.id, sender.name, last.reply or "", last.started_at))
        elif sender.last_error and (last is None or _older(last.started_at, sender)):
            out.append(
                FailingSender(sender.id, sender.name, sender.last_error, sender.last_error_at)
            )
    return out


def _older(attempt_at: datetime, sender: SenderAccount) -> bool:
    return sender.last_error_at is None or attempt_at < sender.last_error_at
