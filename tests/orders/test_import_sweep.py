"""Imports whose job was lost (Redis lost it, or the worker died) are picked up by a sweep."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import func, select, update

from jobs.importing import run_import_job, sweep_imports
from jobs.worker import PERIODIC_JOBS, periodic_jobs
from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.orders import importing
from webapp.orders.importing import (
    F_WORKER_LOST,
    ImportJob,
    get_import,
    mapping_for,
    recover_stuck_imports,
    save_upload,
    start_import,
)
from webapp.orders.models import Order, OrderItem
from webapp.queue import get_redis

SWEEP = "jobs.importing.sweep_imports"
RUN = "jobs.importing.run_import_job"


@pytest.fixture()
def queue(app) -> Queue:
    app.config["RQ_QUEUE"] = f"test-{uuid.uuid4().hex[:10]}"
    return Queue(app.config["RQ_QUEUE"], connection=get_redis(), serializer=JSONSerializer)


def _runs(queue: Queue) -> list[list]:
    return [list(job.args) for job in queue.jobs if job.func_name == RUN]


def _queued(tenant, text: str) -> ImportJob:
    job = save_upload(tenant.account.id, tenant.owner, "orders.csv", io.BytesIO(text.encode()))
    mapping, _ = mapping_for(tenant.account.id, job.headers)
    start_import(tenant.account.id, job.id, mapping, "web", actor="owner@acme.example")
    return job


def _age(job_id: int, **ages: timedelta) -> None:
    now = utcnow()
    db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(**{column: now - age for column, age in ages.items()})
    )
    db.session.commit()


def _rows(count: int, *, bad_line: int | None = None) -> str:
    lines = ["Bestellnummer;Name;Artikel;Menge"]
    for n in range(count):
        quantity = "viele" if n == bad_line else "1"
        lines.append(f"S-{n};Kunde {n};Buch {n};{quantity}")
    return "\n".join(lines) + "\n"


def test_the_sweep_is_a_periodic_job_of_every_worker(app):
    assert any(path == SWEEP for path, _ in PERIODIC_JOBS)
    assert (SWEEP, 60.0) in periodic_jobs(app)  # the default of config.py
    app.config["IMPORT_SWEEP_SECONDS"] = 2
    assert (SWEEP, 2.0) in periodic_jobs(app)


def test_a_queued_import_whose_job_was_lost_is_enqueued_again_once(db, tenant, queue):
    job = _queued(tenant, _rows(2))
    queue.empty()  # Redis lost the job
    assert recover_stuck_imports() == {"requeued": 0, "resumed": 0, "failed": 0}  # too young
    _age(job.id, updated_at=timedelta(minutes=2))
    assert recover_stuck_imports()["requeued"] == 1
    assert _runs(queue) == [[job.id, tenant.account.id]]
    # The next sweep waits another minute before enqueueing it again.
    assert recover_stuck_imports()["requeued"] == 0
    assert len(_runs(queue)) == 1
    # The late original and the copy both run: the orders are imported once.
    assert run_import_job(job.id, tenant.account.id)["created"] == 2
    assert run_import_job(job.id, tenant.account.id)["skipped"] is True
    count = db.session.execute(select(func.count(Order.id))).scalar_one()
    assert count == 2


def test_imports_of_every_account_are_enqueued_with_their_own_account(
    db, tenant, other_tenant, queue
):
    mine = _queued(tenant, _rows(1))
    theirs = _queued(other_tenant, _rows(1))
    queue.empty()
    _age(mine.id, updated_at=timedelta(minutes=5))
    _age(theirs.id, updated_at=timedelta(minutes=5))
    assert sweep_imports()["requeued"] == 2
    assert sorted(_runs(queue)) == sorted(
        [[mine.id, tenant.account.id], [theirs.id, other_tenant.account.id]]
    )


class WorkerDied(BaseException):
    """Stands for the worker process being killed: nothing of the run's clean-up happens."""


def test_a_running_import_whose_worker_died_resumes_without_duplicates(app, db, tenant, queue):
    app.config["IMPORT_PROGRESS_EVERY"] = 2
    job = _queued(tenant, _rows(7, bad_line=1))
    real_upsert = importing.upsert_order
    calls = {"n": 0}

    def dying_upsert(account_id, data, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise WorkerDied
        return real_upsert(account_id, data, **kwargs)

    importing.upsert_order = dying_upsert
    try:
        with pytest.raises(WorkerDied):
            run_import_job(job.id, tenant.account.id)
    finally:
        importing.upsert_order = real_upsert
    db.session.rollback()
    stuck = get_import(tenant.account.id, job.id)
    db.session.refresh(stuck)
    assert stuck.status == "running" and stuck.processed == 4  # the last checkpoint
    queue.empty()

    # Not stale yet: the sweep leaves a running import alone.
    assert recover_stuck_imports() == {"requeued": 0, "resumed": 0, "failed": 0}
    _age(job.id, updated_at=timedelta(minutes=11), started_at=timedelta(minutes=12))
    assert recover_stuck_imports()["resumed"] == 1
    assert _runs(queue) == [[job.id, tenant.account.id]]

    result = run_import_job(job.id, tenant.account.id)
    assert result["status"] == "done"
    done = get_import(tenant.account.id, job.id)
    assert (done.processed, done.created + done.updated, done.failed) == (7, 6, 1)
    assert [e["line"] for e in done.errors] == [3]  # the bad row once, not once per run
    numbers = db.session.execute(select(Order.number).order_by(Order.number)).scalars().all()
    assert numbers == [f"S-{n}" for n in range(7) if n != 1]
    items = db.session.execute(select(func.count(OrderItem.id))).scalar_one()
    assert items == 6
    # It kept its first start time.
    assert utcnow() - done.started_at > timedelta(minutes=11)


def test_an_import_that_keeps_losing_its_worker_is_failed_with_a_reason(db, tenant, queue):
    job = _queued(tenant, _rows(2))
    assert run_import_job(job.id, tenant.account.id)["created"] == 2
    db.session.execute(update(ImportJob).where(ImportJob.id == job.id).values(status="running"))
    db.session.commit()
    _age(job.id, updated_at=timedelta(minutes=30), started_at=timedelta(hours=7))
    queue.empty()
    assert recover_stuck_imports()["failed"] == 1
    failed = get_import(tenant.account.id, job.id)
    db.session.refresh(failed)
    assert failed.status == "failed" and failed.failure == F_WORKER_LOST
    assert failed.finished_at is not None and failed.created == 2
    assert _runs(queue) == []
    assert db.session.execute(select(func.count(Order.id))).scalar_one() == 2


def test_new_and_finished_imports_are_left_alone(db, tenant, queue):
    fresh = save_upload(
        tenant.account.id, tenant.owner, "orders.csv", io.BytesIO(_rows(1).encode())
    )
    done = _queued(tenant, _rows(1))
    run_import_job(done.id, tenant.account.id)
    queue.empty()
    _age(fresh.id, updated_at=timedelta(hours=1))
    _age(done.id, updated_at=timedelta(hours=1))
    assert recover_stuck_imports() == {"requeued": 0, "resumed": 0, "failed": 0}
    assert _runs(queue) == []
    assert get_import(tenant.account.id, fresh.id).status == "new"
