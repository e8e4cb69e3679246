"""E-mail over each sender account's own SMTP server: the connection through Flask-Mail,
the message bytes from `webapp.channels.mime`."""

from __future__ import annotations

import base64
import contextlib
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from flask_mail import Connection, Mail

from webapp.accounts.models import SenderAccount
from webapp.channels.mime import ascii_address, build_mime
from webapp.crypto import SecretUnreadable, decrypt_secret
from webapp.i18n import N_
from webapp.netpolicy import TargetRefused, check_target, private_targets_allowed

NOT_SMTP_SERVER = N_("not an SMTP server")


class HeaderInjection(ValueError):
    """A header value (subject, name, address) contains a line break."""


class UnsupportedAddress(HeaderInjection):
    """An address no e-mail can be sent to from here: characters outside ASCII before the @
    need SMTPUTF8 (RFC 6531), which is not supported. (A domain outside ASCII is sent in its
    IDNA form.)"""


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
    """Refuse header values with line breaks or control characters (header injection) and
    addresses that cannot be sent (UnsupportedAddress)."""
    values = {
        "subject": email.subject,
        "from name": email.from_name or "",
        "from address": email.from_email,
        "recipient name": email.to_name or "",
        "recipient address": email.to_email,
        "reply-to": email.reply_to or "",
    }
    bcc_names = [f"bcc {index + 1}" for index in range(len(email.bcc))]
    values.update(zip(bcc_names, email.bcc, strict=True))
    for filename, content_type, _ in email.attachments:
        values["attachment name"] = filename
        values["attachment type"] = content_type
    for name, value in values.items():
        if _HEADER_FORBIDDEN.search(value):
            raise HeaderInjection(f"line break or control character in the {name} header")
    for name in ("from address", "recipient address", "reply-to", *bcc_names):
        if not ascii_address(values[name]).isascii():
            raise UnsupportedAddress(
                f"the {name} {values[name]} cannot be used: characters outside ASCII before "
                "the @ need SMTPUTF8, which is not supported (a domain outside ASCII is sent "
                "in its IDNA form, which this one does not have)"
            )


# Not only CR/LF: the e-mail package also breaks header lines at VT, FF, FS, GS, RS, NEL and
# the Unicode line separators, so every control character but TAB (Unicode category Cc) and
# both separators (Zl, Zp) are refused: exactly what str.splitlines() splits at, and more.
_HEADER_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def mail_bytes(email: OutgoingEmail) -> bytes:
    """The e-mail as sent over SMTP (CRLF line ends, 7-bit); raises HeaderInjection."""
    check_headers(email)
    return build_mime(
        message_id=email.message_id,
        from_email=email.from_email,
        from_name=email.from_name,
        to_email=email.to_email,
        to_name=email.to_name,
        subject=email.subject,
        text=email.text,
        html=email.html,
        reply_to=email.reply_to,
        attachments=email.attachments,
    )


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
    (smtplib passes the original host as server_hostname).

    The socket sends each write at once (TCP_NODELAY): with PIPELINING the next message's
    envelope follows the previous message's data before its reply, and Nagle's algorithm
    would hold that small write back until the server acknowledged the data, which it does
    with its reply, so the server would see the envelope only after answering."""

    def _get_socket(self, host, port, timeout):  # type: ignore[no-untyped-def]
        target = check_target(host, port)
        sock = super()._get_socket(target.address, port, timeout)  # type: ignore[misc]
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


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


def tls_context() -> ssl.SSLContext:
    """The TLS context for SMTP over implicit TLS (port 465) and STARTTLS.

    Verifies the certificate chain and the host name (ssl.create_default_context()). Only
    when the app allows private network targets (development, tests) and SMTP_TLS_VERIFY is
    explicitly False, e.g. for a local server with a self-signed certificate, is the
    certificate left unchecked; the connection is still encrypted.
    """
    context = ssl.create_default_context()
    if (
        has_app_context()
        and current_app.config.get("SMTP_TLS_VERIFY", True) is False
        and private_targets_allowed()
    ):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout, verified TLS, and the server's reply
    kept."""

    def __init__(self, mail, timeout: float):
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        host: smtplib.SMTP | smtplib.SMTP_SSL
        if self.mail.use_ssl:
            host = CheckedSMTP_SSL(
                self.mail.server, self.mail.port, timeout=self.timeout, context=tls_context()
            )
        else:
            host = CheckedSMTP(self.mail.server, self.mail.port, timeout=self.timeout)
        try:
            if self.mail.use_tls:
                host.starttls(context=tls_context())
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
        except BaseException:
            host.close()
            raise
        return host


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:500]


