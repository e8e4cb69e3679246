"""SMS gateways may not reach loopback, private or metadata addresses; the auth header is fixed."""

from __future__ import annotations

import socket

import pytest

from tests.channels.sms.fakes import Reply
from webapp import netpolicy
from webapp.accounts.services import ValidationError
from webapp.channels.sms.base import REPLY_LIMIT, SenderConfig, SmsConfigError
from webapp.channels.sms.generic_http import GenericHttpProvider
from webapp.channels.sms.registry import get_provider
from webapp.channels.sms.services import create_sms_sender_account
from webapp.config import build_config


@pytest.fixture()
def strict(app):
    """The production policy: only public addresses."""
    app.config["ALLOW_PRIVATE_NETWORK_TARGETS"] = False
    return app


def _generic(url: str, **settings):
    return get_provider(
        SenderConfig(
            provider="generic_http",
            credentials="gw-secret",
            sender_id="Acme",
            settings={"url": url, "auth_header": "Authorization", "timeout": 1, **settings},
        )
    )


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "169.254.169.254", "10.1.2.3", "192.168.0.1", "0.0.0.0"],
)
def test_generic_http_refuses_local_and_private_targets(strict, fake, host):
    port = fake.url.rsplit(":", 1)[1]
    fake.route("POST", "/send", Reply(200, {"ok": True}))
    result = _generic(f"http://{host}:{port}/send").send("+491711234567", "Hallo")
    assert result.state == "failed"
    assert result.error_code == "target_refused"
    assert "not allowed" in result.reply
    assert fake.requests == []


def test_seven_and_twilio_base_url_overrides_are_checked_too(strict, fake):
    fake.route("POST", "/api/sms", Reply(200, {"success": "100"}))
    seven = get_provider(
        SenderConfig(
            provider="seven",
            credentials="k",
            sender_id="Acme",
            settings={"base_url": f"{fake.url}/api", "timeout": 1},
        )
    )
    assert seven.send("+491711234567", "Hallo").error_code == "target_refused"
    twilio = get_provider(
        SenderConfig(
            provider="twilio",
            credentials="secret",
            sender_id="+15005550006",
            settings={
                "account_sid": "AC" + "0" * 32,
                "base_url": "http://169.254.169.254",
                "timeout": 1,
            },
        )
    )
    result = twilio.send("+491711234567", "Hallo")
    assert (result.state, result.error_code) == ("failed", "target_refused")
    assert fake.requests == []


def test_private_targets_allowed_in_the_test_config(app, fake):
    assert app.config["ALLOW_PRIVATE_NETWORK_TARGETS"] is True
    fake.route("POST", "/send", Reply(200, {"ok": True}))
    assert _generic(f"{fake.url}/send").send("+491711234567", "Hallo").state == "sent"
    assert len(fake.requests) == 1


def test_connection_goes_to_the_checked_address_without_a_second_lookup(app, fake, monkeypatch):
    """The host is resolved once; a rebinding DNS answer on a second lookup is never used."""
    port = int(fake.url.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, *args, **kwargs):
        if host == "gateway.example.test":
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "192.0.2.1"
            return real(address, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    fake.route("POST", "/send", Reply(200, {"ok": True}))
    result = _generic(f"http://gateway.example.test:{port}/send").send("+491711234567", "Hi")
    assert result.state == "sent"
    assert lookups == ["gateway.example.test"]
    assert fake.requests[0].headers["host"] == f"gateway.example.test:{port}"


def test_a_host_with_any_private_address_is_refused(strict, monkeypatch):
    real = socket.getaddrinfo

    def mixed(host, port, *args, **kwargs):
        if host == "mixed.example.test":
            return real("8.8.8.8", port, *args, **kwargs) + real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    with pytest.raises(netpolicy.TargetRefused):
        netpolicy.check_target("mixed.example.test", 443)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("not-an-ip", False),
    ],
)
def test_address_classification(address, public):
    assert netpolicy.is_public_address(address) is public


@pytest.mark.parametrize(
    "header",
    ["Host", "Metadata-Flavor", "Metadata", "X-Forwarded-For", "X-Forwarded-Host", "Cookie"],
)
def test_auth_header_outside_the_safe_list_is_refused(header):
    with pytest.raises(SmsConfigError) as info:
        GenericHttpProvider.clean_settings(
            "secret", "Acme", {"url": "https://sms.example.com/send", "auth_header": header}
        )
    assert info.value.field == "auth_header"


@pytest.mark.parametrize(
    "header", ["Authorization", "X-Api-Key", "X-API-Key", "Api-Key", "X-Auth-Token"]
)
def test_safe_auth_headers_are_accepted(header):
    cleaned = GenericHttpProvider.clean_settings(
        "secret", "Acme", {"url": "https://sms.example.com/send", "auth_header": header}
    )
    assert cleaned["auth_header"] == header


def test_a_stored_unsafe_auth_header_is_not_sent(app, fake):
    fake.route("POST", "/send", Reply(200, {"ok": True}))
    result = _generic(f"{fake.url}/send", auth_header="Host").send("+491711234567", "Hallo")
    assert (result.state, result.error_code) == ("failed", "configuration")
    assert fake.requests == []


def test_sender_account_with_unsafe_header_is_a_validation_error(app, tenant):
    with pytest.raises(ValidationError) as info:
        create_sms_sender_account(
            tenant.account,
            "Gateway",
            "generic_http",
            "secret",
            "Acme",
            {"url": "https://sms.example.com/send", "auth_header": "X-Forwarded-For"},
        )
    assert info.value.field == "auth_header"


def test_long_provider_answers_are_cut_short(app, fake):
    fake.route("POST", "/send", Reply(400, "E" * 5000, content_type="text/plain"))
    result = _generic(f"{fake.url}/send").send("+491711234567", "Hallo")
    assert result.state == "failed"
    assert result.reply.startswith("HTTP 400: EEE")
    assert len(result.reply) <= REPLY_LIMIT <= 200


def test_policy_defaults_per_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ALLOW_PRIVATE_NETWORK_TARGETS", raising=False)
    production = build_config(str(tmp_path), {"ENV_NAME": "production", "SECRET_KEY": "x" * 32})
    development = build_config(str(tmp_path), {"ENV_NAME": "development", "SECRET_KEY": "x"})
    testing = build_config(str(tmp_path), {"ENV_NAME": "testing"})
    assert production["ALLOW_PRIVATE_NETWORK_TARGETS"] is False
    assert development["ALLOW_PRIVATE_NETWORK_TARGETS"] is True
    assert testing["ALLOW_PRIVATE_NETWORK_TARGETS"] is True
    monkeypatch.setenv("ALLOW_PRIVATE_NETWORK_TARGETS", "1")
    opted_in = build_config(str(tmp_path), {"ENV_NAME": "production", "SECRET_KEY": "x" * 32})
    assert opted_in["ALLOW_PRIVATE_NETWORK_TARGETS"] is True
