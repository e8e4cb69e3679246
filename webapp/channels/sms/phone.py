"""Phone numbers to E.164 with `phonenumbers`, the customer's or shop's country as default."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

FALLBACK_REGION = "DE"
# Amazon marketplaces whose top-level domain is not the country code.
_MARKETPLACE_REGIONS = {"co.uk": "GB", "com": "US", "com.be": "BE", "com.tr": "TR", "se": "SE"}
_NOT_MOBILE = {PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE}


class InvalidPhoneNumber(ValueError):
    """A number that cannot receive an SMS; `reason` is shown with the suppressed message."""

    def __init__(self, number: str, reason: str):
        super().__init__(f"{reason}: {number!r}")
        self.number = number
        self.reason = reason


def default_region(
    customer_country: str | None = None,
    shop_country: str | None = None,
    marketplace: str | None = None,
    fallback: str = FALLBACK_REGION,
) -> str:
    """The region numbers without a country code belong to: customer → shop → marketplace."""
    for country in (customer_country, shop_country):
        if country and len(country.strip()) == 2 and country.strip().isalpha():
            return country.strip().upper()
    if marketplace and "." in marketplace:
        tld = marketplace.split(".", 1)[1].lower()
        region = _MARKETPLACE_REGIONS.get(tld, tld.upper())
        if len(region) == 2:
            return region
    return fallback


def normalise_phone(
    raw: str | None, region: str = FALLBACK_REGION, *, mobile_only: bool = False
) -> str:
    """The number in E.164 (+491711234567); raises InvalidPhoneNumber with a clear reason.

    With `mobile_only`, numbers known to be landlines, toll-free or premium-rate are refused.
    """
    number = (raw or "").strip()
    if not number:
        raise InvalidPhoneNumber(number, "no phone number")
    try:
        parsed = phonenumbers.parse(number, region.upper() if region else None)
    except NumberParseException as exc:
        raise InvalidPhoneNumber(number, f"not a phone number ({_parse_reason(exc)})") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(number, "not a possible phone number (wrong length)")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(number, "not a valid phone number")
    if mobile_only and phonenumbers.number_type(parsed) in _NOT_MOBILE:
        raise InvalidPhoneNumber(number, "not a mobile number")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """The number with its middle hidden, for logs (+49171*****67)."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return f"{e164[:6]}{'*' * (len(e164) - 8)}{e164[-2:]}"


def _parse_reason(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "contains no number",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "unreadable")
