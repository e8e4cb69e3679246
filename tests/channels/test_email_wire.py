"""The bytes sent over SMTP are those Flask-Mail's own serialisation (policy.SMTP) produces."""

from __future__ import annotations

import email
from email import policy

import pytest

from webapp.channels.email import OutgoingEmail, build_mail_message, mail_bytes

LONG_SUBJECT = "Ihre Bestellung 302-1234567-1234567 ist unterwegs – Trekkingrucksack Größe M " * 2


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"subject": LONG_SUBJECT, "to_name": "Jörg Müller-Lüdenscheidt von und zu Überlingen"},
        {"html": None, "attachments": []},
        {"attachments": [("Widerrufsbelehrung für Verbraucher.pdf", "application/pdf", b"%PDF")]},
        {"subject": "Plain ASCII subject that is long enough to need folding " * 3},
        {"text": "From the shop:\nFrom here on\n" + "x" * 2000, "bcc": []},
    ],
)
def test_wire_bytes_equal_flask_mails_serialisation(app, overrides):
    values = {
        "message_id": "<msg-1.1.statuslink@status.example.com>",
        "from_email": "shop@acme.example",
        "from_name": "Acme Shop",
        "to_email": "kunde@example.org",
        "to_name": "Erika",
        "subject": "Ihre Bestellung",
        "text": "Hallo Jörg\n",
        "html": "<p>" + "Hallo Jörg " * 200 + "</p>",
        "bcc": ["archiv@acme.example"],
        "reply_to": "service@acme.example",
        "attachments": [("agb.pdf", "application/pdf", b"%PDF-1" * 100)],
    }
    values.update(overrides)
    message = build_mail_message(OutgoingEmail(**values))
    message.date = 1_900_000_000.0
    built = message._message()
    message._message = lambda: built  # type: ignore[method-assign]
    wire = mail_bytes(message)  # sets the boundaries on `built`, which as_bytes then keeps
    expected = built.as_bytes()  # Flask-Mail sets policy.SMTP on the message it builds
    assert wire == expected
    assert all(len(line) <= 998 for line in wire.split(b"\r\n"))
    parsed = email.message_from_bytes(wire, policy=policy.default)
    assert str(parsed["Subject"]) == values["subject"]
    assert b">From" not in wire


def test_every_message_gets_fresh_boundaries(app):
    email_ = OutgoingEmail(
        message_id="<m@x>",
        from_email="shop@acme.example",
        from_name=None,
        to_email="kunde@example.org",
        to_name=None,
        subject="S",
        text="T",
        html="<p>T</p>",
    )
    first = mail_bytes(build_mail_message(email_))
    second = mail_bytes(build_mail_message(email_))
    boundary = email.message_from_bytes(first).get_boundary()
    assert boundary.startswith("=_sl_") and boundary.encode() not in second
