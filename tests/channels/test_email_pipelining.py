"""The SMTP envelope: in one write when the server offers PIPELINING (RFC 2920), with the
same outcomes as command by command, whichever way the server answers; addresses outside
ASCII."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.support.services import free_port
from tests.support.smtp import BrokenWrites, outgoing
from webapp.accounts.services import create_sender_account, send_test_mail
from webapp.channels.email import (
    PermanentFailure,
    SmtpSession,
    TemporaryFailure,
    UnsupportedAddress,
)
from webapp.extensions import db


def test_the_envelope_goes_out_in_one_write_when_the_server_offers_pipelining(app, server, sender):
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(outgoing(1)).code == 250
        assert session.send(outgoing(2, bcc=["archiv@acme.example"])).code == 250
    single, with_bcc = server.sent_with_mail
    # When MAIL FROM was answered, the recipient and DATA had already arrived.
    assert single == b"RCPT TO:<kunde1@example.org>\r\nDATA\r\n"
    # With a second recipient DATA waits for the replies to both.
    assert with_bcc == b"RCPT TO:<kunde2@example.org>\r\nRCPT TO:<archiv@acme.example>\r\n"
    received = server.wait_for(2)
    assert [m.rcpt_tos for m in received] == [
        ["kunde1@example.org"],
        ["kunde2@example.org", "archiv@acme.example"],
    ]


def test_without_pipelining_each_command_waits_for_its_reply(app, server, sender):
    server.pipelining = False
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(outgoing(1)).code == 250
    assert server.sent_with_mail == [b""]
    assert [m.rcpt_tos for m in server.wait_for(1)] == [["kunde1@example.org"]]


def test_start_sends_the_envelope_and_send_data_reads_its_replies(app, server, sender):
    """start() writes the envelope and returns without a reply, so the caller can record the
    previous message meanwhile; send_data() reads the replies and sends the data."""
    import time

    from webapp.channels.email import mail_bytes

    email = outgoing(1)
    with SmtpSession(sender, timeout=5) as session:
        session.start(email)
        deadline = time.monotonic() + 5
        while not server.sent_with_mail and time.monotonic() < deadline:
            time.sleep(0.01)
        # The server has the whole envelope before send_data() was called.
        assert server.sent_with_mail == [b"RCPT TO:<kunde1@example.org>\r\nDATA\r\n"]
        assert not session.pending
        with pytest.raises(RuntimeError):
            session.start(outgoing(2))  # one message at a time
        session.send_data(mail_bytes(email))
        assert session.pending
        assert session.finish().code == 250
        assert session.send(outgoing(2)).code == 250
    assert [m.subject for m in server.wait_for(2)] == ["Mail 1", "Mail 2"]


def test_a_failure_in_start_is_raised_by_send_data(app, server, sender):
    from webapp.channels.email import mail_bytes

    server.mail_reply = "550 5.7.1 Sender refused"
    with SmtpSession(sender, timeout=5) as session:
        session.start(outgoing(1))  # raises nothing: the replies are not read yet
        with pytest.raises(PermanentFailure) as failure:
            session.send_data(mail_bytes(outgoing(1)))
        assert failure.value.code == 550 and not session.pending
        server.mail_reply = None
        assert session.send(outgoing(2)).code == 250
    server.stop()
    with SmtpSession(sender, timeout=5) as session:
        session.start(outgoing(3))  # the server is down: nothing raised yet
        with pytest.raises(TemporaryFailure):
            session.send_data(mail_bytes(outgoing(3)))
    server.start()
    assert [m.subject for m in server.wait_for(1)] == ["Mail 2"]


def test_closing_after_start_drops_the_connection_and_sends_nothing(app, server, sender):
    with SmtpSession(sender, timeout=5) as session:
        session.start(outgoing(1))
    # The replies to the envelope were never read: QUIT would have taken one of them for its
    # own; the connection is dropped instead and the message's data never sent.
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(outgoing(2)).code == 250
    assert [m.subject for m in server.wait_for(1)] == ["Mail 2"]


@pytest.fixture(params=[True, False], ids=["pipelining", "stepwise"])
def either(request, server):
    """The recording server with PIPELINING offered or not: the outcomes must not differ."""
    server.pipelining = request.param
    return server


def test_a_refused_sender_fails_the_message_and_the_session_goes_on(app, either, sender):
    either.mail_reply = "451 4.7.1 Sender deferred"
    with SmtpSession(sender, timeout=5) as session:
        with pytest.raises(TemporaryFailure) as failure:
            session.send(outgoing(1))
        assert failure.value.code == 451 and "Sender deferred" in failure.value.reason
        either.mail_reply = None
        # The replies of the refused envelope were all read: the next ones line up.
        assert session.send(outgoing(2)).code == 250
        assert session.send(outgoing(3)).code == 250
    assert [m.subject for m in either.wait_for(2)] == ["Mail 2", "Mail 3"]


def test_a_connection_lost_mid_envelope_is_retried_on_a_new_one(app, either, sender):
    either.mail_reply = "drop"
    with SmtpSession(sender, timeout=5) as session:
        with pytest.raises(TemporaryFailure) as failure:
            session.send(outgoing(1))
        assert failure.value.code in (None, 421) and not session.pending
        either.mail_reply = None
        assert session.send(outgoing(2)).code == 250
    assert [m.subject for m in either.wait_for(1)] == ["Mail 2"]


def test_a_refused_recipient_fails_the_message_and_the_session_goes_on(app, either, sender):
    either.rcpt_replies["kunde1@example.org"] = "550 5.1.1 User unknown"
    with SmtpSession(sender, timeout=5) as session:
        with pytest.raises(PermanentFailure) as failure:
            session.send(outgoing(1))
        assert failure.value.code == 550 and "User unknown" in failure.value.reason
        assert session.send(outgoing(2)).code == 250
    assert [m.subject for m in either.wait_for(1)] == ["Mail 2"]


def test_a_refused_copy_recipient_is_reported_and_the_message_sent(app, either, sender):
    either.rcpt_replies["archiv@acme.example"] = "550 5.1.1 No such mailbox"
    with SmtpSession(sender, timeout=5) as session:
        reply = session.send(outgoing(1, bcc=["archiv@acme.example"]))
    assert reply.code == 250
    assert reply.text.endswith("refused: archiv@acme.example (550)")
    assert [m.rcpt_tos for m in either.wait_for(1)] == [["kunde1@example.org"]]


def test_a_refused_main_recipient_sends_nothing_to_the_copies(app, either, sender):
    either.rcpt_replies["kunde1@example.org"] = "550 5.1.1 User unknown"
    with SmtpSession(sender, timeout=5) as session:
        with pytest.raises(PermanentFailure) as failure:
            session.send(outgoing(1, bcc=["archiv@acme.example"]))
        assert failure.value.code == 550
        assert session.send(outgoing(2)).code == 250
    assert [m.rcpt_tos for m in either.wait_for(1)] == [["kunde2@example.org"]]


class _Scripted(socketserver.StreamRequestHandler):
    """A server that offers PIPELINING and then answers DATA with 354 although it refused
    the sender (a broken server): it records every line it reads."""

    lines: list[bytes]

    def handle(self) -> None:
        self.wfile.write(b"220 scripted ESMTP\r\n")
        refused = False
        while line := self.rfile.readline():
            self.lines.append(line)
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-scripted\r\n250 PIPELINING\r\n")
            elif verb == b"MAIL":
                refused = b"blocked" in line
                self.wfile.write(b"550 5.7.1 Sender blocked\r\n" if refused else b"250 OK\r\n")
            elif verb == b"RCPT":
                self.wfile.write(b"503 5.5.1 Need MAIL\r\n" if refused else b"250 OK\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 Go ahead\r\n")
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    self.lines.append(data)
                if not data:
                    return  # the client dropped the connection
                self.lines.append(data)
                self.wfile.write(b"554 5.5.1 No valid recipients\r\n" if refused else b"250 OK\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 Bye\r\n")
                return
            else:  # RSET, NOOP
                self.wfile.write(b"250 OK\r\n")


@pytest.fixture()
def scripted() -> Iterator[tuple[int, list[bytes]]]:
    lines: list[bytes] = []
    handler = type("Handler", (_Scripted,), {"lines": lines})
    port = free_port()
    with socketserver.ThreadingTCPServer(("127.0.0.1", port), handler) as smtp:
        smtp.daemon_threads = True
        thread = threading.Thread(target=smtp.serve_forever, daemon=True)
        thread.start()
        yield port, lines
        smtp.shutdown()


def test_data_taken_after_a_refused_envelope_drops_the_connection(app, tenant, scripted):
    port, lines = scripted
    sender = create_sender_account(
        tenant.account,
        "Scripted",
        smtp_url=f"smtp://127.0.0.1:{port}",
        from_email="shop@acme.example",
    )
    blocked = outgoing(1)
    blocked.from_email = "blocked@acme.example"
    with SmtpSession(sender, timeout=5) as session:
        with pytest.raises(PermanentFailure) as failure:
            session.send(blocked)
        assert failure.value.code == 550
        assert session.send(outgoing(2)).code == 250
    # Not a byte of data went out (not even the "." that would end it): the connection was
    # dropped, and the next message came on a new one (with its own EHLO).
    assert [line for line in lines if line.lower().startswith(b"ehlo")] == [
        b"ehlo [127.0.0.1]\r\n"
    ] * 2
    commands = [line for line in lines if not line.lower().startswith(b"ehlo")]
    assert commands[:6] == [
        b"MAIL FROM:<blocked@acme.example>\r\n",
        b"RCPT TO:<kunde1@example.org>\r\n",
        b"DATA\r\n",
        b"MAIL FROM:<shop@acme.example>\r\n",
        b"RCPT TO:<kunde2@example.org>\r\n",
        b"DATA\r\n",
    ]


def test_an_internationalised_domain_goes_out_in_its_idna_form(app, either, sender):
    mail = outgoing(1, bcc=["archiv@bücher.example", "post@straße.example"])
    mail.to_email = "kunde@müller.example"
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(mail).code == 250
    [received] = either.wait_for(1)
    # IDNA 2008, as the addresses were validated: straße is not strasse, another domain.
    assert received.rcpt_tos == [
        "kunde@xn--mller-kva.example",
        "archiv@xn--bcher-kva.example",
        "post@xn--strae-oqa.example",
    ]
    assert received.message["To"].addresses[0].addr_spec == "kunde@xn--mller-kva.example"


@pytest.mark.parametrize("field", ["to_email", "from_email", "reply_to", "bcc"])
def test_a_local_part_outside_ascii_is_refused_before_connecting(app, server, sender, field):
    mail = outgoing(1)
    address = "jürgen@example.org"
    setattr(mail, field, [address] if field == "bcc" else address)
    with SmtpSession(sender, timeout=5) as session:
        with pytest.raises(UnsupportedAddress) as refused:
            session.send(mail)
        assert address in str(refused.value) and "SMTPUTF8" in str(refused.value)
        assert session.send(outgoing(2)).code == 250
    assert [m.subject for m in server.wait_for(1)] == ["Mail 2"]


def test_the_test_mail_to_an_unsupported_address_says_why(app, tenant, server, sender):
    check = send_test_mail(tenant.account.id, sender.id, "jürgen@example.org", timeout=5)
    assert check.ok is False and "SMTPUTF8" in check.message
    db.session.refresh(sender)
    assert sender.last_error is None  # the recipient's address, not the account, is at fault
    assert server.messages() == []


def test_the_next_envelope_may_follow_the_data_before_its_final_reply(app, server, sender):
    """RFC 2920: a new MAIL FROM may follow the end of the previous message's data in the same
    group; finish() reads the previous reply, then send_data() the envelope's."""
    from webapp.channels.email import mail_bytes

    first, second, third = outgoing(1), outgoing(2), outgoing(3)
    server.data_replies[first.message_id.encode()] = "554 5.7.1 Refused as spam"
    with SmtpSession(sender, timeout=5) as session:
        session.begin(first, mail_bytes(first))
        session.start(second)  # while the first one's reply is still to come
        with pytest.raises(RuntimeError):
            session.send_data(mail_bytes(second))  # that reply first
        with pytest.raises(PermanentFailure) as failure:
            session.finish()
        assert failure.value.code == 554  # no RSET in between: the envelope's replies follow
        session.send_data(mail_bytes(second))
        session.start(third)
        assert session.finish().code == 250
        session.send_data(mail_bytes(third))
        assert session.finish().code == 250
    assert [m.subject for m in server.wait_for(2)] == ["Mail 2", "Mail 3"]


