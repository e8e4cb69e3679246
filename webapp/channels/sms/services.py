"""SMS services: send one SMS, reconcile an uncertain one, create SMS sender accounts."""

from __future__ import annotations

import ipaddress
import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from webapp.accounts.models import Account, SenderAccount, Shop
from webapp.accounts.services import ValidationError, record_audit
from webapp.channels.sms.base import DeliveryState, SenderConfig, SmsConfigError, SmsResult
from webapp.channels.sms.phone import InvalidPhoneNumber, mask_phone, normalise_phone
from webapp.channels.sms.registry import get_provider, provider_class
from webapp.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from webapp.extensions import db

logger = logging.getLogger("statuslink.sms")

ALPHANUMERIC_SENDER_RE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 .\-]{1,11}$")
NUMERIC_SENDER_RE = re.compile(r"^\+?[0-9]{3,16}$")


# --- sending -------------------------------------------------------------------------------


def sms_sender_config(sender: SenderAccount) -> dict[str, Any]:
    """The plain dict `send_sms` and `reconcile` take, with the credentials decrypted.

    Raises SmsConfigError when the account is not an SMS account or its secret is unreadable.
    """
    if sender.channel != "sms" or not sender.provider:
        raise SmsConfigError("provider", f"sender account {sender.name!r} is not an SMS account")
    credentials = ""
    if sender.secret_encrypted:
        try:
            credentials = decrypt_secret(sender.secret_encrypted)
        except SecretUnreadable as exc:
            raise SmsConfigError("credentials", str(exc)) from exc
    return {
        "provider": sender.provider,
        "credentials": credentials,
        "sender_id": sender.sender_id,
        "settings": dict(sender.provider_settings or {}),
    }


def send_sms(
    sender_config: dict[str, Any], to: str, text: str, *, reference: str | None = None
) -> SmsResult:
    """Send one SMS through the sender account's provider. Commits nothing, never retries.

    `to` should already be E.164 (see `normalise_phone`); anything else is normalised with the
    account's ``default_region`` setting and refused as "failed"/"invalid_number" when invalid.
    `reference` (e.g. the message id) is passed to providers that store a client reference.
    State "unknown" means the provider may have the SMS: reconcile, do not resend.
    """
    try:
        config = SenderConfig.from_dict(sender_config)
        provider = get_provider(config)
    except SmsConfigError as exc:
        return SmsResult("failed", reply=exc.message, error_code="configuration")
    try:
        number = normalise_phone(to, str(config.settings.get("default_region") or "DE"))
    except InvalidPhoneNumber as exc:
        return SmsResult("failed", reply=exc.reason, error_code="invalid_number")
    if not text.strip():
        return SmsResult("failed", reply="the text is empty", error_code="empty_text")
    result = provider.send(number, text, reference=reference)
    logger.info(
        "sms provider=%s to=%s state=%s provider_id=%s error=%s",
        config.provider,
        mask_phone(number),
        result.state,
        result.provider_id,
        result.error_code,
    )
    return result


def supports_reconciliation(sender_config: dict[str, Any]) -> bool:
    """True when the provider can be asked about a message by its id."""
    try:
        return get_provider(SenderConfig.from_dict(sender_config)).has_status_lookup
    except SmsConfigError:
        return False


def reconcile(
    sender_config: dict[str, Any],
    provider_id: str | None,
    *,
    to: str | None = None,
    text: str | None = None,
    since: datetime | None = None,
) -> DeliveryState:
    """What became of an SMS whose send ended "unknown": "sent", "failed" or still "unknown".

    With a `provider_id` the provider's status lookup is asked. Without one (the send timed
    out before an id came back) providers that can list messages by recipient (Twilio) are
    searched for `text` sent to `to` since `since`. Read-only; commits nothing.
    """
    try:
        provider = get_provider(SenderConfig.from_dict(sender_config))
    except SmsConfigError:
        return "unknown"
    if provider_id:
        state = provider.delivery_state(provider_id)
    elif to and text and since:
        state = provider.find_sent(to, text, since)
    else:
        state = "unknown"
    logger.info(
        "sms reconcile provider=%s provider_id=%s state=%s", provider.name, provider_id, state
    )
    return state


# --- sender accounts -----------------------------------------------------------------------


def validate_sender_id(sender_id: str | None) -> str | None:
    """A sender id is up to 11 letters/digits (at least one letter) or a phone number."""
    value = (sender_id or "").strip()
    if not value:
        return None
    compact = re.sub(r"[\s()/-]", "", value)
    if NUMERIC_SENDER_RE.match(compact):
        return compact
    if ALPHANUMERIC_SENDER_RE.match(value):
        return value
    raise ValidationError(
        "sender_id", "use up to 11 letters and digits, or a phone number such as +4917112345678"
    )


