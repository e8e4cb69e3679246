"""A test client whose every request runs in its own app context, as in production."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


class PerRequestContextClient(FlaskClient):
    """Flask reuses an already pushed app context for a request, so `g` (Flask-Login's user,
    Flask-WTF's CSRF token) and the database session would leak from one request into the
    next. A fresh app context per request keeps each request as isolated as on a server."""

    def open(self, *args: Any, **kwargs: Any):
        with self.application.app_context():
            return super().open(*args, **kwargs)
