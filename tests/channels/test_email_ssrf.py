"""SMTP hosts of sender accounts follow the network policy; a non-SMTP greeting is not echoed."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from webapp.accounts.services import create_sender_account, send_test_mail, test_sender_connection
from webapp.channels.email import OutgoingEmail, PermanentFailure, SmtpSession
from webapp.extensions import db


def _email() -> OutgoingEmail:
    return OutgoingEmail(
        message_id="<ssrf-1@statuslink.test>",
        from_email="shop@acme.example",
        from_name=None,
        to_email="kunde@example.org",
        to_name=None,
        subject="Hallo",
        text="Hallo",
    )


class BannerServer:
    """A TCP server that greets with a fixed line (another service, or a refusing MTA)."""

    def __init__(self, banner: bytes):
        self.banner = banner
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(self.banner)
                with contextlib.suppress(OSError):
                    conn.recv(1024)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def strict(app):
    app.config["ALLOW_PRIVATE_NETWORK_TARGETS"] = False
    return app


def test_delivery_to_a_loopback_smtp_host_is_refused(strict, sender, server):
    with pytest.raises(PermanentFailure) as info, SmtpSession(sender, timeout=2) as session:
        session.send(_email())
    assert "not allowed" in info.value.reason
    assert server.messages() == []


def test_delivery_works_when_private_targets_are_allowed(app, sender, server):
    with SmtpSession(sender, timeout=5) as session:
        reply = session.send(_email())
    assert reply.code == 250
    assert len(server.wait_for(1)) == 1


def test_connection_test_and_test_mail_refuse_a_private_host(strict, tenant, sender, server):
    check = test_sender_connection(tenant.account.id, sender.id, timeout=2)
    assert check.ok is False and "not allowed" in check.message
    mail = send_test_mail(tenant.account.id, sender.id, "owner@acme.example", timeout=2)
    assert mail.ok is False and "not allowed" in mail.message
    db.session.refresh(sender)
    assert "not allowed" in sender.last_error
    assert server.messages() == []


@pytest.mark.parametrize(
    "banner",
    [
        b"HTTP/1.1 400 Bad Request\r\nServer: internal-admin secret-token-42\r\n\r\n",
        b"554 internal-admin secret-token-42 no SMTP here\r\n",
        b"SSH-2.0-OpenSSH_9.2 secret-token-42\r\n",
    ],
)
def test_a_greeting_other_than_220_says_not_an_smtp_server(app, tenant, banner):
    fake = BannerServer(banner)
    try:
        sender = create_sender_account(
            tenant.account,
            "Not SMTP",
            smtp_url=f"smtp://127.0.0.1:{fake.port}",
            from_email="shop@acme.example",
        )
        check = test_sender_connection(tenant.account.id, sender.id, timeout=2)
        assert check == type(check)(False, "not an SMTP server")
        mail = send_test_mail(tenant.account.id, sender.id, "owner@acme.example", timeout=2)
        assert mail.ok is False and mail.message == "not an SMTP server"
        with pytest.raises(PermanentFailure) as info, SmtpSession(sender, timeout=2) as session:
            session.send(_email())
        assert "secret-token-42" not in info.value.reason
    finally:
        fake.close()


def test_smtp_connects_to_the_checked_address_only(app, tenant, server, monkeypatch):
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, *args, **kwargs):
        if host == "mail.example.test":
            lookups.append(host)
            return real("127.0.0.1" if len(lookups) == 1 else "192.0.2.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    sender = create_sender_account(
        tenant.account,
        "Named",
        smtp_url=f"smtp://mail.example.test:{server.port}",
        from_email="shop@acme.example",
    )
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(_email()).code == 250
    assert lookups == ["mail.example.test"]
