"""`/healthz`: is the database and Redis reachable."""

from __future__ import annotations

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import csrf, db
from webapp.queue import get_redis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@csrf.exempt
def healthz():
    """200 with `{"db": "ok", "redis": "ok"}`, or 503 naming what is down."""
    status = {"db": "ok", "redis": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        status["db"] = "down"
    try:
        get_redis().ping()
    except (RedisError, OSError):
        status["redis"] = "down"
    code = 200 if all(v == "ok" for v in status.values()) else 503
    return jsonify(status), code
