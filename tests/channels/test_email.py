"""E-mail building and the SMTP session, against a real aiosmtpd server on loopback."""

from __future__ import annotations

import pytest

from webapp.channels.email import (
    HeaderInjection,
    OutgoingEmail,
    PermanentFailure,
    SmtpSession,
    TemporaryFailure,
    check_headers,
    mail_bytes,
    message_id_for,
)


def _email(**overrides) -> OutgoingEmail:
    values = {
        "message_id": message_id_for(7, 3, "https://status.example.com/app"),
        "from_email": "shop@acme.example",
        "from_name": "Acme Shop",
        "to_email": "kunde@example.org",
        "to_name": "Jörg Müller",
        "subject": "Ihre Bestellung ist unterwegs",
        "text": "Hallo Jörg",
        "html": "<p>Hallo Jörg</p>",
        "bcc": ["archiv@acme.example"],
        "attachments": [("agb.pdf", "application/pdf", b"%PDF-1")],
    }
    values.update(overrides)
    return OutgoingEmail(**values)


def test_message_id_is_stable_and_names_the_host():
    assert message_id_for(7, 3, "https://status.example.com/app") == (
        "<msg-7.3.statuslink@status.example.com>"
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Hi\r\nBcc: victim@example.org"),
        ("to_name", "Eve\nX-Evil: 1"),
        ("from_name", "Shop\r"),
        ("reply_to", "a@example.org\r\nBcc: b@example.org"),
        ("bcc", ["ok@example.org", "x@example.org\nBcc: y@example.org"]),
        ("subject", "Your order\x0bReply-To: attacker@evil.example\x0b\x0bFake body"),
        ("subject", "Your order\x0cReply-To: attacker@evil.example"),
        ("from_name", "Shop\x1cFrom: evil@example.org"),
        ("to_name", "Eve\u2028X-Evil: 1"),
        ("subject", "Hi\x85Bcc: victim@example.org"),
    ],
)
def test_line_breaks_in_any_header_are_refused(app, field, value):
    with pytest.raises(HeaderInjection):
        check_headers(_email(**{field: value}))


def test_mail_has_text_html_attachment_and_the_fixed_message_id(app):
    raw = mail_bytes(_email())
    assert b"Message-ID: <msg-7.3.statuslink@status.example.com>" in raw
    assert b"text/plain" in raw and b"text/html" in raw
    assert b'filename="agb.pdf"' in raw
    assert b"archiv@acme.example" not in raw  # BCC never appears in the headers


def test_session_sends_several_mails_over_one_connection(app, server, sender):
    with SmtpSession(sender, timeout=5) as session:
        first = session.send(_email(message_id="<a@x>"))
        second = session.send(_email(message_id="<b@x>"))
    assert first.code == second.code == 250
    received = server.wait_for(2)
    assert [r.message_id for r in received] == ["<a@x>", "<b@x>"]
    assert received[0].rcpt_tos == ["kunde@example.org", "archiv@acme.example"]
    assert received[0].part("plain").strip() == "Hallo Jörg"


def test_replies_are_classified(app, server, sender):
    with SmtpSession(sender, timeout=5) as session:
        server.mode = "451"
        with pytest.raises(TemporaryFailure) as temporary:
            session.send(_email())
        assert temporary.value.code == 451
        server.mode = "550"
        with pytest.raises(PermanentFailure) as permanent:
            session.send(_email())
        assert permanent.value.code == 550 and "User unknown" in permanent.value.reason
        server.mode = "accept"  # the connection was reset and still works
        assert session.send(_email()).code == 250


def test_unreachable_server_is_a_temporary_failure(app, server, sender):
    server.stop()
    with SmtpSession(sender, timeout=2) as session, pytest.raises(TemporaryFailure) as exc:
        session.send(_email())
    assert exc.value.code is None and "connection" in exc.value.reason


def test_long_html_lines_are_wrapped_and_survive_strict_servers(app, server, sender):
    # SMTP forbids lines over 998 characters; a one-line HTML body of 5,000 characters must
    # still arrive intact (the body is quoted-printable encoded).
    long_html = "<p>" + "Bestellung " * 500 + "</p>"
    raw = mail_bytes(_email(html=long_html, text="x" * 3000)).decode("ascii")
    assert max(len(line) for line in raw.splitlines()) <= 998
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(_email(message_id="<long@x>", html=long_html)).code == 250
    received = server.wait_for(1)
    assert received[0].part("html").strip() == long_html
