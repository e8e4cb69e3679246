"""Provider name → adapter class, and building an adapter for one sender account."""

from __future__ import annotations

from dataclasses import replace

from flask import current_app, has_app_context

from webapp.channels.sms.base import SenderConfig, SmsConfigError, SmsProvider
from webapp.channels.sms.generic_http import GenericHttpProvider
from webapp.channels.sms.log import LogProvider
from webapp.channels.sms.seven import SevenProvider
from webapp.channels.sms.twilio import TwilioProvider

PROVIDERS: dict[str, type[SmsProvider]] = {
    cls.name: cls for cls in (SevenProvider, TwilioProvider, GenericHttpProvider, LogProvider)
}


def provider_class(name: str) -> type[SmsProvider]:
    """The adapter class for a provider name; SmsConfigError when there is none."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise SmsConfigError(
            "provider", f"unknown SMS provider {name!r} (one of {', '.join(PROVIDERS)})"
        ) from None


def provider_choices() -> list[tuple[str, str]]:
    """(name, label) pairs for a select field."""
    return [(name, cls.label) for name, cls in PROVIDERS.items()]


def get_provider(config: SenderConfig, *, base_url: str | None = None) -> SmsProvider:
    """An adapter for this sender account.

    The API's base URL comes from, first to last: `base_url`, the account's ``base_url``
    setting, the app's ``SMS_PROVIDER_BASE_URLS[provider]`` (tests point a real worker at a
    local imitation server this way), the provider's public default.
    """
    cls = provider_class(config.provider)
    override = base_url or config.settings.get("base_url")
    if not override and has_app_context():
        override = (current_app.config.get("SMS_PROVIDER_BASE_URLS") or {}).get(config.provider)
    if override:
        config = replace(config, settings={**config.settings, "base_url": override})
    return cls(config)
