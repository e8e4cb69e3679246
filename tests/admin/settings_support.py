"""Helpers for the settings view tests: users of each role, posting with the CSRF token."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.factories import PASSWORD
from tests.support.html import csrf_token
from webapp.accounts import services as accounts
from webapp.accounts.models import Account, User
from webapp.extensions import db


def add_user(account: Account, role: str, email: str | None = None) -> User:
    """A user of `role` in the account (password PASSWORD)."""
    return accounts.create_user(
        account, email or f"{role}@{account.slug}.example", PASSWORD, role=role
    )


def login(client, email: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def token(client, path: str = "/settings") -> str:
    return csrf_token(client.get(path))


def post(client, path: str, data: dict | None = None, *, htmx: bool = False, **kwargs):
    """POST with a valid CSRF token (as a form field, or as htmx sends it, in a header)."""
    csrf = token(client)
    headers = dict(kwargs.pop("headers", {}) or {})
    payload = dict(data or {})
    if htmx:
        headers.update({"HX-Request": "true", "X-CSRFToken": csrf})
    else:
        payload["csrf_token"] = csrf
    return client.post(path, data=payload, headers=headers, **kwargs)


def reread(model, **filters):
    """A fresh copy of a row (each request had its own session)."""
    db.session.expire_all()
    return db.session.execute(select(model).filter_by(**filters)).scalar_one()
