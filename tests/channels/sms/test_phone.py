"""E.164 normalisation with the customer's or shop's country as default region."""

from __future__ import annotations

import pytest

from webapp.channels.sms.phone import (
    InvalidPhoneNumber,
    default_region,
    mask_phone,
    normalise_phone,
)


@pytest.mark.parametrize(
    "raw",
    ["+49 171 1234567", "0171 1234567", "0171/1234567", "0049 171 1234567", "+49 (0)171 1234567"],
)
def test_german_mobile_numbers(raw):
    assert normalise_phone(raw, "DE") == "+491711234567"


def test_national_number_without_leading_zero_in_germany():
    assert normalise_phone("171 1234567", "DE") == "+491711234567"


def test_the_default_region_decides_for_national_numbers():
    assert normalise_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert normalise_phone("0612 345678", "NL") == "+31612345678"
    assert normalise_phone("07400 123456", "GB") == "+447400123456"


def test_international_numbers_ignore_the_default_region():
    assert normalise_phone("+33 6 12 34 56 78", "DE") == "+33612345678"
    assert normalise_phone("+48 512 345 678", "DE") == "+48512345678"
    assert normalise_phone("+1 415 555 2671", "DE") == "+14155552671"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "no phone number"),
        ("   ", "no phone number"),
        ("hello", "not a phone number"),
        ("12", "not a"),
        ("+49 171 1234567890123", "not a"),
        ("+999 1234567", "not a phone number (unknown country code)"),
    ],
)
def test_invalid_numbers_raise_a_clear_reason(raw, reason):
    with pytest.raises(InvalidPhoneNumber) as exc:
        normalise_phone(raw, "DE")
    assert exc.value.reason.startswith(reason)


def test_landline_refused_only_when_mobile_is_required():
    assert normalise_phone("030 1234567", "DE") == "+49301234567"
    with pytest.raises(InvalidPhoneNumber, match="not a mobile number"):
        normalise_phone("030 1234567", "DE", mobile_only=True)


def test_default_region_chain():
    assert default_region("at", "DE") == "AT"
    assert default_region(None, "FR") == "FR"
    assert default_region(None, None, "amazon.co.uk") == "GB"
    assert default_region(None, None, "amazon.it") == "IT"
    assert default_region("", None, None) == "DE"


def test_mask_hides_the_middle():
    masked = mask_phone("+491711234567")
    assert masked.startswith("+49171") and masked.endswith("67")
    assert "12345" not in masked
