"""Delivery: claiming due messages under a lease and sending them (SMTP or SMS), one commit each.

The hot path is built to touch the database as little as a safe outbox allows: a batch is
claimed with one UPDATE (on PostgreSQL after a SELECT ... FOR UPDATE SKIP LOCKED), loaded on
the driver's cursor with everything rendering needs (orders with shop, customer, items and
documents; then rules, accounts, sender accounts and templates) and kept in the session
across the per-message commits (no expire on commit inside the run); a lane runs all its
transactions on one database connection, and each SMTP connection is reused for every
message of its sender account during the run. Per message there remain a check that the
claim still holds and the outcome (message, attempt, orders) in one commit.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, bindparam, insert, or_, select, update
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from webapp.accounts.models import Account, SenderAccount, Shop
from webapp.channels.email import (
    HeaderInjection,
    OutgoingEmail,
    PermanentFailure,
    SmtpReply,
    SmtpSession,
    TemporaryFailure,
    mail_bytes,
    message_id_for,
)
from webapp.extensions import db, pinned_connection
from webapp.message_templates.models import MessageTemplate
from webapp.notifications.models import Message, MessageAttempt, Rule, message_order
from webapp.notifications.rendering import (
    RENDERED_COLUMNS,
    RenderFailed,
    load_attachments,
    rendered_values,
)
from webapp.notifications.scheduling import now, send_time_for
from webapp.orders.models import Customer, Document, Order, OrderEvent, OrderItem
from webapp.rawsql import (
    DriverStatement,
    get_loaded,
    labelled,
    persistent,
    set_committed,
    split_record,
)
from webapp.status.services import mint_link_for_message

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    recovered: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled: int = 0
    postponed: int = 0


def worker_identity() -> str:
    """Host and process of this worker, the prefix of every lease it takes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def recover_expired_leases(*, at: datetime | None = None) -> int:
    """Put messages whose worker died mid-send back into the queue. Commits.

    Such a message may have reached the server just before the crash; it then arrives a
    second time with the same Message-ID, which receiving systems use to drop duplicates.
    """
    current = at or now()
    # An SMS handed to the provider before the crash may have gone out: it is reconciled
    # with the provider, never sent a second time.
    in_flight = db.session.execute(
        update(Message)
        .where(
            Message.state == "sending",
            Message.lease_until < current,
            Message.channel == "sms",
            Message.provider_call_at.is_not(None),
        )
        .values(
            state="unknown",
            error="the worker stopped while sending; checking with the provider",
            send_after=current,
            lease_owner=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    result = db.session.execute(
        update(Message)
        .where(Message.state == "sending", Message.lease_until < current)
        .values(state="scheduled", lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    count = (getattr(result, "rowcount", 0) or 0) + (getattr(in_flight, "rowcount", 0) or 0)
    if count:
        log.warning("recovered %d messages with expired leases", count)
    return count


def claim_due_messages(lease_owner: str, *, at: datetime, limit: int) -> list[Message]:
    """Atomically move up to `limit` due messages to `sending` under a lease. Commits.

    PostgreSQL locks the candidate rows with FOR UPDATE SKIP LOCKED so concurrent workers
    take disjoint sets. On SQLite one UPDATE picks and claims the rows: it holds the write
    lock from its start, so concurrent workers take disjoint sets too (a worker that read the
    candidates first would read the same rows as the others, lose the race for them and find
    its batch empty while more is due).
    """
    lease = timedelta(seconds=float(current_app.config["DISPATCH_LEASE_SECONDS"]))
    candidates = (
        select(Message.id)
        .where(Message.state == "scheduled", Message.send_after <= at)
        .order_by(Message.send_after, Message.id)
        .limit(limit)
    )
    claim = update(Message).values(state="sending", lease_owner=lease_owner, lease_until=at + lease)
    if db.engine.dialect.name == "sqlite":
        claimed = db.session.execute(
            claim.where(Message.id.in_(candidates), Message.state == "scheduled").execution_options(
                synchronize_session=False
            )
        )
        db.session.commit()
        return _load_claimed(lease_owner) if getattr(claimed, "rowcount", 1) else []
    if db.engine.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    # Two statements, not UPDATE ... IN (SELECT ... LIMIT): PostgreSQL may run such a
    # subquery more than once and then claim more rows than the limit.
    ids = list(db.session.execute(candidates).scalars())
    if not ids:
        db.session.commit()
        return []
    db.session.execute(
        claim.where(Message.id.in_(ids), Message.state == "scheduled").execution_options(
            synchronize_session=False
        )
    )
    db.session.commit()
    return _load_claimed(lease_owner)


# A claimed batch, read on the driver's cursor (see webapp.rawsql) and made the session's
# objects as the ORM's loading would: the messages; their orders, each with shop and customer;
# the orders' items and documents. Four statements, as the ORM's eager loading of the same
# rows takes, at a fraction of its cost per row.
_IN_BATCH = (Message.lease_owner == bindparam("owner")) & (Message.state == "sending")
_BATCH_MESSAGES = DriverStatement(
    select(Message.__table__).where(_IN_BATCH).order_by(Message.sender_account_id, Message.id)
)
_BATCH_ORDERS = DriverStatement(
    select(
        message_order.c.message_id.label("link__message_id"),
        *labelled("order", Order),
        *labelled("shop", Shop),
        *labelled("customer", Customer),
    )
    .select_from(message_order)
    .join(Message, Message.id == message_order.c.message_id)
    .join(Order, Order.id == message_order.c.order_id)
    .outerjoin(Shop, Shop.id == Order.shop_id)
    .outerjoin(Customer, Customer.id == Order.customer_id)
    .where(_IN_BATCH)
    .order_by(message_order.c.message_id, Order.id)
)
_BATCH_ORDER_IDS = (
    select(message_order.c.order_id)
    .join(Message, Message.id == message_order.c.message_id)
    .where(_IN_BATCH)
)
_BATCH_ITEMS = DriverStatement(
    select(OrderItem.__table__)
    .where(OrderItem.order_id.in_(_BATCH_ORDER_IDS))
    .order_by(OrderItem.order_id, OrderItem.position, OrderItem.id)
)
_BATCH_DOCUMENTS = DriverStatement(
    select(Document.__table__)
    .where(Document.order_id.in_(_BATCH_ORDER_IDS))
    .order_by(Document.order_id, Document.id)
)


def _load_claimed(lease_owner: str) -> list[Message]:
    """The messages claimed under `lease_owner` with everything rendering and the workflow
    checks read of their orders, fresh from the database (as populate_existing loads)."""
    session = db.session()
    params = {"owner": lease_owner}
    messages = [
        persistent(Message, row, refresh=True, session=session)
        for row in _BATCH_MESSAGES.records(params)
    ]
    if not messages:
        return []
    orders_of: dict[int, list[Order]] = {message.id: [] for message in messages}
    loaded: dict[tuple[str, int], Any] = {}  # (name, id): each shop or customer made once

    def load(name: str, model: Any, row: dict[str, Any]) -> Any:
        if row["id"] is None:  # not found by an outer join
            return None
        known = loaded.get((name, row["id"]))
        if known is None:
            known = loaded[name, row["id"]] = persistent(model, row, refresh=True, session=session)
        return known

    orders: dict[int, Order] = {}
    for record in _BATCH_ORDERS.records(params):
        rows = split_record(record)
        order = orders.get(rows["order"]["id"])
        if order is None:
            order = persistent(Order, rows["order"], refresh=True, session=session)
            orders[order.id] = order
            set_committed_value(order, "shop", load("shop", Shop, rows["shop"]))
            set_committed_value(order, "customer", load("customer", Customer, rows["customer"]))
        # A message that left the batch between the statements (PostgreSQL reads each in its
        # own snapshot) is skipped; its claim check fails before it is sent.
        if record["link__message_id"] in orders_of:
            orders_of[record["link__message_id"]].append(order)
    for key, model, statement in (
        ("items", OrderItem, _BATCH_ITEMS),
        ("documents", Document, _BATCH_DOCUMENTS),
    ):
        children: dict[int, list[Any]] = {order_id: [] for order_id in orders}
        for row in statement.records(params):
            if row["order_id"] in children:
                children[row["order_id"]].append(
                    persistent(model, row, refresh=True, session=session)
                )
        for order_id, rows_of_order in children.items():
            set_committed_value(orders[order_id], key, rows_of_order)
    for message in messages:
        set_committed_value(message, "orders", orders_of[message.id])
    return messages


# What rendering and the workflow checks read of an order (_load_claimed reads the same for
# the orders of the claimed messages; _preload loads other orders with these).
_ORDER_LOADS = (
    joinedload(Order.shop),
    joinedload(Order.customer),
    selectinload(Order.items),
    selectinload(Order.documents),
)


# The rules, accounts and sender accounts of a claimed batch, each table in one statement.
_BATCH_ROWS = tuple(
    (
        model,
        DriverStatement(
            select(model.__table__).where(
                model.id.in_(select(reference).where(_IN_BATCH).scalar_subquery())
            )
        ),
    )
    for model, reference in (
        (Rule, Message.rule_id),
        (Account, Message.account_id),
        (SenderAccount, Message.sender_account_id),
    )
)


def _preload(messages: list[Message], lease_owner: str) -> list[Any]:
    """Load the rows the batch claimed under `lease_owner` reads by primary key (rules,
    accounts, sender accounts and orders not among the messages' orders) and the templates it
    renders, with one statement each, fresh from the database.

    The session's identity map holds rows only weakly: the caller keeps the returned list
    until the batch is done, so the `db.session.get` calls of rendering find them there.
    """
    session = db.session()
    rows: list[Any] = [
        persistent(model, row, refresh=True, session=session)
        for model, statement in _BATCH_ROWS
        for row in statement.records({"owner": lease_owner})
    ]

    def load(model: Any, ids: set[int], *options: Any) -> None:
        if ids:
            stmt = (
                select(model)
                .where(model.id.in_(sorted(ids)))
                .options(*options)
                .execution_options(populate_existing=True)
            )
            rows.extend(db.session.execute(stmt).unique().scalars())

    loaded = {o.id for m in messages for o in m.orders}
    missing = {m.order_id for m in messages if m.order_id and m.order_id not in loaded}
    load(Order, missing, *_ORDER_LOADS)
    # The templates rendering will pick, with their variants: its lookup query then finds
    # them in the identity map with the variants already loaded.
    wanted = {(m.account_id, m.purpose or "", m.channel) for m in messages if m.rendered_at is None}
    pinned = {
        int(m.context["template_id"])
        for m in messages
        if m.rendered_at is None and isinstance((m.context or {}).get("template_id"), int)
    }
    if wanted or pinned:
        conditions: list[ColumnElement[bool]] = [
            (MessageTemplate.account_id == account_id)
            & (MessageTemplate.purpose == purpose)
            & (MessageTemplate.channel == channel)
            for account_id, purpose, channel in sorted(wanted)
        ]
        if pinned:
            conditions.append(MessageTemplate.id.in_(sorted(pinned)))
        stmt = (
            select(MessageTemplate)
            .where(or_(*conditions))
            .options(selectinload(MessageTemplate.variants))
            .execution_options(populate_existing=True)
        )
        rows.extend(db.session.execute(stmt).scalars())
    return rows


@contextmanager
def _kept_across_commits() -> Iterator[None]:
    """Inside the block, commits do not expire the session's objects (the per-message commits
    would otherwise reload every row a message needs); on the way out everything is expired
    as a commit would have done, so callers read fresh state afterwards."""
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = previous
        session.expire_all()


_CLAIM_STATE = DriverStatement(
    select(Message.state, Message.lease_owner).where(Message.id == bindparam("b_id"))
)


def _still_claimed(message: Message, lease_owner: str) -> bool:
    """Whether the message is still ours to send: not cancelled meanwhile, and the lease did
    not expire and pass to another worker. Reads only these two columns."""
    row = _CLAIM_STATE.first({"b_id": message.id})
    return row is not None and row[0] == "sending" and row[1] == lease_owner


class _SmtpPool:
    """One SMTP session per sender account for a whole delivery run, reopened when the
    account's connection settings change."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._sessions: dict[int, tuple[tuple[Any, ...], SmtpSession]] = {}

    @staticmethod
    def _settings(sender: SenderAccount) -> tuple[Any, ...]:
        return (
            sender.smtp_host,
            sender.smtp_port,
            sender.smtp_security,
            sender.smtp_username,
            sender.secret_encrypted,
        )

    def session(self, sender: SenderAccount) -> SmtpSession:
        """The open (or lazily opening) session of `sender`; raises PermanentFailure when
        the account's password cannot be decrypted."""
        settings = self._settings(sender)
        known = self._sessions.get(sender.id)
        if known is not None:
            if known[0] == settings:
                return known[1]
            known[1].close()
            del self._sessions[sender.id]
        session = SmtpSession(sender, timeout=self.timeout)
        self._sessions[sender.id] = (settings, session)
        return session

    def close(self) -> None:
        for _, session in self._sessions.values():
            session.close()
        self._sessions.clear()


# A sender account's recorded error is rewritten at most this often while it stays the same.
SENDER_ERROR_REFRESH = timedelta(minutes=1)


def record_sender_error(sender: SenderAccount, reason: str, current: datetime) -> None:
    """Keep the last error of a sender account (shown as "failing" on the dashboard and the
    settings pages). Reasons carry the server's reply or the kind of connection problem,
    never credentials. Not committed here."""
    reason = reason[:1000]
    if (
        sender.last_error != reason
        or sender.last_error_at is None
        or current - sender.last_error_at >= SENDER_ERROR_REFRESH
    ):
        sender.last_error = reason
        sender.last_error_at = current


def record_sender_ok(sender: SenderAccount) -> None:
    """A message went through: the sender account works, its recorded error is cleared."""
    if sender.last_error is not None or sender.last_error_at is not None:
        sender.last_error = None
        sender.last_error_at = None


def deliver_due_messages(*, at: datetime | None = None, owner: str | None = None) -> DeliveryReport:
    """Recover expired leases, then claim and send due messages batch by batch.

    Stops when nothing is due or after DISPATCH_MAX_SECONDS (the next sweep continues).
    Commits after every message; enqueues nothing. The first time a claimed batch is full
    (more may be due than one batch), DISPATCH_LANES - 1 more lanes start: threads that
    claim and send batches the same way, each with its own app context, session and SMTP
    connections, so one lane's wait for the SMTP server's reply overlaps another's work.
    """
    from webapp.notifications.sms_delivery import reconcile_unknown_messages

    config = current_app.config
    owner = owner or worker_identity()
    report = DeliveryReport(recovered=recover_expired_leases(at=at))
    reconcile_unknown_messages(report, at=at)
    deadline = time.monotonic() + float(config["DISPATCH_MAX_SECONDS"])
    lanes = _Lanes(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        int(config["DISPATCH_LANES"]) - 1,
        owner,
        at=at,
        deadline=deadline,
    )
    try:
        _deliver_lane(owner, report, at=at, deadline=deadline, on_full_batch=lanes.start)
    finally:
        lanes.join(into=report)
    return report


def _deliver_lane(
    owner: str,
    report: DeliveryReport,
    *,
    at: datetime | None,
    deadline: float,
    on_full_batch: Callable[[], None] | None = None,
) -> None:
    """Claim and send batches in this thread's session until nothing is due or `deadline`."""
    config = current_app.config
    limit = int(config["DISPATCH_BATCH_SIZE"])
    pool = _SmtpPool(timeout=float(config["SMTP_TIMEOUT_SECONDS"]))
    try:
        with pinned_connection(), _kept_across_commits():
            while time.monotonic() < deadline:
                # Rows read by the previous batch (templates, files) are read again.
                db.session.expire_all()
                lease_owner = f"{owner}:{uuid.uuid4().hex[:12]}"
                claimed = claim_due_messages(lease_owner, at=at or now(), limit=limit)
                if not claimed:
                    break
                if on_full_batch is not None and len(claimed) >= limit:
                    on_full_batch()
                    on_full_batch = None
                report.claimed += len(claimed)
                keep = _preload(claimed, lease_owner)
                for sender_id, group in itertools.groupby(
                    claimed, key=lambda m: m.sender_account_id
                ):
                    _send_batch(sender_id, list(group), lease_owner, report, at=at, pool=pool)
                # Let the batch's objects go before the next expire_all walks the session.
                del keep, claimed
    finally:
        pool.close()


class _Lanes:
    """The extra delivery lanes of one run: started at most once, joined at its end."""

    def __init__(
        self, app: Any, count: int, owner: str, *, at: datetime | None, deadline: float
    ) -> None:
        self.app = app
        self.count = max(0, count)
        self.owner = owner
        self.at = at
        self.deadline = deadline
        self.threads: list[threading.Thread] = []
        self.reports: list[DeliveryReport] = []
        self.errors: list[BaseException] = []

    def start(self) -> None:
        for number in range(self.count):
            report = DeliveryReport()
            thread = threading.Thread(
                target=self._run, args=(report,), name=f"delivery-lane-{number + 2}", daemon=True
            )
            self.reports.append(report)
            self.threads.append(thread)
            thread.start()

    def _run(self, report: DeliveryReport) -> None:
        try:
            with self.app.app_context():
                try:
                    _deliver_lane(self.owner, report, at=self.at, deadline=self.deadline)
                finally:
                    db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the run's own thread
            self.errors.append(exc)

    def join(self, *, into: DeliveryReport) -> None:
        """Wait for every lane, add its counts to `into`, re-raise the first lane's error."""
        for thread in self.threads:
            thread.join()
        for report in self.reports:
            for counter in fields(DeliveryReport):
                name = counter.name
                setattr(into, name, getattr(into, name) + getattr(report, name))
        if self.errors:
            raise self.errors[0]


FOREIGN_SENDER = "the sender account belongs to another account"


def _send_batch(
    sender_id: int | None,
    messages: list[Message],
    lease_owner: str,
    report: DeliveryReport,
    *,
    at: datetime | None,
    pool: _SmtpPool,
) -> None:
    sender = get_loaded(SenderAccount, sender_id) if sender_id else None
    messages = _apply_workflow_checks(messages, lease_owner, report, at=at)
    if sender is not None:
        # A sender account only ever sends its own account's messages.
        for message in [m for m in messages if m.account_id != sender.account_id]:
            _finish_failed(message, FOREIGN_SENDER, None, report, at=at)
            db.session.commit()
        messages = [m for m in messages if m.account_id == sender.account_id]
    if not messages:
        return
    if sender is not None and sender.enabled and sender.channel == "sms":
        _send_sms_batch(sender, messages, lease_owner, report, at=at)
        return
    if sender is None or not sender.enabled or sender.channel != "email":
        for message in messages:
            kind = "SMS" if message.channel == "sms" else "e-mail"
            _finish_failed(message, f"no enabled {kind} sender account", None, report, at=at)
            db.session.commit()
        return
    _send_email_batch(sender, messages, lease_owner, report, at=at, pool=pool)


# A message begun on the SMTP session, with the rendering it was sent with (not stored yet).
_InFlight = tuple[Message, dict[str, Any]]
# The same with the server's final reply, or the failure it amounts to.
_Answered = tuple[Message, dict[str, Any], SmtpReply | PermanentFailure | TemporaryFailure]


def _send_email_batch(
    sender: SenderAccount,
    messages: list[Message],
    lease_owner: str,
    report: DeliveryReport,
    *,
    at: datetime | None,
    pool: _SmtpPool,
) -> None:
    try:
        session = pool.session(sender)
    except PermanentFailure as exc:
        record_sender_error(sender, exc.reason, at or now())
        for message in messages:
            _finish_failed(message, exc.reason, None, report, at=at)
            db.session.commit()
        return
    # Each message's envelope goes out first (after the previous message's data, on the same
    # connection, with PIPELINING); while the server answers it and takes in the previous
    # message, the next message is rendered; then the previous message's final reply is read
    # and its outcome committed, this message's claim checked, and only then its data sent.
    connection_down: TemporaryFailure | None = None
    in_flight: _InFlight | None = None  # begun, its final reply not read yet
    answered: _Answered | None = None  # its reply read, the outcome not committed yet
    try:
        upcoming: _PreparedEmail | None = _prepare_email(messages[0], sender)
        for index, message in enumerate(messages):
            prepared, upcoming = upcoming, None
            started = connection_down is None and _start(session, prepared)
            if connection_down is None and index + 1 < len(messages):
                upcoming = _prepare_email(messages[index + 1], sender)
            if in_flight is not None:
                answered, in_flight = (*in_flight, _final_reply(session)), None
                connection_down = _connection_lost(answered[2])
                _record_reply(*answered, sender, report, at=at)
                db.session.commit()
                answered = None
            if not _still_claimed(message, lease_owner):
                # Cancelled meanwhile, or the lease expired and another worker took it: the
                # envelope goes unanswered, with the connection.
                if started:
                    session.abandon()
                continue
            if connection_down is not None:
                # The server was unreachable a moment ago: do not wait for another timeout
                # per message, retry them all later.
                if started:
                    session.abandon()
                if prepared is not None:
                    _keep_rendering(message, prepared.rendered)
                _retry_later(message, connection_down.reason, None, report, at=at)
                db.session.commit()
                continue
            assert prepared is not None
            in_flight, outcome = _begin_email(
                message, prepared, sender, session, report, at=at, started=started
            )
            if in_flight is None:
                db.session.commit()
            connection_down = _connection_lost(outcome)
        if in_flight is not None:
            answered, in_flight = (*in_flight, _final_reply(session)), None
            _record_reply(*answered, sender, report, at=at)
            db.session.commit()
            answered = None
    except BaseException:
        # Whatever failed, a message the server may have taken gets its outcome recorded
        # if the session still can: else it would be sent again once its lease expires.
        if in_flight is not None and session.pending:
            answered = (*in_flight, _final_reply(session))
        if answered is not None:
            _record_reply_after_error(answered, sender, report, at=at)
        raise


def _final_reply(session: SmtpSession) -> SmtpReply | PermanentFailure | TemporaryFailure:
    """The final reply to the message begun last, or the failure it amounts to."""
    try:
        return session.finish()
    except (PermanentFailure, TemporaryFailure) as exc:
        return exc


def _record_reply(
    message: Message,
    rendered: dict[str, Any],
    reply: SmtpReply | PermanentFailure | TemporaryFailure,
    sender: SenderAccount,
    report: DeliveryReport,
    *,
    at: datetime | None,
) -> Exception | None:
    """Record the outcome of a message by its final reply (not committed); returns the
    failure, if any."""
    if isinstance(reply, Exception):
        _keep_rendering(message, rendered)
        _not_sent(message, sender, reply, report, at=at)
        return reply
    record_sender_ok(sender)
    _record_sent(message, reply.code, reply.text, report, at=at)
    return None


def _record_reply_after_error(
    answered: _Answered, sender: SenderAccount, report: DeliveryReport, *, at: datetime | None
) -> None:
    """_record_reply in a fresh transaction after an error; best effort (the error that
    brought us here is what the caller reports)."""
    message, rendered, _ = answered
    try:
        db.session.rollback()
        # The rollback expired the message: its rendering, never stored, is put back.
        set_committed(message, rendered)
        _record_reply(*answered, sender, report, at=at)
        db.session.commit()
    except Exception:  # noqa: BLE001 - the lease's expiry is the fallback
        log.exception("the outcome of message %s could not be recorded", message.id)
        with contextlib.suppress(Exception):
            db.session.rollback()


def _connection_lost(outcome: object) -> TemporaryFailure | None:
    """The failure when an outcome (a reply, a failure or None) is a lost connection."""
    if isinstance(outcome, TemporaryFailure) and outcome.code is None:
        return outcome
    return None


def _apply_workflow_checks(
    messages: list[Message], lease_owner: str, report: DeliveryReport, *, at: datetime | None
) -> list[Message]:
    """Hold back claimed messages the workflow limits no longer allow; returns the rest."""
    from webapp.notifications.workflows import check_before_sending

    current = at or now()
    keep = []
    for message in messages:
        verdict = check_before_sending(message, current)
        if verdict is None:
            keep.append(message)
            continue
        if verdict.action == "postpone" and verdict.until is not None:
            message.state = "scheduled"
            message.send_after = verdict.until
            report.postponed += 1
        else:
            message.state = "suppressed" if verdict.action == "suppress" else "cancelled"
            message.error = verdict.reason
        message.lease_owner = message.lease_until = None
        db.session.commit()
    return keep


def _send_sms_batch(
    sender: SenderAccount,
    messages: list[Message],
    lease_owner: str,
    report: DeliveryReport,
    *,
    at: datetime | None,
) -> None:
    from webapp.notifications.sms_delivery import send_sms_message

    for message in messages:
        if not _still_claimed(message, lease_owner):
            continue
        send_sms_message(message, sender, report, at=at)
        db.session.commit()


@dataclass
class _PreparedEmail:
    """A message rendered and built for sending, or why it cannot be sent."""

    email: OutgoingEmail | None = None
    payload: bytes = b""
    rendered: dict[str, Any] = field(default_factory=dict)
    error: Exception | None = None
    suppressed: bool = False

    @property
    def sendable(self) -> bool:
        """Rendered and built without a problem, for an account whose service is on."""
        return self.error is None and not self.suppressed


def _prepare_email(message: Message, sender: SenderAccount) -> _PreparedEmail:
    """Render the message (when not rendered yet) and build its bytes. Only reads: the
    rendering is kept on the message as if already stored, and goes to the database with
    the outcome, in its one UPDATE."""
    account = get_loaded(Account, message.account_id)
    if account is None or not account.service_enabled:
        return _PreparedEmail(suppressed=True)
    rendered: dict[str, Any] = {}
    try:
        with db.session.no_autoflush:
            if message.rendered_at is None:
                rendered = rendered_values(message)
                set_committed(message, rendered)
            email = OutgoingEmail(
                message_id=message_id_for(
                    message.id, message.account_id, current_app.config["BASE_URL"]
                ),
                from_email=sender.from_email or "",
                from_name=sender.from_name,
                to_email=message.to_address,
                to_name=message.to_name,
                subject=message.subject or "",
                text=message.body_text or "",
                html=message.body_html,
                bcc=list(message.bcc or []),
                reply_to=sender.reply_to,
                attachments=load_attachments(message),
            )
            payload = mail_bytes(email)
    except (RenderFailed, HeaderInjection, FileNotFoundError, PermanentFailure) as exc:
        return _PreparedEmail(rendered=rendered, error=exc)
    return _PreparedEmail(email=email, payload=payload, rendered=rendered)


def _start(session: SmtpSession, prepared: _PreparedEmail | None) -> bool:
    """Send the envelope of a message ready to go (SmtpSession.start); whether it was sent."""
    if prepared is None or not prepared.sendable:
        return False
    assert prepared.email is not None
    session.start(prepared.email)
    return True


def _keep_rendering(message: Message, rendered: dict[str, Any]) -> None:
    """Store the rendering with a failure (by the ORM, which took it for stored)."""
    for key in rendered:
        flag_modified(message, key)


def _begin_email(
    message: Message,
    prepared: _PreparedEmail,
    sender: SenderAccount,
    session: SmtpSession,
    report: DeliveryReport,
    *,
    at: datetime | None,
    started: bool = False,
) -> tuple[_InFlight | None, Exception | None]:
    """Hand the prepared message to the server: (the message in flight, None), or (None, why
    not) with the outcome recorded (not committed). `started`: its envelope was sent with
    SmtpSession.start() already."""
    if prepared.suppressed:
        message.state = "suppressed"
        message.error = "the service is switched off for this account"
        message.lease_owner = message.lease_until = None
        return None, None
    if prepared.error is None:
        assert prepared.email is not None
        try:
            if started:  # its envelope went out with SmtpSession.start()
                session.send_data(prepared.payload)
            else:
                session.begin(prepared.email, prepared.payload)
        except (PermanentFailure, TemporaryFailure) as exc:
            prepared.error = exc
    if prepared.error is not None:
        _keep_rendering(message, prepared.rendered)
        _not_sent(message, sender, prepared.error, report, at=at)
        return None, prepared.error
    return (message, prepared.rendered), None


def _not_sent(
    message: Message,
    sender: SenderAccount,
    exc: Exception,
    report: DeliveryReport,
    *,
    at: datetime | None,
) -> None:
    if isinstance(exc, PermanentFailure):
        record_sender_error(sender, exc.reason, at or now())
        _finish_failed(message, exc.reason, exc.code, report, at=at)
    elif isinstance(exc, TemporaryFailure):
        record_sender_error(sender, exc.reason, at or now())
        _retry_later(message, exc.reason, exc.code, report, at=at)
    else:
        reason = str(exc) if not isinstance(exc, FileNotFoundError) else "attachment missing"
        _finish_failed(message, f"not sent: {reason}", None, report, at=at, outcome="rejected")


# The outcome of a sent e-mail, written without the unit of work (see webapp.rawsql): the
# message's columns, its attempt and the orders' last notification, in the message's commit.
_SENT_COLUMNS = (
    *RENDERED_COLUMNS,
    "state",
    "sent_at",
    "error",
    "lease_owner",
    "lease_until",
    "provider_call_at",
    "attempts",
    "first_attempt_at",
)
_RENDERED = frozenset(RENDERED_COLUMNS)
_UPDATE_SENT = DriverStatement(
    update(Message)
    .where(Message.id == bindparam("b_id"))
    .values({column: bindparam(column) for column in _SENT_COLUMNS})
)
_ATTEMPT_COLUMNS = ("account_id", "message_id", "started_at", "outcome", "reply_code", "reply")
_INSERT_ATTEMPT = DriverStatement(
    insert(MessageAttempt).values({column: bindparam(column) for column in _ATTEMPT_COLUMNS})
)
_UPDATE_NOTIFIED = DriverStatement(
    update(Order)
    .where(Order.id == bindparam("b_id"))
    .values(last_notified_at=bindparam("at"), updated_at=bindparam("at"))
)


def _record_sent(
    message: Message, code: int | None, reply: str, report: DeliveryReport, *, at: datetime | None
) -> None:
    """What _finish_sent records, in three prepared statements instead of a flush; the objects
    in the session are updated to match, as if loaded after the commit."""
    current = at or now()
    values: dict[str, Any] = {column: getattr(message, column) for column in RENDERED_COLUMNS}
    values.update(
        state="sent",
        sent_at=current,
        error=None,
        lease_owner=None,
        lease_until=None,
        provider_call_at=None,
        attempts=(message.attempts or 0) + 1,
        first_attempt_at=message.first_attempt_at or current,
    )
    _UPDATE_SENT.execute({**values, "b_id": message.id})
    _INSERT_ATTEMPT.execute(
        {
            "account_id": message.account_id,
            "message_id": message.id,
            "started_at": current,
            "outcome": "sent",
            "reply_code": code,
            "reply": (f"{code} {reply}" if code is not None else reply)[:2000],
        }
    )
    # The rendered columns were read from the message itself.
    set_committed(message, {k: v for k, v in values.items() if k not in _RENDERED})
    for order in message.orders:
        _UPDATE_NOTIFIED.execute({"b_id": order.id, "at": current})
        set_committed(order, {"last_notified_at": current, "updated_at": current})
    report.sent += 1
    _plan_repeat(message, current)


def _attempt(
    message: Message, outcome: str, code: int | None, reply: str, current: datetime
) -> None:
    message.attempts = (message.attempts or 0) + 1
    if message.first_attempt_at is None:
        message.first_attempt_at = current
    db.session.add(
        MessageAttempt(
            account_id=message.account_id,
            message_id=message.id,
            started_at=current,
            outcome=outcome,
            reply_code=code,
            reply=reply[:2000],
        )
    )


def _finish_failed(
    message: Message,
    reason: str,
    code: int | None,
    report: DeliveryReport,
    *,
    at: datetime | None,
    outcome: str = "failed",
) -> None:
    _attempt(message, outcome, code, reason, at or now())
    message.state = "failed"
    message.error = reason
    message.lease_owner = message.lease_until = None
    message.provider_call_at = None
    report.failed += 1
    log.warning("message %s failed: %s", message.id, reason)


def retry_delay(attempts: int) -> float:
    """Seconds until the next try: exponential in the attempts so far, capped, with jitter."""
    config = current_app.config
    base = float(config["RETRY_BASE_SECONDS"])
    capped = min(float(config["RETRY_MAX_SECONDS"]), base * 2 ** max(attempts - 1, 0))
    return capped * random.uniform(0.8, 1.2)


def _retry_later(
    message: Message, reason: str, code: int | None, report: DeliveryReport, *, at: datetime | None
) -> None:
    current = at or now()
    _attempt(message, "temporary", code, reason, current)
    give_up = timedelta(seconds=float(current_app.config["RETRY_GIVE_UP_SECONDS"]))
    assert message.first_attempt_at is not None
    if current - message.first_attempt_at >= give_up:
        message.state = "failed"
        message.error = f"gave up after {message.attempts} attempts; last reply: {reason}"
        report.failed += 1
    else:
        message.state = "scheduled"
        message.error = reason
        message.send_after = current + timedelta(seconds=retry_delay(message.attempts))
        report.retried += 1
    message.lease_owner = message.lease_until = None


def _finish_sent(
    message: Message, code: int | None, reply: str, report: DeliveryReport, *, at: datetime | None
) -> None:
    current = at or now()
    _attempt(message, "sent", code, f"{code} {reply}" if code is not None else reply, current)
    message.state = "sent"
    message.sent_at = current
    message.error = None
    message.lease_owner = message.lease_until = None
    message.provider_call_at = None
    for order in message.orders:
        order.last_notified_at = current
    report.sent += 1
    _plan_repeat(message, current)


def _plan_repeat(message: Message, current: datetime) -> None:
    rule = get_loaded(Rule, message.rule_id) if message.rule_id else None
    if rule is None or not rule.enabled or not rule.repeat_interval_minutes:
        return
    index = message.repeat_index + 1
    if index >= rule.repeat_max_count or message.order_id is None:
        return
    if rule.stop_events:
        stopped = db.session.execute(
            select(OrderEvent.id).where(
                OrderEvent.order_id == message.order_id,
                OrderEvent.type.in_(rule.stop_events),
                OrderEvent.id > (message.event_id or 0),
            )
        ).first()
        if stopped is not None:
            return
    order = get_loaded(Order, message.order_id)
    account = get_loaded(Account, message.account_id)
    if order is None or account is None:
        return
    key = f"{message.dedupe_key.split(':n', 1)[0]}:n{index}"
    follow_up = Message(
        account_id=message.account_id,
        dedupe_key=key,
        order_id=message.order_id,
        event_id=message.event_id,
        rule_id=rule.id,
        sender_account_id=message.sender_account_id,
        channel=message.channel,
        state="review" if rule.mode == "review" else "scheduled",
        purpose=message.purpose,
        language=message.language,
        to_address=message.to_address,
        to_name=message.to_name,
        bcc=list(message.bcc or []),
        context=dict(message.context or {}),
        attachments=[],
        attempts=0,
        repeat_index=index,
        send_after=send_time_for(
            account,
            base=current,
            delay_minutes=rule.repeat_interval_minutes,
            respect_quiet_hours=rule.respect_quiet_hours or message.channel == "sms",
            business_days_only=rule.business_days_only,
        ),
    )
    db.session.add(follow_up)
    db.session.flush()
    db.session.execute(
        insert(message_order).values(
            message_id=follow_up.id, order_id=order.id, event_id=message.event_id, dedupe_key=key
        )
    )
    follow_up.status_url = mint_link_for_message(follow_up)


# Shared with the SMS path (webapp.notifications.sms_delivery).
record_attempt = _attempt
finish_failed = _finish_failed
finish_sent = _finish_sent
retry_later = _retry_later
