"""The dashboard: today's figures, the 30-day chart, failing sender accounts, polling."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support import outbox
from tests.support.outbox import event, messages, place_order
from webapp.accounts.models import SenderAccount
from webapp.extensions import db
from webapp.notifications.models import MessageAttempt
from webapp.notifications.stats import dashboard_stats
from webapp.status.models import StatusLink

# The outbox fixtures (defined for tests/notifications) used here as well.
clock = outbox.clock
engine_ready = outbox.engine_ready
fast_delivery = outbox.fast_delivery


def _messages(tenant, clock, prefix: str, count: int) -> list:
    for i in range(count):
        place_order(tenant, f"{prefix}-{i}", email=f"{prefix.lower()}{i}@example.org")
        event(tenant, f"{prefix}-{i}", "shipped")
    return [m for m in messages(tenant) if m.orders[0].number.startswith(prefix)]


@pytest.fixture()
def busy(engine_ready, clock):
    """Today: 3 sent, 1 failed, 2 scheduled; 4 days ago: 2 sent; one link opened today."""
    rows = _messages(engine_ready, clock, "D", 8)
    for message in rows[:3]:
        message.state, message.sent_at = "sent", clock.current
    for message in rows[3:5]:
        message.state, message.sent_at = "sent", clock.current - timedelta(days=4)
    failed = rows[5]
    failed.state, failed.error = "failed", "550 mailbox unknown"
    db.session.add(
        MessageAttempt(
            account_id=engine_ready.account.id,
            message_id=failed.id,
            started_at=clock.current,
            outcome="failed",
            reply_code=550,
            reply="550 mailbox unknown",
        )
    )
    link = (
        db.session.execute(
            select(StatusLink).where(StatusLink.account_id == engine_ready.account.id)
        )
        .scalars()
        .first()
    )
    link.first_opened_at = clock.current - timedelta(minutes=5)
    db.session.commit()
    return engine_ready


def test_stats_count_today_and_per_day(busy, clock):
    stats = dashboard_stats(busy.account.id)
    assert (stats.sent_today, stats.failed_today, stats.scheduled) == (3, 1, 2)
    assert stats.waiting_review == 0
    assert len(stats.days) == 30 and stats.days[-1].day == clock.current.date()
    assert stats.days[-1].sent == 3 and stats.days[-1].failed == 1
    assert stats.days[-1].opened == 1
    assert stats.days[-5].sent == 2
    assert stats.totals.sent == 5 and stats.peak == 3


def test_stats_of_another_account_are_not_counted(busy, other_tenant):
    stats = dashboard_stats(other_tenant.account.id)
    assert (stats.sent_today, stats.failed_today, stats.scheduled) == (0, 0, 0)
    assert stats.totals.opened == 0


def test_dashboard_shows_figures_chart_and_shops(client, auth, busy):
    auth.login()
    response = client.get("/")
    html = response.get_data(as_text=True)
    pairs = re.findall(r'figure__value">(\d+)</span>\s*<span class="figure__label">([^<]+)<', html)
    figures = {label: value for value, label in pairs}
    assert figures == {
        "Sent today": "3",
        "Failed today": "1",
        "Waiting for review": "0",
        "Scheduled": "2",
    }
    assert html.count('class="chart__bar chart__bar--sent"') == 30
    assert "Last 30 days" in html and "Status links opened: 1" in html
    # Shops and senders stay on the dashboard.
    assert 'id="shops"' in html and 'id="senders"' in html
    # CSP: no inline styles or scripts anywhere on the page.
    assert " style=" not in html and "<script>" not in html
    assert 'href="/messages?state=failed"' in html and 'href="/review"' in html


def test_dashboard_polls_while_messages_are_scheduled(client, auth, busy):
    auth.login()
    html = client.get("/").get_data(as_text=True)
    assert 'id="dashboard-stats"' in html and 'hx-trigger="every 10s"' in html
    response = client.get("/", headers={"HX-Request": "true", "HX-Target": "dashboard-stats"})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="dashboard-stats"')
    assert "<html" not in fragment and 'id="shops"' not in fragment


def test_polling_stops_with_286_when_nothing_is_under_way(client, auth, engine_ready):
    auth.login()
    response = client.get("/", headers={"HX-Request": "true", "HX-Target": "dashboard-stats"})
    assert response.status_code == 286
    assert "hx-trigger" not in response.get_data(as_text=True)


def test_failing_sender_alert(client, auth, busy, clock):
    sender = (
        db.session.execute(select(SenderAccount).where(SenderAccount.account_id == busy.account.id))
        .scalars()
        .first()
    )
    failed = next(m for m in messages(busy) if m.state == "failed")
    failed.sender_account_id = sender.id
    db.session.commit()
    auth.login()
    html = client.get("/").get_data(as_text=True)
    assert 'role="alert"' in html
    assert f"Sender account “{sender.name}” has problems." in html
    assert "550 mailbox unknown" in html


def test_sender_last_error_is_an_alert(client, auth, tenant):
    sender = (
        db.session.execute(
            select(SenderAccount).where(SenderAccount.account_id == tenant.account.id)
        )
        .scalars()
        .first()
    )
    sender.last_error = "test mail: connection refused"
    db.session.commit()
    auth.login()
    html = client.get("/").get_data(as_text=True)
    assert "connection refused" in html and "has problems" in html


def test_dashboard_empty_account(client, auth, tenant):
    auth.login()
    html = client.get("/").get_data(as_text=True)
    assert "Sent today" in html and 'role="alert"' not in html
    assert html.count('class="chart__bar chart__bar--sent"') == 30


def test_dashboard_in_german(client, auth, busy):
    auth.login()
    html = client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Heute gesendet" in html and "Letzte 30 Tage" in html
