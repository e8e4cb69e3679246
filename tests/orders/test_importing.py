"""The CSV import service: encodings, delimiters, grouping, bad rows, mappings, the job."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from jobs.importing import run_import_job
from webapp.accounts.services import ValidationError
from webapp.orders.importing import (
    ImportJob,
    ImportMapping,
    get_import,
    imports_root,
    mapping_for,
    run_import,
    save_mapping,
    save_upload,
    start_import,
    suggest_mapping,
)
from webapp.orders.models import Customer, Order
from webapp.tenancy import NotFound

GERMAN_HEADER = "Bestellnummer;Shop;Name;E-Mail;Handy;Artikel;Menge;Preis"


def upload(tenant, text: str, *, encoding: str = "utf-8", filename: str = "orders.csv"):
    data = text.encode(encoding) if isinstance(text, str) else text
    return save_upload(tenant.account.id, tenant.owner, filename, io.BytesIO(data))


def run(tenant, job, mapping=None, default_shop=None):
    """Start `job` with its suggested mapping (or `mapping`) and run it inline."""
    if mapping is None:
        mapping, _ = mapping_for(tenant.account.id, job.headers)
    start_import(tenant.account.id, job.id, mapping, default_shop, actor="owner@acme.example")
    run_import(tenant.account.id, job.id)
    return get_import(tenant.account.id, job.id)


def order(db, tenant, number: str) -> Order | None:
    db.session.expire_all()
    return db.session.execute(
        select(Order).filter_by(account_id=tenant.account.id, number=number)
    ).scalar_one_or_none()


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch):
    """Service tests run the job inline; enqueueing is covered by the view and worker tests."""
    monkeypatch.setattr("webapp.orders.importing.enqueue", lambda *a, **k: True)


# --- files ------------------------------------------------------------------------------------


def test_semicolon_utf8_bom_groups_rows_into_orders(db, tenant):
    text = (
        "\ufeff" + GERMAN_HEADER + "\n"
        "A-1;web;Jürgen Groß;juergen@example.com;0151 23456789;Das Buch;2;12,50\n"
        "A-1;web;Jürgen Groß;juergen@example.com;0151 23456789;Lesezeichen;1;1,00\n"
        "A-2;amz-de;Erika Muster;erika@example.com;;Kalender;3;9.99\n"
    )
    job = upload(tenant, text)
    assert job.encoding == "utf-8-sig"
    assert job.delimiter == ";"
    assert job.headers[0] == "Bestellnummer"
    assert job.total_rows == 3
    assert (imports_root() / job.stored_path).is_file()
    assert job.stored_path.startswith(f"{tenant.account.id}/")

    job = run(tenant, job)
    assert (job.status, job.processed, job.created, job.updated, job.failed) == (
        "done", 3, 2, 0, 0,
    )  # fmt: skip
    assert job.percent == 100
    first = order(db, tenant, "A-1")
    assert [(i.title, i.quantity, str(i.unit_price)) for i in first.items] == [
        ("Das Buch", 2, "12.50"),
        ("Lesezeichen", 1, "1.00"),
    ]
    assert first.customer.name == "Jürgen Groß"
    assert first.customer.phone == "+4915123456789"  # national number read in the shop's region
    assert order(db, tenant, "A-2").shop.code == "amz-de"


def test_comma_separated_english_headers(db, tenant):
    text = (
        "Order Number,Shop,Customer Name,Email,Mobile,Item,Quantity\r\n"
        'B-1,web,"Doe, Jane",jane@example.com,+44 7911 123456,"Book, signed",1\r\n'
    )
    job = upload(tenant, text)
    assert job.delimiter == ","
    job = run(tenant, job)
    assert (job.created, job.failed) == (1, 0)
    imported = order(db, tenant, "B-1")
    assert imported.customer.name == "Doe, Jane"
    assert imported.customer.phone == "+447911123456"
    assert imported.items[0].title == "Book, signed"


def test_cp1252_umlauts_are_read(db, tenant):
    text = GERMAN_HEADER + "\r\nC-1;web;Müller Straße;m@example.com;;Größe M;1;5\r\n"
    job = upload(tenant, text, encoding="cp1252")
    assert job.encoding == "cp1252"
    run(tenant, job)
    imported = order(db, tenant, "C-1")
    assert imported.customer.name == "Müller Straße"
    assert imported.items[0].title == "Größe M"


def test_bad_rows_reported_with_line_and_reason_good_rows_kept(db, tenant):
    text = (
        GERMAN_HEADER + "\n"  # line 1
        "D-1;web;Anna;anna@example.com;;Buch;1;\n"  # 2 good
        ";web;Ohne Nummer;x@example.com;;Buch;1;\n"  # 3 missing number
        "D-3;web;Bert;not-an-email;;Buch;1;\n"  # 4 bad e-mail
        "D-4;web;Carl;carl@example.com;12;Buch;1;\n"  # 5 bad phone
        "D-5;nope;Dora;dora@example.com;;Buch;1;\n"  # 6 unknown shop
        "D-6;web;Emil;emil@example.com;;Buch;zwei;\n"  # 7 non-numeric quantity
        "\n"  # 8 blank: skipped, not an error
        'D-6;web;Emil;emil@example.com;;"Zwei\nZeilen";2;\n'  # 9-10 good item of D-6
        "D-7;web;Fritz;fritz@example.com;;Buch;1;abc\n"  # 11 bad price
    )
    job = run(tenant, upload(tenant, text))
    assert job.status == "done"
    assert job.total_rows == 8
    assert job.processed == 8
    assert (job.created, job.failed) == (2, 6)
    by_line = {e["line"]: e for e in job.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 11]
    assert by_line[3]["reason"] == "The order number is missing."
    assert (by_line[4]["column"], by_line[4]["reason"]) == (
        "E-Mail",
        "is not a valid e-mail address",
    )
    assert (by_line[5]["column"], by_line[5]["reason"]) == ("Handy", "is not a valid phone number")
    assert by_line[6]["reason"] == "There is no shop with the code %(code)s."
    assert by_line[6]["params"] == {"code": "nope"}
    assert by_line[7]["column"] == "Menge"
    assert by_line[11]["column"] == "Preis"

    assert order(db, tenant, "D-1") is not None
    kept = order(db, tenant, "D-6")  # its good row is kept without the bad one
    assert [(i.title, i.quantity) for i in kept.items] == [("Zwei\nZeilen", 2)]
    for missing in ("D-3", "D-4", "D-5", "D-7"):
        assert order(db, tenant, missing) is None


def test_second_import_updates_and_default_shop_applies(db, tenant):
    header = "Bestellnummer;Name;E-Mail;Artikel;Menge\n"
    run(tenant, upload(tenant, header + "E-1;Ina;ina@example.com;Buch;1\n"), default_shop="web")
    job = run(
        tenant, upload(tenant, header + "E-1;Ina;ina@example.com;Buch;4\n"), default_shop="web"
    )
    assert (job.created, job.updated, job.failed) == (0, 1, 0)
    updated = order(db, tenant, "E-1")
    assert updated.shop.code == "web"
    assert updated.items[0].quantity == 4
    customers = db.session.execute(select(Customer).filter_by(account_id=tenant.account.id))
    assert len(customers.scalars().all()) == 1


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("orders.xlsx", b"PK\x03\x04", "Only CSV files (.csv) can be imported."),
        ("orders.csv", b"", "The file is empty."),
        ("orders.csv", b"Bestellnummer;Name\n", "The file has a header but no rows below it."),
        ("orders.csv", b"\x00\x01\x02binary", "This is not a CSV file."),
    ],
)
def test_bad_files_are_refused(db, tenant, filename, data, message):
    with pytest.raises(ValidationError) as caught:
        save_upload(tenant.account.id, tenant.owner, filename, io.BytesIO(data))
    assert caught.value.message == message
    assert db.session.execute(select(ImportJob)).first() is None


def test_size_limit(app, tenant):
    app.config["IMPORT_MAX_BYTES"] = 100
    with pytest.raises(ValidationError) as caught:
        upload(tenant, "Bestellnummer;Name\n" + "X-1;Name\n" * 20)
    assert "larger than the limit" in caught.value.message


# --- mapping ----------------------------------------------------------------------------------


def test_suggest_mapping_knows_english_and_german_names():
    assert suggest_mapping(
        ["Bestellnummer", "Name", "E-Mail", "Telefon", "Handy", "Artikel", "Menge", "Shop", "X"]
    ) == {
        "Bestellnummer": "number",
        "Name": "customer_name",
        "E-Mail": "customer_email",
        "Telefon": "",  # a landline: the mobile column is Handy
        "Handy": "customer_mobile",
        "Artikel": "title",
        "Menge": "quantity",
        "Shop": "shop",
        "X": "",
    }
    # Without a clear mobile column, the phone column is offered as the mobile number.
    assert suggest_mapping(["Order number", "Phone", "Mobil"])["Mobil"] == "customer_mobile"
    assert suggest_mapping(["Order ID", "Telefon"]) == {
        "Order ID": "number",
        "Telefon": "customer_mobile",
    }


def test_mapping_saved_per_account_and_offered_next_time(db, tenant, other_tenant):
    headers = ["Nr", "Kunde", "Telefon 2", "Titel"]
    mapping, shop = mapping_for(tenant.account.id, headers)
    assert mapping["Telefon 2"] == ""  # not a recognised name
    chosen = {"Nr": "number", "Kunde": "customer_name", "Telefon 2": "customer_mobile",
              "Titel": "title"}  # fmt: skip
    save_mapping(tenant.account.id, chosen, "amz-de", actor="owner@acme.example")
    assert mapping_for(tenant.account.id, [*headers, "Menge"]) == (
        {**chosen, "Menge": "quantity"},
        "amz-de",
    )
    # Another account does not see it.
    assert mapping_for(other_tenant.account.id, headers)[0]["Telefon 2"] == ""
    rows = db.session.execute(select(ImportMapping)).scalars().all()
    assert [(r.account_id, r.default_shop) for r in rows] == [(tenant.account.id, "amz-de")]


@pytest.mark.parametrize(
    ("mapping", "default_shop", "field", "message"),
    [
        ({"Bestellnummer": "number"}, "web", "mapping", "Choose a column for: %(fields)s."),
        (
            {"Bestellnummer": "number", "Name": "customer_name", "Artikel": "title",
             "Menge": "title"},
            "web", "mapping", "%(label)s is chosen for more than one column.",
        ),
        (
            {"Bestellnummer": "number", "Name": "customer_name", "Artikel": "title"},
            None, "default_shop", "Choose a default shop, or a column that holds the shop code.",
        ),
        (
            {"Bestellnummer": "number", "Name": "customer_name", "Artikel": "title"},
            "globex-shop", "default_shop", "Choose one of your shops.",
        ),
        ({"Bestellnummer": "drop table"}, "web", "mapping",
         "Choose a field from the list for every column."),
    ],
)  # fmt: skip
def test_bad_mappings_are_refused(db, tenant, mapping, default_shop, field, message):
    job = upload(tenant, "Bestellnummer;Name;Artikel;Menge\nF-1;Name;Buch;1\n")
    with pytest.raises(ValidationError) as caught:
        start_import(tenant.account.id, job.id, mapping, default_shop, actor="x")
    assert (caught.value.field, caught.value.message) == (field, message)
    assert get_import(tenant.account.id, job.id).status == "new"


# --- tenancy and the job ----------------------------------------------------------------------


def test_imports_are_tenant_scoped(db, tenant, other_tenant):
    job = upload(tenant, "Bestellnummer;Name;Artikel\nG-1;Name;Buch\n")
    with pytest.raises(NotFound):
        get_import(other_tenant.account.id, job.id)
    with pytest.raises(NotFound):
        start_import(other_tenant.account.id, job.id, {}, "web", actor="x")
    with pytest.raises(NotFound):
        run_import(other_tenant.account.id, job.id)


def test_job_runs_once(db, tenant):
    job = upload(tenant, "Bestellnummer;Name;Artikel\nH-1;Name;Buch\n")
    mapping, _ = mapping_for(tenant.account.id, job.headers)
    start_import(tenant.account.id, job.id, mapping, "web", actor="x")
    first = run_import_job(job.id, tenant.account.id)
    assert first == {"status": "done", "processed": 1, "created": 1, "updated": 0, "failed": 0}
    assert run_import_job(job.id, tenant.account.id) == {"status": "done", "skipped": True}
    again = get_import(tenant.account.id, job.id)
    assert (again.created, again.updated) == (1, 0)


def test_new_import_is_not_run_without_a_start(db, tenant):
    job = upload(tenant, "Bestellnummer;Name;Artikel\nI-1;Name;Buch\n")
    assert run_import(tenant.account.id, job.id)["skipped"] is True
    assert order(db, tenant, "I-1") is None


def test_missing_file_fails_the_import_with_a_reason(db, tenant):
    job = upload(tenant, "Bestellnummer;Name;Artikel\nJ-1;Name;Buch\n")
    (imports_root() / job.stored_path).unlink()
    job = run(tenant, job, default_shop="web")
    assert job.status == "failed"
    assert job.failure == "The uploaded file can no longer be read."


def test_progress_is_committed_while_running(app, db, tenant, monkeypatch):
    app.config["IMPORT_PROGRESS_EVERY"] = 2
    seen: list[int] = []
    rows = "".join(f"K-{n};Name;Buch\n" for n in range(6))
    job = upload(tenant, "Bestellnummer;Name;Artikel\n" + rows)

    from webapp.orders import importing

    real_upsert = importing.upsert_order

    def spying_upsert(account_id, data, **kwargs):
        # What another connection (the progress page) would read right now.
        seen.append(db.session.execute(select(ImportJob.processed)).scalar_one())
        return real_upsert(account_id, data, **kwargs)

    monkeypatch.setattr(importing, "upsert_order", spying_upsert)
    job = run(tenant, job, default_shop="web")
    assert job.created == 6
    assert seen == [0, 0, 2, 2, 4, 4]


def test_job_path_resolves_to_the_job():
    import importlib

    from webapp.orders.importing import JOB_PATH

    module, _, name = JOB_PATH.rpartition(".")
    assert getattr(importlib.import_module(module), name) is run_import_job