def test_an_abandoned_envelope_goes_with_its_connection(app, server, sender):
    with SmtpSession(sender, timeout=5) as session:
        session.start(outgoing(1))
        session.abandon()  # e.g. the message was cancelled meanwhile
        assert session.send(outgoing(2)).code == 250  # on a new connection
    [received] = server.wait_for(1)
    assert received.subject == "Mail 2"


def test_the_connection_sends_each_write_at_once(app, server, sender):
    """No Nagle delay: an envelope written after a message's data must reach the server
    before it acknowledges that data."""
    import socket

    with SmtpSession(sender, timeout=5) as session:
        session.open()
        sock = session._connection.host.sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_an_envelope_whose_connection_closed_goes_out_on_the_next(app, server, sender):
    """The server answers a message's data with 421 and closes: the envelope written after
    that data went with the connection, and send_data() sends it again on a new one."""
    from webapp.channels.email import mail_bytes

    first, second = outgoing(1), outgoing(2)
    real_data = server.handle_DATA

    async def closing_after_421(srv, session, envelope):
        raw = envelope.original_content or envelope.content
        if first.message_id.encode() in raw:
            srv.transport.write(b"421 4.3.2 Closing connection\r\n")
            srv.transport.close()
            return "421 4.3.2 Closing connection"
        return await real_data(srv, session, envelope)

    server.handle_DATA = closing_after_421
    with SmtpSession(sender, timeout=5) as session:
        session.begin(first, mail_bytes(first))
        session.start(second)
        with pytest.raises(TemporaryFailure) as failure:
            session.finish()
        assert failure.value.code == 421
        session.send_data(mail_bytes(second))
        assert session.finish().code == 250
    assert [m.subject for m in server.wait_for(1)] == ["Mail 2"]


