"""The demo mailbox shows only mail sent through the current account's sender accounts."""

from __future__ import annotations

import time

from tests.admin.settings_support import login


def _catch(folder, subject: str, envelope_from: str, header_from: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    mail_id = f"{time.time_ns()}-0123abcd"
    (folder / f"{mail_id}.eml").write_bytes(
        (
            f"X-Envelope-From: <{envelope_from}>\r\nX-Envelope-To: anna@example.com\r\n"
            f"From: {header_from}\r\nTo: anna@example.com\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{mail_id}@test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nBody.\r\n"
        ).encode()
    )
    return mail_id


def test_mailbox_lists_only_the_accounts_own_mail(
    app, client, auth, tenant, other_tenant, tmp_path
):
    app.config["DEMO_MODE"] = True
    folder = tmp_path / "mailbox"
    app.config["MAIL_CATCHER_DIR"] = str(folder)
    mine = _catch(folder, "Acme order shipped", "shop@acme.example", "Acme <shop@acme.example>")
    by_header = _catch(folder, "Acme via header", "bounce@relay.example", "AMAZON@acme.example")
    theirs = _catch(folder, "Globex secret", "shop@globex.example", "Globex <shop@globex.example>")
    spoof = _catch(folder, "Spoofed", "shop@globex.example", "Globex <shop@globex.example>")
    auth.login()
    html = client.get("/settings/mailbox").get_data(as_text=True)
    assert "Acme order shipped" in html and "Acme via header" in html
    assert "Globex secret" not in html and "Spoofed" not in html
    assert client.get(f"/settings/mailbox/{mine}").status_code == 200
    assert client.get(f"/settings/mailbox/{by_header}").status_code == 200
    assert client.get(f"/settings/mailbox/{theirs}").status_code == 404
    assert client.get(f"/settings/mailbox/{spoof}").status_code == 404
    auth.logout()
    login(client, "owner@globex.example")
    html = client.get("/settings/mailbox").get_data(as_text=True)
    assert "Globex secret" in html and "Acme order shipped" not in html
    assert client.get(f"/settings/mailbox/{mine}").status_code == 404
