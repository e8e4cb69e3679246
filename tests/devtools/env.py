"""Environment for `statuslink` subprocesses that keeps them away from the real instance/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

STATUSLINK = str(Path(sys.executable).parent / "statuslink")

_DROP = ("REDIS_URL", "DATABASE_URL", "DEV_REDIS_PORT", "DEV_REDIS_MANAGED", "FLASK_APP", "PORT")


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """os.environ without service URLs, pointed at a temporary database and folders."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(
        STATUSLINK_ENV="testing",
        SECRET_KEY="subprocess-secret-key-0123456789",
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        MAIL_CATCHER_DIR=str(tmp_path / "mailbox"),
        DOCUMENTS_DIR=str(tmp_path / "documents"),
        DEV_REDIS_DIR=str(tmp_path / "redis"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env
