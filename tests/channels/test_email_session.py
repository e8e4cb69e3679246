"""The SMTP session kept for a whole delivery run: reused, and reopened when it went stale."""

from __future__ import annotations

import smtplib

import pytest

from tests.support.smtp import outgoing
from webapp.channels import email as email_channel
from webapp.channels.email import (
    PermanentFailure,
    SmtpSession,
    TemporaryFailure,
    mail_bytes,
)


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


def test_a_connection_closed_by_the_server_meanwhile_is_reopened(app, server, sender, opened):
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(outgoing(1)).code == 250
        server.stop()  # drops the open connection, as a server's idle timeout would
        server.start()
        session._last_used -= email_channel.IDLE_CHECK_SECONDS  # the run paused a while
        assert session.send(outgoing(2)).code == 250
    assert len(opened) == 2
    assert [m.subject for m in server.wait_for(2)] == ["Mail 1", "Mail 2"]


def test_a_busy_connection_is_used_without_a_check(app, server, sender, opened):
    with SmtpSession(sender, timeout=5) as session:
        for n in range(3):
            assert session.send(outgoing(n)).code == 250
    assert len(opened) == 1
    assert len(server.wait_for(3)) == 3


def test_a_message_begun_is_decided_by_its_final_reply_read_later(app, server, sender):
    # Lines starting with a dot are doubled on the wire and arrive as written.
    dotted = outgoing(1)
    dotted.text = ".signature\n..two dots\n."
    refused = outgoing(2)
    server.data_replies[refused.message_id.encode()] = "554 5.7.1 Refused as spam"
    with SmtpSession(sender, timeout=5) as session:
        session.begin(dotted, mail_bytes(dotted))
        assert session.pending
        with pytest.raises(RuntimeError):  # one message in flight at a time
            session.begin(refused, mail_bytes(refused))
        assert session.finish().code == 250
        assert not session.pending
        session.begin(refused, mail_bytes(refused))
        with pytest.raises(PermanentFailure) as failure:
            session.finish()
        assert failure.value.code == 554
        assert session.send(outgoing(3)).code == 250  # the connection goes on after a refusal
    received = server.wait_for(2)
    assert [m.subject for m in received] == ["Mail 1", "Mail 3"]
    assert received[0].part("plain").replace("\r\n", "\n").rstrip("\n") == (
        ".signature\n..two dots\n."
    )


def test_a_connection_lost_before_the_final_reply_is_a_temporary_failure(app, server, sender):
    lost = outgoing(1)
    server.data_replies[lost.message_id.encode()] = "drop"
    with SmtpSession(sender, timeout=5) as session:
        session.begin(lost, mail_bytes(lost))
        with pytest.raises(TemporaryFailure) as failure:
            session.finish()
        assert failure.value.code is None and "connection lost" in failure.value.reason
        assert session.send(outgoing(2)).code == 250  # a new connection for the next one
    assert [m.subject for m in server.wait_for(1)] == ["Mail 2"]


def test_closing_with_a_message_in_flight_leaves_it_to_the_server(app, server, sender):
    with SmtpSession(sender, timeout=5) as session:
        session.begin(outgoing(1), mail_bytes(outgoing(1)))
    assert [m.subject for m in server.wait_for(1)] == ["Mail 1"]
    assert not session.pending


def test_a_final_reply_too_long_to_read_is_a_lost_connection(app, server, sender):
    # smtplib gives up on a reply line over 8 KB and closes the connection: whether the
    # server took the message is unknown, so it is tried again later (same Message-ID).
    flooded = outgoing(1)
    server.data_replies[flooded.message_id.encode()] = "250 " + "x" * 9000
    with SmtpSession(sender, timeout=5) as session:
        session.begin(flooded, mail_bytes(flooded))
        with pytest.raises(TemporaryFailure) as failure:
            session.finish()
        assert failure.value.code is None and "connection lost" in failure.value.reason
        assert not session.pending
        assert session.send(outgoing(2)).code == 250


@pytest.mark.parametrize(
    "payload",
    [
        b"Subject: x\r\n\r\nbody\r\n",
        b".first\r\n.\r\n..two\r\nmid.dle\r\n.",
        b"a\r\n.b\r\n\r\n.\r\nend",
        b"",
    ],
)
def test_data_is_dot_stuffed_and_terminated_as_smtplib_does_it(payload: bytes):
    expected = smtplib._quote_periods(payload)
    if not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert email_channel._dot_terminated(payload) == expected + b".\r\n"
