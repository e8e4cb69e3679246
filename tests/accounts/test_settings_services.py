"""Settings services on their own: connection checks with timeouts, audit rows, validation."""

from __future__ import annotations

import socket

import pytest

from webapp.accounts import services as accounts
from webapp.accounts.models import AuditLog
from webapp.extensions import db


def test_connection_check_times_out_on_a_silent_server(app, tenant):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection but never greets
    try:
        sender = accounts.create_smtp_sender_account(
            tenant.account,
            accounts.SmtpSettings(
                name="Silent",
                host="127.0.0.1",
                port=listener.getsockname()[1],
                security="none",
                from_email="x@acme.example",
            ),
            actor="test",
        )
        check = accounts.test_sender_connection(tenant.account.id, sender.id, timeout=0.5)
    finally:
        listener.close()
    assert check.ok is False
    assert check.message == "no answer from the server (timeout)"


def test_connection_check_refuses_other_accounts_sender(app, tenant, other_tenant):
    foreign = other_tenant.webshop.sender_account_id
    with pytest.raises(accounts.NotFound):
        accounts.test_sender_connection(tenant.account.id, foreign)


def _settings(**overrides) -> accounts.AccountSettings:
    values = {
        "name": "Acme GmbH",
        "service_enabled": True,
        "default_channel": "email",
        "default_language": "de",
        "timezone": "Europe/Berlin",
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "business_days": [0, 1, 2, 3, 4],
        "status_link_days": None,
        "merchant_email": None,
    }
    values.update(overrides)
    return accounts.AccountSettings(**values)


def test_saving_unchanged_account_settings_writes_no_audit_row(app, tenant):
    before = db.session.query(AuditLog).count()
    accounts.update_account_settings(tenant.account.id, _settings(), actor="t")
    assert db.session.query(AuditLog).count() == before
    with pytest.raises(accounts.ValidationError, match="set both start and end"):
        accounts.update_account_settings(
            tenant.account.id, _settings(quiet_hours_start=""), actor="t"
        )
    assert db.session.query(AuditLog).count() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Not/AZone"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"business_days": [9]}, "business_days"),
        ({"status_link_days": 0}, "status_link_days"),
        ({"default_channel": "pigeon"}, "default_channel"),
    ],
)
def test_account_settings_validation(app, tenant, overrides, field):
    with pytest.raises(accounts.ValidationError) as info:
        accounts.update_account_settings(tenant.account.id, _settings(**overrides), actor="t")
    assert info.value.field == field
