"""Configuration read from the environment (and `.env`), with per-environment defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

SUPPORTED_LANGUAGES = ("de", "en", "fr", "it", "es", "nl", "pl", "sv")
ADMIN_LANGUAGES = ("en", "de")


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used (e.g. no SECRET_KEY in production)."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _dev_secret_key(instance_path: Path) -> str:
    """Return the development secret kept in `instance/secret_key`, creating it once."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _normalise_database_url(url: str) -> str:
    # psycopg 3 is the driver; plain postgres:// URLs from hosting providers must map onto it.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def build_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from the environment plus explicit overrides."""
    load_dotenv(override=False)
    overrides = dict(overrides or {})
    env = overrides.get("ENV_NAME") or os.environ.get("STATUSLINK_ENV", "development")
    instance = Path(instance_path)
    testing = env == "testing"

    secret_key = overrides.get("SECRET_KEY") or os.environ.get("SECRET_KEY")
    if not secret_key:
        if env == "production":
            raise ConfigError("SECRET_KEY must be set when STATUSLINK_ENV=production")
        secret_key = "testing-secret-key" if testing else _dev_secret_key(instance)
    old_keys = [k.strip() for k in os.environ.get("SECRET_KEYS_OLD", "").split(",") if k.strip()]

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'statuslink.db'}"

    config: dict[str, Any] = {
        "ENV_NAME": env,
        "TESTING": testing,
        "SECRET_KEY": secret_key,
        "SECRET_KEYS_OLD": old_keys,
        "SQLALCHEMY_DATABASE_URI": _normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "statuslink"),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "STATUS_LINK_DAYS": _env_int("STATUS_LINK_DAYS", 90),
        # How long a rendered status page is shared from Redis (0 switches the cache off).
        "STATUS_PAGE_CACHE_SECONDS": _env_int("STATUS_PAGE_CACHE_SECONDS", 10),
        # Opens of status links are counted in Redis and written to the database at most this
        # many seconds later (0: after every open); see webapp/status/opens.py.
        "STATUS_OPENS_FLUSH_SECONDS": _env_int("STATUS_OPENS_FLUSH_SECONDS", 2),
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers to trust
        # (client address for rate limits, scheme and host for URLs); 0 trusts none.
        "PROXY_FIX": _env_int("PROXY_FIX", 0),
        "DOCUMENTS_DIR": os.environ.get("DOCUMENTS_DIR", str(instance / "documents")),
        "MAX_CONTENT_LENGTH": _env_int("MAX_CONTENT_LENGTH", 10 * 1024 * 1024),
        "API_MAX_JSON_BYTES": _env_int("API_MAX_JSON_BYTES", 512 * 1024),
        "DEMO_MODE": os.environ.get("STATUSLINK_DEMO", "") == "1",
        "MAIL_CATCHER_DIR": os.environ.get("MAIL_CATCHER_DIR", str(instance / "mailbox")),
        "MAIL_CATCHER_PORT": _env_int("MAIL_CATCHER_PORT", 2525),
        # SMS gateways and SMTP servers are typed in by merchants: outside development and
        # tests they may not point at loopback, private or link-local addresses (SSRF).
        "ALLOW_PRIVATE_NETWORK_TARGETS": _env_flag(
            "ALLOW_PRIVATE_NETWORK_TARGETS", env in ("development", "testing")
        ),
        # Verify SMTP servers' TLS certificates; can be switched off only where private
        # network targets are allowed (a local test server with a self-signed certificate).
        "SMTP_TLS_VERIFY": _env_flag("SMTP_TLS_VERIFY", True),
        # How often workers look for imports that Redis or a dead worker left behind.
        "IMPORT_SWEEP_SECONDS": _env_int("IMPORT_SWEEP_SECONDS", 60),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_ENABLED": True,
        "LOGIN_MAX_FAILURES": _env_int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_SECONDS": _env_int("LOGIN_LOCKOUT_SECONDS", 30),
        # Login attempts (POST /login) per client address and window, whatever the e-mail.
        "LOGIN_IP_MAX_ATTEMPTS": _env_int("LOGIN_IP_MAX_ATTEMPTS", 30),
        "LOGIN_IP_WINDOW_SECONDS": _env_int("LOGIN_IP_WINDOW_SECONDS", 300),
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        # flask-smorest / OpenAPI
        "API_TITLE": "Statuslink API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
    config.update(overrides)
    config["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides and config[
        "SQLALCHEMY_DATABASE_URI"
    ].startswith("sqlite"):
        # SQLite: a busy timeout lets web and worker write the same file without "database is
        # locked" errors; WAL itself is switched on per connection in extensions.py.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    return config
