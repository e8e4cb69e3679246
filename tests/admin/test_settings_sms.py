"""SMS sender accounts in the settings area: create, edit, write-only credentials, test SMS."""

from __future__ import annotations

import pytest

from tests.admin.settings_support import add_user, login, post, reread
from tests.channels.sms.fakes import FakeProvider, Reply
from webapp.accounts.models import AuditLog, SenderAccount
from webapp.crypto import decrypt_secret
from webapp.extensions import db

SECRET = "gw-Sup3r-secret-token"


@pytest.fixture()
def gateway():
    server = FakeProvider().start()
    yield server
    server.stop()


def _data(**overrides) -> dict:
    data = {
        "name": "Gateway",
        "provider": "generic_http",
        "credentials": SECRET,
        "sender_id": "AcmeShop",
        "public_ip": "203.0.113.7",
        "default_region": "DE",
        "timeout": "5",
        "url": "https://sms.example.com/v1/send",
        "method": "POST",
        "body_format": "json",
        "body_template": '{"to": "{to}", "text": "{text}"}',
        "auth_header": "Authorization",
        "auth_prefix": "Bearer ",
        "success_path": "ok",
        "success_values": "true",
        "id_path": "id",
        "shop_id": "",
        "enabled": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _create(client, **overrides) -> SenderAccount:
    response = post(client, "/settings/senders/sms/new", _data(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    return reread(SenderAccount, name=overrides.get("name", "Gateway"))


def test_create_sms_sender_with_settings_and_secret_stored_encrypted(client, auth, tenant):
    auth.login()
    sender = _create(client, shop_id=str(tenant.webshop.id))
    assert (sender.channel, sender.provider, sender.sender_id) == (
        "sms",
        "generic_http",
        "AcmeShop",
    )
    settings = sender.provider_settings
    assert settings["public_ip"] == "203.0.113.7" and settings["timeout"] == 5.0
    assert settings["url"] == "https://sms.example.com/v1/send"
    assert settings["auth_header"] == "Authorization" and settings["auth_prefix"] == "Bearer "
    assert settings["success_values"] == ["true"] and settings["id_path"] == "id"
    assert sender.shop_id == tenant.webshop.id
    assert (
        SECRET not in sender.secret_encrypted and decrypt_secret(sender.secret_encrypted) == SECRET
    )
    for path in (f"/settings/senders/sms/{sender.id}", "/settings/senders", "/settings/audit"):
        html = client.get(path).get_data(as_text=True)
        assert SECRET not in html, path
    page = client.get(f"/settings/senders/sms/{sender.id}").get_data(as_text=True)
    assert "Credentials are stored. Leave empty to keep them." in page
    assert "Send a test SMS" in page
    listing = client.get("/settings/senders").get_data(as_text=True)
    assert f'href="/settings/senders/sms/{sender.id}"' in listing
    # The SMTP editor hands an SMS account over to its own page.
    assert (
        client.get(f"/settings/senders/{sender.id}")
        .headers["Location"]
        .endswith(f"/settings/senders/sms/{sender.id}")
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "Enter a name."),
        ({"provider": "carrier-pigeon"}, "provider", "Not a valid choice"),
        ({"sender_id": "Far too long sender"}, "sender_id", "11 letters"),
        ({"public_ip": "300.1.1.1"}, "public_ip", "IPv4 or IPv6"),
        ({"default_region": "D1"}, "default_region", "two-letter"),
        ({"timeout": "500"}, "timeout", "1 to 120"),
        ({"base_url": "ftp://x"}, "base_url", "http(s) URL"),
        ({"url": "not a url"}, "url", "http(s) URL"),
        ({"auth_header": "Host"}, "auth_header", "Not a valid choice"),
        ({"body_template": '{"to": "{to}"}'}, "body_template", "{text}"),
        ({"provider": "twilio", "account_sid": "nope"}, "account_sid", "AC + 32"),
        ({"provider": "seven", "credentials": ""}, "credentials", "API key"),
    ],
)
def test_bad_sms_sender_input_is_shown_at_the_field(
    client, auth, tenant, overrides, field, message
):
    auth.login()
    response = post(client, "/settings/senders/sms/new", _data(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert SECRET not in html
    error = html[html.index(f'id="{field}-errors"') :].split("</small>", 1)[0]
    assert message.lower() in error.lower()
    assert db.session.query(SenderAccount).filter_by(channel="sms").count() == 0


def test_edit_keeps_credentials_when_empty_and_audits(client, auth, tenant):
    auth.login()
    sender = _create(client)
    stored = sender.secret_encrypted
    response = post(
        client,
        f"/settings/senders/sms/{sender.id}",
        _data(name="Gateway 2", credentials="", sender_id="+4917112345678", provider=None),
    )
    assert response.status_code == 302
    sender = reread(SenderAccount, id=sender.id)
    assert sender.name == "Gateway 2" and sender.secret_encrypted == stored
    assert sender.sender_id == "+4917112345678" and sender.provider == "generic_http"
    post(client, f"/settings/senders/sms/{sender.id}", _data(name="Gateway 2", credentials="new-1"))
    assert decrypt_secret(reread(SenderAccount, id=sender.id).secret_encrypted) == "new-1"
    db.session.expire_all()
    updates = db.session.query(AuditLog).filter_by(action="sender.update").order_by(AuditLog.id)
    details = [a.details for a in updates]
    assert "name" in details[0]["changed"] and "password" not in details[0]
    assert details[1]["password"] == "changed"
    bad = post(client, f"/settings/senders/sms/{sender.id}", _data(url="gopher://x"))
    assert bad.status_code == 422


def test_test_sms_goes_through_the_provider_and_shows_the_result(client, auth, tenant, gateway):
    gateway.route("POST", "/v1/send", Reply(200, {"ok": True, "id": "gw-77"}))
    auth.login()
    sender = _create(client, url=f"{gateway.url}/v1/send")
    response = post(
        client, f"/settings/senders/{sender.id}/test-sms", {"to": "0171 1234567"}, htmx=True
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-state="sent"' in html and "Test SMS sent to 0171 1234567." in html
    [request] = gateway.requests
    assert request.json()["to"] == "+491711234567"
    assert request.headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("reply", "state", "text"),
    [
        (Reply(401, {"error": "bad token"}), "failed", "The test SMS was refused: HTTP 401"),
        (Reply(503, "down"), "unknown", "may have been sent"),
    ],
)
def test_test_sms_failures_are_shown(client, auth, tenant, gateway, reply, state, text):
    gateway.route("POST", "/v1/send", reply)
    auth.login()
    sender = _create(client, url=f"{gateway.url}/v1/send")
    html = post(
        client, f"/settings/senders/{sender.id}/test-sms", {"to": "+491711234567"}, htmx=True
    ).get_data(as_text=True)
    assert f'data-state="{state}"' in html and text in html
    assert SECRET not in html


def test_test_sms_to_a_bad_number_or_none(client, auth, tenant, gateway):
    auth.login()
    sender = _create(client, url=f"{gateway.url}/v1/send")
    html = post(
        client, f"/settings/senders/{sender.id}/test-sms", {"to": "12"}, htmx=True
    ).get_data(as_text=True)
    assert 'data-state="failed"' in html and "phone number" in html
    empty = post(client, f"/settings/senders/{sender.id}/test-sms", {"to": ""}, htmx=True)
    assert empty.status_code == 422 and "Enter a mobile number." in empty.get_data(as_text=True)
    assert gateway.requests == []


def test_test_sms_refuses_a_private_gateway_in_production(app, client, auth, tenant, gateway):
    auth.login()
    sender = _create(client, url=f"{gateway.url}/v1/send")
    app.config["ALLOW_PRIVATE_NETWORK_TARGETS"] = False
    html = post(
        client, f"/settings/senders/{sender.id}/test-sms", {"to": "+491711234567"}, htmx=True
    ).get_data(as_text=True)
    assert 'data-state="failed"' in html and "not allowed" in html
    assert gateway.requests == []


def test_test_sms_without_htmx_redirects_with_a_message(client, auth, tenant):
    auth.login()
    sender = _create(client, provider="log", credentials="", auth_header="")
    response = post(client, f"/settings/senders/{sender.id}/test-sms", {"to": "+491711234567"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Test SMS sent to +491711234567." in page


def test_roles_csrf_and_tenant_isolation(client, tenant, other_tenant, auth):
    auth.login()
    sender = _create(client)
    auth.logout()
    add_user(tenant.account, "agent")
    login(client, "agent@acme.example")
    assert client.get(f"/settings/senders/sms/{sender.id}").status_code == 200
    assert post(client, "/settings/senders/sms/new", _data(name="X")).status_code == 403
    assert post(client, f"/settings/senders/sms/{sender.id}", _data()).status_code == 403
    test = post(client, f"/settings/senders/{sender.id}/test-sms", {"to": "+491711234567"})
    assert test.status_code == 403
    assert client.post("/settings/senders/sms/new", data=_data()).status_code == 400
    auth.logout()
    login(client, "owner@globex.example")
    for path in (f"/settings/senders/sms/{sender.id}",):
        assert client.get(path).status_code == 404
        assert post(client, path, _data()).status_code == 404
    response = post(client, f"/settings/senders/{sender.id}/test-sms", {"to": "+491711234567"})
    assert response.status_code == 404
    assert reread(SenderAccount, id=sender.id).name == "Gateway"
