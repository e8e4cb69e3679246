"""POST /api/v1/orders and GET /api/v1/orders/{number}: create, update, validate, isolate."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.api.conftest import assert_error, order_payload
from webapp.accounts.services import revoke_api_key
from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.notifications.models import Message
from webapp.orders.models import Customer, Order
from webapp.tenancy import scoped


def test_create_order_returns_201_with_the_order(api, tenant):
    response = api.post("/api/v1/orders", json=order_payload())

    assert response.status_code == 201
    body = response.get_json()
    assert body["number"] == "1001"
    assert body["shop"] == "web"
    assert body["state"] == "open"
    assert body["fulfillment"] == "FBM"
    assert body["payment"] == {"method": "invoice", "due_days": 14, "paid_at": None}
    # National number read in the account's country (default language de -> DE).
    assert body["customer"]["phone"] == "+4915123456789"
    assert body["customer"]["email"] == "erika@example.com"
    assert [(i["sku"], i["title"], i["quantity"], i["unit_price"]) for i in body["items"]] == [
        ("BK-1", "The Book", 2, "12.50"),
        (None, "Bookmark", 1, "1.00"),
    ]
    assert body["total"] == "26.00"
    assert body["events"] == [] and body["documents"] == [] and body["messages"] == []
    assert body["status_url"] is None
    order = db.session.execute(scoped(Order, tenant.account.id)).scalar_one()
    assert order.customer.name == "Erika Mustermann"


def test_goods_receipt_channel_of_order_and_customer_default(api, tenant):
    customer = {"name": "Erika Mustermann", "email": "erika@example.com"}
    payload = order_payload(
        notify_on_goods_receipt="sms",
        customer={**customer, "notify_on_goods_receipt": "email"},
    )
    body = api.post("/api/v1/orders", json=payload).get_json()
    assert body["notify_on_goods_receipt"] == "sms"
    assert body["customer"]["notify_on_goods_receipt"] == "email"

    # Absent keys keep their value; null clears the order's own choice.
    later = order_payload(customer=customer)
    assert api.post("/api/v1/orders", json=later).get_json()["notify_on_goods_receipt"] == "sms"
    cleared = api.post("/api/v1/orders", json={**later, "notify_on_goods_receipt": None})
    assert cleared.status_code == 200
    assert cleared.get_json()["notify_on_goods_receipt"] is None
    order = db.session.execute(scoped(Order, tenant.account.id)).scalar_one()
    assert order.notify_on_goods_receipt is None
    assert order.customer.notify_on_goods_receipt == "email"


def test_update_order_returns_200_and_replaces_items_keeping_delivered(api, tenant):
    api.create_order()
    shipped = api.event(
        "1001", {"type": "partially_shipped", "items": [{"sku": "BK-1", "quantity": 1}]}
    )
    assert shipped.status_code == 202

    updated = order_payload(
        fulfillment="own",
        items=[
            {"sku": "BK-1", "title": "The Book (2nd ed.)", "quantity": 3},
            {"title": "Poster", "quantity": 1},
        ],
    )
    response = api.post("/api/v1/orders", json=updated)

    assert response.status_code == 200
    body = response.get_json()
    assert body["fulfillment"] == "own"
    assert body["state"] == "partially_shipped"
    assert [(i["title"], i["quantity"], i["delivered_quantity"]) for i in body["items"]] == [
        ("The Book (2nd ed.)", 3, 1),
        ("Poster", 1, 0),
    ]
    count = db.session.scalar(select(func.count()).select_from(Order))
    assert count == 1


def test_customer_is_reused_by_email_and_by_external_id(api, tenant):
    api.create_order(number="A1")
    api.create_order(number="A2", customer={"name": "Erika M.", "email": "erika@example.com"})
    api.create_order(number="B1", customer={"name": "Otto", "external_id": "C-7"})
    api.create_order(
        number="B2", customer={"name": "Otto Normal", "external_id": "C-7", "email": "o@x.de"}
    )

    customers = (
        db.session.execute(scoped(Customer, tenant.account.id).order_by(Customer.id))
        .scalars()
        .all()
    )
    assert [(c.name, c.email, c.external_id) for c in customers] == [
        ("Erika M.", "erika@example.com", None),
        ("Otto Normal", "o@x.de", "C-7"),
    ]


def test_amazon_shop_reads_phone_numbers_in_its_marketplace_country(api):
    body = api.create_order(shop="amz-de", customer={"name": "Kim", "phone": "030 1234567"})
    assert body["customer"]["phone"] == "+49301234567"


def test_naive_placed_at_is_taken_as_utc(api):
    body = api.create_order(placed_at="2024-05-01T10:00:00")
    assert body["placed_at"] == "2024-05-01T10:00:00+00:00"


@pytest.mark.parametrize("missing", ["number", "shop", "fulfillment", "customer", "items"])
def test_missing_required_field_is_named(api, missing):
    body = order_payload()
    del body[missing]
    error = assert_error(api.post("/api/v1/orders", json=body), 422, "validation_error")
    assert missing in error["fields"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"customer": {"email": "x@example.com"}}, "customer.name"),
        ({"customer": {"name": "A", "email": 42}}, "customer.email"),
        ({"customer": "Erika"}, "customer"),
        ({"items": [{"title": "Book", "quantity": "two"}]}, "items.0.quantity"),
        ({"items": [{"title": "Book", "quantity": 1}, {"quantity": 1}]}, "items.1.title"),
        ({"items": [{"title": "Book", "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{"title": "Book", "quantity": 10**30}]}, "items.0.quantity"),
        ({"items": [{"title": "Book", "quantity": 1, "unit_price": 1e20}]}, "items.0.unit_price"),
        ({"items": [{"title": "Book", "quantity": 1, "unit_price": "NaN"}]}, "items.0.unit_price"),
        ({"items": []}, "items"),
        ({"items": {"title": "Book"}}, "items"),
        ({"number": 1001}, "number"),
        ({"number": "10/01"}, "number"),
        ({"number": "x" * 65}, "number"),
        ({"fulfillment": "drone"}, "fulfillment"),
        ({"payment": {"method": "cash"}}, "payment.method"),
        ({"payment": {"method": "invoice", "due_days": -1}}, "payment.due_days"),
        ({"pickup": "maybe"}, "pickup"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"currency": "EURO"}, "currency"),
        ({"customer": {"name": "A", "language": "xx"}}, "customer.language"),
        ({"customer": {"name": "A", "channel": "fax"}}, "customer.channel"),
        ({"notify_on_goods_receipt": "pigeon"}, "notify_on_goods_receipt"),
        (
            {"customer": {"name": "A", "notify_on_goods_receipt": "fax"}},
            "customer.notify_on_goods_receipt",
        ),
        ({"customer": {"name": "A\u0000B"}}, "customer.name"),
        ({"customer": {"name": "A", "nickname": "B"}}, "customer.nickname"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_fields_are_reported_by_path(api, change, path):
    error = assert_error(api.post("/api/v1/orders", json=order_payload(**change)), 422)
    assert path in error["fields"], error
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize(
    ("customer", "path"),
    [
        ({"name": "A", "email": "not-an-address"}, "customer.email"),
        ({"name": "A", "contact_email": "a@@b"}, "customer.contact_email"),
        ({"name": "A", "phone": "12"}, "customer.phone"),
        ({"name": "A", "phone": "+49 000"}, "customer.phone"),
    ],
)
def test_invalid_email_or_phone_is_422(api, customer, path):
    error = assert_error(api.post("/api/v1/orders", json=order_payload(customer=customer)), 422)
    assert list(error["fields"]) == [path]


def test_unknown_shop_is_422_on_shop(api):
    error = assert_error(api.post("/api/v1/orders", json=order_payload(shop="nope")), 422)
    assert list(error["fields"]) == ["shop"]


def test_shop_of_another_account_is_unknown(api, other_tenant):
    other_tenant.webshop.code = "globex-only"
    db.session.commit()
    error = assert_error(api.post("/api/v1/orders", json=order_payload(shop="globex-only")), 422)
    assert list(error["fields"]) == ["shop"]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"number": "1", }', "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"a string"', "application/json"),
        ("", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        ("[" * 100_000 + "]" * 100_000, "application/json"),
    ],
)
def test_malformed_or_non_object_json_is_400(api, data, content_type):
    response = api.post("/api/v1/orders", data=data, content_type=content_type)
    assert_error(response, 400, "bad_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(api, content_type):
    response = api.post(
        "/api/v1/orders", data=json.dumps(order_payload()), content_type=content_type
    )
    error = assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]


def test_body_over_the_json_limit_is_413_json(app, api):
    padding = "x" * (app.config["API_MAX_JSON_BYTES"] + 1)
    response = api.post("/api/v1/orders", json=order_payload(note=padding))
    assert_error(response, 413, "too_large")


def test_small_configured_json_limit_applies(app, api):
    app.config["API_MAX_JSON_BYTES"] = 200
    response = api.post("/api/v1/orders", json=order_payload())
    assert_error(response, 413, "too_large")
    app.config["API_MAX_JSON_BYTES"] = 10_000
    assert api.post("/api/v1/orders", json=order_payload()).status_code == 201


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer sl_AAAAAAAA_wrongwrongwrongwrongwrong"},
        {"Authorization": "Bearer not-even-a-key"},
    ],
)
def test_missing_or_wrong_key_is_401(client, tenant, headers):
    for method, path in [
        ("post", "/api/v1/orders"),
        ("get", "/api/v1/orders/1001"),
        ("post", "/api/v1/orders/1001/events"),
        ("post", "/api/v1/orders/1001/documents"),
        ("get", "/api/v1/messages/1"),
    ]:
        response = getattr(client, method)(path, headers=headers, json={})
        assert_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_401(api, client, tenant):
    api.create_order()
    _revoke_all(tenant)
    response = client.get("/api/v1/orders/1001", headers=tenant.headers)
    error = assert_error(response, 401, "invalid_api_key")
    assert "revoked" in error["message"]


def _revoke_all(tenant):
    from webapp.accounts.models import ApiKey

    for key in db.session.execute(scoped(ApiKey, tenant.account.id)).scalars().all():
        revoke_api_key(tenant.account.id, key.id, actor="test")


def test_last_used_at_is_recorded(api, tenant):
    from webapp.accounts.models import ApiKey

    api.get("/api/v1/orders/none")
    key = db.session.execute(scoped(ApiKey, tenant.account.id)).scalar_one()
    assert key.last_used_at is not None
    assert utcnow() - key.last_used_at < timedelta(minutes=1)


def test_get_order_shows_items_events_documents_messages(api, tenant):
    api.create_order()
    api.event("1001", {"type": "invoiced"})
    order = db.session.execute(scoped(Order, tenant.account.id)).scalar_one()
    older = Message(
        account_id=tenant.account.id,
        order_id=order.id,
        dedupe_key="t:1",
        channel="email",
        state="sent",
        to_address="erika@example.com",
        subject="Your invoice",
        status_url="http://statuslink.test/s/old",
        created_at=utcnow() - timedelta(hours=1),
        sent_at=utcnow(),
    )
    newer = Message(
        account_id=tenant.account.id,
        order_id=order.id,
        dedupe_key="t:2",
        channel="email",
        state="scheduled",
        to_address="erika@example.com",
        subject="Shipped",
        status_url="http://statuslink.test/s/new",
    )
    db.session.add_all([older, newer])
    db.session.commit()

    response = api.get("/api/v1/orders/1001")

    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "invoiced"
    assert [e["type"] for e in body["events"]] == ["invoiced"]
    assert len(body["items"]) == 2
    assert [m["subject"] for m in body["messages"]] == ["Your invoice", "Shipped"]
    first = body["messages"][0]
    assert set(first) >= {
        "id",
        "channel",
        "state",
        "to",
        "subject",
        "send_after",
        "sent_at",
        "error",
        "status_url",
    }
    assert first["to"] == "erika@example.com"
    # No status link minted yet: the order has no current status URL.
    assert body["status_url"] is None
    assert body["status_links"] == []


def test_get_order_shows_current_status_link_and_opens(api, tenant, client):
    from webapp.status.services import mint_status_link, resolve_status_token, revoke_link

    def link_id_of(url):
        # Tokens carry their signing time, so the same link is re-signed on every read.
        return resolve_status_token(url.rsplit("/s/", 1)[1]).link.link_id

    assert api.post("/api/v1/orders", json=order_payload()).status_code == 201
    order = db.session.execute(
        scoped(Order, tenant.account.id).filter_by(number="1001")
    ).scalar_one()
    older, older_url = mint_status_link(tenant.account.id, order.id)
    newer, _ = mint_status_link(tenant.account.id, order.id)
    assert client.get(older_url.removeprefix("http://statuslink.test")).status_code == 200

    body = api.get("/api/v1/orders/1001").get_json()
    assert link_id_of(body["status_url"]) == newer.link_id
    opens = {link["link_id"]: link["open_count"] for link in body["status_links"]}
    assert opens == {older.link_id: 1, newer.link_id: 0}

    revoke_link(tenant.account.id, newer.link_id, actor="test")
    body = api.get("/api/v1/orders/1001").get_json()
    assert link_id_of(body["status_url"]) == older.link_id
    states = {link["link_id"]: link["state"] for link in body["status_links"]}
    assert states[newer.link_id] == "revoked"


def test_another_accounts_order_is_404_like_an_unknown_one(api, other_api):
    api.create_order()
    other_api.create_order(number="2002")

    foreign = other_api.get("/api/v1/orders/1001")
    unknown = other_api.get("/api/v1/orders/9999")
    assert_error(foreign, 404, "not_found")
    assert foreign.get_json() == unknown.get_json()
    assert "1001" not in foreign.get_data(as_text=True)
    assert api.get("/api/v1/orders/2002").status_code == 404
    # Writing to it is refused the same way and changes nothing.
    assert other_api.event("1001", {"type": "cancelled"}).get_json() == unknown.get_json()
    assert api.get("/api/v1/orders/1001").get_json()["state"] == "open"


@pytest.mark.parametrize("number", ["%00", "a%2Fb", "x" * 300, "%C3%A4"])
def test_odd_order_numbers_in_the_path_are_404(api, number):
    assert_error(api.get(f"/api/v1/orders/{number}"), 404)


def test_get_message_and_isolation(api, other_api, tenant):
    api.create_order()
    order = db.session.execute(scoped(Order, tenant.account.id)).scalar_one()
    message = Message(
        account_id=tenant.account.id,
        order_id=order.id,
        dedupe_key="m:1",
        channel="sms",
        state="failed",
        to_address="+4915123456789",
        error="provider said no",
    )
    db.session.add(message)
    db.session.commit()

    response = api.get(f"/api/v1/messages/{message.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["channel"], body["state"], body["to"], body["error"]) == (
        message.id,
        "sms",
        "failed",
        "+4915123456789",
        "provider said no",
    )
    foreign = other_api.get(f"/api/v1/messages/{message.id}")
    assert foreign.get_json() == other_api.get("/api/v1/messages/999999").get_json()
    assert_error(foreign, 404, "not_found")
    assert_error(api.get("/api/v1/messages/99999999999999999999"), 404)


def test_unknown_route_and_wrong_method_are_json(api):
    assert_error(api.get("/api/v1/nothing-here"), 404)
    assert_error(api.get("/api/v1/orders"), 405)
