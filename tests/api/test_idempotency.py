"""Idempotency-Key on POST orders and POST events: replay, mismatch, concurrent duplicates."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.api.conftest import assert_error, order_payload
from webapp.api.models import IdempotencyRecord
from webapp.extensions import db
from webapp.orders.models import Order, OrderEvent


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_same_key_and_body_replays_the_first_event_response(api):
    api.create_order()
    body = {"type": "shipped", "tracking": {"carrier": "DHL", "number": "1"}}

    first = api.event("1001", body, headers={"Idempotency-Key": "ship-1001"})
    # Key order in the JSON does not matter: the body is compared canonically.
    again = api.event(
        "1001",
        {"tracking": {"number": "1", "carrier": "DHL"}, "type": "shipped"},
        headers={"Idempotency-Key": "ship-1001"},
    )

    assert first.status_code == again.status_code == 202
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _count(OrderEvent) == 1


def test_same_key_with_another_body_is_422(api):
    api.create_order()
    api.event("1001", {"type": "invoiced"}, headers={"Idempotency-Key": "k"})
    response = api.event("1001", {"type": "shipped"}, headers={"Idempotency-Key": "k"})
    assert_error(response, 422, "idempotency_mismatch")
    assert _count(OrderEvent) == 1


def test_same_key_on_another_order_or_endpoint_is_422(api):
    api.create_order()
    api.create_order(number="1002")
    api.event("1001", {"type": "invoiced"}, headers={"Idempotency-Key": "k"})
    assert_error(
        api.event("1002", {"type": "invoiced"}, headers={"Idempotency-Key": "k"}),
        422,
        "idempotency_mismatch",
    )
    assert_error(
        api.post("/api/v1/orders", json=order_payload(), headers={"Idempotency-Key": "k"}),
        422,
        "idempotency_mismatch",
    )


def test_order_creation_replays_201(api):
    headers = {"Idempotency-Key": "create-1001"}
    first = api.post("/api/v1/orders", json=order_payload(), headers=headers)
    again = api.post("/api/v1/orders", json=order_payload(), headers=headers)
    fresh = api.post("/api/v1/orders", json=order_payload())

    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert fresh.status_code == 200
    assert _count(Order) == 1


def test_keys_belong_to_one_account(api, other_api):
    api.create_order()
    other_api.create_order()
    mine = api.event("1001", {"type": "invoiced"}, headers={"Idempotency-Key": "same"})
    theirs = other_api.event("1001", {"type": "invoiced"}, headers={"Idempotency-Key": "same"})
    assert theirs.status_code == 202
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["event"]["id"] != mine.get_json()["event"]["id"]
    assert _count(OrderEvent) == 2


def test_failed_requests_do_not_use_up_the_key(api):
    headers = {"Idempotency-Key": "early"}
    assert_error(api.event("1001", {"type": "shipped"}, headers=headers), 404)
    assert_error(api.event("1001", {"type": "bogus"}, headers=headers), 422)
    api.create_order()
    response = api.event("1001", {"type": "shipped"}, headers=headers)
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers
    assert _count(IdempotencyRecord) == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there", "umlaut-ä"])
def test_bad_keys_are_400(api, key):
    api.create_order()
    response = api.post(
        "/api/v1/orders/1001/events",
        json={"type": "shipped"},
        headers={"Idempotency-Key": key},
    )
    assert_error(response, 400, "bad_idempotency_key")
    assert _count(OrderEvent) == 0


def test_key_of_255_printable_characters_is_accepted(api):
    api.create_order()
    key = ("abc XYZ-_.:/!~" * 20)[:255]
    response = api.event("1001", {"type": "shipped"}, headers={"Idempotency-Key": key})
    assert response.status_code == 202


def test_twenty_concurrent_duplicates_record_one_event(app, api, tenant):
    api.create_order()
    body = {"type": "shipped", "tracking": {"carrier": "DHL", "number": "42"}}
    headers = {**tenant.headers, "Idempotency-Key": "concurrent-ship"}
    start = threading.Barrier(20)
    results: list[tuple[int, dict]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            with app.app_context():
                client = app.test_client()
                start.wait(timeout=30)
                response = client.post("/api/v1/orders/1001/events", json=body, headers=headers)
                with lock:
                    results.append((response.status_code, response.get_json()))
                db.session.remove()
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    assert len(results) == 20
    assert {status for status, _ in results} <= {202, 409}, results
    accepted = [payload for status, payload in results if status == 202]
    assert accepted
    assert len({payload["event"]["id"] for payload in accepted}) == 1
    db.session.expire_all()
    assert _count(OrderEvent) == 1
    assert _count(IdempotencyRecord) == 1
    order = db.session.execute(select(Order)).scalar_one()
    assert order.state == "shipped"
