"""Shops in the settings area: list, create, edit, logo, inline errors, audit."""

from __future__ import annotations

import pytest

from tests.admin.settings_support import post, reread
from webapp.accounts import services as accounts
from webapp.accounts.models import AuditLog, Shop

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _shop_data(**overrides) -> dict:
    data = {
        "code": "fr-shop",
        "name": "Acme France",
        "kind": "webshop",
        "marketplace": "",
        "language": "fr",
        "country": "fr",
        "contact_email": "service@acme.example",
        "contact_phone": "+33 1 23 45 67",
        "website": "https://acme.example/fr",
        "brand_color": "#aa3300",
        "status_sections": ["items", "tracking", "documents"],
        "status_link_max_opens": "50",
        "sender_account_id": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_list_shows_shops_with_links_and_sender(client, auth, tenant, other_tenant):
    auth.login()
    html = client.get("/settings/shops").get_data(as_text=True)
    assert f'href="/settings/shops/{tenant.webshop.id}"' in html
    assert "Acme Amazon.de" in html and "Main SMTP" in html
    assert "Globex" not in html
    assert 'href="/settings/shops/new"' in html


def test_create_shop_with_every_setting(client, auth, tenant, db):
    auth.login()
    sender_id = tenant.webshop.sender_account_id
    response = post(client, "/settings/shops/new", _shop_data(sender_account_id=str(sender_id)))
    assert response.status_code == 302
    shop = reread(Shop, code="fr-shop")
    assert shop.account_id == tenant.account.id
    assert (shop.name, shop.kind, shop.language, shop.country) == (
        "Acme France",
        "webshop",
        "fr",
        "FR",
    )
    assert shop.contact_email == "service@acme.example"
    assert shop.website == "https://acme.example/fr"
    assert shop.brand_color == "#aa3300"
    assert shop.status_link_max_opens == 50
    assert shop.sender_account_id == sender_id
    assert shop.status_sections["tracking"] is True
    assert shop.status_sections["prices"] is False
    assert shop.status_sections["timeline"] is False
    audit = reread(AuditLog, action="shop.create", target="fr-shop")
    assert audit.actor == "owner@acme.example" and audit.user_id == tenant.owner.id
    assert "Shop Acme France created." in client.get("/settings/shops").get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "Enter a name."),
        ({"code": "bad code!"}, "code", "Use letters, digits"),
        ({"code": "web"}, "code", "already exists"),
        ({"kind": "amazon", "marketplace": ""}, "marketplace", "needs its marketplace"),
        ({"kind": "spaceship"}, "kind", "Not a valid choice"),
        ({"marketplace": "not a domain"}, "marketplace", "enter a domain such as amazon.de"),
        ({"language": "xx"}, "language", "Not a valid choice"),
        ({"country": "France"}, "country", "two-letter country code"),
        ({"contact_email": "not-an-address"}, "contact_email", "valid e-mail address"),
        ({"contact_phone": "call me"}, "contact_phone", "Use digits"),
        ({"website": "javascript:alert(1)"}, "website", "https://"),
        ({"brand_color": "red"}, "brand_color", "#1f6feb"),
        ({"status_link_max_opens": "0"}, "status_link_max_opens", "1 to 100000"),
        ({"status_link_max_opens": "many"}, "status_link_max_opens", "integer"),
        ({"status_sections": ["items", "secrets"]}, "status_sections", "not a valid choice"),
        ({"sender_account_id": "abc"}, "sender_account_id", "Invalid Choice"),
        ({"sender_account_id": "999999"}, "sender_account_id", "Not a valid choice"),
    ],
)
def test_bad_shop_input_is_shown_at_the_field(client, auth, tenant, overrides, field, message):
    auth.login()
    response = post(client, "/settings/shops/new", _shop_data(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-errors"' in html
    error = html[html.index(f'id="{field}-errors"') :].split("</small>", 1)[0]
    assert message.lower() in error.lower()


def test_another_accounts_sender_cannot_be_chosen(client, auth, tenant, other_tenant):
    foreign = other_tenant.webshop.sender_account_id
    auth.login()
    response = post(
        client,
        f"/settings/shops/{tenant.webshop.id}",
        _shop_data(code=None, sender_account_id=str(foreign)),
    )
    assert response.status_code == 422
    assert reread(Shop, id=tenant.webshop.id).sender_account_id != foreign


def test_edit_shop_keeps_code_and_records_changes(client, auth, tenant):
    auth.login()
    page = client.get(f"/settings/shops/{tenant.amazon.id}").get_data(as_text=True)
    assert 'value="Acme Amazon.de"' in page and 'name="code"' not in page
    data = _shop_data(
        code="hijack",
        name="Acme Amazon Germany",
        kind="amazon",
        marketplace="amazon.de",
        language="de",
        invoices_uploaded_to_amazon="y",
        status_sections=["items"],
    )
    response = post(client, f"/settings/shops/{tenant.amazon.id}", data)
    assert response.status_code == 302
    shop = reread(Shop, id=tenant.amazon.id)
    assert shop.code == "amz-de" and shop.name == "Acme Amazon Germany"
    assert shop.invoices_uploaded_to_amazon is True
    assert shop.sender_account_id is None
    assert [k for k, v in shop.status_sections.items() if v] == ["items"]
    audit = reread(AuditLog, action="shop.update", target="amz-de")
    assert "name" in audit.details["changed"] and "sender_account_id" in audit.details["changed"]


def test_edit_form_shows_stored_sections_checked(client, auth, tenant, db):
    shop = tenant.webshop
    shop.status_sections = {"items": True, "prices": False}
    db.session.commit()
    auth.login()
    html = client.get(f"/settings/shops/{shop.id}").get_data(as_text=True)
    assert 'value="items" checked' in html or 'checked id="status_sections-0"' in html
    prices = html[html.index('value="prices"') - 120 : html.index('value="prices"') + 20]
    assert "checked" not in prices


@pytest.mark.parametrize(("data", "suffix"), [(PNG, ".png"), (JPEG, ".jpg")])
def test_logo_upload_stores_the_file_and_serves_it(client, auth, tenant, app, data, suffix):
    from io import BytesIO

    auth.login()
    form = _shop_data(code=None)
    form["logo"] = (BytesIO(data), "logo.whatever")
    response = post(
        client,
        f"/settings/shops/{tenant.webshop.id}",
        form,
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    shop = reread(Shop, id=tenant.webshop.id)
    assert shop.logo_path and shop.logo_path.endswith(suffix)
    assert shop.logo_path.startswith(f"{tenant.account.id}/")
    served = client.get(f"/settings/shops/{shop.id}/logo")
    assert served.status_code == 200 and served.data == data
    # Removing it deletes the file.
    response = post(
        client, f"/settings/shops/{shop.id}", {**_shop_data(code=None), "remove_logo": "y"}
    )
    assert response.status_code == 302
    assert reread(Shop, id=shop.id).logo_path is None
    assert client.get(f"/settings/shops/{shop.id}/logo").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a" + b"\x00" * 32, "only PNG and JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "only PNG and JPEG"),
        (PNG + b"\x00" * (512 * 1024), "larger than 512 KB"),
    ],
)
def test_bad_logo_is_refused_at_the_field(client, auth, tenant, data, message):
    from io import BytesIO

    auth.login()
    form = _shop_data(code=None, name="Changed name")
    form["logo"] = (BytesIO(data), "logo.png")
    response = post(
        client, f"/settings/shops/{tenant.webshop.id}", form, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html[html.index('id="logo-errors"') :]
    shop = reread(Shop, id=tenant.webshop.id)
    assert shop.logo_path is None and shop.name == "Acme Shop"


def test_shop_page_links_to_new_sender_for_it(client, auth, tenant):
    auth.login()
    html = client.get(f"/settings/shops/{tenant.webshop.id}").get_data(as_text=True)
    assert f"/settings/senders/new?shop={tenant.webshop.id}" in html
    form = client.get(f"/settings/senders/new?shop={tenant.webshop.id}").get_data(as_text=True)
    assert f'<option selected value="{tenant.webshop.id}">' in form


def test_create_shop_service_rolls_nothing_in_on_error(app, tenant):
    settings = accounts.ShopSettings(name="X", kind="amazon", marketplace=None, language="de")
    with pytest.raises(accounts.ValidationError) as info:
        accounts.create_shop_with_settings(tenant.account, "x", settings, actor="t")
    assert info.value.field == "marketplace"
    assert accounts.get_shop_by_code(tenant.account.id, "x") is None