def create_sms_sender_account(
    account: Account,
    name: str,
    provider: str,
    credentials: str,
    sender_id: str | None,
    settings: dict[str, Any] | None = None,
    *,
    shop: Shop | None = None,
    actor: str = "cli",
) -> SenderAccount:
    """Create an SMS sender account; the credentials are stored encrypted. Commits.

    Raises ValidationError naming the field (provider settings by their own key).
    """
    if not name.strip():
        raise ValidationError("name", "must not be empty")
    try:
        cls = provider_class(provider)
    except SmsConfigError as exc:
        raise ValidationError(exc.field, exc.message) from exc
    sender_id = validate_sender_id(sender_id)
    settings = dict(settings or {})
    _validate_common_settings(settings)
    try:
        cleaned = cls.clean_settings(credentials or "", sender_id, settings)
    except SmsConfigError as exc:
        raise ValidationError(exc.field, exc.message) from exc
    credentials = (credentials or "").strip()
    sender = SenderAccount(
        account_id=account.id,
        name=name.strip(),
        channel="sms",
        provider=provider,
        provider_settings=cleaned,
        sender_id=sender_id,
        secret_encrypted=encrypt_secret(credentials) if credentials else None,
        shop_id=shop.id if shop else None,
        bcc=[],
    )
    db.session.add(sender)
    record_audit(
        account.id,
        "sender.create",
        actor=actor,
        target=name.strip(),
        details={"channel": "sms", "provider": provider},
    )
    db.session.commit()
    return sender


def _validate_common_settings(settings: dict[str, Any]) -> None:
    public_ip = settings.get("public_ip")
    if public_ip:
        try:
            settings["public_ip"] = str(ipaddress.ip_address(str(public_ip).strip()))
        except ValueError as exc:
            raise ValidationError("public_ip", "must be an IPv4 or IPv6 address") from exc
    base_url = settings.get("base_url")
    if base_url:
        parts = urlsplit(str(base_url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("base_url", "must be an http(s) URL")
    region = settings.get("default_region")
    if region and not (len(str(region)) == 2 and str(region).isalpha()):
        raise ValidationError("default_region", "must be a two-letter country code such as DE")
    timeout = settings.get("timeout")
    if timeout is not None:
        try:
            seconds = float(timeout)
        except (TypeError, ValueError):
            seconds = -1
        if not 1 <= seconds <= 120:
            raise ValidationError("timeout", "must be between 1 and 120 seconds")


def update_sms_sender_account(
    account_id: int,
    sender_id: int,
    *,
    name: str,
    credentials: str | None,
    sender_name: str | None,
    settings: dict[str, Any],
    shop: Shop | None = None,
    enabled: bool = True,
    actor: str = "system",
    user_id: int | None = None,
) -> SenderAccount:
    """Change an SMS sender account; `credentials` None (or empty) keeps the stored ones.

    The provider stays as it was created. Settings are validated like on creation; keys the
    caller does not send (e.g. a log file path set on the command line) are kept. Commits.
    Raises ValidationError naming the field.
    """
    from webapp.accounts.services import get_sender_account

    sender = get_sender_account(account_id, sender_id)
    if sender.channel != "sms" or not sender.provider:
        raise ValidationError("provider", "not an SMS sender account")
    if not name.strip():
        raise ValidationError("name", "must not be empty")
    cls = provider_class(sender.provider)
    clean_sender_id = validate_sender_id(sender_name)
    merged = {**dict(sender.provider_settings or {}), **settings}
    merged = {k: v for k, v in merged.items() if v not in (None, "", [])}
    _validate_common_settings(merged)
    new_credentials = (credentials or "").strip()
    if new_credentials:
        secret = new_credentials
    elif sender.secret_encrypted:
        try:
            secret = decrypt_secret(sender.secret_encrypted)
        except SecretUnreadable as exc:
            raise ValidationError(
                "credentials", "cannot be read any more; enter them again"
            ) from exc
    else:
        secret = ""
    try:
        cleaned = cls.clean_settings(secret, clean_sender_id, merged)
    except SmsConfigError as exc:
        raise ValidationError(exc.field, exc.message) from exc
    changed = [
        key
        for key, old, new in (
            ("name", sender.name, name.strip()),
            ("sender_id", sender.sender_id, clean_sender_id),
            ("settings", sender.provider_settings, cleaned),
            ("shop_id", sender.shop_id, shop.id if shop else None),
            ("enabled", sender.enabled, enabled),
        )
        if old != new
    ]
    sender.name = name.strip()
    sender.sender_id = clean_sender_id
    sender.provider_settings = cleaned
    sender.shop_id = shop.id if shop else None
    sender.enabled = enabled
    details: dict[str, Any] = {"changed": changed}
    if new_credentials:
        sender.secret_encrypted = encrypt_secret(new_credentials)
        details["password"] = "changed"  # noqa: S105 - an audit note, not a secret
    record_audit(
        account_id,
        "sender.update",
        actor=actor,
        user_id=user_id,
        target=sender.name,
        details=details,
    )
    db.session.commit()
    return sender
