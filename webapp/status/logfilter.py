"""Keeps status-link tokens out of logs: /s/<token> is cut to its first 8 characters."""

from __future__ import annotations

import logging
import re

from flask import Flask

_TOKEN_PATH = re.compile(r"(/s/)([A-Za-z0-9_\-.]{8})[A-Za-z0-9_\-.]+")

# Loggers that print request paths: the dev server, gunicorn, and the app's error handler.
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "webapp.errors")


def redact_tokens(text: str) -> str:
    """`text` with every /s/<token> shortened to /s/<first 8 chars>…"""
    return _TOKEN_PATH.sub(r"\1\2…", text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message so no status token appears in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's problem, not ours
            return True
        redacted = redact_tokens(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def install_token_log_filter(app: Flask) -> None:
    """Attach the filter once to every logger that prints request paths."""
    names = (*LOGGERS, app.logger.name)
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
