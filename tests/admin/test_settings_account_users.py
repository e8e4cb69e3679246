"""Account settings, users and roles, API keys, audit log and the demo mailbox."""

from __future__ import annotations

import re
import time

import pytest

from tests.admin.settings_support import add_user, login, post, reread
from tests.support.factories import PASSWORD
from webapp.accounts import services as accounts
from webapp.accounts.models import Account, ApiKey, AuditLog, User
from webapp.extensions import db


def _account_data(**overrides) -> dict:
    data = {
        "name": "Acme Trading GmbH",
        "service_enabled": "y",
        "default_channel": "both",
        "default_language": "fr",
        "timezone": "Europe/Vienna",
        "quiet_hours_start": "22:00",
        "quiet_hours_end": "07:30",
        "business_days": ["0", "1", "2", "3", "4", "5"],
        "status_link_days": "30",
        "merchant_email": "boss@acme.example",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_account_settings_are_saved_and_audited(client, auth, tenant):
    auth.login()
    response = post(client, "/settings/account", _account_data(service_enabled=None))
    assert response.status_code == 302
    account = reread(Account, id=tenant.account.id)
    assert account.name == "Acme Trading GmbH" and account.service_enabled is False
    assert account.default_channel == "both" and account.default_language == "fr"
    assert account.timezone == "Europe/Vienna"
    assert (account.quiet_hours_start, account.quiet_hours_end) == ("22:00", "07:30")
    assert account.business_days == "0,1,2,3,4,5"
    assert account.status_link_days == 30 and account.merchant_email == "boss@acme.example"
    audit = reread(AuditLog, action="account.update")
    assert audit.details["service_enabled"] is False
    assert "timezone" in audit.details["changed"]
    html = client.get("/settings").get_data(as_text=True)
    assert "The service is switched off" in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "Enter a name."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
        ({"timezone": ""}, "timezone", "Enter a time zone."),
        ({"quiet_hours_start": "25:00"}, "quiet_hours_start", "HH:MM"),
        ({"quiet_hours_end": "7 pm"}, "quiet_hours_end", "HH:MM"),
        ({"quiet_hours_end": ""}, "quiet_hours_end", "set both start and end"),
        ({"quiet_hours_end": "22:00"}, "quiet_hours_end", "must differ"),
        ({"business_days": []}, "business_days", "at least one business day"),
        ({"business_days": ["7"]}, "business_days", "not a valid choice"),
        ({"status_link_days": "0"}, "status_link_days", "1 to 365"),
        ({"status_link_days": "366"}, "status_link_days", "1 to 365"),
        ({"status_link_days": "soon"}, "status_link_days", "integer"),
        ({"default_channel": "fax"}, "default_channel", "Not a valid choice"),
        ({"default_language": "tlh"}, "default_language", "Not a valid choice"),
        ({"merchant_email": "boss@"}, "merchant_email", "valid e-mail address"),
    ],
)
def test_bad_account_input_is_shown_at_the_field(client, auth, tenant, overrides, field, message):
    auth.login()
    response = post(client, "/settings/account", _account_data(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html[html.index(f'id="{field}-errors"') :].split("</small>", 1)[0]
    assert message.lower() in error.lower()
    assert reread(Account, id=tenant.account.id).name == "Acme GmbH"


def test_account_errors_in_german(client, auth, tenant):
    auth.login()
    response = post(
        client,
        "/settings/account",
        _account_data(timezone="Nowhere/City"),
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 422
    assert "Unbekannte Zeitzone" in response.get_data(as_text=True)


def test_owner_adds_a_user_who_can_log_in(client, auth, tenant):
    auth.login()
    data = {
        "name": "Ann Agent",
        "email": "ann@acme.example",
        "role": "admin",
        "password": "initial-password-1",
    }
    response = post(client, "/settings/users", data)
    assert response.status_code == 302
    user = reread(User, email="ann@acme.example")
    assert user.account_id == tenant.account.id and user.role == "admin"
    assert reread(AuditLog, action="user.create", target="ann@acme.example").user_id == (
        tenant.owner.id
    )
    html = client.get("/settings/users").get_data(as_text=True)
    assert "initial-password-1" not in html and "Ann Agent" in html
    auth.logout()
    login(client, "ann@acme.example", "initial-password-1")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "owner@acme.example"}, "email", "already exists"),
        ({"email": "owner@globex.example"}, "email", "already exists"),
        ({"email": "nobody"}, "email", "valid e-mail address"),
        ({"password": "short"}, "password", "At least 10 characters."),
        ({"password": ""}, "password", "Enter an initial password."),
        ({"role": "superuser"}, "role", "Not a valid choice"),
    ],
)
def test_bad_user_input_is_shown_at_the_field(
    client, auth, tenant, other_tenant, overrides, field, message
):
    auth.login()
    data = {
        "name": "",
        "email": "new@acme.example",
        "role": "agent",
        "password": "initial-password-1",
        **overrides,
    }
    response = post(client, "/settings/users", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html[html.index(f'id="{field}-errors"') :].split("</small>", 1)[0]
    assert message.lower() in error.lower()
    assert "initial-password-1" not in html


def test_change_role_over_htmx(client, auth, tenant):
    agent = add_user(tenant.account, "agent")
    auth.login()
    response = post(client, f"/settings/users/{agent.id}/role", {"role": "admin"}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="user-{agent.id}"')
    assert "Role changed to Administrator." in html
    assert reread(User, id=agent.id).role == "admin"
    audit = reread(AuditLog, action="user.role")
    assert audit.details == {"from": "agent", "to": "admin"}


def test_owner_cannot_change_own_role_or_deactivate_self(client, auth, tenant):
    auth.login()
    me = tenant.owner.id
    response = post(client, f"/settings/users/{me}/role", {"role": "agent"}, htmx=True)
    assert response.status_code == 200
    assert "you cannot change your own role" in response.get_data(as_text=True)
    response = post(client, f"/settings/users/{me}/deactivate", htmx=True)
    assert "you cannot deactivate yourself" in response.get_data(as_text=True)
    me_now = reread(User, id=me)
    assert me_now.role == "owner" and me_now.active


def test_last_owner_cannot_be_demoted_or_deactivated(app, tenant):
    second = add_user(tenant.account, "owner", "second@acme.example")
    accounts.change_user_role(tenant.account.id, tenant.owner.id, "admin", actor_user=second)
    with pytest.raises(accounts.ValidationError, match="at least one owner"):
        accounts.change_user_role(tenant.account.id, second.id, "agent", actor_user=tenant.owner)
    with pytest.raises(accounts.ValidationError, match="at least one active owner"):
        accounts.deactivate_user(tenant.account.id, second.id, actor_user=tenant.owner)


def test_deactivated_user_is_logged_out_and_cannot_log_in(app, client, tenant):
    agent = add_user(tenant.account, "agent")
    other = app.test_client()
    login(other, "agent@acme.example")
    assert other.get("/settings").status_code == 200
    login(client, "owner@acme.example")
    response = post(client, f"/settings/users/{agent.id}/deactivate", htmx=True)
    assert "deactivated" in response.get_data(as_text=True)
    assert other.get("/settings").status_code == 302
    page = other.get("/login")
    from tests.support.html import csrf_token

    response = other.post(
        "/login",
        data={"email": "agent@acme.example", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 200
    response = post(client, f"/settings/users/{agent.id}/reactivate", htmx=True)
    assert reread(User, id=agent.id).active is True


def test_api_key_is_shown_once_in_full(client, auth, tenant):
    auth.login()
    response = post(client, "/settings/api-keys", {"name": "ERP"}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="api-keys">')
    key = re.search(r'value="(sl_[A-Za-z0-9]{8}_[A-Za-z0-9_-]+)"', html).group(1)
    assert response.headers["Cache-Control"] == "no-store"
    assert accounts.authenticate_api_key(key) is not None
    assert 'data-copy="#new-api-key"' in html
    later = client.get("/settings/api-keys").get_data(as_text=True)
    assert key not in later and f"sl_{key[3:11]}_" in later and "ERP" in later
    assert "Never" in later


def test_api_key_needs_a_name(client, auth, tenant):
    auth.login()
    response = post(client, "/settings/api-keys", {"name": ""})
    assert response.status_code == 422
    assert "Name the key" in response.get_data(as_text=True)


def test_revoke_api_key_over_htmx(client, auth, tenant):
    auth.login()
    key = db.session.query(ApiKey).filter_by(account_id=tenant.account.id).one()
    response = post(client, f"/settings/api-keys/{key.id}/revoke", htmx=True)
    assert response.status_code == 200
    assert "Revoked" in response.get_data(as_text=True)
    db.session.expire_all()
    assert accounts.authenticate_api_key(tenant.api_key) is None
    assert reread(AuditLog, action="apikey.revoke").actor == "owner@acme.example"


def test_audit_log_is_paginated_and_scoped(client, auth, tenant, other_tenant):
    for i in range(30):
        accounts.record_audit(tenant.account.id, "shop.update", actor="bot", target=f"s{i:02d}")
    accounts.record_audit(other_tenant.account.id, "shop.update", actor="spy", target="theirs")
    db.session.commit()
    auth.login()
    first = client.get("/settings/audit").get_data(as_text=True)
    # 25 per page, newest first: s29 … s05 on the first page.
    assert "s29" in first and "s05" in first and "s04" not in first and "theirs" not in first
    assert "Page 1 of 2" in first
    second = client.get("/settings/audit?page=2", headers={"HX-Request": "true"})
    html = second.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="audit-log">')
    assert "s04" in html and "s05" not in html and "Page 2 of 2" in html
    assert client.get("/settings/audit?page=999").status_code == 200
    assert client.get("/settings/audit?page=abc").status_code == 200


def test_audit_log_empty_state(client, tenant, db):
    account = accounts.create_account("Quiet Ltd", "quiet")
    accounts.create_user(account, "owner@quiet.example", PASSWORD, role="owner")
    db.session.query(AuditLog).filter_by(account_id=account.id).delete()
    db.session.commit()
    login(client, "owner@quiet.example")
    html = client.get("/settings/audit").get_data(as_text=True)
    assert "Nothing recorded yet." in html


def _catch(folder, subject: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    mail_id = f"{time.time_ns()}-0123abcd"
    (folder / f"{mail_id}.eml").write_bytes(
        (
            "X-Envelope-From: <shop@acme.example>\r\nX-Envelope-To: anna@example.com\r\n"
            "From: Acme Shop <shop@acme.example>\r\nTo: anna@example.com\r\n"
            f"Subject: {subject}\r\nMessage-ID: <m1@test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nYour parcel is on its way.\r\n"
        ).encode()
    )
    return mail_id


def test_mailbox_only_in_demo_mode(app, client, auth, tenant, tmp_path):
    auth.login()
    assert client.get("/settings/mailbox").status_code == 404
    assert "/settings/mailbox" not in client.get("/settings").get_data(as_text=True)
    app.config["DEMO_MODE"] = True
    app.config["MAIL_CATCHER_DIR"] = str(tmp_path / "mailbox")
    html = client.get("/settings/mailbox").get_data(as_text=True)
    assert "No e-mails caught yet." in html
    mail_id = _catch(tmp_path / "mailbox", "Your order 1001 has shipped")
    html = client.get("/settings/mailbox").get_data(as_text=True)
    assert "Your order 1001 has shipped" in html and "anna@example.com" in html
    one = client.get(f"/settings/mailbox/{mail_id}").get_data(as_text=True)
    assert "Your parcel is on its way." in one and "shop@acme.example" in one
    assert client.get("/settings/mailbox/..%2Fsecret_key").status_code == 404
    assert client.get("/settings/mailbox/1-00000000").status_code == 404
