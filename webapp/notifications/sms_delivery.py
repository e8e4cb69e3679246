"""SMS delivery: claimed SMS messages sent through the sender account's provider, and the
reconciliation of SMS whose outcome is unknown.

A provider timeout or 5xx may hide an SMS that did go out, so such a message is never sent
again blindly: it moves to "unknown", and the sweep asks the provider (where it can tell)
until the answer is clear or the give-up time has passed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from webapp.accounts.models import Account, SenderAccount
from webapp.channels.sms.base import SmsConfigError
from webapp.channels.sms.services import reconcile, send_sms, sms_sender_config
from webapp.extensions import db
from webapp.notifications.delivery import (
    DeliveryReport,
    finish_failed,
    finish_sent,
    record_attempt,
    record_sender_error,
    record_sender_ok,
    retry_later,
)
from webapp.notifications.models import Message
from webapp.notifications.rendering import RenderFailed, prepare_message
from webapp.notifications.scheduling import now, send_time_for

log = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome unknown — check the provider's log before resending"


def send_sms_message(
    message: Message, sender: SenderAccount, report: DeliveryReport, *, at: datetime | None
) -> None:
    """Send one claimed SMS (state "sending") and record the attempt. Commits once before
    the provider is called (so a crash then is reconciled, not resent); the caller commits
    the outcome."""
    current = at or now()
    account = db.session.get(Account, message.account_id)
    if account is None or not account.service_enabled:
        message.state = "suppressed"
        message.error = "the service is switched off for this account"
        message.lease_owner = message.lease_until = None
        return
    # Quiet hours hold for every SMS, also for retries and messages approved late at night.
    allowed = send_time_for(
        account, base=current, delay_minutes=0, respect_quiet_hours=True, business_days_only=False
    )
    if allowed > current:
        message.state = "scheduled"
        message.send_after = allowed
        message.lease_owner = message.lease_until = None
        return
    try:
        prepare_message(message)
        config = sms_sender_config(sender)
    except RenderFailed as exc:
        finish_failed(message, f"not sent: {exc}", None, report, at=at, outcome="rejected")
        return
    except SmsConfigError as exc:
        record_sender_error(sender, f"not sent: {exc.message}", current)
        finish_failed(message, f"not sent: {exc.message}", None, report, at=at)
        return
    message.provider_call_at = current
    db.session.commit()
    result = send_sms(
        config, message.to_address, message.body_text or "", reference=str(message.id)
    )
    reply = f"{result.state}: {result.reply}".strip()
    if result.error_code:
        reply = f"{reply} [{result.error_code}]"
    message.provider_message_id = result.provider_id or message.provider_message_id
    # The sender account's health follows the provider's answers (replies are scrubbed of
    # credentials by the adapters).
    if result.state == "sent":
        record_sender_ok(sender)
        finish_sent(message, None, reply, report, at=at)
    elif result.state == "failed":
        reason = result.reply or "the provider refused the SMS"
        record_sender_error(sender, reason, current)
        finish_failed(message, reason, None, report, at=at)
    elif result.state == "failed_temporary":
        message.provider_call_at = None
        reason = result.reply or "provider unreachable"
        record_sender_error(sender, reason, current)
        retry_later(message, reason, None, report, at=at)
    else:
        mark_unknown(message, reply, current)
        report.unknown += 1


def mark_unknown(message: Message, reply: str, current: datetime) -> None:
    """Park an SMS whose send may or may not have reached the provider."""
    record_attempt(message, "unknown", None, reply, current)
    message.state = "unknown"
    message.error = f"waiting for the provider to confirm: {reply}"
    message.send_after = current + _seconds("SMS_RECONCILE_SECONDS")
    message.lease_owner = message.lease_until = None


def _seconds(key: str) -> timedelta:
    return timedelta(seconds=float(current_app.config[key]))


def reconcile_unknown_messages(
    report: DeliveryReport | None = None, *, at: datetime | None = None
) -> int:
    """Ask the providers about due "unknown" SMS; mark them sent or failed. Commits per
    message. Returns how many were settled.

    Each check is claimed by moving the message's next check time with a conditional update,
    so several workers never ask twice at once.
    """
    current = at or now()
    report = report or DeliveryReport()
    limit = int(current_app.config["DISPATCH_BATCH_SIZE"])
    due = list(
        db.session.execute(
            select(Message.id, Message.send_after)
            .where(Message.state == "unknown", Message.send_after <= current)
            .order_by(Message.send_after, Message.id)
            .limit(limit)
        )
    )
    settled = 0
    for message_id, checked_at in due:
        claimed = db.session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.state == "unknown",
                Message.send_after == checked_at,
            )
            .values(send_after=current + _seconds("SMS_RECONCILE_SECONDS"))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if not getattr(claimed, "rowcount", 0):
            continue
        message = db.session.get(Message, message_id)
        if message is None:
            continue
        db.session.refresh(message)
        if _reconcile_one(message, report, current):
            settled += 1
        db.session.commit()
    report.reconciled += settled
    return settled


def _reconcile_one(message: Message, report: DeliveryReport, current: datetime) -> bool:
    sender = (
        db.session.get(SenderAccount, message.sender_account_id)
        if message.sender_account_id
        else None
    )
    if sender is not None and sender.account_id != message.account_id:
        finish_failed(
            message, "the sender account belongs to another account", None, report, at=current
        )
        return True
    state = "unknown"
    if sender is not None:
        try:
            config = sms_sender_config(sender)
        except SmsConfigError:
            config = None
        if config is not None:
            state = reconcile(
                config,
                message.provider_message_id,
                to=message.to_address,
                text=message.body_text,
                since=message.provider_call_at or message.first_attempt_at or current,
            )
    if state == "sent":
        finish_sent(message, None, "reconciled: the provider has the SMS", report, at=current)
        return True
    if state == "failed":
        finish_failed(
            message, "the provider reports the SMS was not delivered", None, report, at=current
        )
        return True
    started = message.first_attempt_at or current
    if current - started >= _seconds("SMS_UNKNOWN_GIVE_UP_SECONDS"):
        finish_failed(message, OUTCOME_UNKNOWN, None, report, at=current, outcome="unknown")
        return True
    return False
