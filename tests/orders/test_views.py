"""The order pages: list with search, filters and pagination; the order page and its actions."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from tests.support.client import PerRequestContextClient
from tests.support.factories import PASSWORD
from tests.support.html import csrf_token
from webapp.accounts import services as accounts
from webapp.orders.models import Order, OrderEvent
from webapp.orders.services import store_document, upsert_order
from webapp.status.models import StatusLink
from webapp.status.services import mint_status_link

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    app.test_client_class = PerRequestContextClient


def make_order(tenant, number="1001", *, name="Erika Mustermann", email="erika@example.com",
               shop="web", fulfillment="FBM", **extra):  # fmt: skip
    order, _ = upsert_order(
        tenant.account.id,
        {
            "number": number,
            "shop": shop,
            "fulfillment": fulfillment,
            "customer": {"name": name, "email": email, "language": "de"},
            "items": [
                {"sku": "BK-1", "title": "The Book", "quantity": 2, "unit_price": 12.5},
                {"title": "Bookmark", "quantity": 1},
            ],
            **extra,
        },
    )
    return order


def fresh_order(db, tenant, number="1001") -> Order:
    db.session.expire_all()
    return db.session.execute(
        select(Order).filter_by(account_id=tenant.account.id, number=number)
    ).scalar_one()


def token_for(client, path="/orders") -> str:
    return csrf_token(client.get(path))


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/orders"),
        ("get", "/orders/1001"),
        ("post", "/orders/1001/note"),
        ("post", "/orders/1001/events"),
        ("post", "/orders/1001/links/revoke"),
        ("get", "/orders/1001/documents/1"),
    ],
)
def test_every_order_route_requires_login(client, tenant, method, path):
    make_order(tenant)
    response = getattr(client, method)(path)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
    else:  # a POST without a session fails the CSRF check before anything else
        assert "CSRF" in response.get_data(as_text=True)


def test_another_accounts_order_is_not_found_on_every_route(client, auth, tenant, other_tenant):
    make_order(other_tenant, "G-1")
    auth.login()
    token = token_for(client)
    assert client.get("/orders/G-1").status_code == 404
    assert (
        client.post("/orders/G-1/note", data={"csrf_token": token, "note": "x"}).status_code == 404
    )
    response = client.post(
        "/orders/G-1/events", data={"csrf_token": token, "type": "shipped"}, headers=HX
    )
    assert response.status_code == 404
    assert client.post("/orders/G-1/links/revoke", data={"csrf_token": token}).status_code == 404
    assert client.get("/orders/G-1/documents/1").status_code == 404
    assert "G-1" not in client.get("/orders?q=G").get_data(as_text=True)


def test_posts_without_csrf_token_are_refused(client, auth, db, tenant):
    make_order(tenant)
    auth.login()
    assert client.post("/orders/1001/note", data={"note": "hi"}).status_code == 400
    assert client.post("/orders/1001/events", data={"type": "shipped"}).status_code == 400
    assert client.post("/orders/1001/links/revoke").status_code == 400
    order = fresh_order(db, tenant)
    assert order.note == "" and order.state == "open" and not order.events


# --- list ---------------------------------------------------------------------------------


def test_list_shows_empty_state_then_orders(client, auth, tenant):
    auth.login()
    assert "No orders yet." in client.get("/orders").get_data(as_text=True)
    make_order(tenant)
    html = client.get("/orders").get_data(as_text=True)
    assert "/orders/1001" in html and "Erika Mustermann" in html
    assert 'aria-current="page"' in html and ">Orders<" in html


def test_search_by_number_prefix_name_and_email(client, auth, tenant, other_tenant):
    make_order(tenant, "A-100", name="Anna Alt", email="anna@example.com")
    make_order(tenant, "B-200", name="Bernd Braun", email="bernd@shop.example")
    make_order(tenant, "XA-1", name="Carla Clay", email="carla@example.com")
    make_order(other_tenant, "A-101", name="Anna Other", email="anna@other.example")
    auth.login()

    def numbers(query: str) -> set[str]:
        html = client.get(f"/orders?q={query}", headers=HX).get_data(as_text=True)
        return {n for n in ("A-100", "B-200", "XA-1", "A-101") if f'/orders/{n}"' in html}

    assert numbers("A-") == {"A-100"}  # a prefix, not "contains" (XA-1), not another account
    assert numbers("a-1") == {"A-100"}  # numbers match in upper case too
    assert numbers("braun") == {"B-200"}  # name contains, any case
    assert numbers("RAUN") == {"B-200"}
    assert numbers("BERND@") == {"B-200"}
    assert numbers("carla@") == {"XA-1"}  # e-mail prefix
    assert numbers("100%25") == set()  # LIKE wildcards are taken literally
    assert "No orders match." in client.get("/orders?q=zzz").get_data(as_text=True)


def test_filters_by_shop_state_and_fulfilment(client, auth, tenant):
    make_order(tenant, "W-1", fulfillment="FBM")
    make_order(tenant, "Z-1", shop="amz-de", fulfillment="FBA")
    from webapp.orders.services import record_event

    record_event(tenant.account.id, "W-1", {"type": "shipped"})
    auth.login()

    def numbers(args: str) -> set[str]:
        html = client.get(f"/orders?{args}", headers=HX).get_data(as_text=True)
        return {n for n in ("W-1", "Z-1") if f'/orders/{n}"' in html}

    assert numbers(f"shop={tenant.amazon.id}") == {"Z-1"}
    assert numbers("state=shipped") == {"W-1"}
    assert numbers("fulfillment=FBA") == {"Z-1"}
    assert numbers("fulfillment=FBA&state=shipped") == set()
    # Unknown values are ignored, never an error.
    assert numbers("state=nonsense&fulfillment=x&shop=99999&before=abc") == {"W-1", "Z-1"}


def test_htmx_request_gets_only_the_results_fragment(client, auth, tenant):
    make_order(tenant)
    auth.login()
    response = client.get("/orders?q=1001", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="order-results"')
    assert "<html" not in html and "app-header" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_keyset_pagination_walks_every_order_once(client, auth, tenant, app):
    for index in range(60):
        make_order(tenant, f"N-{index:03d}", email=None)
    auth.login()
    seen: list[str] = []
    url = "/orders"
    pages = 0
    while url and pages < 5:
        html = client.get(url).get_data(as_text=True)
        pages += 1
        seen += [f"N-{i:03d}" for i in range(60) if f'/orders/N-{i:03d}"' in html]
        marker = 'href="/orders?before='
        url = (
            html[html.index(marker) + 6 : html.index('"', html.index(marker) + 6)]
            if marker in html
            else ""
        )
        url = url.replace("&amp;", "&")
    assert pages == 3
    assert sorted(seen) == [f"N-{i:03d}" for i in range(60)]
    # The "newer" link of the second page leads back to the first page's orders.
    html = client.get("/orders").get_data(as_text=True)
    first_page = {n for n in seen[:25]}
    assert all(f'/orders/{n}"' in html for n in first_page)


def test_list_query_uses_an_index(app, db, tenant):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    from sqlalchemy.dialects import sqlite

    from webapp.orders.queries import OrderFilters
    from webapp.tenancy import scoped

    stmt = scoped(Order, tenant.account.id).order_by(Order.id.desc()).limit(26)
    sql = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    plan = " ".join(str(row) for row in db.session.execute(db.text("EXPLAIN QUERY PLAN " + sql)))
    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan
    assert "TEMP B-TREE" not in plan  # no sort of the whole account
    assert OrderFilters().active is False


def test_search_finds_orders_through_indexes_not_by_testing_every_order(app, db, tenant):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    from sqlalchemy.dialects import sqlite

    from webapp.orders.queries import _search_clause
    from webapp.tenancy import scoped

    account_id = tenant.account.id
    stmt = (
        scoped(Order, account_id)
        .where(_search_clause(account_id, "A-1"))
        .order_by(Order.id.desc())
        .limit(26)
    )
    sql = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    plan = [row[-1] for row in db.session.execute(db.text("EXPLAIN QUERY PLAN " + sql))]
    # The number prefix through the unique (account_id, number) index, the customers' orders
    # through the customer_id index, and each found order by its id.
    assert any("sqlite_autoindex_order_1" in step and "number>" in step for step in plan), plan
    assert any("ix_order_customer_id" in step for step in plan), plan
    assert any("rowid=?" in step and "order" in step for step in plan), plan
    assert not any(step.startswith("SCAN") and "order" in step for step in plan), plan


# --- order page -------------------------------------------------------------------------------


def test_order_page_shows_header_items_timeline_and_documents(client, auth, tenant, app):
    order = make_order(tenant, payment={"method": "prepayment"})
    store_document(
        tenant.account.id, "1001", "invoice", "RE-1", "re-1.pdf", io.BytesIO(b"%PDF-1.4 x")
    )
    from webapp.orders.services import record_event

    record_event(
        tenant.account.id,
        "1001",
        {"type": "shipped", "tracking": {"carrier": "DHL", "number": "TRK9"}},
    )
    assert order.id
    auth.login()
    html = client.get("/orders/1001").get_data(as_text=True)
    for text in ("Order 1001", "Acme Shop", "Erika Mustermann", "erika@example.com", "Shipped",
                 "Prepayment", "Last notified", "Not yet", "The Book", "Bookmark", "DHL", "TRK9",
                 "RE-1", "Timeline", "Record event", "Save note"):  # fmt: skip
        assert text in html, text
    assert "/orders/1001/documents/" in html


def test_document_download_is_authenticated_and_scoped(client, auth, tenant, other_tenant):
    make_order(tenant)
    make_order(other_tenant, "G-1")
    mine = store_document(
        tenant.account.id, "1001", "invoice", "RE-1", "re.pdf", io.BytesIO(b"%PDF-1 mine")
    )
    theirs = store_document(
        other_tenant.account.id, "G-1", "invoice", "RE-9", "re.pdf", io.BytesIO(b"%PDF-1 theirs")
    )
    make_order(tenant, "1002")
    auth.login()
    response = client.get(f"/orders/1001/documents/{mine.id}")
    assert response.status_code == 200
    assert response.data == b"%PDF-1 mine"
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    assert client.get(f"/orders/1001/documents/{theirs.id}").status_code == 404
    assert client.get(f"/orders/1002/documents/{mine.id}").status_code == 404  # other order
    assert client.get("/orders/1001/documents/99999999999").status_code == 404


def test_save_note_over_htmx(client, auth, db, tenant):
    make_order(tenant)
    auth.login()
    token = token_for(client, "/orders/1001")
    response = client.post(
        "/orders/1001/note", data={"csrf_token": token, "note": "Call before delivery"}, headers=HX
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="note-form"')
    assert "Saved." in html and "Call before delivery" in html
    assert fresh_order(db, tenant).note == "Call before delivery"


def test_note_too_long_is_an_inline_error(client, auth, db, tenant):
    make_order(tenant)
    auth.login()
    token = token_for(client, "/orders/1001")
    response = client.post(
        "/orders/1001/note", data={"csrf_token": token, "note": "x" * 256}, headers=HX
    )
    assert response.status_code == 200
    assert "at most 255 characters" in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    # Without htmx: the page again, with the message, as 422.
    response = client.post("/orders/1001/note", data={"csrf_token": token, "note": "x" * 300})
    assert response.status_code == 422
    assert "at most 255 characters" in response.get_data(as_text=True)
    assert fresh_order(db, tenant).note == ""


def test_note_without_htmx_redirects_with_flash(client, auth, db, tenant):
    make_order(tenant)
    auth.login()
    token = token_for(client, "/orders/1001")
    response = client.post("/orders/1001/note", data={"csrf_token": token, "note": "plain"})
    assert response.status_code == 302
    assert "Note saved." in client.get("/orders/1001").get_data(as_text=True)


def test_goods_receipt_choice_per_order_and_as_customer_default(client, auth, db, tenant):
    make_order(tenant)
    make_order(tenant, "1002")
    auth.login()
    token = token_for(client, "/orders/1001")
    assert 'id="goods-receipt-form"' in client.get("/orders/1001").get_data(as_text=True)

    response = client.post(
        "/orders/1001/goods-receipt", data={"csrf_token": token, "channel": "sms"}, headers=HX
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="goods-receipt-form"') and "Saved." in html
    order = fresh_order(db, tenant)
    assert order.notify_on_goods_receipt == "sms"
    assert order.customer.notify_on_goods_receipt is None

    data = {"csrf_token": token, "channel": "email", "remember": "y"}
    assert client.post("/orders/1001/goods-receipt", data=data).status_code == 302
    order = fresh_order(db, tenant)
    assert order.notify_on_goods_receipt == "email"
    assert order.customer.notify_on_goods_receipt == "email"
    # The other order of the same customer now offers that default.
    other = client.get("/orders/1002").get_data(as_text=True)
    assert "Customer&#39;s default: By e-mail" in other

    # Back to the customer's default; "remember" must not erase the customer's choice.
    data = {"csrf_token": token, "channel": "", "remember": "y"}
    client.post("/orders/1001/goods-receipt", data=data, headers=HX)
    order = fresh_order(db, tenant)
    assert order.notify_on_goods_receipt is None
    assert order.customer.notify_on_goods_receipt == "email"


def test_goods_receipt_bad_choice_is_inline_and_changes_nothing(client, auth, db, tenant):
    make_order(tenant)
    auth.login()
    token = token_for(client, "/orders/1001")
    data = {"csrf_token": token, "channel": "pigeon"}
    response = client.post("/orders/1001/goods-receipt", data=data, headers=HX)
    assert response.status_code == 200
    assert "Choose how the customer is notified." in response.get_data(as_text=True)
    response = client.post("/orders/1001/goods-receipt", data=data)
    assert response.status_code == 422
    # Without a CSRF token nothing happens either.
    response = client.post("/orders/1001/goods-receipt", data={"channel": "sms"}, headers=HX)
    assert response.status_code == 400
    assert fresh_order(db, tenant).notify_on_goods_receipt is None
    assert client.post("/orders/9999/goods-receipt", data=data).status_code == 404


def test_record_event_over_htmx_updates_order_and_timeline(client, auth, db, tenant):
    make_order(tenant)
    auth.login()
    token = token_for(client, "/orders/1001")
    response = client.post(
        "/orders/1001/events",
        data={
            "csrf_token": token,
            "type": "shipped",
            "tracking_carrier": "DHL",
            "tracking_number": "00340434",
            "tracking_url": "https://tracking.example/00340434",
        },
        headers=HX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Shipped recorded." in html
    assert 'id="order-header" class="order-header" hx-swap-oob="true"' in html
    assert 'id="timeline"' in html and "via admin" in html
    order = fresh_order(db, tenant)
    assert order.state == "shipped"
    assert order.tracking_number == "00340434"
    assert [(e.type, e.source) for e in order.events] == [("shipped", "admin")]
    assert all(i.delivered_quantity == i.quantity for i in order.items)


def test_record_event_repeated_is_explained(client, auth, db, tenant):
    make_order(tenant)
    auth.login()
    token = token_for(client, "/orders/1001")
    for _ in range(2):
        response = client.post(
            "/orders/1001/events", data={"csrf_token": token, "type": "goods_received"}, headers=HX
        )
    assert "recorded again" in response.get_data(as_text=True)
    assert fresh_order(db, tenant).state == "ready_for_pickup"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "teleported"}, "Choose what happened."),
        ({"type": ""}, "Choose what happened."),
        ({"type": "delivery_date_set"}, "Enter the delivery date."),
        ({"type": "delivery_date_set", "delivery_date": "31.02.2025"}, "Not a valid date value."),
        ({"type": "shipped", "tracking_carrier": "DHL"}, "Enter both the carrier"),
        (
            {
                "type": "shipped",
                "tracking_carrier": "D",
                "tracking_number": "1",
                "tracking_url": "javascript:alert(1)",
            },
            "Enter a web address",
        ),  # fmt: skip
        ({"type": "shipped", "tracking_carrier": "D" * 65, "tracking_number": "1"}, "64"),
    ],
)
def test_record_event_bad_input_is_inline_never_500(client, auth, db, tenant, data, message):
    make_order(tenant)
    auth.login()
    token = token_for(client, "/orders/1001")
    response = client.post("/orders/1001/events", data={"csrf_token": token, **data}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<form id="event-form"')
    assert message in html
    response = client.post("/orders/1001/events", data={"csrf_token": token, **data})
    assert response.status_code == 422
    assert fresh_order(db, tenant).events == []


def test_agent_can_read_orders_and_record_events(client, auth, db, tenant):
    accounts.create_user(tenant.account, "agent@acme.example", PASSWORD, role="agent")
    make_order(tenant)
    auth.login("agent@acme.example")
    assert client.get("/orders").status_code == 200
    token = token_for(client, "/orders/1001")
    response = client.post(
        "/orders/1001/events", data={"csrf_token": token, "type": "payment_received"}, headers=HX
    )
    assert "Payment received recorded." in response.get_data(as_text=True)
    assert fresh_order(db, tenant).paid_at is not None


def test_revoke_status_links(client, auth, db, tenant, other_tenant):
    order = make_order(tenant)
    other = make_order(other_tenant, "G-1")
    mint_status_link(tenant.account.id, order.id, None)
    mint_status_link(tenant.account.id, order.id, None)
    theirs, _ = mint_status_link(other_tenant.account.id, other.id, None)
    make_order(tenant, "1002")
    auth.login()
    html = client.get("/orders/1001").get_data(as_text=True)
    assert html.count("Revoke</button>") == 2
    token = csrf_token(client.get("/orders/1001"))
    # Another account's link, or a link of another order: 404, nothing revoked.
    assert (
        client.post(
            f"/orders/1001/links/{theirs.link_id}/revoke", headers={**HX, "X-CSRFToken": token}
        ).status_code
        == 404
    )
    first = db.session.execute(select(StatusLink).filter_by(order_id=order.id)).scalars().first()
    assert (
        client.post(
            f"/orders/1002/links/{first.link_id}/revoke", headers={**HX, "X-CSRFToken": token}
        ).status_code
        == 404
    )
    response = client.post(
        f"/orders/1001/links/{first.link_id}/revoke", headers={**HX, "X-CSRFToken": token}
    )
    assert response.status_code == 200 and "Link revoked." in response.get_data(as_text=True)
    response = client.post("/orders/1001/links/revoke", data={"csrf_token": token}, headers=HX)
    assert "1 link revoked." in response.get_data(as_text=True)
    db.session.expire_all()
    links = db.session.execute(select(StatusLink)).scalars().all()
    assert {(link.order_id, link.revoked_at is not None) for link in links} == {
        (order.id, True),
        (other.id, False),
    }


def test_german_order_pages(client, auth, db, tenant):
    make_order(tenant)
    accounts.set_user_language(tenant.owner, "de")
    auth.login()
    html = client.get("/orders").get_data(as_text=True)
    assert "Bestellungen" in html and "Alle Shops" in html
    html = client.get("/orders/1001").get_data(as_text=True)
    assert "Bestellung 1001" in html and "Ereignis erfassen" in html
    token = csrf_token(client.get("/orders/1001"))
    response = client.post(
        "/orders/1001/note", data={"csrf_token": token, "note": "x" * 256}, headers=HX
    )
    assert "höchstens 255 Zeichen" in response.get_data(as_text=True)
    assert db.session.execute(select(OrderEvent)).first() is None
