"""Encryption of stored secrets (sender passwords, provider tokens) with Fernet."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class SecretUnreadable(ValueError):
    """A stored secret could not be decrypted with the current or any old key."""


def _fernet_key(secret_key: str) -> bytes:
    # Derive a dedicated key so the Fernet key is never the session-signing key itself.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"statuslink.secrets", info=b"fernet")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _box() -> MultiFernet:
    keys = [current_app.config["SECRET_KEY"], *current_app.config.get("SECRET_KEYS_OLD", [])]
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def encrypt_secret(plaintext: str) -> str:
    """Encrypt a secret for storage."""
    return _box().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    """Decrypt a stored secret; raises SecretUnreadable when no key fits."""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored secret cannot be decrypted with the configured keys"
        ) from exc
