"""Flask-Babel: the admin UI in English and German, chosen by user setting or browser."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from flask import Flask, request
from flask_babel import Babel, get_locale
from flask_login import current_user

from webapp import ROOT
from webapp.config import ADMIN_LANGUAGES

TRANSLATIONS_DIR = ROOT / "translations"

# Names of the admin UI languages in their own language, for the language switch.
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext no-op marker
    """Mark a string for extraction without translating it now (translated where shown)."""
    return message


def _select_locale() -> str | None:
    user_language = getattr(current_user, "language", None)
    if getattr(current_user, "is_authenticated", False) and user_language in ADMIN_LANGUAGES:
        return user_language
    return request.accept_languages.best_match(ADMIN_LANGUAGES) or "en"


def current_language() -> str:
    """The language code of the current request's UI ("en" or "de")."""
    locale = get_locale()
    return locale.language if locale else "en"


def language_name(code: str | None) -> str:
    """The name of a language (by code) in the current UI language, e.g. "Deutsch"/"German"."""
    if not code:
        return ""
    try:
        return Locale.parse(code).get_display_name(get_locale() or "en") or code
    except (ValueError, UnknownLocaleError):
        return code


def register_i18n(app: Flask) -> None:
    """Attach Flask-Babel with the locale selector and the catalogs in `translations/`."""
    # An absolute path: Flask-Babel resolves relative ones against the package, not the repo.
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    app.extensions.setdefault("statuslink.babel", Babel(app, locale_selector=_select_locale))
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.filters["language_name"] = language_name
