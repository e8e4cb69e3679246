"""Housekeeping jobs; `ping` proves a worker can run a job against the database."""

from __future__ import annotations

from sqlalchemy import text

from webapp.extensions import db


def ping() -> dict[str, str]:
    """Run one query in the worker's app context and report the database dialect."""
    db.session.execute(text("SELECT 1"))
    return {"db": "ok", "dialect": db.engine.dialect.name}
