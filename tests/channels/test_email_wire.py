"""The bytes sent over SMTP: what the `email` package (and so any mail client) reads back
from them is exactly what was meant to be sent."""

from __future__ import annotations

import email
import random
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr

import pytest

from webapp.channels.email import HeaderInjection, OutgoingEmail, mail_bytes
from webapp.channels.mime import build_mime, quoted_printable

LONG_SUBJECT = "Ihre Bestellung 302-1234567-1234567 ist unterwegs – Trekkingrucksack Größe M " * 2

BASE = {
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


def _parse(wire: bytes) -> EmailMessage:
    return email.message_from_bytes(wire, policy=policy.default)  # type: ignore[return-value]


def _name(wire: bytes, header: str) -> str:
    """The display name in `header` decoded as RFC 2047 says: white space between adjacent
    encoded words is dropped. (policy.default's address parser keeps it, also for what
    policy.SMTP itself writes, so it cannot judge names split into several words.)"""
    raw = email.message_from_bytes(wire)[header]
    name, _ = parseaddr(raw)
    return str(make_header(decode_header(name)))


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_wire(wire: bytes) -> None:
    assert wire.isascii()  # 7-bit: any server takes it, no 8BITMIME needed
    lines = wire.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)  # CRLF only
    assert all(len(line) <= 998 for line in lines)  # RFC 5321
    head = wire.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"subject": LONG_SUBJECT, "to_name": "Jörg Müller-Lüdenscheidt von und zu Überlingen"},
        {"html": None, "attachments": []},
        {"html": None},
        {"attachments": [("Widerrufsbelehrung für Verbraucher.pdf", "application/pdf", b"%PDF")]},
        {"subject": "Plain ASCII subject that is long enough to need folding " * 3},
        {"text": "From the shop:\nFrom here on\n.\n" + "x" * 2000, "bcc": []},
        {"from_name": "Buchhandlung Müller, Inh. J. Müller", "to_name": 'Erika "Eri" Mustermann'},
        {"from_name": "Acme, Inc.", "to_name": None, "reply_to": None},
        {"to_email": "kunde@bücher.example", "text": "tab\there \nCRLF\r\nend =3D"},
        {"attachments": [('a "quoted" name.txt', "text/plain", b"one\r\ntwo")] * 2},
    ],
)
def test_what_a_mail_client_reads_is_what_was_sent(app, overrides):
    values = {**BASE, **overrides}
    wire = mail_bytes(OutgoingEmail(**values))
    _check_wire(wire)
    parsed = _parse(wire)

    assert str(parsed["Subject"]) == values["subject"]
    assert parsed["Message-ID"] == values["message_id"]
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Date"].datetime is not None
    (sender,) = parsed["From"].addresses
    assert sender.addr_spec == values["from_email"]
    assert _name(wire, "From") == values["from_name"]
    (recipient,) = parsed["To"].addresses
    assert _name(wire, "To") == (values["to_name"] or "")
    if values["to_email"].isascii():
        assert recipient.addr_spec == values["to_email"]
    else:  # the domain in its IDNA form
        assert recipient.addr_spec == "kunde@xn--bcher-kva.example"
    if values["reply_to"]:
        assert parsed["Reply-To"].addresses[0].addr_spec == values["reply_to"]
    else:
        assert parsed["Reply-To"] is None
    assert parsed["Bcc"] is None and b"archiv@acme.example" not in wire

    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and _newlines(body.get_content()) == _newlines(values["text"])
    html = parsed.get_body(preferencelist=("html",))
    if values["html"]:
        assert html is not None and _newlines(html.get_content()) == values["html"]
    else:
        assert html is None
    attached = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in parsed.iter_attachments()
    ]
    assert attached == list(values["attachments"])
    expected_type = (
        "multipart/mixed"
        if values["attachments"]
        else "multipart/alternative"
        if values["html"]
        else "text/plain"
    )
    assert parsed.get_content_type() == expected_type


def test_every_message_gets_fresh_boundaries(app):
    email_ = OutgoingEmail(**{**BASE, "attachments": []})
    first = mail_bytes(email_)
    second = mail_bytes(email_)
    boundary = email.message_from_bytes(first).get_boundary()
    assert boundary.startswith("=_sl_") and boundary.encode() not in second


def test_header_injection_is_refused_before_anything_is_built(app):
    with pytest.raises(HeaderInjection):
        mail_bytes(OutgoingEmail(**{**BASE, "subject": "Hi\r\nBcc: victim@example.org"}))


# Characters that have tripped e-mail encoders: quoting and address specials, encoded-word
# look-alikes, QP's own "=", dots and "From " at line starts, tabs and trailing spaces, and
# characters of two to four UTF-8 bytes (which must never be cut inside an encoded word).
ALPHABET = list("aZ09 ,.;:<>@()[]\"\\'=?_-\t") + list("äöüßéøłçñåž–€✓中文") + ["😀", "𝄞"]


def _random_text(rng: random.Random, length: int, *, lines: bool) -> str:
    chars = ALPHABET + (["\n", "\n.\n", "\nFrom ", " \n", "\r\n"] if lines else [])
    return "".join(rng.choice(chars) for _ in range(length))


def test_random_names_subjects_and_bodies_survive_the_round_trip():
    rng = random.Random(20261130)
    for _ in range(300):
        name = _random_text(rng, rng.randint(1, 120), lines=False).strip() or "x"
        subject = _random_text(rng, rng.randint(0, 300), lines=False)
        text = _random_text(rng, rng.randint(0, 3000), lines=True)
        html = "<p>" + _random_text(rng, rng.randint(0, 3000), lines=True) + "</p>"
        wire = build_mime(
            message_id="<m@x>",
            from_email="shop@acme.example",
            from_name=name,
            to_email="kunde@example.org",
            to_name=name,
            subject=subject,
            text=text,
            html=html,
        )
        assert wire.isascii()
        assert all(len(line) <= 998 for line in wire.split(b"\r\n"))
        parsed = _parse(wire)
        assert _name(wire, "From") == _name(wire, "To") == name
        assert parsed["From"].addresses[0].addr_spec == "shop@acme.example"
        # Unfolding may only ever touch white space that the folding put in a line break.
        assert " ".join(str(parsed["Subject"]).split()) == " ".join(subject.split())
        body = parsed.get_body(preferencelist=("plain",))
        assert _newlines(body.get_content()) == _newlines(text)
        assert _newlines(parsed.get_body(preferencelist=("html",)).get_content()) == (
            _newlines(html)
        )


def test_quoted_printable_wraps_long_lines_and_protects_trailing_space():
    encoded = quoted_printable("x" * 500 + " \nnext\t\n")
    lines = encoded.split(b"\r\n")
    assert max(len(line) for line in lines) <= 76
    assert all(line.endswith(b"=") for line in lines[:6])  # soft line breaks
    assert b"x=20\r\n" in encoded and b"next=09\r\n" in encoded
