"""Dispatch jobs with the real parts: a `statuslink worker` process, Redis, an SMTP server."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import insert, select

from jobs.worker import PERIODIC_JOBS, periodic_jobs
from tests.support.outbox import event, messages, place_order
from tests.support.worker import running_worker, wait_until
from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.notifications.models import Message, message_order
from webapp.notifications.services import DISPATCH_JOB, SWEEP_JOB, request_dispatch
from webapp.queue import get_redis


def _children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _states(tenant) -> Counter:
    return Counter(m.state for m in messages(tenant))


def _all_sent(tenant, count: int):
    def check() -> bool:
        db.session.rollback()
        return _states(tenant).get("sent", 0) == count

    return check


def test_job_paths_resolve_and_the_sweep_is_periodic(app):
    import importlib

    for path in (DISPATCH_JOB, SWEEP_JOB):
        module, _, name = path.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
    app.config["DISPATCH_SWEEP_SECONDS"] = 0.5
    assert (SWEEP_JOB, 0.5) in periodic_jobs(app)
    assert any(path == SWEEP_JOB for path, _ in PERIODIC_JOBS)


def test_a_burst_of_events_enqueues_one_dispatch_job(app, engine_ready):
    queue = Queue(
        app.config["RQ_QUEUE"],
        connection=get_redis(),
        serializer=JSONSerializer,
    )
    for n in range(5):
        place_order(engine_ready, f"Q-{n}")
        event(engine_ready, f"Q-{n}")
    assert queue.count == 1
    assert queue.jobs[0].func_name == DISPATCH_JOB


def test_redis_down_does_not_lose_the_event(engine_ready, app):
    app.extensions["statuslink.redis"] = Redis.from_url("redis://127.0.0.1:1/0")
    assert request_dispatch() is False
    place_order(engine_ready, "D-1")
    [message] = event(engine_ready, "D-1").messages
    assert message.state == "scheduled"  # the sweep will deliver it


@pytest.mark.slow
def test_shipped_event_through_the_api_arrives_as_mail(
    app, engine_ready, smtp_server, client, tmp_path
):
    headers = engine_ready.headers
    order = {
        "number": "API-1",
        "shop": "web",
        "fulfillment": "own",
        "customer": {"name": "Jana Nowak", "email": "jana@example.org", "language": "pl"},
        "items": [{"title": "Kubek", "quantity": 2}],
    }
    with running_worker(app, tmp_path / "worker.log") as worker:
        assert client.post("/api/v1/orders", json=order, headers=headers).status_code == 201
        time.sleep(1.0)  # let the worker finish starting before the clock starts
        started = time.monotonic()
        response = client.post(
            "/api/v1/orders/API-1/events",
            json={"type": "shipped", "tracking": {"carrier": "DHL", "number": "0034"}},
            headers={**headers, "Idempotency-Key": "ship-api-1"},
        )
        assert response.status_code == 202, response.get_json()
        [planned] = response.get_json()["messages"]
        received = smtp_server.wait_for(1, timeout=10)
        elapsed = time.monotonic() - started
        print(f"\nshipped event -> mail at the SMTP server: {elapsed:.2f} s")
        assert len(received) == 1, worker.output()
        assert received[0].message_id.startswith(f"<msg-{planned['id']}.")
        # One process: nothing (such as RQ's scheduler) that would outlive a killed worker.
        assert worker.proc is not None and _children(worker.proc.pid) == []
        # the same key and body again: the first response, no new message
        again = client.post(
            "/api/v1/orders/API-1/events",
            json={"type": "shipped", "tracking": {"carrier": "DHL", "number": "0034"}},
            headers={**headers, "Idempotency-Key": "ship-api-1"},
        )
        assert again.get_json() == response.get_json()
        # without a key the replay is recorded as an event, but adds no message
        replay = client.post(
            "/api/v1/orders/API-1/events", json={"type": "shipped"}, headers=headers
        )
        assert replay.status_code == 202 and replay.get_json()["messages"] == []
        time.sleep(1.0)
    assert len(smtp_server.messages()) == 1
    assert len(messages(engine_ready)) == 1


@pytest.mark.slow
def test_550_is_visible_through_the_api(app, engine_ready, smtp_server, client, tmp_path):
    smtp_server.mode = "550"
    place_order(engine_ready, "API-2")
    [planned] = event(engine_ready, "API-2").messages
    with running_worker(app, tmp_path / "worker.log") as worker:

        def failed() -> bool:
            db.session.rollback()
            return db.session.get(Message, planned.id).state == "failed"

        assert wait_until(failed, timeout=10), worker.output()
    body = client.get(f"/api/v1/messages/{planned.id}", headers=engine_ready.headers).get_json()
    assert body["state"] == "failed"
    assert "550" in body["error"] and "User unknown" in body["error"]


def _bulk_outbox(tenant, count: int) -> None:
    """`count` rendered messages due now, written straight into the outbox."""
    order = place_order(tenant, "BULK-1")
    now = utcnow()
    sender_id = tenant.webshop.sender_account_id
    rows = [
        {
            "account_id": tenant.account.id,
            "dedupe_key": f"bulk:{n}",
            "order_id": order.id,
            "sender_account_id": sender_id,
            "channel": "email",
            "state": "scheduled",
            "purpose": "manual",
            "language": "de",
            "to_address": f"kunde{n}@example.org",
            "to_name": f"Kunde {n}",
            "bcc": [],
            "subject": f"Nachricht {n}",
            "body_text": f"Hallo Kunde {n}",
            "context": {},
            "attachments": [],
            "send_after": now,
            "rendered_at": now,
            "attempts": 0,
            "repeat_index": 0,
            "created_at": now,
        }
        for n in range(count)
    ]
    db.session.execute(insert(Message), rows)
    ids = db.session.execute(select(Message.id).where(Message.order_id == order.id)).scalars()
    db.session.execute(
        insert(message_order),
        [{"message_id": i, "order_id": order.id, "dedupe_key": f"bulk:{i}"} for i in ids],
    )
    db.session.commit()


@pytest.mark.slow
def test_kill_9_mid_batch_loses_nothing_and_repeats_at_most_one_per_lane(
    app, engine_ready, smtp_server, tmp_path
):
    # Each delivery lane has at most one message between the server's acceptance and the
    # commit that records it; the worker runs DISPATCH_LANES of them.
    lanes = int(app.config["DISPATCH_LANES"])
    assert lanes == 2
    _bulk_outbox(engine_ready, 500)
    smtp_server.delay = 0.005
    with running_worker(app, tmp_path / "worker.log") as worker:
        assert wait_until(lambda: len(smtp_server.messages()) >= 60, timeout=20), worker.output()
        worker.kill()
    arrived_before = len(smtp_server.messages())
    assert arrived_before < 500, "the batch finished before the kill; slow the server down"
    db.session.rollback()
    assert _states(engine_ready)["sending"] > 0  # claimed under a lease by the dead worker
    with running_worker(app, tmp_path / "worker2.log") as worker:
        assert wait_until(_all_sent(engine_ready, 500), timeout=60), worker.output()
    ids = Counter(m.message_id for m in smtp_server.messages())
    assert len(ids) == 500
    repeated = [mid for mid, n in ids.items() if n > 1]
    assert len(repeated) <= lanes and all(ids[mid] == 2 for mid in repeated)
    print(f"\nkilled after {arrived_before} mails; repeated after restart: {repeated}")


@pytest.mark.slow
def test_451_for_a_while_then_every_message_arrives(app, engine_ready, smtp_server, tmp_path):
    smtp_server.mode = "451"
    for n in range(5):
        place_order(
            engine_ready, f"T-{n}", email=f"t{n}@example.org", customer={"external_id": f"t{n}"}
        )
        event(engine_ready, f"T-{n}")
    with running_worker(app, tmp_path / "worker.log") as worker:
        assert wait_until(lambda: smtp_server.refusals >= 10, timeout=15), worker.output()
        assert smtp_server.messages() == []
        smtp_server.mode = "accept"
        assert wait_until(_all_sent(engine_ready, 5), timeout=15), worker.output()
    assert sorted(m.message["To"].addresses[0].addr_spec for m in smtp_server.messages()) == [
        f"t{n}@example.org" for n in range(5)
    ]
    assert all(m.attempts >= 2 for m in messages(engine_ready))


@pytest.mark.slow
def test_smtp_server_down_for_a_while_loses_nothing(app, engine_ready, smtp_server, tmp_path):
    smtp_server.stop()
    for n in range(3):
        place_order(
            engine_ready, f"U-{n}", email=f"u{n}@example.org", customer={"external_id": f"u{n}"}
        )
        event(engine_ready, f"U-{n}")
    with running_worker(app, tmp_path / "worker.log") as worker:

        def retried() -> bool:
            db.session.rollback()
            return all(m.attempts >= 2 for m in messages(engine_ready))

        assert wait_until(retried, timeout=15), worker.output()
        smtp_server.start()
        assert wait_until(_all_sent(engine_ready, 3), timeout=15), worker.output()
    assert len(smtp_server.messages()) == 3


@pytest.mark.slow
def test_redis_flushed_while_messages_wait_the_sweep_delivers(
    app, engine_ready, smtp_server, tmp_path
):
    for n in range(4):
        place_order(
            engine_ready, f"F-{n}", email=f"f{n}@example.org", customer={"external_id": f"f{n}"}
        )
        event(engine_ready, f"F-{n}")
    redis = get_redis()
    assert Queue(app.config["RQ_QUEUE"], connection=redis).count == 1
    redis.flushdb()  # the dispatch job is gone
    with running_worker(app, tmp_path / "worker.log") as worker:
        assert wait_until(_all_sent(engine_ready, 4), timeout=15), worker.output()
    assert len({m.message_id for m in smtp_server.messages()}) == 4
    assert all(m.sent_at - m.created_at < timedelta(seconds=30) for m in messages(engine_ready))
