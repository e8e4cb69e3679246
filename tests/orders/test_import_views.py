"""The import pages: upload, mapping, progress polling, error list; roles, CSRF, tenancy."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from tests.support.factories import PASSWORD
from tests.support.html import csrf_token
from tests.support.worker import running_worker, wait_until
from webapp.accounts import services as accounts
from webapp.orders.importing import ImportJob, get_import, run_import
from webapp.orders.models import Order
from webapp.queue import get_queue

HX = {"HX-Request": "true"}
GOOD_CSV = (
    "Bestellnummer;Shop;Name;E-Mail;Telefon;Handy;Artikel;Menge\n"
    "V-1;web;Vera;vera@example.com;030 1234567;0151 23456789;Buch;1\n"
    "V-1;web;Vera;vera@example.com;030 1234567;0151 23456789;Kalender;2\n"
    "V-2;web;Will;not-an-email;;;Buch;1\n"
)


def upload(client, text: str = GOOD_CSV, filename: str = "orders.csv", **kwargs):
    token = csrf_token(client.get("/orders/import"))
    data = {"csrf_token": token, "file": (io.BytesIO(text.encode()), filename)}
    return client.post("/orders/import", data=data, content_type="multipart/form-data", **kwargs)


def latest_import(db) -> ImportJob:
    db.session.expire_all()
    return db.session.execute(select(ImportJob).order_by(ImportJob.id.desc())).scalars().first()


def mapping_form(client, import_id: int) -> dict[str, str]:
    """The mapping form's fields as the page pre-fills them (selected options)."""
    page = client.get(f"/orders/import/{import_id}/mapping")
    html = page.get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "default_shop": ""}
    for name, body in re.findall(r'<select id="([\w-]+)" name="[\w-]+"[^>]*>(.*?)</select>', html,
                                 re.S):  # fmt: skip
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        form[name] = chosen.group(1) if chosen else ""
    return form


@pytest.fixture()
def logged_in(client, auth, tenant):
    auth.login()
    return client


@pytest.fixture()
def clean_queue(app):
    queue = get_queue()
    queue.empty()
    yield queue
    queue.empty()


# --- access -----------------------------------------------------------------------------------


ROUTES = [
    ("get", "/orders/import"),
    ("post", "/orders/import"),
    ("get", "/orders/import/{id}/mapping"),
    ("post", "/orders/import/{id}/mapping"),
    ("get", "/orders/import/{id}"),
    ("get", "/orders/import/{id}/errors.csv"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_routes_need_login(client, db, logged_in, auth, method, path):
    upload(logged_in)
    import_id = latest_import(db).id
    auth.logout()
    response = getattr(client, method)(path.format(id=import_id))
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_agents_cannot_import(client, db, auth, tenant, method, path):
    accounts.create_user(tenant.account, "agent@acme.example", PASSWORD, role="agent")
    auth.login()
    upload(client)
    import_id = latest_import(db).id
    auth.logout()
    auth.login("agent@acme.example")
    token = csrf_token(client.get("/orders"))
    kwargs = {"data": {"csrf_token": token}} if method == "post" else {}
    response = getattr(client, method)(path.format(id=import_id), **kwargs)
    assert response.status_code == 403
    assert "Import CSV" not in client.get("/orders").get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), ROUTES[2:])
def test_another_accounts_import_is_404(client, db, auth, tenant, other_tenant, method, path):
    auth.login()
    upload(client)
    import_id = latest_import(db).id
    auth.logout()
    auth.login("owner@globex.example")
    token = csrf_token(client.get("/orders"))
    kwargs = {"data": {"csrf_token": token, "column-0": "number"}} if method == "post" else {}
    response = getattr(client, method)(path.format(id=import_id), **kwargs)
    assert response.status_code == 404
    assert get_import(tenant.account.id, import_id).status == "new"


