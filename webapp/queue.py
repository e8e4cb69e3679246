"""Redis and RQ access for the web side: enqueue jobs by dotted path, never by import."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from redis import Redis
from redis.commands.core import Script
from redis.exceptions import RedisError
from rq import Queue
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

_EXT = "statuslink.redis"


def register_queue(app: Flask) -> None:
    """Create the app's Redis client lazily (no connection is made here)."""
    app.extensions[_EXT] = Redis.from_url(
        app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
    )


def get_redis() -> Redis:
    """The app's Redis client."""
    return current_app.extensions[_EXT]


_scripts: dict[str, Script] = {}


def run_script(name: str, source: str, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA of the Lua script `source` (registered once under `name`) on the app's Redis;
    redis-py loads it when the server does not know it yet. Raises RedisError."""
    client = get_redis()
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = client.register_script(source)
    return script(keys=keys, args=args, client=client)


def get_queue(name: str | None = None) -> Queue:
    """The RQ queue (JSON serializer) the workers of this app listen to."""
    return Queue(
        name or current_app.config["RQ_QUEUE"],
        connection=get_redis(),
        serializer=JSONSerializer,
    )


def enqueue(func_path: str, *args: Any, job_id: str | None = None, **kwargs: Any) -> bool:
    """Enqueue `func_path` (a dotted path under `jobs.`) with plain arguments.

    Returns False instead of raising when Redis is unreachable: the database is the source of
    truth and the periodic sweep picks up whatever was not enqueued.
    """
    try:
        get_queue().enqueue(
            func_path,
            args=args,
            kwargs=kwargs,
            job_id=job_id,
            result_ttl=60,
            failure_ttl=24 * 3600,
        )
        return True
    except RedisError as exc:
        log.warning("could not enqueue %s: %s", func_path, exc.__class__.__name__)
        return False
