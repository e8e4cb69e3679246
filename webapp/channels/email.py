"""E-mail over each sender account's own SMTP server, through Flask-Mail."""

from __future__ import annotations

import smtplib
import unicodedata
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.mime.text import MIMEText
from urllib.parse import urlsplit

from flask_mail import Connection, Mail
from flask_mail import Message as MailMessage

from webapp.accounts.models import SenderAccount
from webapp.crypto import SecretUnreadable, decrypt_secret
from webapp.i18n import N_
from webapp.netpolicy import TargetRefused, check_target

NOT_SMTP_SERVER = N_("not an SMTP server")


class HeaderInjection(ValueError):
    """A header value (subject, name, address) contains a line break."""


class PermanentFailure(Exception):
    """The server refused the message for good (5xx) or it can never be sent as it is."""

    def __init__(self, reason: str, code: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TemporaryFailure(Exception):
    """A 4xx reply or a connection problem: try again later."""

    def __init__(self, reason: str, code: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class OutgoingEmail:
    """Everything needed to build one e-mail; plain values only."""

    message_id: str
    from_email: str
    from_name: str | None
    to_email: str
    to_name: str | None
    subject: str
    text: str
    html: str | None = None
    bcc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)


@dataclass
class SmtpReply:
    code: int
    text: str


def message_id_for(message_id: int, account_id: int, base_url: str) -> str:
    """The stable Message-ID of an outbox message: the same on every retry."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"<msg-{message_id}.{account_id}.statuslink@{host}>"


def check_headers(email: OutgoingEmail) -> None:
    """Refuse header values with line breaks or control characters (header injection)."""
    values = {
        "subject": email.subject,
        "from name": email.from_name or "",
        "from address": email.from_email,
        "recipient name": email.to_name or "",
        "recipient address": email.to_email,
        "reply-to": email.reply_to or "",
    }
    for index, address in enumerate(email.bcc):
        values[f"bcc {index + 1}"] = address
    for filename, content_type, _ in email.attachments:
        values["attachment name"] = filename
        values["attachment type"] = content_type
    for name, value in values.items():
        # Not only CR/LF: the e-mail package also breaks header lines at VT, FF, FS, GS, RS,
        # NEL and the Unicode line separators, so any control or separator character is refused.
        if len(value.splitlines()) > 1 or any(_is_control(ch) for ch in value):
            raise HeaderInjection(f"line break or control character in the {name} header")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") and char != "\t"


class _WrappedMailMessage(MailMessage):
    """Flask-Mail registers UTF-8 bodies as unencoded 8-bit text, which keeps long HTML lines
    intact; SMTP forbids lines over 998 characters and strict servers reject such mail. Bodies
    are therefore quoted-printable encoded, which wraps lines at 76 characters."""

    def _mimetext(self, text: str | None, subtype: str = "plain") -> MIMEText:
        body_charset = Charset("utf-8")
        body_charset.body_encoding = QP
        return MIMEText(text or "", _subtype=subtype, _charset=body_charset)  # type: ignore[arg-type]


def build_mail_message(email: OutgoingEmail) -> MailMessage:
    """A Flask-Mail message with a text part, an HTML part when present and attachments."""
    check_headers(email)
    sender = (email.from_name, email.from_email) if email.from_name else email.from_email
    recipient = (email.to_name, email.to_email) if email.to_name else email.to_email
    message = _WrappedMailMessage(
        subject=email.subject,
        recipients=[recipient],
        body=email.text,
        html=email.html or None,
        sender=sender,
        bcc=list(email.bcc),
        reply_to=email.reply_to or None,
    )
    message.msgId = email.message_id
    for filename, content_type, data in email.attachments:
        message.attach(filename=filename, content_type=content_type, data=data)
    return message


def mail_config(sender: SenderAccount) -> dict:
    """Flask-Mail settings for one sender account (password decrypted here, never logged)."""
    password = None
    if sender.secret_encrypted:
        try:
            password = decrypt_secret(sender.secret_encrypted)
        except SecretUnreadable as exc:
            raise PermanentFailure("the sender account's password cannot be decrypted") from exc
    return {
        "MAIL_SERVER": sender.smtp_host or "127.0.0.1",
        "MAIL_PORT": sender.smtp_port or 25,
        "MAIL_USE_TLS": sender.smtp_security == "starttls",
        "MAIL_USE_SSL": sender.smtp_security == "ssl",
        "MAIL_USERNAME": sender.smtp_username,
        "MAIL_PASSWORD": password,
        "MAIL_DEFAULT_SENDER": sender.from_email,
        "MAIL_SUPPRESS_SEND": False,
    }


class _CheckedAddress:
    """Connect to the address the network policy checked; TLS still verifies the host name
    (smtplib passes the original host as server_hostname)."""

    def _get_socket(self, host, port, timeout):  # type: ignore[no-untyped-def]
        target = check_target(host, port)
        return super()._get_socket(target.address, port, timeout)  # type: ignore[misc]


class CheckedSMTP(_CheckedAddress, smtplib.SMTP):
    """smtplib.SMTP that only reaches addresses the network policy allows."""


class CheckedSMTP_SSL(_CheckedAddress, smtplib.SMTP_SSL):  # noqa: N801 - mirrors smtplib
    """smtplib.SMTP_SSL that only reaches addresses the network policy allows."""


def greeting_failure(exc: smtplib.SMTPConnectError) -> PermanentFailure | TemporaryFailure:
    """A greeting other than 220: the banner is not echoed (it may be any service's answer)."""
    if 400 <= exc.smtp_code < 500:
        return TemporaryFailure(
            f"{exc.smtp_code} the server does not accept mail now", exc.smtp_code
        )
    return PermanentFailure(NOT_SMTP_SERVER)


class _TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout, and the server's reply kept."""

    def __init__(self, mail, timeout: float):
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        host: smtplib.SMTP | smtplib.SMTP_SSL
        if self.mail.use_ssl:
            host = CheckedSMTP_SSL(self.mail.server, self.mail.port, timeout=self.timeout)
        else:
            host = CheckedSMTP(self.mail.server, self.mail.port, timeout=self.timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:500]


def _classify(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return TemporaryFailure(f"{code} {text}", code)
    return PermanentFailure(f"{code} {text}", code)


class SmtpSession:
    """One SMTP connection of one sender account, reused for a batch of messages.

    After any error the connection is reset (RSET) or, when that fails, dropped and opened
    again for the next message.
    """

    def __init__(self, sender: SenderAccount, *, timeout: float = 15.0):
        self._state = Mail().init_mail(mail_config(sender))
        self._timeout = timeout
        self._connection: _TimedConnection | None = None

    def _host(self) -> smtplib.SMTP:
        if self._connection is None or self._connection.host is None:
            connection = _TimedConnection(self._state, self._timeout)
            try:
                connection.host = connection.configure_host()
            except TargetRefused as exc:
                raise PermanentFailure(exc.reason) from exc
            except smtplib.SMTPConnectError as exc:
                raise greeting_failure(exc) from exc
            except smtplib.SMTPResponseException as exc:
                raise _classify(exc.smtp_code, _reply_text(exc.smtp_error)) from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise TemporaryFailure(f"connection failed: {exc.__class__.__name__}") from exc
            self._connection = connection
        assert self._connection.host is not None
        return self._connection.host

    def _reset(self) -> None:
        if self._connection is None or self._connection.host is None:
            return
        try:
            self._connection.host.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        """Say goodbye to the server (or just drop the socket when it is gone)."""
        if self._connection is not None and self._connection.host is not None:
            host = self._connection.host
            try:
                host.quit()
            except (OSError, smtplib.SMTPException):
                host.close()
        self._connection = None

    def send(self, email: OutgoingEmail) -> SmtpReply:
        """Send one e-mail; returns the server's final reply.

        Raises HeaderInjection, PermanentFailure (5xx) or TemporaryFailure (4xx, network).
        """
        mail_message = build_mail_message(email)
        payload = mail_message.as_bytes()
        recipients = [email.to_email, *email.bcc]
        host = self._host()
        try:
            host.ehlo_or_helo_if_needed()
            code, reply = host.mail(email.from_email)
            if code != 250:
                self._reset()
                raise _classify(code, _reply_text(reply))
            refused: dict[str, tuple[int, str]] = {}
            for address in recipients:
                code, reply = host.rcpt(address)
                if code not in (250, 251):
                    refused[address] = (code, _reply_text(reply))
            if email.to_email in refused:
                self._reset()
                code, text = refused[email.to_email]
                raise _classify(code, text)
            code, reply = host.data(payload)
            if code != 250:
                self._reset()
                raise _classify(code, _reply_text(reply))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise TemporaryFailure(f"connection lost: {exc.__class__.__name__}") from exc
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise _classify(exc.smtp_code, _reply_text(exc.smtp_error)) from exc
        text = _reply_text(reply)
        if refused:
            text += "; refused: " + ", ".join(f"{a} ({c})" for a, (c, _) in refused.items())
        return SmtpReply(code=code, text=text)

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
