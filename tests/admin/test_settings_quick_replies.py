"""The quick replies in the settings area: list, create, edit, switch, delete; roles, CSRF,
tenant isolation, and the empty state on the order page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.admin.settings_support import add_user, login, post, reread
from tests.support import outbox
from tests.support.outbox import place_order
from webapp.accounts.models import AuditLog
from webapp.extensions import db
from webapp.notifications import manual
from webapp.notifications.models import QuickReply

engine_ready = outbox.engine_ready
fast_delivery = outbox.fast_delivery

LIST = "/settings/quick-replies"
NEW = "/settings/quick-replies/new"

OWN_TEXT = {
    "title": "Opening hours",
    "channel": "email",
    "purpose": "",
    "subject": "Our opening hours",
    "body": "We are open Monday to Friday, 9 to 18.",
    "position": "5",
    "enabled": "y",
}


def _replies(tenant) -> list[QuickReply]:
    db.session.expire_all()
    stmt = select(QuickReply).where(QuickReply.account_id == tenant.account.id)
    return list(db.session.execute(stmt.order_by(QuickReply.id)).scalars())


def _field_error(html: str, field: str) -> str:
    match = re.search(rf'<small id="{field}-errors" class="field-error">([^<]*)</small>', html)
    assert match, f"no error at {field}"
    return match.group(1)


def _own_reply(tenant, title: str = "Opening hours", **fields) -> QuickReply:
    return manual.create_quick_reply(
        tenant.account.id, title, body=fields.pop("body", "We are open 9 to 18."), **fields
    )


# --- list and empty states -------------------------------------------------------------------


def test_empty_list_offers_the_suggested_replies(client, auth, tenant):
    auth.login()
    html = client.get(LIST).get_data(as_text=True)
    assert "No quick replies yet." in html
    assert "Add the suggested quick replies" in html
    assert 'href="/settings/quick-replies/new"' in html
    assert '<a href="/settings/quick-replies" aria-current="page">Quick replies</a>' in html

    response = post(client, "/settings/quick-replies/defaults", htmx=True)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.startswith('<article class="panel" id="quick-reply-list">')
    for title in ("Where is my invoice?", "Your order is on its way", "Pickup ready"):
        assert title in fragment
    assert "No quick replies yet." not in fragment
    post(client, "/settings/quick-replies/defaults")
    assert len(_replies(tenant)) == 3  # installed once, by key


def test_settings_overview_links_the_page(client, auth, tenant):
    auth.login()
    html = client.get("/settings").get_data(as_text=True)
    assert 'href="/settings/quick-replies"' in html


def test_order_page_without_replies_links_to_the_settings(client, auth, tenant):
    place_order(tenant, "QR-1")
    auth.login()
    html = client.get("/orders/QR-1/quick-replies", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "No quick replies to offer." in html
    assert '<a href="/settings/quick-replies">Set up quick replies</a>' in html

    _own_reply(tenant)
    html = client.get("/orders/QR-1/quick-replies", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "Opening hours" in html and "No quick replies to offer." not in html


def test_agent_sees_the_link_but_not_the_set_up_wording(client, tenant):
    place_order(tenant, "QR-2")
    add_user(tenant.account, "agent")
    login(client, "agent@acme.example")
    html = client.get("/orders/QR-2/quick-replies", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert '<a href="/settings/quick-replies">Quick replies in the settings</a>' in html


def test_deleted_replies_stay_deleted_on_the_order_page(client, auth, tenant):
    manual.install_default_quick_replies(tenant.account.id)
    for reply in _replies(tenant):
        manual.delete_quick_reply(tenant.account.id, reply.id)
    place_order(tenant, "QR-3")
    auth.login()
    html = client.get("/orders/QR-3/quick-replies", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "No quick replies to offer." in html
    assert _replies(tenant) == []


# --- create, edit, switch, delete ------------------------------------------------------------


def test_create_own_text(client, auth, tenant):
    auth.login()
    response = post(client, NEW, OWN_TEXT)
    assert response.status_code == 302
    assert response.headers["Location"] == LIST
    reply = reread(QuickReply, title="Opening hours")
    assert reply.account_id == tenant.account.id
    assert (reply.channel, reply.purpose, reply.position, reply.enabled) == ("email", None, 5, True)
    assert reply.subject == "Our opening hours"
    assert reply.body == "We are open Monday to Friday, 9 to 18."
    audit = db.session.query(AuditLog).filter_by(action="quick_reply.create").one()
    assert audit.target == "Opening hours" and audit.actor == "owner@acme.example"
    html = client.get(LIST).get_data(as_text=True)
    assert "Quick reply “Opening hours” created." in html
    assert "We are open Monday to Friday" in html
    assert [r.title for r in manual.list_quick_replies(tenant.account.id)] == ["Opening hours"]


def test_create_standard_text_with_the_invoice(client, auth, engine_ready):
    auth.login()
    response = post(
        client,
        NEW,
        {
            "title": "Invoice again",
            "channel": "email",
            "purpose": "quick_reply_invoice",
            "document_kinds": ["invoice"],
        },
    )
    assert response.status_code == 302
    reply = reread(QuickReply, title="Invoice again")
    assert reply.purpose == "quick_reply_invoice" and reply.document_kinds == ["invoice"]
    assert reply.body is None and reply.position == 0
    html = client.get(LIST).get_data(as_text=True)
    assert "Standard text: Invoice on request" in html and "Attached: Invoice" in html


def test_sms_reply_drops_the_subject(client, auth, tenant):
    auth.login()
    response = post(client, NEW, OWN_TEXT | {"channel": "sms", "title": "Call us"})
    assert response.status_code == 302
    reply = reread(QuickReply, title="Call us")
    assert reply.channel == "sms" and reply.subject is None


def test_edit_round_trip(client, auth, tenant):
    reply = _own_reply(tenant, subject="Hours")
    auth.login()
    page = client.get(f"{LIST}/{reply.id}").get_data(as_text=True)
    assert 'value="Opening hours"' in page and 'value="Hours"' in page
    assert "We are open 9 to 18.</textarea>" in page
    assert re.search(r'id="channel-0"[^>]*checked', page) or re.search(
        r'checked[^>]*id="channel-0"', page
    )

    changed = OWN_TEXT | {"title": "Opening times", "body": "Mon–Sat 9–20.", "position": "30"}
    del changed["enabled"]  # an unticked switch is not posted
    response = post(client, f"{LIST}/{reply.id}", changed)
    assert response.status_code == 302
    saved = reread(QuickReply, id=reply.id)
    assert (saved.title, saved.body, saved.position) == ("Opening times", "Mon–Sat 9–20.", 30)
    assert saved.enabled is False
    page = client.get(f"{LIST}/{reply.id}").get_data(as_text=True)
    assert 'value="Opening times"' in page and "Mon–Sat 9–20.</textarea>" in page
    assert db.session.query(AuditLog).filter_by(action="quick_reply.update").count() == 1
    assert manual.list_quick_replies(tenant.account.id) == []  # switched off


def test_default_title_stays_translatable_when_saved_unchanged(client, auth, engine_ready):
    (invoice, *_rest) = manual.install_default_quick_replies(engine_ready.account.id)
    auth.login()
    german = {"Accept-Language": "de"}
    page = client.get(f"{LIST}/{invoice.id}", headers=german).get_data(as_text=True)
    match = re.search(r'<input[^>]*id="title"[^>]*value="([^"]+)"', page)
    assert match and match.group(1) == "Wo ist meine Rechnung?"
    response = post(
        client,
        f"{LIST}/{invoice.id}",
        {
            "title": match.group(1),
            "channel": "email",
            "purpose": "quick_reply_invoice",
            "document_kinds": ["invoice"],
            "position": "0",
            "enabled": "y",
        },
        headers=german,
    )
    assert response.status_code == 302
    assert reread(QuickReply, id=invoice.id).title == "Where is my invoice?"


def test_switch_off_and_on_returns_the_row(client, auth, tenant):
    reply = _own_reply(tenant)
    auth.login()
    response = post(client, f"{LIST}/{reply.id}/enabled", {"enabled": "0"}, htmx=True)
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert row.startswith(f'<tr id="quick-reply-{reply.id}">') and "Switch on" in row
    assert reread(QuickReply, id=reply.id).enabled is False
    post(client, f"{LIST}/{reply.id}/enabled", {"enabled": "1"}, htmx=True)
    assert reread(QuickReply, id=reply.id).enabled is True


def test_delete_after_confirmation(client, auth, tenant):
    reply = _own_reply(tenant)
    keep = _own_reply(tenant, "Keep me")
    auth.login()
    page = client.get(f"{LIST}/{reply.id}").get_data(as_text=True)
    assert "<summary>Delete this quick reply</summary>" in page
    assert f'action="{LIST}/{reply.id}/delete"' in page
    response = post(client, f"{LIST}/{reply.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == LIST
    assert [r.id for r in _replies(tenant)] == [keep.id]
    assert "Quick reply “Opening hours” deleted." in client.get(LIST).get_data(as_text=True)
    audit = db.session.query(AuditLog).filter_by(action="quick_reply.delete").one()
    assert audit.target == "Opening hours"

    htmx = post(client, f"{LIST}/{keep.id}/delete", htmx=True)
    assert htmx.status_code == 200 and htmx.headers["HX-Redirect"] == LIST
    assert _replies(tenant) == []


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "Enter a name."),
        ({"title": "x" * 201}, "title", "longer than 200"),
        ({"channel": "fax"}, "channel", "Not a valid choice"),
        ({"purpose": "exploded"}, "purpose", "Not a valid choice"),
        ({"body": "   "}, "body", "Write your text or choose a standard text."),
        ({"body": "x" * 5001}, "body", "longer than 5000"),
        ({"subject": "Two\nlines"}, "subject", "Use a single line."),
        ({"position": "-1"}, "position", "between 0 and 9999"),
        ({"position": "first"}, "position", "Not a valid integer"),
        ({"document_kinds": ["passport"]}, "document_kinds", "not a valid choice"),
        ({"channel": "sms", "document_kinds": ["invoice"]}, "document_kinds", "cannot carry"),
        (
            {"channel": "sms", "purpose": "quick_reply_invoice", "body": ""},
            "purpose",
            "no SMS version",
        ),
    ],
)
def test_bad_input_is_shown_at_the_field(client, auth, tenant, overrides, field, message):
    auth.login()
    response = post(client, NEW, OWN_TEXT | overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in _field_error(html, field)
    assert _replies(tenant) == []


def test_standard_text_without_a_template_is_refused_at_the_field(client, auth, tenant):
    auth.login()  # this account has no templates installed
    response = post(client, NEW, OWN_TEXT | {"purpose": "shipped"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "no template" in _field_error(html, "purpose")
    assert _replies(tenant) == []


def test_bad_edit_keeps_the_stored_reply(client, auth, tenant):
    reply = _own_reply(tenant)
    auth.login()
    response = post(client, f"{LIST}/{reply.id}", OWN_TEXT | {"title": ""})
    assert response.status_code == 422
    assert "Enter a name." in _field_error(response.get_data(as_text=True), "title")
    assert reread(QuickReply, id=reply.id).title == "Opening hours"


# --- roles, CSRF, tenant isolation -----------------------------------------------------------


def _posts(reply_id: int) -> list[str]:
    return [
        NEW,
        f"{LIST}/{reply_id}",
        f"{LIST}/{reply_id}/enabled",
        f"{LIST}/{reply_id}/delete",
        f"{LIST}/defaults",
    ]


def test_agent_reads_but_may_not_manage(client, tenant):
    reply = _own_reply(tenant)
    add_user(tenant.account, "agent")
    login(client, "agent@acme.example")
    html = client.get(LIST).get_data(as_text=True)
    assert "Opening hours" in html
    assert "Add quick reply" not in html and "hx-post" not in html.split("<main", 1)[-1]
    page = client.get(f"{LIST}/{reply.id}").get_data(as_text=True)
    assert "<fieldset disabled>" in page and "Delete this quick reply" not in page
    for path in _posts(reply.id):
        response = post(client, path, OWN_TEXT | {"enabled": "0"})
        assert response.status_code == 403, path
    assert [(r.id, r.title, r.enabled) for r in _replies(tenant)] == [
        (reply.id, "Opening hours", True)
    ]


def test_admin_may_manage(client, tenant):
    add_user(tenant.account, "admin")
    login(client, "admin@acme.example")
    assert post(client, NEW, OWN_TEXT).status_code == 302
    assert [r.title for r in _replies(tenant)] == ["Opening hours"]


def test_every_post_needs_the_csrf_token(client, auth, tenant):
    reply = _own_reply(tenant)
    auth.login()
    for path in _posts(reply.id):
        assert client.post(path, data=OWN_TEXT).status_code == 400, path
        htmx = client.post(path, data=OWN_TEXT, headers={"HX-Request": "true"})
        assert htmx.status_code == 400, path
    assert [(r.title, r.enabled) for r in _replies(tenant)] == [("Opening hours", True)]


def test_another_accounts_reply_is_404(client, auth, tenant, other_tenant):
    foreign = _own_reply(other_tenant, "Foreign")
    auth.login()
    assert client.get(f"{LIST}/{foreign.id}").status_code == 404
    assert client.get(f"{LIST}/{2**40}").status_code == 404
    for path in _posts(foreign.id)[1:4]:
        assert post(client, path, OWN_TEXT | {"enabled": "0"}).status_code == 404, path
        assert post(client, path, {"enabled": "0"}, htmx=True).status_code == 404, path
    assert "Foreign" not in client.get(LIST).get_data(as_text=True)
    stored = _replies(other_tenant)
    assert [(r.title, r.enabled) for r in stored] == [("Foreign", True)]


# --- German ----------------------------------------------------------------------------------


def test_pages_in_german(client, auth, tenant):
    reply = _own_reply(tenant)
    auth.login()
    german = {"Accept-Language": "de"}
    html = client.get(LIST, headers=german).get_data(as_text=True)
    assert "<h1>Schnellantworten</h1>" in html and "Quick replies" not in html
    page = client.get(f"{LIST}/{reply.id}", headers=german).get_data(as_text=True)
    assert "Diese Schnellantwort löschen" in page
    response = post(client, NEW, OWN_TEXT | {"title": ""}, headers=german)
    assert "Geben Sie einen Namen ein." in _field_error(response.get_data(as_text=True), "title")
