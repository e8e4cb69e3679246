"""Signed tokens: salts per purpose, expiry, key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.signing import (
    STATUS_DOCUMENT,
    STATUS_LINK,
    BadSignature,
    SignatureExpired,
    sign,
    unsign,
)


def test_round_trip_and_salt_separation(app):
    token = sign(STATUS_LINK, "abc")
    assert unsign(STATUS_LINK, token) == "abc"
    with pytest.raises(BadSignature):
        unsign(STATUS_DOCUMENT, token)


def test_tampered_and_truncated_tokens_fail(app):
    token = sign(STATUS_LINK, "abc")
    # The last base64 character holds padding bits, so tamper with one in the middle.
    flipped = token[:-10] + ("A" if token[-10] != "A" else "B") + token[-9:]
    for bad in (flipped, token[:-5], token.split(".")[0], "", "x" * 80):
        with pytest.raises(BadSignature):
            unsign(STATUS_LINK, bad)


def test_max_age_measured_with_injected_clock(app):
    minted = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    token = sign(STATUS_DOCUMENT, [1, 2], now=minted)
    assert unsign(STATUS_DOCUMENT, token, max_age=3600, now=minted + timedelta(minutes=59)) == [
        1,
        2,
    ]
    with pytest.raises(SignatureExpired):
        unsign(STATUS_DOCUMENT, token, max_age=3600, now=minted + timedelta(minutes=61))


def test_rotation_old_keys_verify_newest_signs(app):
    app.config["SECRET_KEY"] = "first-key-0123456789"
    old_token = sign(STATUS_LINK, "abc")
    app.config.update(SECRET_KEY="second-key-0123456789", SECRET_KEYS_OLD=["first-key-0123456789"])
    assert unsign(STATUS_LINK, old_token) == "abc"
    new_token = sign(STATUS_LINK, "abc")
    app.config["SECRET_KEYS_OLD"] = []
    assert unsign(STATUS_LINK, new_token) == "abc"
    with pytest.raises(BadSignature):
        unsign(STATUS_LINK, old_token)