def test_posts_need_a_csrf_token(logged_in, db):
    response = logged_in.post(
        "/orders/import",
        data={"file": (io.BytesIO(GOOD_CSV.encode()), "orders.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert latest_import(db) is None
    upload(logged_in)
    job = latest_import(db)
    response = logged_in.post(f"/orders/import/{job.id}/mapping", data={"column-0": "number"})
    assert response.status_code == 400
    assert latest_import(db).status == "new"


# --- upload and mapping -----------------------------------------------------------------------


def test_orders_list_links_the_import(logged_in):
    html = logged_in.get("/orders").get_data(as_text=True)
    assert 'href="/orders/import"' in html


def test_upload_then_mapping_page_suggests_and_previews(logged_in, db):
    page = logged_in.get("/orders/import")
    assert page.status_code == 200
    assert 'type="file"' in page.get_data(as_text=True)
    response = upload(logged_in)
    job = latest_import(db)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/import/{job.id}/mapping")

    form = mapping_form(logged_in, job.id)
    assert form["column-0"] == "number"
    assert form["column-4"] == ""  # Telefon: a landline
    assert form["column-5"] == "customer_mobile"  # Handy
    html = logged_in.get(f"/orders/import/{job.id}/mapping").get_data(as_text=True)
    assert "0151 23456789" in html  # preview of the first rows
    assert "Kalender" in html


@pytest.mark.parametrize(
    ("text", "filename", "message"),
    [
        (GOOD_CSV, "orders.xlsx", "Only CSV files (.csv) can be imported."),
        ("", "orders.csv", "The file is empty."),
        ("Bestellnummer;Name\n", "orders.csv", "The file has a header but no rows below it."),
    ],
)
def test_bad_upload_is_an_inline_error(logged_in, db, text, filename, message):
    response = upload(logged_in, text, filename)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert latest_import(db) is None


def test_upload_without_a_file(logged_in, db):
    token = csrf_token(logged_in.get("/orders/import"))
    response = logged_in.post("/orders/import", data={"csrf_token": token})
    assert response.status_code == 422
    assert "Choose a CSV file." in response.get_data(as_text=True)


def test_bad_mapping_is_an_inline_error(logged_in, db, clean_queue):
    upload(logged_in)
    job = latest_import(db)
    form = mapping_form(logged_in, job.id)
    form["column-0"] = ""  # no order number
    response = logged_in.post(f"/orders/import/{job.id}/mapping", data=form)
    assert response.status_code == 422
    assert "Choose a column for: Order number." in response.get_data(as_text=True)
    form["column-0"] = "number"
    form["column-1"] = ""
    form["default_shop"] = "no-such-shop"
    response = logged_in.post(f"/orders/import/{job.id}/mapping", data=form)
    assert response.status_code == 422
    assert "Choose one of your shops." in response.get_data(as_text=True)
    assert latest_import(db).status == "new"
    assert clean_queue.count == 0


def test_start_enqueues_and_progress_polls_until_done(logged_in, db, tenant, clean_queue):
    upload(logged_in)
    job = latest_import(db)
    form = mapping_form(logged_in, job.id)
    response = logged_in.post(f"/orders/import/{job.id}/mapping", data=form)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/import/{job.id}")
    assert latest_import(db).status == "queued"
    [queued] = clean_queue.get_jobs()
    assert queued.func_name == "jobs.importing.run_import_job"
    assert list(queued.args) == [job.id, tenant.account.id]

    page = logged_in.get(f"/orders/import/{job.id}")
    assert page.status_code == 200
    assert 'hx-trigger="every 1s"' in page.get_data(as_text=True)
    fragment = logged_in.get(f"/orders/import/{job.id}", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)

    run_import(tenant.account.id, job.id)
    done = logged_in.get(f"/orders/import/{job.id}", headers=HX)
    html = done.get_data(as_text=True)
    assert done.status_code == 286  # htmx stops polling
    assert "hx-trigger" not in html
    assert 'value="100"' in html
    assert "1 order created" in html
    assert "1 bad row" in html
    assert re.search(r">4</th>\s*<td[^>]*>E-Mail</td>\s*<td[^>]*>is not a valid e-mail", html)

    csv_file = logged_in.get(f"/orders/import/{job.id}/errors.csv")
    assert csv_file.headers["Content-Type"].startswith("text/csv")
    assert "4;E-Mail;is not a valid e-mail address" in csv_file.get_data(as_text=True)

    # Started once: the mapping page and a second start lead to the progress page.
    again = logged_in.post(f"/orders/import/{job.id}/mapping", data=form)
    assert again.status_code == 302
    assert again.headers["Location"].endswith(f"/orders/import/{job.id}")
    assert logged_in.get(f"/orders/import/{job.id}/mapping").status_code == 302
    assert clean_queue.count == 1  # still only the first job


def test_mapping_is_remembered_for_the_next_upload(logged_in, db, clean_queue):
    text = "Nr;Kunde;Rufnummer;Titel\nW-1;Wanda;0151 23456789;Buch\n"
    upload(logged_in, text)
    job = latest_import(db)
    form = mapping_form(logged_in, job.id)
    assert form["column-2"] == ""
    form.update({"column-0": "number", "column-1": "customer_name", "column-2": "customer_mobile",
                 "column-3": "title", "default_shop": "amz-de"})  # fmt: skip
    assert logged_in.post(f"/orders/import/{job.id}/mapping", data=form).status_code == 302
    upload(logged_in, text)
    form = mapping_form(logged_in, latest_import(db).id)
    assert form["column-2"] == "customer_mobile"
    assert form["default_shop"] == "amz-de"


def test_german_pages(client, auth, db, tenant):
    accounts.set_user_language(tenant.owner, "de")
    auth.login()
    assert "Bestellungen importieren" in client.get("/orders/import").get_data(as_text=True)
    upload(client)
    job = latest_import(db)
    html = client.get(f"/orders/import/{job.id}/mapping").get_data(as_text=True)
    assert "Spalten zuordnen" in html
    assert "Handynummer (SMS)" in html


# --- the real worker --------------------------------------------------------------------------


@pytest.mark.slow
def test_real_worker_runs_an_import_started_in_the_view(app, logged_in, db, tmp_path, clean_queue):
    rows = "".join(f"R-{n};web;Name {n};r{n}@example.com;;;Buch;1\n" for n in range(40))
    upload(logged_in, GOOD_CSV.split("\n", 1)[0] + "\n" + rows + "R-X;web;Bad;bad@;;;Buch;1\n")
    job = latest_import(db)
    logged_in.post(f"/orders/import/{job.id}/mapping", data=mapping_form(logged_in, job.id))

    with running_worker(app, tmp_path / "worker.log") as worker:

        def finished() -> bool:
            return logged_in.get(f"/orders/import/{job.id}", headers=HX).status_code == 286

        assert wait_until(finished, timeout=30, interval=0.2), worker.output()
    done = latest_import(db)
    assert (done.status, done.created, done.failed) == ("done", 40, 1)
    assert done.errors[0]["line"] == 42
    count = db.session.execute(select(Order).filter_by(account_id=done.account_id)).all()
    assert len(count) == 40
