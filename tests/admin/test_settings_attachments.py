"""The attachment library in the settings area: upload, conditions, toggle, delete, download."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.admin.settings_support import add_user, login, post, reread
from webapp.accounts.models import AuditLog
from webapp.extensions import db
from webapp.notifications.attachments import (
    AttachmentConditions,
    create_attachment_file,
)
from webapp.notifications.models import AttachmentFile, Message, Rule
from webapp.notifications.rendering import choose_attachments, load_attachments

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _upload(client, data: bytes = PDF, filename: str = "agb.pdf", **overrides):
    form = {
        "name": "AGB Deutsch",
        "marketplaces": "amazon.de, Amazon.FR",
        "fulfillments": ["FBM"],
        "languages": ["de"],
        "event_types": ["shipped", "invoiced"],
        "enabled": "y",
        "file": (io.BytesIO(data), filename),
    }
    form.update(overrides)
    form = {k: v for k, v in form.items() if v is not None}
    return post(client, "/settings/attachments/new", form, content_type="multipart/form-data")


def _file(tenant, name: str = "Widerruf", **conditions) -> AttachmentFile:
    return create_attachment_file(
        tenant.account,
        AttachmentConditions(name=name, **conditions),
        "widerruf.pdf",
        io.BytesIO(PDF),
        actor="test",
    )


def test_upload_stores_the_pdf_with_its_conditions(app, client, auth, tenant):
    auth.login()
    response = _upload(client)
    assert response.status_code == 302
    item = reread(AttachmentFile, name="AGB Deutsch")
    assert item.account_id == tenant.account.id
    assert item.marketplaces == ["amazon.de", "amazon.fr"]
    assert (item.fulfillments, item.languages) == (["FBM"], ["de"])
    assert item.event_types == ["shipped", "invoiced"]
    assert item.filename == "agb.pdf" and item.size == len(PDF)
    stored = Path(app.config["DOCUMENTS_DIR"]).resolve() / item.storage_key
    assert stored.read_bytes() == PDF
    assert item.storage_key.startswith(f"files/{tenant.account.id}/")
    html = client.get("/settings/attachments").get_data(as_text=True)
    assert "AGB Deutsch" in html and "amazon.de, amazon.fr" in html and "FBM" in html
    audit = db.session.query(AuditLog).filter_by(action="attachment.create").one()
    assert audit.target == "AGB Deutsch" and audit.actor == "owner@acme.example"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"file": (io.BytesIO(b"GIF89a not a pdf"), "agb.pdf")}, "file", "only PDF"),
        ({"file": (io.BytesIO(b""), "agb.pdf")}, "file", "empty"),
        ({"file": None}, "file", "Choose a PDF file."),
        ({"name": ""}, "name", "Enter a name."),
        ({"marketplaces": "amazon"}, "marketplaces", "amazon.de"),
        ({"fulfillments": ["XYZ"]}, "fulfillments", "Not a valid choice"),
        ({"languages": ["tlh"]}, "languages", "Not a valid choice"),
        ({"event_types": ["exploded"]}, "event_types", "Not a valid choice"),
    ],
)
def test_bad_upload_is_shown_at_the_field(app, client, auth, tenant, overrides, field, message):
    auth.login()
    response = _upload(client, **overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html[html.index(f'id="{field}-errors"') :].split("</small>", 1)[0]
    assert message.lower() in error.lower()
    assert db.session.query(AttachmentFile).count() == 0
    folder = Path(app.config["DOCUMENTS_DIR"]) / "files" / str(tenant.account.id)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_too_large_file_is_refused(app, client, auth, tenant):
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    auth.login()
    response = _upload(client, data=PDF + b"0" * 2048)
    assert response.status_code == 422
    assert "too large" in response.get_data(as_text=True)
    assert db.session.query(AttachmentFile).count() == 0


def test_edit_conditions_and_audit(client, auth, tenant):
    item = _file(tenant, marketplaces=["amazon.de"])
    auth.login()
    page = client.get(f"/settings/attachments/{item.id}").get_data(as_text=True)
    assert 'value="amazon.de"' in page and 'type="file"' not in page
    response = post(
        client,
        f"/settings/attachments/{item.id}",
        {"name": "Widerrufsformular", "marketplaces": "", "fulfillments": ["FBA"], "enabled": "y"},
    )
    assert response.status_code == 302
    item = reread(AttachmentFile, id=item.id)
    assert item.name == "Widerrufsformular"
    assert (item.marketplaces, item.fulfillments) == ([], ["FBA"])
    audit = db.session.query(AuditLog).filter_by(action="attachment.update").one()
    assert set(audit.details["changed"]) == {"name", "marketplaces", "fulfillments"}
    bad = post(client, f"/settings/attachments/{item.id}", {"name": "  "})
    assert bad.status_code == 422


def test_toggle_over_htmx_returns_the_row(client, auth, tenant):
    item = _file(tenant)
    auth.login()
    response = post(client, f"/settings/attachments/{item.id}/enabled", {"enabled": "0"}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="attachment-{item.id}"') and "Switch on" in html
    assert reread(AttachmentFile, id=item.id).enabled is False


def test_delete_removes_row_and_file(app, client, auth, tenant):
    item = _file(tenant)
    path = Path(app.config["DOCUMENTS_DIR"]).resolve() / item.storage_key
    assert path.is_file()
    auth.login()
    response = post(client, f"/settings/attachments/{item.id}/delete", htmx=True)
    assert (
        response.status_code == 200 and response.headers["HX-Redirect"] == "/settings/attachments"
    )
    assert db.session.query(AttachmentFile).count() == 0
    assert not path.exists()
    assert client.get(f"/settings/attachments/{item.id}").status_code == 404


def test_download_is_for_the_account_only(client, auth, tenant, other_tenant):
    mine = _file(tenant)
    theirs = _file(other_tenant, name="Globex terms")
    assert client.get(f"/settings/attachments/{mine.id}/download").status_code == 302  # login
    auth.login()
    response = client.get(f"/settings/attachments/{mine.id}/download")
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for path in (
        f"/settings/attachments/{theirs.id}",
        f"/settings/attachments/{theirs.id}/download",
    ):
        assert client.get(path).status_code == 404
    for path in (
        f"/settings/attachments/{theirs.id}",
        f"/settings/attachments/{theirs.id}/enabled",
        f"/settings/attachments/{theirs.id}/delete",
    ):
        assert post(client, path, {"name": "x", "enabled": "0"}).status_code == 404
    assert reread(AttachmentFile, id=theirs.id).name == "Globex terms"
    assert "Globex terms" not in client.get("/settings/attachments").get_data(as_text=True)


def test_agent_reads_but_cannot_change(client, tenant):
    item = _file(tenant)
    add_user(tenant.account, "agent")
    login(client, "agent@acme.example")
    html = client.get("/settings/attachments").get_data(as_text=True)
    assert "Widerruf" in html and "/settings/attachments/new" not in html
    assert client.get(f"/settings/attachments/{item.id}/download").status_code == 200
    assert _upload(client).status_code == 403
    for path in ("", "/enabled", "/delete"):
        response = post(client, f"/settings/attachments/{item.id}{path}", {"name": "x"})
        assert response.status_code == 403
    assert reread(AttachmentFile, id=item.id).name == "Widerruf"


def test_every_post_needs_the_csrf_token(client, auth, tenant):
    item = _file(tenant)
    auth.login()
    for path in ("/new", f"/{item.id}", f"/{item.id}/enabled", f"/{item.id}/delete"):
        assert client.post(f"/settings/attachments{path}", data={"name": "x"}).status_code == 400


def test_library_files_reach_the_engine_by_their_conditions(app, tenant):
    from tests.support.outbox import place_order

    de_fbm = _file(tenant, name="AGB", marketplaces=["amazon.de"], fulfillments=["FBM"])
    _file(tenant, name="FR only", marketplaces=["amazon.fr"])
    _file(tenant, name="English only", languages=["en"])
    off = _file(tenant, name="Off")
    off.enabled = False
    rule = Rule(
        account_id=tenant.account.id,
        name="Shipped",
        event_type="shipped",
        purpose="shipped",
        attach_account_files=True,
    )
    db.session.add(rule)
    db.session.commit()
    order = place_order(tenant, "A-1", shop="amz-de", fulfillment="FBM")
    message = Message(
        account_id=tenant.account.id,
        dedupe_key="t",
        rule_id=rule.id,
        language="de",
        to_address="kunde@example.org",
    )
    chosen = choose_attachments(message, [order])
    assert chosen == [{"type": "file", "id": de_fbm.id}]
    message.attachments = chosen
    assert load_attachments(message) == [("widerruf.pdf", "application/pdf", PDF)]
