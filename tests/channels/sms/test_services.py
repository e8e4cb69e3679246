"""SMS services: sender accounts, send_sms and reconcile through the stored configuration."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.channels.sms.fakes import Reply
from webapp.accounts.models import AuditLog, SenderAccount
from webapp.accounts.services import ValidationError
from webapp.channels.sms.services import (
    create_sms_sender_account,
    reconcile,
    send_sms,
    sms_sender_config,
    supports_reconciliation,
    validate_sender_id,
)
from webapp.crypto import decrypt_secret
from webapp.extensions import db

API_KEY = "seven-secret-api-key"
TWILIO_SID = "AC" + "a" * 32


def _seven(tenant, **settings):
    return create_sms_sender_account(
        tenant.account, "seven SMS", "seven", API_KEY, "AcmeShop", settings
    )


def test_create_stores_credentials_encrypted(tenant):
    sender = _seven(tenant, public_ip="203.0.113.7")
    db.session.expire_all()
    row = db.session.get(SenderAccount, sender.id)
    assert row.channel == "sms"
    assert row.provider == "seven"
    assert row.sender_id == "AcmeShop"
    assert row.provider_settings == {"public_ip": "203.0.113.7"}
    assert API_KEY not in row.secret_encrypted
    assert decrypt_secret(row.secret_encrypted) == API_KEY
    audit = db.session.execute(
        select(AuditLog).filter_by(
            account_id=tenant.account.id, action="sender.create", target="seven SMS"
        )
    ).scalar_one()
    assert API_KEY not in str(audit.details)


@pytest.mark.parametrize(
    ("provider", "credentials", "sender_id", "settings", "field"),
    [
        ("carrier-pigeon", "x", "Acme", {}, "provider"),
        ("seven", "", "Acme", {}, "credentials"),
        ("seven", "key", "AcmeShopGmbH", {}, "sender_id"),  # 12 characters
        ("seven", "key", "Acme!", {}, "sender_id"),
        ("seven", "key", "Acme", {"public_ip": "not-an-ip"}, "public_ip"),
        ("twilio", "token", "+15005550006", {"account_sid": "AC123"}, "account_sid"),
        ("twilio", "token", None, {"account_sid": TWILIO_SID}, "sender_id"),
        ("twilio", "", "+15005550006", {"account_sid": TWILIO_SID}, "credentials"),
        ("generic_http", "", None, {"url": "gopher://x"}, "url"),
        ("seven", "key", "Acme", {"base_url": "file:///etc"}, "base_url"),
    ],
)
def test_create_validates_per_provider(tenant, provider, credentials, sender_id, settings, field):
    with pytest.raises(ValidationError) as exc:
        create_sms_sender_account(tenant.account, "SMS", provider, credentials, sender_id, settings)
    assert exc.value.field == field
    count = db.session.execute(
        select(SenderAccount).filter_by(account_id=tenant.account.id, channel="sms")
    ).all()
    assert count == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme", "Acme"),
        ("AcmeShop123", "AcmeShop123"),
        ("+49 171 1234567", "+491711234567"),
        ("4917112345678", "4917112345678"),
        ("", None),
        (None, None),
    ],
)
def test_sender_id_rules(raw, expected):
    assert validate_sender_id(raw) == expected


def test_sender_id_all_digits_too_long_is_refused():
    with pytest.raises(ValidationError):
        validate_sender_id("12345678901234567")


def test_sender_config_decrypts_and_send_reconcile_through_it(tenant, fake, caplog):
    sender = _seven(tenant, base_url=f"{fake.url}/api")
    config = sms_sender_config(sender)
    assert config == {
        "provider": "seven",
        "credentials": API_KEY,
        "sender_id": "AcmeShop",
        "settings": {"base_url": f"{fake.url}/api"},
    }
    fake.route(
        "POST",
        "/api/sms",
        Reply(200, {"success": "100", "messages": [{"id": "991", "success": True}]}),
    )
    fake.route("GET", "/api/status", Reply(200, [{"id": "991", "status": "DELIVERED"}]))
    with caplog.at_level(logging.DEBUG):
        result = send_sms(config, "0171 1234567", "Ihr Paket ist da", reference="42")
        state = reconcile(config, result.provider_id)
    assert (result.state, result.provider_id) == ("sent", "991")
    assert fake.requests[0].json()["to"] == "+491711234567"
    assert state == "sent"
    assert supports_reconciliation(config)
    assert API_KEY not in caplog.text
    assert "+491711234567" not in caplog.text  # numbers are masked in the log


def test_app_config_points_a_provider_at_a_local_server(app, tenant, fake):
    sender = _seven(tenant)
    app.config["SMS_PROVIDER_BASE_URLS"] = {"seven": f"{fake.url}/api"}
    fake.route("POST", "/api/sms", Reply(200, {"success": "500"}))
    result = send_sms(sms_sender_config(sender), "+491711234567", "Hallo")
    assert (result.state, result.error_code) == ("failed", "insufficient_balance")
    assert len(fake.requests) == 1


def test_invalid_number_fails_without_calling_the_provider(tenant, fake):
    sender = _seven(tenant, base_url=f"{fake.url}/api")
    result = send_sms(sms_sender_config(sender), "12", "Hallo")
    assert (result.state, result.error_code) == ("failed", "invalid_number")
    assert "not a" in result.reply
    assert fake.requests == []


def test_default_region_setting_is_used(tenant, fake):
    sender = _seven(tenant, base_url=f"{fake.url}/api", default_region="FR")
    fake.route("POST", "/api/sms", Reply(200, {"success": "100"}))
    assert send_sms(sms_sender_config(sender), "06 12 34 56 78", "Bonjour").state == "sent"
    assert fake.requests[0].json()["to"] == "+33612345678"


def test_unknown_then_reconciled_twilio_without_id(tenant, fake):
    sender = create_sms_sender_account(
        tenant.account,
        "Twilio",
        "twilio",
        "tok",
        "+15005550006",
        {"account_sid": TWILIO_SID, "base_url": fake.url, "timeout": 1},
    )
    config = sms_sender_config(sender)
    messages = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    fake.route("POST", messages, Reply(500, {"code": 20500, "message": "Internal Server Error"}))
    result = send_sms(config, "+491711234567", "Abholbereit")
    assert result.state == "unknown"
    fake.route(
        "GET",
        messages,
        Reply(200, {"messages": [{"sid": "SM9", "body": "Abholbereit", "status": "sent"}]}),
    )
    since = datetime(2024, 5, 1, tzinfo=UTC)
    assert reconcile(config, None, to="+491711234567", text="Abholbereit", since=since) == "sent"
    assert reconcile(config, None) == "unknown"
    assert len([r for r in fake.requests if r.method == "POST"]) == 1


def test_log_provider_account_needs_no_credentials(tenant, tmp_path):
    sender = create_sms_sender_account(
        tenant.account, "Dev", "log", "", None, {"path": str(tmp_path / "sms.log")}
    )
    assert sender.secret_encrypted is None
    result = send_sms(sms_sender_config(sender), "+491711234567", "Test")
    assert result.state == "sent"
    assert "+491711234567" in (tmp_path / "sms.log").read_text()


def test_email_sender_is_not_an_sms_config(tenant):
    email_sender = (
        db.session.execute(
            select(SenderAccount).filter_by(account_id=tenant.account.id, channel="email")
        )
        .scalars()
        .first()
    )
    with pytest.raises(ValueError, match="not an SMS account"):
        sms_sender_config(email_sender)


def test_broken_config_is_a_failed_result():
    result = send_sms({"provider": "nope"}, "+491711234567", "x")
    assert (result.state, result.error_code) == ("failed", "configuration")
    assert send_sms({}, "+491711234567", "x").state == "failed"
