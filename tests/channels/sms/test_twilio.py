"""The Twilio adapter against a local server imitating the Twilio Messages API."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from tests.channels.sms.fakes import Reply
from tests.support.services import free_port
from webapp.channels.sms.base import SenderConfig
from webapp.channels.sms.registry import get_provider

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-xyz"
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"
MESSAGE_SID = "SM" + "f" * 32


def _provider(url: str, **settings):
    config = SenderConfig(
        provider="twilio",
        credentials=TOKEN,
        sender_id="+15005550006",
        settings={"account_sid": SID, "base_url": url, "timeout": 1, **settings},
    )
    return get_provider(config)


def _error(status: int, code: int, message: str) -> Reply:
    return Reply(
        status,
        {"code": code, "message": message, "more_info": f"https://x/{code}", "status": status},
    )


def _created(request):
    form = request.form()
    return Reply(
        201,
        {
            "sid": MESSAGE_SID,
            "status": "queued",
            "to": form["To"],
            "from": form.get("From"),
            "body": form["Body"],
            "error_code": None,
            "error_message": None,
        },
    )


def test_send_posts_form_with_basic_auth(fake):
    fake.route("POST", MESSAGES, _created)
    provider = _provider(fake.url, status_callback="https://shop.example/sms-status")
    result = provider.send("+491711234567", "Grüße 📦")
    assert (result.state, result.provider_id) == ("sent", MESSAGE_SID)
    request = fake.requests[0]
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.form() == {
        "To": "+491711234567",
        "Body": "Grüße 📦",
        "From": "+15005550006",
        "StatusCallback": "https://shop.example/sms-status",
    }


def test_api_key_and_messaging_service(fake):
    fake.route("POST", MESSAGES, _created)
    key_sid = "SK" + "1" * 32
    config = SenderConfig(
        provider="twilio",
        credentials="key-secret",
        sender_id=None,
        settings={
            "account_sid": SID,
            "api_key_sid": key_sid,
            "messaging_service_sid": "MG" + "2" * 32,
            "base_url": fake.url,
        },
    )
    assert get_provider(config).send("+491711234567", "Hi").state == "sent"
    request = fake.requests[0]
    expected = base64.b64encode(f"{key_sid}:key-secret".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.form()["MessagingServiceSid"] == "MG" + "2" * 32
    assert "From" not in request.form()


@pytest.mark.parametrize(
    ("reply", "state", "error_code", "text"),
    [
        (_error(401, 20003, "Authenticate"), "failed", "auth_failed", "Authenticate"),
        (
            _error(400, 21211, "The 'To' number +4912 is not a valid phone number."),
            "failed",
            "invalid_number",
            "not a valid phone number",
        ),
        (
            _error(400, 21610, "Attempt to send to unsubscribed recipient"),
            "failed",
            "recipient_unsubscribed",
            "unsubscribed",
        ),
        (_error(429, 20429, "Too Many Requests"), "failed_temporary", "rate_limited", "Too Many"),
        (_error(400, 30044, "Something else"), "failed", "30044", "Something else"),
    ],
)
def test_error_answers(fake, reply, state, error_code, text):
    fake.route("POST", MESSAGES, reply)
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert (result.state, result.error_code) == (state, error_code)
    assert text in result.reply


def test_created_but_already_failed(fake):
    fake.route(
        "POST",
        MESSAGES,
        Reply(
            201,
            {
                "sid": MESSAGE_SID,
                "status": "failed",
                "error_code": 30007,
                "error_message": "Carrier violation",
            },
        ),
    )
    result = _provider(fake.url).send("+491711234567", "Hallo")
    assert (result.state, result.provider_id, result.error_code) == ("failed", MESSAGE_SID, "30007")


def test_server_error_is_unknown(fake):
    fake.route("POST", MESSAGES, Reply(503, {"code": 20500, "message": "Internal"}))
    assert _provider(fake.url).send("+491711234567", "Hallo").state == "unknown"


def test_timeout_is_unknown(fake):
    fake.route("POST", MESSAGES, Reply(201, {"sid": MESSAGE_SID, "status": "queued"}, delay=3))
    result = _provider(fake.url, timeout=0.3).send("+491711234567", "Hallo")
    assert result.state == "unknown"


def test_malformed_json_is_unknown(fake):
    fake.route("POST", MESSAGES, Reply(201, "<html>oops</html>", "text/html"))
    assert _provider(fake.url).send("+491711234567", "Hallo").state == "unknown"


def test_connection_refused_is_temporary():
    result = _provider(f"http://127.0.0.1:{free_port()}").send("+491711234567", "Hallo")
    assert result.state == "failed_temporary"
    assert TOKEN not in result.reply


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("delivered", "sent"),
        ("sent", "sent"),
        ("queued", "sent"),
        ("undelivered", "failed"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("receiving", "unknown"),
    ],
)
def test_status_lookup(fake, status, expected):
    path = f"/2010-04-01/Accounts/{SID}/Messages/{MESSAGE_SID}.json"
    fake.route("GET", path, Reply(200, {"sid": MESSAGE_SID, "status": status}))
    assert _provider(fake.url).delivery_state(MESSAGE_SID) == expected
    assert fake.requests[0].headers["authorization"].startswith("Basic ")


def test_status_lookup_of_unknown_sid_stays_unknown(fake):
    assert _provider(fake.url).delivery_state(MESSAGE_SID) == "unknown"


def test_find_sent_without_id_matches_recipient_and_body(fake):
    listing = {
        "messages": [
            {"sid": "SM1", "to": "+491711234567", "body": "Other text", "status": "delivered"},
            {"sid": "SM2", "to": "+491711234567", "body": "Hallo", "status": "sent"},
        ]
    }
    fake.route("GET", MESSAGES, Reply(200, listing))
    since = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    provider = _provider(fake.url)
    assert provider.find_sent("+491711234567", "Hallo", since) == "sent"
    assert fake.requests[0].query["To"] == ["+491711234567"]
    assert fake.requests[0].query["DateSent>"] == ["2024-05-01"]
    assert provider.find_sent("+491711234567", "Not there", since) == "unknown"
