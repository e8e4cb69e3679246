"""The `statuslink` command line: every command's good path and clean failures on bad input."""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import func, select, text

from tests.devtools.env import STATUSLINK, isolated_env
from webapp.accounts import demo as demo_module
from webapp.accounts.models import Account, ApiKey, SenderAccount, Shop, User
from webapp.accounts.services import (
    authenticate_api_key,
    authenticate_user,
    create_account,
    get_account_by_slug,
)
from webapp.crypto import decrypt_secret


def invoke(runner, command: str):
    """Run `statuslink COMMAND` (a shell-like string) in the test app."""
    return runner.invoke(args=shlex.split(command))


def assert_fails_cleanly(result, *fragments: str) -> str:
    """Exit code 1, one `Error:` line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def acme(db):
    return create_account("Acme GmbH", "acme", default_language="de")


# --- account -------------------------------------------------------------------------------


def test_account_create(runner, db):
    result = runner.invoke(args=["account", "create", "Acme GmbH", "--slug", "acme"])
    assert result.exit_code == 0, result.output
    assert "acme" in result.stdout
    account = get_account_by_slug("acme")
    assert account is not None and account.name == "Acme GmbH"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["Acme", "--slug", "Not A Slug"], "slug"),
        (["   ", "--slug", "blank"], "name"),
        (["Acme", "--slug", "acme2", "--language", "xx"], "language"),
    ],
)
def test_account_create_rejects_bad_input(runner, db, args, fragment):
    assert_fails_cleanly(runner.invoke(args=["account", "create", *args]), fragment)
    assert count(db, Account) == 0


def test_account_create_rejects_duplicate_slug(runner, acme):
    result = runner.invoke(args=["account", "create", "Other", "--slug", "acme"])
    assert_fails_cleanly(result, "slug", "already exists")


# --- user ----------------------------------------------------------------------------------


def test_user_create(runner, acme, db):
    password = "a long enough password"
    result = invoke(
        runner,
        f"user create --account acme --email Boss@ACME.example --password '{password}' "
        "--role admin",
    )
    assert result.exit_code == 0, result.output
    assert password not in result.output
    login = authenticate_user("Boss@acme.example", password)
    assert login.user is not None
    assert login.user.role == "admin" and login.user.account_id == acme.id


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--account", "nope", "--email", "a@acme.example"], "no account with slug 'nope'"),
        (["--account", "acme", "--email", "not-an-email"], "email"),
        (["--account", "acme", "--email", "a@acme.example", "--role", "root"], "role"),
    ],
)
def test_user_create_rejects_bad_input(runner, acme, db, args, fragment):
    result = runner.invoke(args=["user", "create", *args, "--password", "long enough pass"])
    assert_fails_cleanly(result, fragment)
    assert count(db, User) == 0


def test_user_create_rejects_short_password_and_duplicates(runner, acme, db):
    base = ["user", "create", "--account", "acme", "--email", "a@acme.example"]
    assert_fails_cleanly(runner.invoke(args=[*base, "--password", "short"]), "password")
    assert runner.invoke(args=[*base, "--password", "long enough pass"]).exit_code == 0
    line = assert_fails_cleanly(runner.invoke(args=[*base, "--password", "another long one"]))
    assert "already exists" in line
    assert count(db, User) == 1


# --- apikey --------------------------------------------------------------------------------


def test_apikey_create_prints_only_the_key_and_it_authenticates(runner, acme):
    result = runner.invoke(args=["apikey", "create", "--account", "acme", "--name", "erp"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stdout == lines[0] + "\n"
    key = lines[0]
    row = authenticate_api_key(key)
    assert row is not None
    assert row.account_id == acme.id and row.name == "erp"
    assert authenticate_api_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None


def test_apikey_create_rejects_unknown_account(runner, db):
    assert_fails_cleanly(runner.invoke(args=["apikey", "create", "--account", "ghost"]), "ghost")
    assert count(db, ApiKey) == 0


# --- shop ----------------------------------------------------------------------------------


def test_shop_create_amazon_takes_language_from_marketplace(runner, acme):
    result = invoke(
        runner,
        "shop create --account acme --code amz-fr --name 'Acme FR' --kind amazon "
        "--marketplace amazon.fr",
    )
    assert result.exit_code == 0, result.output
    shop = acme_shop(acme, "amz-fr")
    assert (shop.kind, shop.marketplace, shop.language) == ("amazon", "amazon.fr", "fr")


def test_shop_create_webshop_with_language(runner, acme):
    result = invoke(
        runner,
        "shop create --account acme --code web --name 'Acme Shop' --kind webshop --language it",
    )
    assert result.exit_code == 0, result.output
    shop = acme_shop(acme, "web")
    assert (shop.kind, shop.marketplace, shop.language) == ("webshop", None, "it")


def acme_shop(account, code):
    from webapp.accounts.services import get_shop_by_code

    shop = get_shop_by_code(account.id, code)
    assert shop is not None
    return shop


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--kind", "marketplace"], "kind"),
        (["--kind", "amazon"], "marketplace"),
        (["--kind", "webshop", "--language", "tlh"], "language"),
        (["--kind", "store", "--contact-email", "nope"], "contact_email"),
    ],
)
def test_shop_create_rejects_bad_input(runner, acme, db, extra, fragment):
    base = ["shop", "create", "--account", "acme", "--code", "s1", "--name", "S1"]
    assert_fails_cleanly(runner.invoke(args=[*base, *extra]), fragment)
    assert count(db, Shop) == 0


def test_shop_create_rejects_duplicate_code_and_unknown_account(runner, acme, db):
    base = ["shop", "create", "--code", "s1", "--name", "S1", "--kind", "store"]
    assert runner.invoke(args=[*base, "--account", "acme"]).exit_code == 0
    assert_fails_cleanly(runner.invoke(args=[*base, "--account", "acme"]), "already exists")
    assert_fails_cleanly(runner.invoke(args=[*base, "--account", "nobody"]), "nobody")
    assert count(db, Shop) == 1


# --- sender --------------------------------------------------------------------------------


def test_sender_create_stores_the_password_encrypted(runner, acme, db):
    invoke(runner, "shop create --account acme --code web --name Web --kind webshop")
    result = invoke(
        runner,
        "sender create --account acme --name 'Main SMTP' "
        "--smtp smtp://mailer:s3cr%40t-pass@mail.acme.example:587 "
        "--from-email shop@acme.example --from-name 'Acme Shop' "
        "--bcc 'archive@acme.example, boss@acme.example' --shop web",
    )
    assert result.exit_code == 0, result.output
    assert "s3cr" not in result.output
    sender = db.session.execute(select(SenderAccount)).scalar_one()
    assert (sender.smtp_host, sender.smtp_port) == ("mail.acme.example", 587)
    assert sender.smtp_security == "starttls"
    assert sender.smtp_username == "mailer"
    assert sender.bcc == ["archive@acme.example", "boss@acme.example"]
    assert acme_shop(acme, "web").sender_account_id == sender.id
    row = db.session.execute(text("SELECT * FROM sender_account")).mappings().one()
    assert not any("s3cr@t-pass" in str(value) for value in row.values())
    assert decrypt_secret(row["secret_encrypted"]) == "s3cr@t-pass"


def test_sender_create_with_explicit_security_and_no_login(runner, acme, db):
    result = invoke(
        runner,
        "sender create --account acme --name Relay --smtp smtp://relay.acme.example:2525 "
        "--security ssl --from-email shop@acme.example",
    )
    assert result.exit_code == 0, result.output
    sender = db.session.execute(select(SenderAccount)).scalar_one()
    assert sender.smtp_security == "ssl"
    assert sender.secret_encrypted is None and sender.smtp_username is None


@pytest.mark.parametrize(
    ("smtp", "extra", "fragment"),
    [
        ("http://mail.acme.example", [], "smtp"),
        ("smtp://mail.acme.example:99999", [], "port"),
        ("smtp://mail.acme.example:25", ["--security", "tls13"], "security"),
        ("smtp://mail.acme.example:25", ["--bcc", "ok@acme.example,broken"], "bcc"),
        ("smtp://mail.acme.example:25", ["--shop", "nowhere"], "nowhere"),
        ("smtp://mail.acme.example:25", ["--from-email", "nobody"], "from_email"),
    ],
)
def test_sender_create_rejects_bad_input(runner, acme, db, smtp, extra, fragment):
    args = ["sender", "create", "--account", "acme", "--name", "X", "--smtp", smtp]
    if "--from-email" not in extra:
        args += ["--from-email", "shop@acme.example"]
    assert_fails_cleanly(runner.invoke(args=[*args, *extra]), fragment)
    assert count(db, SenderAccount) == 0


def test_sender_create_error_never_shows_the_password(runner, acme):
    result = invoke(
        runner,
        "sender create --account acme --name X "
        "--smtp smtp://u:hunter2secret@mail.acme.example:25 --from-email bad",
    )
    assert "hunter2secret" not in assert_fails_cleanly(result, "from_email")


# --- demo ----------------------------------------------------------------------------------


def demo_json(runner, *args: str) -> dict:
    result = runner.invoke(args=["demo", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_demo_json_shape_and_credentials_work(runner, db):
    data = demo_json(runner)
    assert set(data) == {"account", "api_key", "admin_email", "admin_password", "shops"}
    assert data["account"] == "demo"
    shops = {s["code"]: s for s in data["shops"]}
    assert all(set(s) == {"code", "kind", "marketplace", "language"} for s in data["shops"])
    kinds = {(s["kind"], s["marketplace"], s["language"]) for s in shops.values()}
    assert ("amazon", "amazon.de", "de") in kinds
    assert ("webshop", None, "de") in kinds
    assert "store" in {s["kind"] for s in shops.values()}

    account = get_account_by_slug("demo")
    key = authenticate_api_key(data["api_key"])
    assert key is not None and key.account_id == account.id
    login = authenticate_user(data["admin_email"], data["admin_password"])
    assert login.user is not None and login.user.role == "owner"

    senders = db.session.execute(select(SenderAccount)).scalars().all()
    assert len(senders) == 1
    assert (senders[0].smtp_host, senders[0].smtp_port) == ("127.0.0.1", 2525)
    for shop in db.session.execute(select(Shop)).scalars():
        assert shop.sender_account_id == senders[0].id


def test_demo_twice_refreshes_without_duplicates(runner, db):
    first = demo_json(runner)
    totals = [count(db, m) for m in (Account, Shop, SenderAccount, User)]
    second = demo_json(runner, "--smtp", "smtp://demo:pw-123@smtp.demo.example:587")
    assert [count(db, m) for m in (Account, Shop, SenderAccount, User)] == totals
    assert second["shops"] == first["shops"]
    assert authenticate_user(second["admin_email"], second["admin_password"]).user is not None
    if second["admin_password"] != first["admin_password"]:
        assert authenticate_user(first["admin_email"], first["admin_password"]).user is None
    assert authenticate_api_key(second["api_key"]) is not None
    sender = db.session.execute(select(SenderAccount)).scalar_one()
    assert (sender.smtp_host, sender.smtp_port, sender.smtp_security) == (
        "smtp.demo.example",
        587,
        "starttls",
    )
    assert decrypt_secret(sender.secret_encrypted) == "pw-123"


def test_demo_summary_is_human_readable(runner, app):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert f"{app.config['BASE_URL']}/login" in result.stdout
    assert "admin@demo.example" in result.stdout
    assert "sl_" in result.stdout


def test_demo_runs_registered_seed_steps_after_the_shops(runner, monkeypatch):
    seen: list[tuple[str, list[str]]] = []

    def step(account: Account) -> None:
        from webapp.accounts.services import list_shops

        seen.append((account.slug, sorted(s.code for s in list_shops(account.id))))

    monkeypatch.setattr(demo_module, "DEMO_SEED_STEPS", [step])
    demo_json(runner)
    demo_json(runner)
    assert seen == [("demo", ["amazon-de", "store", "webshop"])] * 2


def test_demo_rejects_a_bad_smtp_url_before_writing(runner, db):
    assert_fails_cleanly(runner.invoke(args=["demo", "--smtp", "mail.example:25"]), "smtp")
    assert count(db, Account) == 0


def test_demo_refuses_when_the_admin_email_belongs_to_another_account(runner, acme):
    from webapp.accounts.services import create_user

    create_user(acme, "admin@demo.example", "long enough pass")
    assert_fails_cleanly(runner.invoke(args=["demo"]), "admin_email")


# --- db errors, help, worker ---------------------------------------------------------------


def test_database_errors_are_one_line(tmp_path):
    proc = subprocess.run(
        [STATUSLINK, "account", "create", "Acme", "--slug", "acme"],
        env=isolated_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "Error: database error (no such table: account); is the database migrated? "
        "Run `statuslink db upgrade`."
    ]


def test_help_lists_every_command(tmp_path):
    proc = subprocess.run(
        [STATUSLINK, "--help"],
        env=isolated_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    commands = ("account", "user", "apikey", "shop", "sender", "demo", "db", "run", "worker")
    for name in (*commands, "dev"):
        assert f"\n  {name} " in proc.stdout


@pytest.mark.slow
def test_worker_burst_runs_a_job_enqueued_by_dotted_path(redis_url, tmp_path):
    queue_name = f"cli-worker-{uuid.uuid4().hex[:8]}"
    connection = Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
    job = queue.enqueue("jobs.maintenance.ping", result_ttl=600)
    try:
        proc = subprocess.run(
            [STATUSLINK, "worker", "--burst", "--queue", queue_name],
            env=isolated_env(tmp_path, REDIS_URL=redis_url),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        done = Job.fetch(job.id, connection=connection, serializer=JSONSerializer)
        assert done.get_status() == "finished", proc.stderr
        assert done.return_value() == {"db": "ok", "dialect": "sqlite"}
    finally:
        queue.delete(delete_jobs=True)
        connection.close()


def test_worker_gives_up_cleanly_without_redis(tmp_path):
    from tests.support.services import free_port

    proc = subprocess.run(
        [STATUSLINK, "worker", "--burst", "--wait", "0.5"],
        env=isolated_env(tmp_path, REDIS_URL=f"redis://:topsecret@127.0.0.1:{free_port()}/0"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "topsecret" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: Redis at redis://:***@")
