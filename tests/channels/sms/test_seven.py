"""The seven.io adapter against a local server imitating the seven.io gateway."""

from __future__ import annotations

import pytest

from tests.channels.sms.fakes import Reply
from tests.support.services import free_port
from webapp.channels.sms.base import SenderConfig
from webapp.channels.sms.registry import get_provider

API_KEY = "seven-test-key-123"


def _provider(fake_url: str, **settings):
    config = SenderConfig(
        provider="seven",
        credentials=API_KEY,
        sender_id="AcmeShop",
        settings={"base_url": f"{fake_url}/api", "timeout": 1, **settings},
    )
    return get_provider(config)


def _accepted(request):
    body = request.json()
    return Reply(
        200,
        {
            "success": "100",
            "total_price": 0.075,
            "balance": 12.5,
            "sms_type": "direct",
            "messages": [
                {
                    "id": "77229135982",
                    "sender": body.get("from"),
                    "recipient": body["to"].lstrip("+"),
                    "text": body["text"],
                    "encoding": "gsm",
                    "parts": 1,
                    "success": True,
                    "error": None,
                    "error_text": None,
                }
            ],
        },
    )


def test_send_posts_json_with_api_key_and_returns_the_message_id(fake):
    fake.route("POST", "/api/sms", _accepted)
    result = _provider(fake.url).send("+491711234567", "Ihr Paket ist da", reference="msg-7")
    assert result.state == "sent"
    assert result.provider_id == "77229135982"
    request = fake.requests[0]
    assert request.headers["x-api-key"] == API_KEY
    assert request.json() == {
        "to": "+491711234567",
        "text": "Ihr Paket ist da",
        "from": "AcmeShop",
        "foreign_id": "msg-7",
    }


@pytest.mark.parametrize(
    ("code", "state", "error_code", "reason"),
    [
        ("900", "failed", "auth_failed", "authentication failed"),
        ("202", "failed", "invalid_number", "recipient number is invalid"),
        ("500", "failed", "insufficient_balance", "insufficient balance"),
        ("201", "failed", "201", "sender id is invalid"),
        ("403", "failed_temporary", "403", "daily limit"),
    ],
)
def test_return_codes(fake, code, state, error_code, reason):
    fake.route("POST", "/api/sms", Reply(200, {"success": code, "messages": []}))
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert (result.state, result.error_code) == (state, error_code)
    assert reason in result.reply
    assert result.provider_id is None
    assert not result.retryable or state == "failed_temporary"


def test_plain_text_return_code_is_understood(fake):
    fake.route("POST", "/api/sms", Reply(200, "900", content_type="text/plain"))
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert result.state == "failed"
    assert result.error_code == "auth_failed"


def test_wrong_ip_names_the_public_ip_to_allow(fake):
    fake.route("POST", "/api/sms", Reply(200, {"success": "903"}))
    result = _provider(fake.url, public_ip="203.0.113.7").send("+491711234567", "Hallo")
    assert result.state == "failed"
    assert "203.0.113.7" in result.reply


def test_http_401_is_an_authentication_failure(fake):
    fake.route("POST", "/api/sms", Reply(401, {"error": "Unauthorized"}))
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert (result.state, result.error_code) == ("failed", "auth_failed")


def test_server_error_is_unknown_not_failed(fake):
    fake.route("POST", "/api/sms", Reply(500, "Internal Server Error", content_type="text/html"))
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert result.state == "unknown"
    assert result.error_code == "http_500"
    assert not result.retryable


def test_slow_answer_is_unknown(fake):
    fake.route("POST", "/api/sms", Reply(200, {"success": "100"}, delay=3))
    result = _provider(fake.url, timeout=0.3).send("+491711234567", "Hallo")
    assert result.state == "unknown"
    assert "timed out" in result.reply
    assert len(fake.requests) == 1


def test_dropped_connection_after_sending_is_unknown(fake):
    fake.route("POST", "/api/sms", Reply(drop=True))
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert result.state == "unknown"


def test_malformed_json_is_unknown(fake):
    fake.route("POST", "/api/sms", Reply(200, '{"success": "100", "messages": [', "text/plain"))
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert (result.state, result.error_code) == ("unknown", "malformed_reply")


def test_connection_refused_is_a_temporary_failure():
    provider = _provider(f"http://127.0.0.1:{free_port()}")
    result = provider.send("+491711234567", "Hallo")
    assert result.state == "failed_temporary"
    assert result.retryable
    assert API_KEY not in result.reply


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("DELIVERED", "sent"),
        ("TRANSMITTED", "sent"),
        ("BUFFERED", "sent"),
        ("NOTDELIVERED", "failed"),
        ("REJECTED", "failed"),
        ("EXPIRED", "failed"),
        ("UNKNOWN", "unknown"),
    ],
)
def test_status_lookup(fake, status, expected):
    fake.route(
        "GET",
        "/api/status",
        lambda r: Reply(200, [{"id": r.query["msg_id"][0], "status": status, "status_time": "x"}]),
    )
    provider = _provider(fake.url)
    assert provider.has_status_lookup
    assert provider.delivery_state("77229135982") == expected
    assert fake.requests[0].query == {"msg_id": ["77229135982"]}
    assert fake.requests[0].headers["x-api-key"] == API_KEY


def test_status_lookup_plain_text_answer(fake):
    fake.route("GET", "/api/status", Reply(200, "DELIVERED\n2024-05-01 10:00:00.000", "text/plain"))
    assert _provider(fake.url).delivery_state("1") == "sent"


def test_status_lookup_server_error_stays_unknown(fake):
    fake.route("GET", "/api/status", Reply(503, "busy", "text/plain"))
    assert _provider(fake.url).delivery_state("1") == "unknown"
