"""The template pages: list, editor, live preview (fragment and sandboxed document), saving."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.message_templates.conftest import make_order
from tests.support.client import PerRequestContextClient
from tests.support.factories import PASSWORD
from tests.support.html import csrf_token
from webapp.accounts import services as accounts
from webapp.message_templates.models import MessageTemplate, TemplateVariant
from webapp.message_templates.services import (
    create_template,
    install_default_templates,
    save_variant,
)

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    app.test_client_class = PerRequestContextClient


@pytest.fixture()
def email_template(tenant):
    template = create_template(tenant.account.id, name="Shipping", purpose="shipped")
    save_variant(
        tenant.account.id,
        template.id,
        language="en",
        subject="Order {{ order.number }} shipped",
        body_html="<p>Hello {{ customer.name }},</p>\n<p>your order is on its way.</p>",
        body_text="Hello {{ customer.name }}",
    )
    return template


@pytest.fixture()
def sms_template(tenant):
    template = create_template(tenant.account.id, name="Pickup SMS", purpose="goods_received",
                               channel="sms")  # fmt: skip
    save_variant(tenant.account.id, template.id, language="en",
                 body_text="Order {{ order.number }} is ready.")  # fmt: skip
    return template


def variants(db, template_id: int) -> list[TemplateVariant]:
    db.session.expire_all()
    stmt = select(TemplateVariant).filter_by(template_id=template_id).order_by(TemplateVariant.id)
    return list(db.session.execute(stmt).scalars())


def form_data(token: str, **overrides):
    data = {
        "csrf_token": token,
        "language": "en",
        "target": "generic",
        "subject": "Order {{ order.number }} shipped",
        "body_html": "<p>Hi {{ customer.name }}</p>",
        "body_text": "",
        "order_number": "",
    }
    data.update(overrides)
    return data


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/templates"),
        ("get", "/templates/{id}"),
        ("post", "/templates/{id}"),
        ("post", "/templates/{id}/preview"),
        ("post", "/templates/{id}/preview/document"),
    ],
)
def test_every_template_route_requires_login(client, email_template, method, path):
    response = getattr(client, method)(path.format(id=email_template.id))
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
    else:
        assert "CSRF" in response.get_data(as_text=True)


def test_another_accounts_template_is_not_found(client, auth, db, tenant, other_tenant):
    theirs = create_template(other_tenant.account.id, name="Theirs", purpose="shipped")
    auth.login()
    token = csrf_token(client.get("/templates"))
    assert client.get(f"/templates/{theirs.id}").status_code == 404
    for path in ("", "/preview", "/preview/document"):
        response = client.post(f"/templates/{theirs.id}{path}", data=form_data(token))
        assert response.status_code == 404, path
    assert client.get("/templates/99999999999").status_code == 404
    assert variants(db, theirs.id) == []
    assert "Theirs" not in client.get("/templates").get_data(as_text=True)


def test_csrf_required_on_posts(client, auth, db, email_template):
    auth.login()
    data = form_data("", body_html="<p>changed</p>")
    del data["csrf_token"]
    assert client.post(f"/templates/{email_template.id}", data=data).status_code == 400
    assert client.post(f"/templates/{email_template.id}/preview", data=data).status_code == 400
    assert "changed" not in variants(db, email_template.id)[0].body_html


def test_agents_read_the_list_but_cannot_edit(client, auth, db, tenant, email_template):
    accounts.create_user(tenant.account, "agent@acme.example", PASSWORD, role="agent")
    auth.login("agent@acme.example")
    html = client.get("/templates").get_data(as_text=True)
    assert "Shipping" in html and "Only administrators can edit templates." in html
    assert f'href="/templates/{email_template.id}"' not in html
    token = csrf_token(client.get("/templates"))
    assert client.get(f"/templates/{email_template.id}").status_code == 403
    response = client.post(f"/templates/{email_template.id}", data=form_data(token))
    assert response.status_code == 403
    assert (
        client.post(f"/templates/{email_template.id}/preview", data=form_data(token)).status_code
        == 403
    )


# --- list ---------------------------------------------------------------------------------


def test_list_shows_languages_channels_and_shop_variants(client, auth, tenant):
    auth.login()
    assert "No templates yet." in client.get("/templates").get_data(as_text=True)
    install_default_templates(tenant.account)
    template = create_template(tenant.account.id, name="Special", purpose="custom")
    save_variant(tenant.account.id, template.id, language="de", subject="s", body_text="t",
                 shop_id=tenant.webshop.id)  # fmt: skip
    html = client.get("/templates").get_data(as_text=True)
    assert ">DE<" in html and ">SV<" in html
    assert "SMS" in html and "E-mail" in html
    assert "Amazon" in html and "Acme Shop" in html
    assert 'aria-current="page"' in html


# --- editor and preview ----------------------------------------------------------------------


def test_editor_shows_variant_preview_and_placeholders(client, auth, email_template):
    auth.login()
    response = client.get(f"/templates/{email_template.id}?language=en")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Order {{ order.number }} shipped" in html  # the source, escaped in the field
    assert "Order SL-10042 shipped" in html  # rendered against sample data
    assert 'data-insert="{{ customer.name }}"' in html
    assert 'data-insert="{% for item in items %}{{ item.title }}{% endfor %}"' in html
    assert (
        '<iframe id="preview-frame" name="preview-frame" class="preview__frame" sandbox=""' in html
    )
    assert "/static/js/editor.js" in html
    assert "<script>" not in html  # nothing inline (strict CSP)


def test_editor_for_missing_variant_starts_from_generic(client, auth, email_template):
    auth.login()
    html = client.get(f"/templates/{email_template.id}?language=en&target=amazon").get_data(
        as_text=True
    )
    assert "This variant does not exist yet." in html
    assert "Order {{ order.number }} shipped" in html
    # Unknown language or target falls back, never an error.
    assert (
        client.get(f"/templates/{email_template.id}?language=xx&target=shop-999").status_code == 200
    )


def test_preview_fragment_renders_changes(client, auth, email_template):
    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    response = client.post(
        f"/templates/{email_template.id}/preview",
        data=form_data(token, subject="Dear {{ customer.name }}, parcel {{ order.number }}"),
        headers=HX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="preview-result"')
    assert "parcel SL-10042" in html
    assert 'data-renderable="true"' in html


def test_preview_shows_syntax_error_with_line(client, auth, email_template):
    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    response = client.post(
        f"/templates/{email_template.id}/preview",
        data=form_data(token, body_html="<p>ok</p>\n<p>{{ order.number </p>"),
        headers=HX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HTML body, line 2:" in html
    assert 'data-part="html" data-line="2"' in html
    assert 'data-renderable="false"' in html


def test_preview_with_real_order_and_unknown_order(client, auth, tenant, email_template):
    make_order(tenant, "R-77", name="Real Person")
    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    url = f"/templates/{email_template.id}/preview"
    html = client.post(url, data=form_data(token, order_number="R-77"), headers=HX).get_data(
        as_text=True
    )
    assert "Order R-77 shipped" in html
    html = client.post(url, data=form_data(token, order_number="NOPE-1"), headers=HX).get_data(
        as_text=True
    )
    assert "No order with this number." in html
    html = client.post(url, data=form_data(token, order_number="<bad>"), headers=HX).get_data(
        as_text=True
    )
    assert "This is not an order number." in html


def test_preview_document_is_sandboxed(client, auth, email_template):
    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    response = client.post(
        f"/templates/{email_template.id}/preview/document",
        data=form_data(token, body_html='<p style="color: red">Hi {{ customer.name }}</p>'),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Hi " in html and 'style="color: red"' in html
    policy = response.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'self'" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    # A template error: a plain explanation instead of the mail.
    response = client.post(
        f"/templates/{email_template.id}/preview/document",
        data=form_data(token, subject="{% if %}"),
    )
    assert response.status_code == 200
    assert "The template has errors" in response.get_data(as_text=True)


def test_sms_preview_counts_segments(client, auth, sms_template):
    auth.login()
    token = csrf_token(client.get(f"/templates/{sms_template.id}"))
    url = f"/templates/{sms_template.id}/preview"
    html = client.post(url, data=form_data(token, body_text="x" * 161), headers=HX).get_data(
        as_text=True
    )
    assert "GSM-7" in html and "2 SMS" in html and " characters" in html
    html = client.post(url, data=form_data(token, body_text="Grüße 😀"), headers=HX).get_data(
        as_text=True
    )
    assert "UCS-2" in html and "1 SMS" in html
    page = client.get(f"/templates/{sms_template.id}").get_data(as_text=True)
    assert "preview-frame" not in page and 'id="subject"' not in page


# --- saving ---------------------------------------------------------------------------------


def test_save_creates_and_updates_variants(client, auth, db, tenant, email_template):
    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    response = client.post(
        f"/templates/{email_template.id}",
        data=form_data(token, subject="New subject {{ order.number }}"),
    )
    assert response.status_code == 302
    assert "language=en" in response.headers["Location"]
    assert "Template saved." in client.get(response.headers["Location"]).get_data(as_text=True)
    response = client.post(
        f"/templates/{email_template.id}",
        data=form_data(token, language="de", target=f"shop-{tenant.webshop.id}", subject="Hallo"),
    )
    assert response.status_code == 302
    saved = variants(db, email_template.id)
    assert [(v.language, v.shop_id, v.subject) for v in saved] == [
        ("en", None, "New subject {{ order.number }}"),
        ("de", tenant.webshop.id, "Hallo"),
    ]


def test_save_refuses_errors_and_shows_the_line(client, auth, db, email_template):
    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    response = client.post(
        f"/templates/{email_template.id}",
        data=form_data(token, body_html="<p>a</p>\n<p>b</p>\n{% for x in %}"),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Not saved: correct the errors below." in html
    assert "HTML body, line 3:" in html
    assert "{% for x in %}" in html  # the merchant's text is kept in the form
    assert "your order is on its way" in variants(db, email_template.id)[0].body_html


def test_save_shows_amazon_warning(client, auth, db, email_template):
    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    response = client.post(
        f"/templates/{email_template.id}",
        data=form_data(token, target="amazon", body_html="<p>{{ status_url }}</p>"),
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Template saved." in html
    assert "Amazon does not allow links" in html
    assert [v.marketplace_kind for v in variants(db, email_template.id)] == [None, "amazon"]


def test_save_too_long_subject_is_inline(client, auth, db, email_template):
    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    response = client.post(
        f"/templates/{email_template.id}", data=form_data(token, subject="s" * 501)
    )
    assert response.status_code == 422
    assert "at most 500 characters" in response.get_data(as_text=True)


def test_editor_in_german(client, auth, db, tenant, email_template):
    accounts.set_user_language(tenant.owner, "de")
    auth.login()
    html = client.get(f"/templates/{email_template.id}").get_data(as_text=True)
    assert "Vorschau" in html and "Platzhalter einfügen" in html
    assert db.session.execute(select(MessageTemplate)).first() is not None
