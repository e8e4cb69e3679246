"""SMTP over implicit TLS (port 465) and STARTTLS verifies the server's certificate."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.smtp import RecordingSMTP
from webapp.accounts.services import create_sender_account
from webapp.channels.email import (
    OutgoingEmail,
    SmtpSession,
    TemporaryFailure,
    message_id_for,
    tls_context,
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, ip: str | None = None):
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(ip))]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A test CA and a certificate for 127.0.0.1 signed by it."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(
        "Statuslink Test CA", "Statuslink Test CA", ca_key.public_key(), ca_key, ca=True
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(
        "127.0.0.1", "Statuslink Test CA", key.public_key(), ca_key, ca=False, ip="127.0.0.1"
    )
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _server_context(pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    return context


@pytest.fixture(params=["ssl", "starttls"])
def tls_server(request, pki):
    """A recording aiosmtpd server speaking implicit TLS or requiring STARTTLS."""
    recording = RecordingSMTP()
    if request.param == "ssl":
        controller = Controller(
            recording, hostname="127.0.0.1", port=recording.port, ssl_context=_server_context(pki)
        )
    else:
        controller = Controller(
            recording,
            hostname="127.0.0.1",
            port=recording.port,
            tls_context=_server_context(pki),
            require_starttls=True,
        )
    controller.start()
    recording.security = request.param  # type: ignore[attr-defined]
    yield recording
    controller.stop()


@pytest.fixture()
def sender(tenant, tls_server):
    return create_sender_account(
        tenant.account,
        "TLS",
        smtp_url=f"smtp://127.0.0.1:{tls_server.port}",
        from_email="shop@acme.example",
        security=tls_server.security,
    )


def _email() -> OutgoingEmail:
    return OutgoingEmail(
        message_id=message_id_for(1, 1, "https://status.example.com"),
        from_email="shop@acme.example",
        from_name="Acme",
        to_email="kunde@example.org",
        to_name=None,
        subject="TLS",
        text="Hallo",
    )


def test_the_default_context_verifies_certificate_and_host_name(app):
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True


def test_an_untrusted_certificate_is_refused_and_nothing_is_sent(app, tls_server, sender):
    with pytest.raises(TemporaryFailure) as info, SmtpSession(sender, timeout=5) as session:
        session.send(_email())
    assert info.value.reason.startswith("TLS certificate check failed")
    assert tls_server.messages() == []


def test_a_certificate_from_a_trusted_ca_is_accepted(app, tls_server, sender, pki, monkeypatch):
    # create_default_context() reads the system trust store; SSL_CERT_FILE points it at ours.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))
    with SmtpSession(sender, timeout=5) as session:
        reply = session.send(_email())
    assert reply.code == 250
    assert len(tls_server.wait_for(1)) == 1


def test_a_local_server_may_skip_verification_only_when_the_setting_says_so(
    app, tls_server, sender
):
    app.config["SMTP_TLS_VERIFY"] = False
    with SmtpSession(sender, timeout=5) as session:
        assert session.send(_email()).code == 250
    assert len(tls_server.wait_for(1)) == 1


def test_the_setting_is_ignored_where_private_targets_are_not_allowed(app):
    app.config.update(SMTP_TLS_VERIFY=False, ALLOW_PRIVATE_NETWORK_TARGETS=False)
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
