"""POST /api/v1/orders/{number}/documents: PDF uploads stored on disk."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api.conftest import assert_error
from webapp.extensions import db
from webapp.orders.models import Document
from webapp.orders.services import open_document

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _upload(api, number="1001", *, content=PDF, kind="invoice", doc_number="RE-1", **extra):
    data = {"file": (io.BytesIO(content), "Rechnung RE-1.pdf"), "kind": kind, "number": doc_number}
    data.update(extra)
    return api.post(
        f"/api/v1/orders/{number}/documents", data=data, content_type="multipart/form-data"
    )


def _files(app) -> list[Path]:
    root = Path(app.config["DOCUMENTS_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_upload_stores_the_pdf_and_returns_201(app, api, tenant):
    api.create_order()

    response = _upload(api)

    assert response.status_code == 201
    body = response.get_json()
    assert (body["kind"], body["number"], body["filename"], body["size"]) == (
        "invoice",
        "RE-1",
        "Rechnung RE-1.pdf",
        len(PDF),
    )
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    files = _files(app)
    assert len(files) == 1
    assert files[0].parent.name == str(tenant.account.id)
    assert files[0].read_bytes() == PDF
    document, stream = open_document(tenant.account.id, body["id"])
    with stream:
        assert stream.read() == PDF
    shown = api.get("/api/v1/orders/1001").get_json()
    assert [d["id"] for d in shown["documents"]] == [body["id"]]


def test_uploading_the_same_document_again_replaces_it(app, api, tenant):
    api.create_order()
    first = _upload(api).get_json()
    second_pdf = PDF + b"% second version\n"
    second = _upload(api, content=second_pdf).get_json()

    assert second["id"] == first["id"]
    assert second["sha256"] == hashlib.sha256(second_pdf).hexdigest()
    assert [f.read_bytes() for f in _files(app)] == [second_pdf]
    assert db.session.scalar(select(func.count()).select_from(Document)) == 1


@pytest.mark.parametrize(
    "content", [b"<html>not a pdf</html>", b"", b"%PD", b"PK\x03\x04zip" + b"0" * 100]
)
def test_non_pdf_is_refused_and_nothing_is_kept(app, api, content):
    api.create_order()
    error = assert_error(_upload(api, content=content), 422)
    assert list(error["fields"]) == ["file"]
    assert _files(app) == []
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_file_over_the_limit_is_413_json(app, api):
    api.create_order()
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = _upload(api, content=PDF + b"0" * 8192)
    assert_error(response, 413, "too_large")
    assert _files(app) == []


def test_service_refuses_a_stream_over_the_limit(app, api, tenant):
    from webapp.orders.documents import DocumentTooLarge
    from webapp.orders.services import store_document

    api.create_order()
    app.config["MAX_CONTENT_LENGTH"] = 1024
    with pytest.raises(DocumentTooLarge):
        store_document(
            tenant.account.id, "1001", "invoice", "RE-9", "big.pdf", io.BytesIO(PDF + b"0" * 2000)
        )
    assert _files(app) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"kind": "receipt"}, "kind"),
        ({"doc_number": ""}, "number"),
        ({"doc_number": "x" * 65}, "number"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_upload_fields_are_422(app, api, change, path):
    api.create_order()
    error = assert_error(_upload(api, **change), 422)
    assert path in error["fields"]
    assert _files(app) == []


def test_missing_file_part_is_422(api):
    api.create_order()
    response = api.post(
        "/api/v1/orders/1001/documents",
        data={"kind": "invoice", "number": "RE-1", "file": "just text"},
        content_type="multipart/form-data",
    )
    error = assert_error(response, 422)
    assert list(error["fields"]) == ["file"]
    response = api.post(
        "/api/v1/orders/1001/documents",
        data={"kind": "invoice", "number": "RE-1"},
        content_type="multipart/form-data",
    )
    assert "file" in assert_error(response, 422)["fields"]


def test_json_instead_of_multipart_is_415(api):
    api.create_order()
    response = api.post("/api/v1/orders/1001/documents", json={"kind": "invoice"})
    assert_error(response, 415, "unsupported_media_type")


def test_upload_to_another_accounts_order_is_404(app, api, other_api):
    api.create_order()
    foreign = _upload(other_api)
    unknown = _upload(other_api, number="nope")
    assert_error(foreign, 404, "not_found")
    assert foreign.get_json() == unknown.get_json()
    assert _files(app) == []
