"""The development mail catcher: a real SMTP server on loopback that stores .eml files."""

from __future__ import annotations

import logging
import smtplib
import socket
import subprocess
import time
from email.message import EmailMessage

import pytest

from tests.devtools.env import STATUSLINK, isolated_env
from tests.support.services import free_port
from webapp.devtools.mailbox import get_caught_mail, list_caught_mail
from webapp.devtools.mailcatcher import start_mail_catcher


def make_message(subject: str = "Your order 1001 has shipped") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme Shop <shop@acme.example>"
    message["To"] = "Erika Mustermann <erika@customer.example>"
    message["Subject"] = subject
    message["Message-ID"] = "<msg-1@statuslink.test>"
    message.set_content("Hello Erika, secret body text.")
    message.add_alternative("<p>Hello Erika, <b>secret</b> body html.</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice-1001.pdf"
    )
    return message


def test_catcher_stores_each_message_and_logs_headers_only(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="statuslink.mailcatcher")
    port = free_port()
    controller = start_mail_catcher(tmp_path / "mailbox", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(
                make_message(),
                to_addrs=["erika@customer.example", "archive@acme.example"],
            )
            smtp.send_message(make_message("Second"), to_addrs=["erika@customer.example"])
    finally:
        controller.stop()

    files = sorted((tmp_path / "mailbox").glob("*.eml"))
    assert len(files) == 2
    assert b"Subject: Your order 1001 has shipped" in files[0].read_bytes()

    newest, oldest = list_caught_mail(10, directory=tmp_path / "mailbox")
    assert newest.subject == "Second"
    assert oldest.subject == "Your order 1001 has shipped"
    assert oldest.sender == "Acme Shop <shop@acme.example>"
    assert oldest.envelope_from == "shop@acme.example"
    assert oldest.envelope_to == ["erika@customer.example", "archive@acme.example"]
    assert oldest.message_id == "<msg-1@statuslink.test>"
    assert oldest.text is not None and "secret body text" in oldest.text
    assert oldest.html is not None and "<b>secret</b>" in oldest.html
    assert oldest.attachments == ["invoice-1001.pdf"]
    assert get_caught_mail(oldest.id, directory=tmp_path / "mailbox") == oldest

    lines = [r.getMessage() for r in caplog.records if r.name == "statuslink.mailcatcher"]
    assert len(lines) == 2
    assert "from=Acme Shop <shop@acme.example>" in lines[0]
    assert "subject=Your order 1001 has shipped" in lines[0]
    assert "erika@customer.example" in lines[0]
    assert not any("secret" in line for line in lines)


def test_mailbox_reads_nothing_from_a_missing_folder_or_a_forged_id(tmp_path):
    assert list_caught_mail(5, directory=tmp_path / "none") == []
    (tmp_path / "secret.eml").write_text("Subject: x\n\nx")
    assert get_caught_mail("../secret", directory=tmp_path / "mailbox") is None
    assert get_caught_mail("secret", directory=tmp_path) is None


def test_mailbox_uses_the_configured_folder(app, tmp_path):
    app.config["MAIL_CATCHER_DIR"] = str(tmp_path / "box")
    port = free_port()
    controller = start_mail_catcher(tmp_path / "box", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(make_message("Configured"))
    finally:
        controller.stop()
    assert [m.subject for m in list_caught_mail(limit=5)] == ["Configured"]
    assert list_caught_mail(limit=0) == []


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@pytest.mark.slow
def test_mailcatcher_command_receives_mail_until_terminated(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [STATUSLINK, "dev", "mailcatcher", "--port", str(port)],
        env=isolated_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, proc)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(make_message())
        deadline = time.monotonic() + 10
        while not list(tmp_path.joinpath("mailbox").glob("*.eml")):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"smtp://127.0.0.1:{port}" in out
    assert "subject=Your order 1001 has shipped" in err
    assert "secret body" not in out + err
