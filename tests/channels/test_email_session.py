"""The SMTP session kept for a whole delivery run: reused, and reopened when it went stale."""

from __future__ import annotations

import pytest

from webapp.channels import email as email_channel
from webapp.channels.email import OutgoingEmail, SmtpSession, message_id_for


@pytest.fixture()
def opened(monkeypatch) -> list[int]:
    """Counts the SMTP connections the sessions open."""
    calls: list[int] = []
    real = email_channel._TimedConnection.configure_host

    def counting(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(email_channel._TimedConnection, "configure_host", counting)
    return calls


def _email(n: int) -> OutgoingEmail:
    return OutgoingEmail(
        message_id=message_id_for(n, 1, "https://status.example.com"),
        from_email="shop@acme.example",
        from_name=None,
        to_email=f"kunde{n}@example.org",
        to_name=None,
        subject=f"Mail {n}",
        text="Hallo",
    )


def test_a_connection_closed_by_the_server_meanwhile_is_reopened(app, server, sender, opened):
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(_email(1)).code == 250
        server.stop()  # drops the open connection, as a server's idle timeout would
        server.start()
        session._last_used -= email_channel.IDLE_CHECK_SECONDS  # the run paused a while
        assert session.send(_email(2)).code == 250
    assert len(opened) == 2
    assert [m.subject for m in server.wait_for(2)] == ["Mail 1", "Mail 2"]


def test_a_busy_connection_is_used_without_a_check(app, server, sender, opened):
    with SmtpSession(sender, timeout=5) as session:
        for n in range(3):
            assert session.send(_email(n)).code == 250
    assert len(opened) == 1
    assert len(server.wait_for(3)) == 3
