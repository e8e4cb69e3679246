"""Flask-Login wiring and role checks for the admin UI."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, abort
from flask_login import current_user, login_required

from webapp.accounts.services import load_user_from_session
from webapp.extensions import login_manager

ROLE_RANK = {"agent": 1, "admin": 2, "owner": 3}


def register_auth(app: Flask) -> None:
    """Configure Flask-Login: session identity includes a version so logout ends it."""
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user_from_session)


def role_required(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a logged-in user with at least `role` (agent < admin < owner)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if ROLE_RANK.get(current_user.role, 0) < ROLE_RANK[role]:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