def _classify(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return TemporaryFailure(f"{code} {text}", code)
    return PermanentFailure(f"{code} {text}", code)


def _secret_forms(username: str | None, password: str | None) -> list[str]:
    """The password and the forms in which AUTH sends credentials (base64), longest first."""
    if not password:
        return []
    forms = {password}
    user = username or ""
    for raw in (f"\0{user}\0{password}", password, f"{user} {password}"):
        forms.add(base64.b64encode(raw.encode("utf-8", "replace")).decode("ascii"))
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def _command(verb: str, keyword: str, address: str) -> str:
    """MAIL FROM / RCPT TO as smtplib's mail() and rcpt() send them for a bare address (its
    domain in IDNA form, as in the headers), without their parse of the address as a header
    (`email.utils.parseaddr`, a few percent of a worker's CPU per message). The addresses were
    checked when they were saved and by check_headers; a line break here would still be
    refused, as smtplib's putcmd does."""
    line = f"{verb} {keyword}:<{ascii_address(address)}>"
    if "\r" in line or "\n" in line:
        raise HeaderInjection(f"line break in an envelope address: {address!r}")
    return line + "\r\n"


def _envelope(host: smtplib.SMTP, verb: str, keyword: str, address: str) -> tuple[int, bytes]:
    """One MAIL FROM / RCPT TO command and its reply."""
    host.send(_command(verb, keyword, address))
    return host.getreply()


def _dot_terminated(payload: bytes) -> bytes:
    """The message data as smtplib's data() sends it: leading dots doubled (RFC 5321
    4.5.2), ended by CRLF "." CRLF."""
    data = payload.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


# A connection that was idle this long is checked with NOOP before the next message.
IDLE_CHECK_SECONDS = 20.0


@dataclass
class _Envelope:
    """A message's envelope between SmtpSession.start() and send_data()."""

    from_email: str
    recipients: list[str]
    pipelined: bool = False  # its commands were written (the server offers PIPELINING)
    error: PermanentFailure | TemporaryFailure | None = None
    # The connection it was started on: if that one is closed before send_data(), the
    # envelope goes out again on the next.
    connection: Any = None


class SmtpSession:
    """One SMTP connection of one sender account, reused for a batch of messages.

    After any error the connection is reset (RSET) or, when that fails, dropped and opened
    again for the next message. Failure reasons never contain the account's password (nor
    its base64 forms), whatever the server echoes.
    """

    def __init__(self, sender: SenderAccount, *, timeout: float = 15.0):
        config = mail_config(sender)
        self._state = Mail().init_mail(config)
        self._secrets = _secret_forms(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        self._timeout = timeout
        self._connection: _TimedConnection | None = None
        self._last_used = 0.0
        # Recipients the server refused of the message begun and not finished (None: none).
        self._pending: dict[str, tuple[int, str]] | None = None
        # The envelope start() sent, its replies not read yet (send_data() reads them).
        self._envelope: _Envelope | None = None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

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
                raise _classify(exc.smtp_code, self._scrub(_reply_text(exc.smtp_error))) from exc
            except ssl.SSLCertVerificationError as exc:
                reason = self._scrub(exc.verify_message or "certificate not trusted")
                raise TemporaryFailure(f"TLS certificate check failed: {reason}") from exc
            except ssl.SSLError as exc:
                reason = exc.reason or exc.__class__.__name__
                raise TemporaryFailure(f"TLS error: {reason}") from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise TemporaryFailure(f"connection failed: {exc.__class__.__name__}") from exc
            self._connection = connection
            self._last_used = time.monotonic()
        assert self._connection.host is not None
        return self._connection.host

    def _reusable_host(self) -> smtplib.SMTP:
        """The open connection when it still answers, else a new one.

        A connection kept between batches may have been closed by the server meanwhile;
        after a pause it is checked with NOOP, so no message is deferred only because the
        old connection went away.
        """
        connection = self._connection
        idle = time.monotonic() - self._last_used >= IDLE_CHECK_SECONDS
        if connection is not None and connection.host is not None and idle:
            try:
                code, _ = connection.host.noop()
            except (OSError, smtplib.SMTPException):
                code = 0
            if code != 250:
                self.close()
        return self._host()

    def _reset(self) -> None:
        if self._connection is None or self._connection.host is None:
            return
        try:
            self._connection.host.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self, *, drop: bool = False) -> None:
        """Say goodbye to the server (or just drop the socket when it is gone, or when told
        to `drop` it). A message begun and not finished is left to the server: its reply is
        read and dropped first, so the goodbye is not taken for it."""
        pending, self._pending = self._pending, None
        # An envelope's replies not read: the server's next reply would be taken for QUIT's.
        # (The envelope itself is kept: send_data() sends it again on a new connection.)
        drop = drop or self._envelope_on_wire()
        if self._connection is not None and self._connection.host is not None:
            host = self._connection.host
            try:
                if drop or host.sock is None:  # (smtplib closes its socket on a failed write)
                    host.close()
                else:
                    if pending is not None:
                        host.getreply()
                    host.quit()
            except (OSError, smtplib.SMTPException):
                host.close()
        self._connection = None

    def _envelope_on_connection(self) -> bool:
        """Whether start() began an envelope on the open connection that send_data() has not
        taken yet (and that did not fail)."""
        envelope = self._envelope
        return (
            envelope is not None
            and envelope.error is None
            and envelope.connection is not None
            and envelope.connection is self._connection
        )

    def _envelope_on_wire(self) -> bool:
        """Whether that envelope was written (PIPELINING): its replies are still to be read."""
        return self._envelope_on_connection() and bool(self._envelope and self._envelope.pipelined)

    def open(self) -> None:
        """Connect (TLS, login) now; raises PermanentFailure or TemporaryFailure."""
        self._reusable_host()

    def send(self, email: OutgoingEmail) -> SmtpReply:
        """Send one e-mail; returns the server's final reply.

        Raises HeaderInjection, PermanentFailure (5xx) or TemporaryFailure (4xx, network).
        """
        return self.send_payload(email, mail_bytes(email))

    def send_payload(self, email: OutgoingEmail, payload: bytes) -> SmtpReply:
        """Send an already built e-mail (`payload`, the bytes of mail_bytes(email))."""
        self.begin(email, payload)
        return self.finish()

    def begin(self, email: OutgoingEmail, payload: bytes) -> None:
        """Send an already built e-mail up to the end of its data, without waiting for the
        server's final reply: the caller may prepare the next message while the server
        takes this one in, and must then call finish() before anything else on this session.

        Raises PermanentFailure or TemporaryFailure when the server refuses the sender, the
        recipient or the data command, or the connection fails; nothing is then pending.
        """
        if self._pending is not None:
            raise RuntimeError("the previous message's final reply was not read (finish())")
        self.start(email)
        self.send_data(payload)

    def start(self, email: OutgoingEmail) -> None:
        """The first half of begin(): send the envelope (MAIL FROM, RCPT TO and, for a single
        recipient, DATA) to a server that offers PIPELINING, without waiting for the replies,
        so the caller can do other work while the server answers; send_data() then reads
        them and sends the data. Raises nothing: a failure here is raised by send_data().
        Without PIPELINING the whole envelope waits for send_data().

        The message begun before may still await its final reply: the envelope then follows
        its data (RFC 2920 allows a new MAIL FROM right after the end of the data), and
        finish() must read that reply before send_data()."""
        if self._envelope_on_connection():
            raise RuntimeError("the previous envelope's replies were not read (send_data())")
        envelope = self._envelope = _Envelope(email.from_email, [email.to_email, *email.bcc])
        pending = self._pending is not None
        try:
            # The connection in use is not checked (NOOP) while a reply is still to come.
            host = self._open_host() if pending else self._reusable_host()
            envelope.connection = self._connection
            try:
                self._send_envelope(host, envelope)
            finally:
                self._last_used = time.monotonic()
        except HeaderInjection as exc:  # an address check_headers would have refused
            envelope.error = PermanentFailure(str(exc))  # found before anything was written
        except (PermanentFailure, TemporaryFailure) as exc:
            envelope.error = exc
        except OSError as exc:  # smtplib's errors too
            envelope.error = TemporaryFailure(f"connection lost: {exc.__class__.__name__}")
            if not pending:  # else finish() finds the connection gone, for the message before
                self.close()

    def send_data(self, payload: bytes) -> None:
        """The second half of begin(): read the envelope's replies (or, without PIPELINING,
        send it step by step) and send the data (`payload`, the bytes of mail_bytes()) of the
        message start() began. Raises as begin() does."""
        if self._pending is not None:
            raise RuntimeError("the previous message's final reply was not read (finish())")
        on_wire = self._envelope_on_wire()
        envelope, self._envelope = self._envelope, None
        if envelope is None:
            raise RuntimeError("no message was started")
        if envelope.error is not None:
            raise envelope.error
        # Not written (no PIPELINING), or its connection was closed since (say after the reply
        # to the message before): the envelope goes out now, on a new connection if need be.
        host = self._open_host() if on_wire else self._reusable_host()

        def exchange() -> None:
            if not on_wire:
                self._send_envelope(host, envelope)
            if envelope.pipelined:
                refused = self._pipelined_replies(host, envelope.recipients)
            else:
                refused = self._envelope_stepwise(host, envelope.from_email, envelope.recipients)
            host.send(_dot_terminated(payload))
            self._pending = refused

        self._exchange(host, exchange)

    def abandon(self) -> None:
        """Give up the message start() began, without sending it: an envelope already sent is
        dropped with the connection (its replies unread, a DATA the server took aborted);
        the next message opens a new one."""
        if self._envelope_on_wire():
            self.close(drop=True)
        self._envelope = None

    def _exchange(self, host: smtplib.SMTP, talk: Callable[[], None]) -> None:
        """Run `talk` on the connection: a dropped connection becomes a TemporaryFailure (and
        the session is closed), an address the envelope cannot carry a PermanentFailure."""
        try:
            try:
                talk()
            except HeaderInjection as exc:  # an address check_headers would have refused
                self._reset()
                raise PermanentFailure(str(exc)) from exc
            finally:
                self._last_used = time.monotonic()
        except OSError as exc:  # smtplib's errors too (SMTPException is an OSError)
            self.close()
            raise TemporaryFailure(f"connection lost: {exc.__class__.__name__}") from exc

    def _open_host(self) -> smtplib.SMTP:
        connection = self._connection
        if connection is None or connection.host is None:
            raise TemporaryFailure("connection lost: closed before the envelope's replies")
        return connection.host

    def _send_envelope(self, host: smtplib.SMTP, envelope: _Envelope) -> None:
        host.ehlo_or_helo_if_needed()
        envelope.pipelined = host.has_extn("pipelining")
        if envelope.pipelined:
            commands = [_command("MAIL", "FROM", envelope.from_email)]
            commands += [_command("RCPT", "TO", address) for address in envelope.recipients]
            if len(envelope.recipients) == 1:
                commands.append("DATA\r\n")
            host.send("".join(commands))

    def _refusal(self, code: int, reply: bytes) -> Exception:
        """The failure a refused envelope command amounts to, after resetting the session."""
        self._reset()
        return _classify(code, self._scrub(_reply_text(reply)))

    def _note_recipient(
        self, refused: dict[str, tuple[int, str]], address: str, code: int, reply: bytes
    ) -> None:
        if code not in (250, 251):
            refused[address] = (code, self._scrub(_reply_text(reply)))

    def _check_main_recipient(
        self, refused: dict[str, tuple[int, str]], recipients: list[str]
    ) -> None:
        """Raise the refusal of the first recipient (the message then goes to none)."""
        if recipients[0] in refused:
            self._reset()
            raise _classify(*refused[recipients[0]])

    def _check_data(self, code: int, reply: bytes) -> None:
        if code != 354:
            raise self._refusal(code, reply)

    def _envelope_stepwise(
        self, host: smtplib.SMTP, from_email: str, recipients: list[str]
    ) -> dict[str, tuple[int, str]]:
        """MAIL FROM, RCPT TO and DATA one after the other, each waiting for its reply (a
        server that does not offer PIPELINING). Returns the refused extra recipients; raises
        when the sender, the first recipient or DATA is refused."""
        code, reply = _envelope(host, "MAIL", "FROM", from_email)
        if code != 250:
            raise self._refusal(code, reply)
        refused: dict[str, tuple[int, str]] = {}
        for address in recipients:
            self._note_recipient(refused, address, *_envelope(host, "RCPT", "TO", address))
        self._check_main_recipient(refused, recipients)
        # smtplib's data(), split before its last read.
        host.putcmd("data")
        self._check_data(*host.getreply())
        return refused

    def _pipelined_replies(
        self, host: smtplib.SMTP, recipients: list[str]
    ) -> dict[str, tuple[int, str]]:
        """The replies to an envelope sent in one write (PIPELINING, RFC 2920: MAIL FROM, the
        RCPT TOs and, for a single recipient, DATA; one round trip instead of three), read in
        order. Returns the refused extra recipients; raises as _envelope_stepwise does.

        With more recipients DATA waits for their replies: the message must not go to the
        others when the first is refused.
        """
        single = len(recipients) == 1
        mail = host.getreply()
        refused: dict[str, tuple[int, str]] = {}
        for address in recipients:
            self._note_recipient(refused, address, *host.getreply())
        data = host.getreply() if single else None
        failed = mail[0] != 250 or recipients[0] in refused
        if failed and data is not None and data[0] == 354:
            # A server that takes DATA after a refused envelope is not to be trusted with even
            # empty data (it might deliver it): the connection is dropped, which aborts the
            # transaction, and the next message opens a new one.
            self.close(drop=True)
        if mail[0] != 250:
            raise self._refusal(*mail)
        self._check_main_recipient(refused, recipients)
        if data is None:
            host.putcmd("data")
            data = host.getreply()
        self._check_data(*data)
        return refused

    @property
    def pending(self) -> bool:
        """Whether a message was begun and its final reply not read yet."""
        return self._pending is not None

    def finish(self) -> SmtpReply:
        """The server's final reply to the message begun last: returned when it accepted
        the message; PermanentFailure (5xx) or TemporaryFailure (4xx, network) otherwise."""
        refused, self._pending = self._pending, None
        if refused is None:
            raise RuntimeError("no message was begun")
        connection = self._connection
        if connection is None or connection.host is None:
            raise TemporaryFailure("connection lost: closed before the reply")
        host = connection.host
        if host.sock is None:  # smtplib closed it: a write after the data failed
            self.close()
            raise TemporaryFailure("connection lost: closed before the reply")
        try:
            try:
                code, reply = host.getreply()
            finally:
                self._last_used = time.monotonic()
        except OSError as exc:  # smtplib's errors too: smtplib closed the connection
            self.close()
            raise TemporaryFailure(f"connection lost: {exc.__class__.__name__}") from exc
        if code != 250:
            if code == 421:
                # The server closes the connection (RFC 5321): an envelope written after this
                # message's data goes out again on the next one.
                self.close(drop=True)
            elif not self._envelope_on_wire():
                # The transaction is over either way; RSET only tidies up, and must not come
                # between an envelope sent after this message's data and its replies.
                self._reset()
            raise _classify(code, self._scrub(_reply_text(reply)))
        text = self._scrub(_reply_text(reply))
        if refused:
            text += "; refused: " + ", ".join(f"{a} ({c})" for a, (c, _) in refused.items())
        return SmtpReply(code=code, text=text)

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
