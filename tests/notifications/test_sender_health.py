"""Delivery keeps each sender account's health: the last SMTP error, cleared by a success.

Against the real aiosmtpd test server (refusing with 550/451, or stopped) and a scripted
server for replies that echo credentials.
"""

from __future__ import annotations

import base64
import socket
import threading

import pytest
from sqlalchemy import select

from tests.support.outbox import event, messages, place_order
from webapp.accounts.models import SenderAccount
from webapp.accounts.services import send_test_mail
from webapp.crypto import encrypt_secret
from webapp.extensions import db
from webapp.notifications.delivery import deliver_due_messages
from webapp.notifications.stats import failing_senders

PASSWORD = "s3cret-Passw0rd!"


def _main_sender(tenant) -> SenderAccount:
    db.session.expire_all()
    return db.session.execute(
        select(SenderAccount).where(
            SenderAccount.account_id == tenant.account.id, SenderAccount.name == "Main SMTP"
        )
    ).scalar_one()


def _send_one(tenant, number: str):
    place_order(tenant, number)
    event(tenant, number)
    return deliver_due_messages()


def test_a_550_is_recorded_and_a_later_success_clears_it(engine_ready, smtp_server, clock):
    smtp_server.mode = "550"
    assert _send_one(engine_ready, "H-1").failed == 1
    sender = _main_sender(engine_ready)
    assert sender.last_error.startswith("550 5.1.1") and "User unknown" in sender.last_error
    assert sender.last_error_at == clock.current
    [failing] = failing_senders(engine_ready.account.id, at=clock.current)
    assert failing.id == sender.id and failing.reason == sender.last_error

    smtp_server.mode = "accept"
    clock.advance(minutes=5)
    assert _send_one(engine_ready, "H-2").sent == 1
    sender = _main_sender(engine_ready)
    assert (sender.last_error, sender.last_error_at) == (None, None)
    assert failing_senders(engine_ready.account.id, at=clock.current) == []


def test_a_451_is_recorded_as_the_last_error(engine_ready, smtp_server, clock):
    smtp_server.mode = "451"
    report = _send_one(engine_ready, "H-3")
    assert report.retried == 1
    sender = _main_sender(engine_ready)
    assert sender.last_error.startswith("451 4.3.0")


def test_a_server_that_is_down_is_recorded_then_cleared(engine_ready, smtp_server, clock):
    smtp_server.stop()
    for n in range(3):
        place_order(engine_ready, f"H-D{n}")
        event(engine_ready, f"H-D{n}")
    assert deliver_due_messages().retried == 3
    sender = _main_sender(engine_ready)
    assert sender.last_error == "connection failed: ConnectionRefusedError"
    assert sender.last_error_at == clock.current

    smtp_server.start()
    clock.advance(minutes=5)
    assert deliver_due_messages().sent == 3
    assert _main_sender(engine_ready).last_error is None
    assert len(smtp_server.wait_for(3)) == 3


def test_an_old_test_mail_error_goes_away_once_delivery_works(engine_ready, smtp_server, clock):
    sender = _main_sender(engine_ready)
    smtp_server.mode = "550"
    assert not send_test_mail(engine_ready.account.id, sender.id, "owner@acme.example").ok
    assert _main_sender(engine_ready).last_error.startswith("test mail: 550")

    smtp_server.mode = "accept"
    assert _send_one(engine_ready, "H-4").sent == 1
    assert _main_sender(engine_ready).last_error is None
    assert failing_senders(engine_ready.account.id, at=clock.current) == []


def test_a_message_that_cannot_be_built_says_nothing_about_the_sender(
    engine_ready, smtp_server, clock
):
    place_order(engine_ready, "H-5", customer_name="Eve\r\nBcc: victim@example.org")
    event(engine_ready, "H-5")
    assert deliver_due_messages().failed == 1
    assert _main_sender(engine_ready).last_error is None


def test_the_same_error_is_not_rewritten_for_every_message(engine_ready, smtp_server, clock):
    smtp_server.mode = "550"
    assert _send_one(engine_ready, "H-6").failed == 1
    first = _main_sender(engine_ready).last_error_at
    clock.advance(seconds=10)
    assert _send_one(engine_ready, "H-7").failed == 1
    assert _main_sender(engine_ready).last_error_at == first
    clock.advance(minutes=2)
    assert _send_one(engine_ready, "H-8").failed == 1
    assert _main_sender(engine_ready).last_error_at == clock.current


class EchoingAuthServer:
    """An SMTP server that offers AUTH PLAIN and LOGIN and rejects both, echoing what the
    client sent (the credentials, base64 encoded) in its reply."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.auth_lines: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 echo ESMTP\r\n")
                login_password_next = False
                for raw in lines:
                    line = raw.decode().strip()
                    verb = line.split(" ", 1)[0].upper()
                    if login_password_next:
                        login_password_next = False
                        self.auth_lines.append(line)
                        conn.sendall(f"535 5.7.8 rejected {line}\r\n".encode())
                    elif verb == "EHLO":
                        conn.sendall(b"250-echo\r\n250 AUTH PLAIN LOGIN\r\n")
                    elif line.upper().startswith("AUTH LOGIN"):
                        login_password_next = True
                        conn.sendall(b"334 UGFzc3dvcmQ6\r\n")
                    elif verb == "AUTH":
                        self.auth_lines.append(line)
                        conn.sendall(f"535 5.7.8 rejected {line}\r\n".encode())
                    elif verb == "QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def echoing_server():
    server = EchoingAuthServer()
    yield server
    server.close()


def test_an_auth_failure_is_recorded_without_the_password(engine_ready, echoing_server, clock):
    sender = _main_sender(engine_ready)
    sender.smtp_host, sender.smtp_port = "127.0.0.1", echoing_server.port
    sender.smtp_username, sender.secret_encrypted = "mailer", encrypt_secret(PASSWORD)
    db.session.commit()
    report = _send_one(engine_ready, "H-9")
    assert report.failed == 1
    [message] = messages(engine_ready)
    sender = _main_sender(engine_ready)
    # The password really went over the wire, encoded, and came back in the replies.
    plain = base64.b64encode(f"\0mailer\0{PASSWORD}".encode()).decode()
    login = base64.b64encode(PASSWORD.encode()).decode()
    assert echoing_server.auth_lines == [f"AUTH PLAIN {plain}", login]
    for text in (sender.last_error, message.error, message.attempt_log[0].reply):
        assert text == "535 5.7.8 rejected ***"
    assert sender.last_error_at == clock.current