def test_a_started_envelope_survives_a_reset_that_closes_the_connection(app, server, sender):
    """Without PIPELINING nothing of the envelope is written before send_data(); a refused
    message's RSET that finds the connection closed must not lose it."""
    from webapp.channels.email import mail_bytes

    async def close_on_rset(srv, session, envelope):
        srv.transport.close()
        return "250 OK"

    server.pipelining = False
    first, second = outgoing(1), outgoing(2)
    server.data_replies[first.message_id.encode()] = "554 5.7.1 Refused as spam"
    server.handle_RSET = close_on_rset
    with SmtpSession(sender, timeout=5) as session:
        session.begin(first, mail_bytes(first))
        session.start(second)
        with pytest.raises(PermanentFailure):
            session.finish()
        session.send_data(mail_bytes(second))  # on a new connection
        assert session.finish().code == 250
    assert [m.subject for m in server.wait_for(1)] == ["Mail 2"]


def test_a_failed_write_of_the_next_envelope_leaves_the_previous_reply_to_finish(
    app, server, sender
):
    from webapp.channels.email import mail_bytes

    first, second = outgoing(1), outgoing(2)
    with SmtpSession(sender, timeout=5) as session:
        session.begin(first, mail_bytes(first))
        host = session._connection.host
        host.sock = BrokenWrites(host.sock)
        session.start(second)  # raises nothing
        assert session.pending  # the first message still awaits its outcome
        with pytest.raises(TemporaryFailure, match="connection lost"):
            session.finish()
        with pytest.raises(TemporaryFailure, match="connection lost"):
            session.send_data(mail_bytes(second))
        assert session.send(outgoing(3)).code == 250  # a new connection
    assert [m.subject for m in server.wait_for(2)] == ["Mail 1", "Mail 3"]


def test_an_address_refused_in_start_sends_no_reset_before_the_previous_reply(app, server, sender):
    from webapp.channels.email import mail_bytes

    first = outgoing(1)
    server.data_replies[first.message_id.encode()] = "554 5.7.1 Refused as spam"
    bad = outgoing(2, bcc=["archiv@acme.example\r\nX-Injected: 1"])  # not through check_headers
    with SmtpSession(sender, timeout=5) as session:
        session.begin(first, mail_bytes(first))
        session.start(bad)
        with pytest.raises(PermanentFailure) as failure:
            session.finish()
        assert failure.value.code == 554  # its own reply, not an RSET's 250
        with pytest.raises(PermanentFailure):
            session.send_data(b"unused")
        assert session.send(outgoing(3)).code == 250
    assert [m.subject for m in server.wait_for(1)] == ["Mail 3"]
