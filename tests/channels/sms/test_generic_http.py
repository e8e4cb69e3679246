"""The configurable HTTP provider against a local imitation gateway."""

from __future__ import annotations

import json

import pytest

from tests.channels.sms.fakes import Reply
from webapp.channels.sms.base import SenderConfig, SmsConfigError
from webapp.channels.sms.generic_http import GenericHttpProvider, dig
from webapp.channels.sms.registry import get_provider


def _provider(url: str, **settings):
    config = SenderConfig(
        provider="generic_http",
        credentials="gw-secret",
        sender_id="Acme",
        settings={
            "url": f"{url}/v1/send",
            "auth_header": "Authorization",
            "auth_prefix": "Bearer ",
            "body_template": json.dumps(
                {
                    "recipient": "{to}",
                    "message": {"body": "{text}", "from": "{sender}"},
                    "ref": "{reference}",
                }
            ),
            "success_path": "result.ok",
            "success_values": ["true"],
            "id_path": "result.ids.0",
            "status_url": f"{url}/v1/status/{{id}}",
            "status_path": "state",
            "sent_values": ["DELIVERED", "ENROUTE"],
            "failed_values": ["FAILED"],
            "timeout": 1,
            **settings,
        },
    )
    return get_provider(config)


def test_json_template_escapes_the_text(fake):
    fake.route("POST", "/v1/send", Reply(200, {"result": {"ok": True, "ids": ["g-1"]}}))
    text = 'Er sagte "Hallo" {sender} {to}\nZeile 2 \\ Ende'
    result = _provider(fake.url).send("+491711234567", text, reference="m-9")
    assert (result.state, result.provider_id) == ("sent", "g-1")
    request = fake.requests[0]
    assert request.headers["authorization"] == "Bearer gw-secret"
    body = request.json()
    assert body["recipient"] == "+491711234567"
    assert body["message"]["from"] == "Acme"
    assert body["ref"] == "m-9"
    assert body["message"]["body"] == text  # quotes, backslash and braces arrive unchanged


def test_form_body_and_get_query(fake):
    fake.route("POST", "/v1/send", Reply(202, ""))
    provider = _provider(
        fake.url,
        body_format="form",
        body_template="dest={to}&msg={text}",
        success_path=None,
        id_path=None,
    )
    assert provider.send("+491711234567", "a&b=c ü").state == "sent"
    assert fake.requests[0].form() == {"dest": "+491711234567", "msg": "a&b=c ü"}

    fake.route("GET", "/v1/send", Reply(200, "OK", "text/plain"))
    provider = _provider(
        fake.url, method="GET", body_template="to={to}&text={text}", success_path=None, id_path=None
    )
    assert provider.send("+491711234567", "Hi there").state == "sent"
    assert fake.requests[1].query == {"to": ["+491711234567"], "text": ["Hi there"]}


def test_success_path_mismatch_is_failed(fake):
    fake.route("POST", "/v1/send", Reply(200, {"result": {"ok": False, "error": "no credit"}}))
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert (result.state, result.error_code) == ("failed", "provider_refused")
    assert "no credit" in result.reply


def test_status_codes(fake):
    fake.route("POST", "/v1/send", Reply(403, {"error": "forbidden"}))
    assert _provider(fake.url).send("+491711234567", "x").state == "failed"
    fake.route("POST", "/v1/send", Reply(429, {"error": "slow down"}))
    assert _provider(fake.url).send("+491711234567", "x").state == "failed_temporary"
    fake.route("POST", "/v1/send", Reply(502, "bad gateway", "text/plain"))
    assert _provider(fake.url).send("+491711234567", "x").state == "unknown"


def test_configured_success_status(fake):
    fake.route("POST", "/v1/send", Reply(200, {"result": {"ok": True, "ids": ["x"]}}))
    provider = _provider(fake.url, success_status=[201])
    assert provider.send("+491711234567", "x").state == "failed"


def test_timeout_and_malformed_are_unknown(fake):
    fake.route("POST", "/v1/send", Reply(200, "{not json", "application/json"))
    assert _provider(fake.url).send("+491711234567", "x").error_code == "malformed_reply"
    fake.route("POST", "/v1/send", Reply(200, {"result": {"ok": True}}, delay=3))
    assert _provider(fake.url, timeout=0.3).send("+491711234567", "x").state == "unknown"


def test_status_lookup(fake):
    fake.route("GET", "/v1/status/g-1", Reply(200, {"state": "DELIVERED"}))
    fake.route("GET", "/v1/status/g-2", Reply(200, {"state": "FAILED"}))
    fake.route("GET", "/v1/status/g-3", Reply(200, {"state": "WHO KNOWS"}))
    provider = _provider(fake.url)
    assert provider.has_status_lookup
    assert provider.delivery_state("g-1") == "sent"
    assert provider.delivery_state("g-2") == "failed"
    assert provider.delivery_state("g-3") == "unknown"
    assert provider.delivery_state("missing") == "unknown"
    assert not _provider(fake.url, status_url=None).has_status_lookup


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"url": "ftp://x"}, "url"),
        ({"url": "https://gw.example", "method": "DELETE"}, "method"),
        ({"url": "https://gw.example", "body_template": "{not json"}, "body_template"),
        ({"url": "https://gw.example", "body_template": '{"a": "{text}"}'}, "body_template"),
        ({"url": "https://gw.example", "status_url": "https://gw.example/s"}, "status_url"),
        ({"url": "https://gw.example", "success_status": ["abc"]}, "success_status"),
    ],
)
def test_clean_settings_rejects(settings, field):
    with pytest.raises(SmsConfigError) as exc:
        GenericHttpProvider.clean_settings("secret", None, settings)
    assert exc.value.field == field


def test_dig():
    data = {"a": [{"b": 1}, {"b": 2}]}
    assert dig(data, "a.1.b") == 2
    assert dig(data, "a.5.b") is not None  # the missing marker, not an exception
