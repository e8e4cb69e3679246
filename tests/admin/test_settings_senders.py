"""SMTP sender accounts in the settings area: forms, write-only password, checks, toggles."""

from __future__ import annotations

import pytest

from tests.admin.settings_support import post, reread
from tests.support.services import free_port
from tests.support.smtp import RecordingSMTP
from webapp.accounts.models import AuditLog, SenderAccount, Shop
from webapp.crypto import decrypt_secret

SECRET = "Sup3r-s3cret-SMTP-pass"


@pytest.fixture()
def smtp_server():
    server = RecordingSMTP().start()
    yield server
    server.stop()


def _sender_data(**overrides) -> dict:
    data = {
        "name": "Shop mailbox",
        "host": "mail.acme.example",
        "port": "587",
        "security": "starttls",
        "username": "mailer",
        "password": SECRET,
        "from_name": "Acme Shop",
        "from_email": "shop@acme.example",
        "reply_to": "help@acme.example",
        "bcc": "archive@acme.example\nboss@acme.example, archive@acme.example",
        "shop_id": "",
        "enabled": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _create(client, **overrides) -> SenderAccount:
    response = post(client, "/settings/senders/new", _sender_data(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    return reread(SenderAccount, name=overrides.get("name", "Shop mailbox"))


def test_create_sender_stores_password_encrypted_and_never_shows_it(client, auth, tenant):
    auth.login()
    sender = _create(client, shop_id=str(tenant.webshop.id))
    assert sender.smtp_host == "mail.acme.example" and sender.smtp_port == 587
    assert sender.smtp_security == "starttls" and sender.smtp_username == "mailer"
    assert sender.bcc == ["archive@acme.example", "boss@acme.example"]
    assert sender.reply_to == "help@acme.example" and sender.shop_id == tenant.webshop.id
    assert SECRET not in sender.secret_encrypted
    assert decrypt_secret(sender.secret_encrypted) == SECRET
    for path in (
        f"/settings/senders/{sender.id}",
        "/settings/senders",
        "/settings/audit",
        "/settings",
        "/",
    ):
        html = client.get(path).get_data(as_text=True)
        assert SECRET not in html, path
    edit = client.get(f"/settings/senders/{sender.id}").get_data(as_text=True)
    assert "A password is stored. Leave empty to keep it." in edit
    assert 'type="password"' in edit and 'value="Sup3r' not in edit


def test_password_is_not_echoed_on_a_form_error(client, auth, tenant):
    auth.login()
    response = post(client, "/settings/senders/new", _sender_data(port="0"))
    assert response.status_code == 422
    assert SECRET not in response.get_data(as_text=True)


def test_empty_password_keeps_the_stored_one_and_clear_removes_it(client, auth, tenant):
    auth.login()
    sender = _create(client)
    stored = sender.secret_encrypted
    response = post(
        client, f"/settings/senders/{sender.id}", _sender_data(password="", name="Renamed")
    )
    assert response.status_code == 302
    sender = reread(SenderAccount, id=sender.id)
    assert sender.name == "Renamed" and sender.secret_encrypted == stored
    response = post(client, f"/settings/senders/{sender.id}", _sender_data(password="new-secret-1"))
    assert decrypt_secret(reread(SenderAccount, id=sender.id).secret_encrypted) == "new-secret-1"
    post(client, f"/settings/senders/{sender.id}", _sender_data(password="", clear_password="y"))
    assert reread(SenderAccount, id=sender.id).secret_encrypted is None
    actions = [a.details.get("password") for a in _audit("sender.update")]
    assert actions == [None, "changed", "removed"]


def _audit(action: str) -> list[AuditLog]:
    from webapp.extensions import db

    db.session.expire_all()
    return list(db.session.query(AuditLog).filter_by(action=action).order_by(AuditLog.id))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "Enter a name."),
        ({"host": ""}, "host", "host name"),
        ({"host": "bad host/"}, "host", "host name"),
        ({"port": "0"}, "port", "1 to 65535"),
        ({"port": "70000"}, "port", "1 to 65535"),
        ({"port": "smtp"}, "port", "integer"),
        ({"security": "tls13"}, "security", "Not a valid choice"),
        ({"from_email": ""}, "from_email", "Enter the sender address."),
        ({"from_email": "no-at-sign"}, "from_email", "valid e-mail address"),
        ({"reply_to": "x@"}, "reply_to", "valid e-mail address"),
        ({"bcc": "ok@acme.example, broken@"}, "bcc", "broken@"),
        # Sent from or copied to on every message: no SMTPUTF8 (not supported by delivery).
        ({"from_email": "jürgen@acme.example"}, "from_email", "before the @-sign"),
        ({"reply_to": "jürgen@acme.example"}, "reply_to", "before the @-sign"),
        ({"bcc": "ok@acme.example, jürgen@acme.example"}, "bcc", "before the @-sign"),
        ({"bcc": ",".join(f"a{i}@acme.example" for i in range(11))}, "bcc", "At most 10"),
        ({"shop_id": "424242"}, "shop_id", "Not a valid choice"),
    ],
)
def test_bad_sender_input_is_shown_at_the_field(client, auth, tenant, overrides, field, message):
    auth.login()
    response = post(client, "/settings/senders/new", _sender_data(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html[html.index(f'id="{field}-errors"') :].split("</small>", 1)[0]
    assert message.lower() in error.lower()


def test_another_accounts_shop_cannot_be_linked(client, auth, tenant, other_tenant):
    auth.login()
    response = post(
        client, "/settings/senders/new", _sender_data(shop_id=str(other_tenant.webshop.id))
    )
    assert response.status_code == 422
    from webapp.extensions import db

    assert db.session.query(SenderAccount).filter_by(name="Shop mailbox").count() == 0


def test_new_sender_for_a_shop_without_sender_becomes_its_sender(client, auth, tenant, db):
    shop = tenant.webshop
    shop.sender_account_id = None
    db.session.commit()
    auth.login()
    sender = _create(client, shop_id=str(shop.id))
    assert reread(Shop, id=shop.id).sender_account_id == sender.id


def test_toggle_over_htmx_returns_the_row(client, auth, tenant):
    auth.login()
    sender_id = tenant.webshop.sender_account_id
    response = post(client, f"/settings/senders/{sender_id}/enabled", {"enabled": "0"}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="sender-{sender_id}"')
    assert "Switch on" in html
    assert reread(SenderAccount, id=sender_id).enabled is False
    assert _audit("sender.disable")[0].target == "Main SMTP"


def test_delete_sender_unlinks_its_shops(client, auth, tenant):
    auth.login()
    sender_id = tenant.webshop.sender_account_id
    response = post(client, f"/settings/senders/{sender_id}/delete")
    assert response.status_code == 302
    assert reread(Shop, id=tenant.webshop.id).sender_account_id is None
    assert client.get(f"/settings/senders/{sender_id}").status_code == 404


def test_failing_sender_shows_its_error(client, auth, tenant, db):
    sender = db.session.get(SenderAccount, tenant.webshop.sender_account_id)
    sender.last_error = "550 5.7.1 Relaying denied"
    db.session.commit()
    auth.login()
    for path in ("/settings/senders", f"/settings/senders/{sender.id}", "/settings"):
        html = client.get(path).get_data(as_text=True)
        assert "550 5.7.1 Relaying denied" in html, path
        assert "Failing" in html or "failing" in html


def test_connection_test_against_a_real_smtp_server(client, auth, tenant, smtp_server):
    auth.login()
    sender = _create(
        client,
        host="127.0.0.1",
        port=str(smtp_server.port),
        security="none",
        username="",
        password="",
    )
    response = post(client, f"/settings/senders/{sender.id}/test", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Connection works" in html and "flash--success" in html
    assert smtp_server.messages() == []


def test_connection_test_reports_a_refused_connection(client, auth, tenant):
    auth.login()
    sender = _create(client, host="127.0.0.1", port=str(free_port()), security="none")
    response = post(client, f"/settings/senders/{sender.id}/test", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Connection failed: connection refused" in html
    assert SECRET not in html


def test_connection_test_reports_missing_auth_support(client, auth, tenant, smtp_server):
    auth.login()
    sender = _create(client, host="127.0.0.1", port=str(smtp_server.port), security="none")
    html = post(client, f"/settings/senders/{sender.id}/test", htmx=True).get_data(as_text=True)
    assert "Connection failed" in html and "does not support" in html


def test_test_mail_arrives_at_the_smtp_server(client, auth, tenant, smtp_server, db):
    auth.login()
    sender = _create(
        client,
        host="127.0.0.1",
        port=str(smtp_server.port),
        security="none",
        username="",
        password="",
        bcc="",
    )
    sender.last_error = "old problem"
    db.session.commit()
    response = post(client, f"/settings/senders/{sender.id}/test-mail", htmx=True)
    assert response.status_code == 200
    assert "Test mail sent to owner@acme.example." in response.get_data(as_text=True)
    received = smtp_server.wait_for(1)
    assert len(received) == 1
    assert received[0].rcpt_tos == ["owner@acme.example"]
    assert received[0].subject == "Statuslink test mail"
    assert "shop@acme.example" in str(received[0].message["From"])
    assert reread(SenderAccount, id=sender.id).last_error is None


def test_failed_test_mail_is_recorded_as_the_senders_error(client, auth, tenant):
    auth.login()
    sender = _create(
        client, host="127.0.0.1", port=str(free_port()), security="none", username="", password=""
    )
    response = post(client, f"/settings/senders/{sender.id}/test-mail", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The test mail could not be sent" in html and "flash--error" in html
    assert reread(SenderAccount, id=sender.id).last_error.startswith("test mail:")


def test_checks_without_htmx_redirect_with_a_message(client, auth, tenant, smtp_server):
    auth.login()
    sender = _create(
        client,
        host="127.0.0.1",
        port=str(smtp_server.port),
        security="none",
        username="",
        password="",
    )
    response = post(client, f"/settings/senders/{sender.id}/test")
    assert response.status_code == 302
    assert "Connection works" in client.get(response.headers["Location"]).get_data(as_text=True)
