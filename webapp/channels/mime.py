"""The bytes of an outgoing e-mail, written directly rather than through `email.message`.

Every e-mail Statuslink sends has the same shape: a text part, an HTML part when there is
one, and attachments; UTF-8 bodies in quoted-printable, attachments in base64. Writing that
shape directly costs a small fraction of building `email.message` objects and serialising
them with the `email` package's generator and policies, which was about a quarter of a
worker's CPU per message. The encoders are the standard library's (`binascii` and `base64`
for the bodies and RFC 2047 words, `email.utils` for quoted names, RFC 2231 file names and
the date); `tests/channels/test_email_wire.py` parses what is written here with the `email`
package and compares every header and part.

Header values must already have passed `check_headers` (no line breaks or control characters).
"""

from __future__ import annotations

import base64
import binascii
import random
from collections.abc import Iterable
from email.utils import encode_rfc2231, formataddr, formatdate

import idna

CRLF = "\r\n"
# RFC 5322 recommends header lines of at most 78 characters (998 is the hard limit).
HEADER_WIDTH = 78


def _fold_ascii(name: str, value: str) -> str:
    """`Name: value` folded at spaces so that lines stay within HEADER_WIDTH where possible."""
    line = f"{name}: {value}"
    if len(line) <= HEADER_WIDTH:
        return line + CRLF
    lines: list[str] = []
    while len(line) > HEADER_WIDTH:
        cut = line.rfind(" ", len(name) + 2, HEADER_WIDTH + 1)
        if cut <= len(name) + 2:  # no space to fold at early enough: take the next one
            cut = line.find(" ", HEADER_WIDTH + 1)
            if cut == -1:
                break
        if not line[cut:].strip():  # only white space left: no line of white space alone
            break
        lines.append(line[:cut])
        line = line[cut:]  # the space starts the continuation line (folding white space)
    lines.append(line)
    return CRLF.join(lines) + CRLF


# UTF-8 bytes per encoded word: 39 bytes are 52 base64 characters, 64 with "=?utf-8?b?" and
# "?=", so that even "Subject: " and one word fit in a line of 78 (RFC 2047 allows 75).
_WORD_BYTES = 39


def _encoded_words(value: str) -> str:
    """A non-ASCII value as RFC 2047 encoded words (base64), separated by spaces where the
    header may be folded; a decoder joins adjacent encoded words without that white space.

    Words are cut between characters, never inside one, and after a space of the value where
    there is one: a client that wrongly keeps the white space between two words then shows
    a double space rather than a space inside a word.
    """
    words = []
    chunk = bytearray()
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            space = chunk.rfind(b" ") + 1
            if space <= 0:
                space = len(chunk)
            words.append(chunk[:space])
            chunk = chunk[space:]
        chunk += encoded
    words.append(chunk)
    return " ".join(f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words)


def _unstructured(name: str, value: str) -> str:
    return _fold_ascii(name, value if value.isascii() else _encoded_words(value))


def ascii_address(address: str) -> str:
    """The address with an internationalised domain in its ASCII form (IDNA 2008 with UTS 46
    mapping, as email-validator checks it: `straße.de` is `xn--strae-oqa.de`, not the other
    domain `strasse.de` of Python's IDNA 2003 codec); unchanged when it has none."""
    if address.isascii() or "@" not in address:
        return address
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except (idna.IDNAError, UnicodeError):
        return address


def _mailbox(name: str | None, address: str) -> str:
    """`Name <address>`: an ASCII name quoted where it needs to be (commas, dots, quotes),
    any other name as encoded words (which may hold any character)."""
    address = ascii_address(address)
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    return f"{_encoded_words(name)} <{address}>"


def _address_header(name: str, mailboxes: Iterable[str]) -> str:
    return _fold_ascii(name, ", ".join(mailboxes))


def quoted_printable(text: str) -> bytes:
    """UTF-8 text in quoted-printable with CRLF line ends (lines of at most 76 characters)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True)
    return encoded.replace(b"\n", b"\r\n")


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _quote_param(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _filename_param(filename: str) -> str:
    if filename.isascii():
        return f"filename={_quote_param(filename)}"
    return f"filename*={encode_rfc2231(filename, 'utf-8')}"


def _boundary() -> str:
    # "=_" cannot occur in quoted-printable or base64 text, the only encodings used here, so
    # the boundary need not be secret, only distinct from the other boundary of the same
    # e-mail: 128 bits of the process's pseudo-random generator, without a system call.
    return f"=_sl_{random.getrandbits(128):032x}"


Entity = tuple[str, bytes]  # (header lines, each ending in CRLF; body)


def _text_entity(text: str, subtype: str) -> Entity:
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}"
    )
    return head, quoted_printable(text)


def _attachment_entity(filename: str, content_type: str, data: bytes) -> Entity:
    head = (
        f"Content-Type: {content_type}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        + _fold_ascii("Content-Disposition", f"attachment; {_filename_param(filename)}")
    )
    return head, _base64(data)


def _part(entity: Entity) -> bytes:
    head, body = entity
    return head.encode("ascii") + b"\r\n" + body


def _multipart(subtype: str, entities: list[Entity]) -> Entity:
    boundary = _boundary()
    delimiter = f"{CRLF}--{boundary}{CRLF}".encode("ascii")
    body = (
        f"--{boundary}{CRLF}".encode("ascii")
        + delimiter.join(_part(entity) for entity in entities)
        + f"{CRLF}--{boundary}--{CRLF}".encode("ascii")
    )
    return f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"{CRLF}', body


def build_mime(
    *,
    message_id: str,
    from_email: str,
    from_name: str | None,
    to_email: str,
    to_name: str | None,
    subject: str,
    text: str,
    html: str | None = None,
    reply_to: str | None = None,
    attachments: Iterable[tuple[str, str, bytes]] = (),
    date: float | None = None,
) -> bytes:
    """The whole e-mail as sent over SMTP (CRLF line ends, 7-bit, no Bcc header).

    Shape: text/plain alone; or multipart/alternative (text, HTML); either of them inside
    multipart/mixed when there are attachments.
    """
    content = _text_entity(text, "plain")
    if html:
        content = _multipart("alternative", [content, _text_entity(html, "html")])
    files = [_attachment_entity(*attachment) for attachment in attachments]
    if files:
        content = _multipart("mixed", [content, *files])
    head = (
        _address_header("From", [_mailbox(from_name, from_email)])
        + _address_header("To", [_mailbox(to_name, to_email)])
        + (_address_header("Reply-To", [ascii_address(reply_to)]) if reply_to else "")
        + _unstructured("Subject", subject)
        + f"Date: {formatdate(date, usegmt=True)}{CRLF}"
        + f"Message-ID: {message_id}{CRLF}"
        + f"MIME-Version: 1.0{CRLF}"
    )
    return head.encode("ascii") + _part(content)
