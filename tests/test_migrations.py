"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.devtools.env import STATUSLINK, isolated_env
from tests.support.services import private_postgres_database
from webapp import create_app
from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "migrations"


def test_upgrade_from_empty_matches_models(database_url, redis_url, tmp_path):
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        with private_postgres_database(os.environ["TEST_DATABASE_URL"]) as pg_url:
            _check(pg_url, redis_url)
        return
    _check(url, redis_url)


def _check(url: str, redis_url: str) -> None:
    app = create_app(
        {"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url}
    )
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == []
        downgrade(revision="base")
        with db.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
        assert tables == set()
        db.engine.dispose()


def test_db_commands_migrate_a_new_database(tmp_path):
    env = isolated_env(tmp_path)
    run = functools.partial(
        subprocess.run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    proc = run([STATUSLINK, "db", "upgrade"])
    assert proc.returncode == 0, proc.stderr
    current = run([STATUSLINK, "db", "current"])
    assert current.returncode == 0, current.stderr
    assert "(head)" in current.stdout
    # The group's own options reach the commands, as with Flask-Migrate's group.
    history = run([STATUSLINK, "db", "--directory", str(MIGRATIONS), "history"])
    assert history.returncode == 0, history.stderr
    assert "Initial schema" in history.stdout
    unknown = run([STATUSLINK, "db", "nonsense"])
    assert unknown.returncode == 2
    assert "No such command 'nonsense'" in unknown.stderr


def test_the_app_does_not_import_alembic_until_a_migration_runs(tmp_path):
    # Flask-Migrate brings Alembic, Mako and Pygments (~11 MB) into every process that
    # imports it; web and worker processes never need them.
    code = (
        "import sys\n"
        "from webapp import create_app\n"
        "app = create_app()\n"
        "assert 'alembic' not in sys.modules, 'alembic imported'\n"
        "assert 'flask_migrate' not in sys.modules, 'flask_migrate imported'\n"
        "with app.app_context():\n"
        "    directory = app.extensions['migrate'].directory\n"
        "assert 'flask_migrate' in sys.modules\n"
        "print(directory)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("migrations")
