"""Opens counted in the link's Redis ledger and written to the database in batches, and
cached pages answered by the CachedPages middleware.

These tests raise STATUS_OPENS_FLUSH_SECONDS (0 elsewhere in the tests) so that what waits in
Redis and what reaches the database can be told apart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.status import flush_status_opens
from jobs.worker import PERIODIC_JOBS
from tests.support.sql import counted_statements
from webapp.extensions import db
from webapp.queue import get_redis, run_script
from webapp.status import opens, pagecache, services
from webapp.status.pagecache import page_key


def path_of(url: str) -> str:
    return url.replace("http://statuslink.test", "")


@pytest.fixture()
def delayed(app):
    app.config["STATUS_OPENS_FLUSH_SECONDS"] = 60
    # A flush may be due from an earlier open in this namespace: take it now.
    get_redis().set(opens.flush_due_key(), "1", px=60_000)
    return app


@pytest.fixture()
def minted(tenant, order_set):
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    return link, path_of(url)


def pending(link_id: str) -> int:
    return int(get_redis().hget(opens.pending_key(link_id), "p") or 0)


def test_a_cached_view_needs_no_statement_and_its_open_is_written_later(delayed, client, minted):
    link, path = minted
    assert client.get(path).status_code == 200  # built, counted in the database
    with counted_statements() as statements:
        for _ in range(3):
            assert client.get(path).status_code == 200
    assert statements == []
    db.session.refresh(link)
    assert link.open_count == 1
    assert pending(link.link_id) == 3
    first_db_open = link.first_opened_at
    assert opens.flush_opens() == 3
    db.session.refresh(link)
    assert link.open_count == 4
    assert link.first_opened_at == first_db_open  # the first open stays the first
    assert link.last_opened_at > first_db_open
    assert pending(link.link_id) == 0
    assert opens.flush_opens() == 0  # nothing twice


def test_the_use_limit_holds_before_the_opens_are_written(delayed, client, tenant, order_set):
    tenant.webshop.status_link_max_opens = 3
    db.session.commit()
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    codes = [client.get(path_of(url)).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 410, 410]
    body = client.get(path_of(url)).get_data(as_text=True)
    assert "Garden chair oak" not in body
    db.session.refresh(link)
    assert link.open_count == 1  # the database does not know yet ...
    opens.flush_opens()
    db.session.refresh(link)
    assert link.open_count == 3  # ... and never more than the limit


def test_revoking_stops_cached_views_at_once(delayed, client, tenant, minted):
    link, path = minted
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200  # from the cache
    services.revoke_link(tenant.account.id, link.link_id)
    response = client.get(path)
    assert response.status_code == 410
    assert "Garden chair oak" not in response.get_data(as_text=True)
    opens.flush_opens()
    db.session.refresh(link)
    assert link.open_count == 2


def test_revoking_all_links_of_an_order_marks_every_ledger(delayed, client, tenant, order_set):
    urls = [services.mint_status_link(tenant.account.id, order_set.order.id)[1] for _ in range(2)]
    for url in urls:
        assert client.get(path_of(url)).status_code == 200
    assert services.revoke_order_links(tenant.account.id, order_set.order.id) == 2
    assert [client.get(path_of(url)).status_code for url in urls] == [410, 410]


def test_a_lost_ledger_starts_again_from_the_database(delayed, client, minted):
    link, path = minted
    client.get(path)
    client.get(path)
    opens.flush_opens()
    get_redis().delete(opens.ledger_key(link.link_id))  # e.g. Redis restarted
    assert client.get(path).status_code == 200  # counted in the database again
    assert int(get_redis().hget(opens.ledger_key(link.link_id), "n")) == 3
    client.get(path)
    opens.flush_opens()
    db.session.refresh(link)
    assert link.open_count == 4


def test_opens_whose_write_fails_are_handed_back(delayed, client, minted, monkeypatch):
    link, path = minted
    client.get(path)
    client.get(path)
    client.get(path)
    monkeypatch.setattr(opens, "_FLUSH", db.text("UPDATE no_such_table SET x = 1"))
    assert opens.flush_opens() == 0
    assert pending(link.link_id) == 2
    monkeypatch.undo()
    assert opens.flush_opens() == 2
    db.session.refresh(link)
    assert link.open_count == 3


def test_the_workers_sweep_writes_pending_opens(delayed, client, minted):
    assert ("jobs.status.flush_status_opens", 5) in PERIODIC_JOBS
    link, path = minted
    client.get(path)
    client.get(path)
    assert flush_status_opens() == 1
    db.session.refresh(link)
    assert link.open_count == 2


def test_a_flush_is_due_once_per_interval(app, client, minted):
    app.config["STATUS_OPENS_FLUSH_SECONDS"] = 60
    get_redis().delete(opens.flush_due_key())
    link, path = minted
    client.get(path)  # counted in the database
    client.get(path)  # counted in Redis: the first flush of the interval, written at once
    client.get(path)  # counted in Redis: waits for the next interval
    db.session.refresh(link)
    assert link.open_count == 2
    assert pending(link.link_id) == 1


def test_head_on_a_cached_page_counts_nothing(delayed, client, minted):
    link, path = minted
    client.get(path)
    head = client.head(path)
    assert head.status_code == 200 and head.get_data() == b""
    assert pending(link.link_id) == 0


def test_cached_responses_carry_the_same_headers_as_built_ones(delayed, client, minted):
    _, path = minted
    built = client.get(path)
    cached = client.get(path)
    assert cached.get_data() == built.get_data()
    assert sorted(cached.headers.items()) == sorted(built.headers.items())
    for name in ("Content-Security-Policy", "X-Robots-Tag", "Referrer-Policy", "Cache-Control"):
        assert cached.headers[name]
    assert "Set-Cookie" not in cached.headers


def test_the_cache_keeps_headers_and_page_under_the_token_hash(delayed, client, minted):
    _, path = minted
    client.get(path + "?lang=fr")
    token = path.rsplit("/", 1)[1]
    stored = get_redis().get(page_key(token, "fr"))
    assert stored is not None
    assert not [key for key in get_redis().scan_iter() if token.encode() in key]
    _generation, built, head, body = stored.split(b"\n", 3)
    assert abs(float(built) - datetime.now(UTC).timestamp()) < 60
    assert b"Content-Type" in head and b'<html lang="fr">' in body
    assert client.get(path + "?lang=fr").get_data() == body


def test_opens_are_written_with_their_own_times(app, tenant, order_set):
    app.config["STATUS_OPENS_FLUSH_SECONDS"] = 60
    get_redis().set(opens.flush_due_key(), "1", px=60_000)
    link, _ = services.mint_status_link(tenant.account.id, order_set.order.id)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    times = [start, start + timedelta(minutes=5), start + timedelta(minutes=9)]
    for moment in times:
        assert opens.try_open(link, now=moment) == "ok"
    opens.flush_opens()
    db.session.refresh(link)
    assert (link.open_count, link.first_opened_at, link.last_opened_at) == (3, times[0], times[2])


def test_a_revoke_racing_the_first_open_leaves_the_link_revoked(delayed, tenant, minted):
    link, _ = minted
    # The first open is counted in the database, then the link is revoked before that open
    # creates the ledger (from the link as it was read before the revoke).
    count = opens.count_in_database(link.link_id)
    stale = services.resolve_status_token(services.status_token(link)).link
    services.revoke_link(tenant.account.id, link.link_id)
    assert stale is not None
    stale.revoked_at = None  # what the racing request had read
    opens.seed_ledger(stale, count or 0)
    assert opens.ledger_open(link.link_id, now=datetime.now(UTC)).outcome == "revoked"


def test_opens_waiting_to_be_written_outlive_their_ledger(delayed, client, minted):
    link, path = minted
    for _ in range(3):
        client.get(path)
    get_redis().delete(opens.ledger_key(link.link_id))  # expired, or evicted
    assert pending(link.link_id) == 2
    client.get(path)  # counted in the database; the new ledger includes what still waits
    assert int(get_redis().hget(opens.ledger_key(link.link_id), "n")) == 4
    opens.flush_opens()
    db.session.refresh(link)
    assert link.open_count == 4


@pytest.mark.parametrize("order", ["later first", "earlier first"])
def test_two_first_opens_at_once_are_counted_exactly(delayed, tenant, order_set, order):
    tenant.webshop.status_link_max_opens = 3
    db.session.commit()
    link, _ = services.mint_status_link(tenant.account.id, order_set.order.id)
    first = opens.count_in_database(link.link_id)
    second = opens.count_in_database(link.link_id)
    seeds = [second, first] if order == "later first" else [first, second]
    for count in seeds:
        opens.seed_ledger(link, count or 0)
    assert int(get_redis().hget(opens.ledger_key(link.link_id), "n")) == 2
    assert opens.try_open(link) == "ok"  # the third and last use
    assert opens.try_open(link) == "used_up"


def test_the_use_limit_counts_waiting_opens_after_the_ledger_is_gone(
    delayed, client, tenant, order_set
):
    tenant.webshop.status_link_max_opens = 3
    db.session.commit()
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    assert [client.get(path_of(url)).status_code for _ in range(3)] == [200, 200, 200]
    get_redis().delete(opens.ledger_key(link.link_id))  # expired, with two opens waiting
    assert client.get(path_of(url)).status_code == 410
    opens.flush_opens()
    db.session.refresh(link)
    assert link.open_count == 3


def test_a_ledger_started_while_opens_are_being_written_counts_them(delayed, client, minted):
    link, path = minted
    for _ in range(3):
        client.get(path)  # one in the database, two waiting
    taken = run_script("take", opens._TAKE_LUA, [opens.dirty_key()], [100, opens.pending_prefix()])
    assert pending(link.link_id) == 0 and len(taken) == 1
    get_redis().delete(opens.ledger_key(link.link_id))
    client.get(path)  # counted in the database, starting a new ledger
    assert int(get_redis().hget(opens.ledger_key(link.link_id), "n")) == 4
    opens._give_back(taken)  # that write failed after all
    assert opens.flush_opens() == 2
    db.session.refresh(link)
    assert link.open_count == 4
    assert not get_redis().exists(opens.pending_key(link.link_id))


def test_an_unreadable_entry_on_the_last_use_is_still_served(delayed, client, tenant, order_set):
    tenant.webshop.status_link_max_opens = 2
    db.session.commit()
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    path = path_of(url)
    assert client.get(path).status_code == 200
    key = page_key(path.rsplit("/", 1)[1], None)
    generation, built, _head, body = get_redis().get(key).split(b"\n", 3)
    get_redis().set(key, b"\n".join((generation, built, b"[[", body)))
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 410


def _scripts_asked_without_redis(app, monkeypatch, *modules) -> list[str]:
    """Point the app at a Redis that does not answer; returns the names of the Lua scripts
    the given modules then try to run, as they try."""
    from redis import Redis

    app.extensions["statuslink.redis"] = Redis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.2
    )
    asked: list[str] = []

    def counting(name, *args):
        asked.append(name)
        return run_script(name, *args)

    for module in modules:
        monkeypatch.setattr(module, "run_script", counting)
    return asked


def test_without_redis_and_without_the_cache_a_view_asks_redis_once(
    app, client, minted, monkeypatch
):
    from webapp.status import ratelimit

    app.config["STATUS_PAGE_CACHE_SECONDS"] = 0
    link, path = minted
    asked = _scripts_asked_without_redis(app, monkeypatch, opens, ratelimit)
    assert client.get(path).status_code == 200
    assert asked == ["hit"]
    db.session.refresh(link)
    assert link.open_count == 1


def test_without_redis_a_view_asks_it_once(app, client, minted, monkeypatch):
    link, path = minted
    asked = _scripts_asked_without_redis(app, monkeypatch, opens, pagecache)
    assert client.get(path).status_code == 200
    assert asked == ["view"]
    db.session.refresh(link)
    assert link.open_count == 1


def test_a_form_body_on_a_page_view_does_not_choose_the_cached_language(delayed, client, minted):
    _, path = minted
    client.get(path, data={"lang": "en"})
    assert '<html lang="de">' in client.get(path).get_data(as_text=True)


def test_an_unreadable_cache_entry_is_built_again_and_counted_once(delayed, client, minted):
    link, path = minted
    client.get(path)
    token = path.rsplit("/", 1)[1]
    key = page_key(token, None)
    generation, built, _head, body = get_redis().get(key).split(b"\n", 3)
    get_redis().set(key, b"\n".join((generation, built, b"{not json", body)))
    response = client.get(path)
    assert response.status_code == 200 and b"WEB-1001" in response.get_data()
    assert pending(link.link_id) == 1  # counted by the lookup, not again by the view


def test_a_revoked_link_shows_as_revoked_not_used_up(delayed, client, tenant, minted):
    link, path = minted
    client.get(path)
    services.revoke_link(tenant.account.id, link.link_id)
    assert opens.try_open(link) == "revoked"
