"""The status page's hot path: the shared page cache, the statements per view, form tokens.

A cached view must still refuse what the link no longer allows (revoked, expired, used up)
and count the open; a saved preference must show on the next view; and a page of one token or
language must never be served for another.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from tests.status.conftest import make_order
from tests.support.html import csrf_token
from tests.support.sql import counted_statements
from webapp.extensions import db
from webapp.queue import get_redis
from webapp.status import opens, services
from webapp.status.pagecache import page_key
from webapp.status.ratelimit import hit

# A page built from scratch: link, order (with shop and customer), items, documents, account,
# events, and the UPDATE that counts the open. A cached page: none (its open is counted in
# Redis); with STATUS_OPENS_FLUSH_SECONDS = 0, as in these tests, the UPDATE that writes it.
MAX_STATEMENTS_UNCACHED = 7
STATEMENTS_CACHED = 1


def path_of(url: str) -> str:
    return url.replace("http://statuslink.test", "")


@pytest.fixture()
def minted(tenant, order_set):
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    return link, path_of(url)


def test_a_cached_view_costs_one_statement_and_still_counts(client, minted):
    link, path = minted
    with counted_statements() as uncached:
        first = client.get(path)
    with counted_statements() as cached:
        second = client.get(path)
    assert first.status_code == second.status_code == 200
    assert second.get_data() == first.get_data()
    assert len(uncached) <= MAX_STATEMENTS_UNCACHED, "\n".join(uncached)
    assert len(cached) == STATEMENTS_CACHED, "\n".join(cached)
    assert cached[0].lstrip().upper().startswith("UPDATE STATUS_LINK")
    db.session.refresh(link)
    assert link.open_count == 2


def test_forged_token_is_refused_before_cache_and_database(client, minted):
    _, path = minted
    client.get(path)  # cached now
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    with counted_statements() as statements:
        response = client.get(forged)
    assert response.status_code == 404
    assert statements == []
    assert "WEB-1001" not in response.get_data(as_text=True)


def test_revoked_link_is_refused_even_when_cached(client, tenant, minted):
    link, path = minted
    assert client.get(path).status_code == 200
    services.revoke_link(tenant.account.id, link.link_id)
    response = client.get(path)
    assert response.status_code == 410
    assert "Garden chair oak" not in response.get_data(as_text=True)
    db.session.refresh(link)
    assert link.open_count == 1


def test_expired_link_is_refused_even_when_cached(client, tenant, minted, monkeypatch):
    link, path = minted
    assert client.get(path).status_code == 200
    later = link.expires_at + timedelta(seconds=1)
    monkeypatch.setattr("webapp.status.pagecache.utcnow", lambda: later)
    monkeypatch.setattr("webapp.status.services.utcnow", lambda: later)
    response = client.get(path)
    assert response.status_code == 410
    assert "Garden chair oak" not in response.get_data(as_text=True)
    db.session.refresh(link)
    assert link.open_count == 1


def test_use_limit_holds_for_cached_views(client, tenant, order_set):
    tenant.webshop.status_link_max_opens = 2
    db.session.commit()
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    codes = [client.get(path_of(url)).status_code for _ in range(3)]
    assert codes == [200, 200, 410]
    db.session.refresh(link)
    assert link.open_count == 2


def test_cached_views_count_in_the_rate_limit(app, client, minted):
    app.config["STATUS_RATE_LIMIT"] = 2
    codes = [client.get(minted[1]).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_each_language_and_token_has_its_own_page(client, tenant, minted, order_set):
    link, path = minted
    assert '<html lang="de">' in client.get(path).get_data(as_text=True)
    assert '<html lang="en">' in client.get(path + "?lang=en").get_data(as_text=True)
    assert '<html lang="de">' in client.get(path).get_data(as_text=True)
    other = make_order(tenant, "WEB-2002", customer_name="Alex Other")
    _, other_url = services.mint_status_link(tenant.account.id, other.order.id)
    body = client.get(path_of(other_url)).get_data(as_text=True)
    assert "WEB-2002" in body and "WEB-1001" not in body


def test_saved_preferences_show_on_the_next_view(client, minted, order_set):
    _, path = minted
    page = client.get(path)
    assert re.search(r'value="email"\s+checked', page.get_data(as_text=True))
    saved = client.post(
        f"{path}/preferences", data={"csrf_token": csrf_token(page), "channel": "sms"}
    )
    assert saved.status_code == 200
    again = client.get(path).get_data(as_text=True)
    assert re.search(r'value="sms"\s+checked', again)
    assert not re.search(r'value="email"\s+checked', again)


def test_order_changes_show_once_the_cache_lifetime_is_over(app, client, minted, order_set):
    _, path = minted
    assert "Zugestellt" not in client.get(path).get_data(as_text=True)
    order_set.order.state = "delivered"
    db.session.commit()
    # Within the lifetime the cached page may still be served ...
    assert "Zugestellt" not in client.get(path).get_data(as_text=True)
    # ... after it (here: the entry's expiry, brought forward) the change shows.
    get_redis().delete(page_key(path.rsplit("/", 1)[1], None))
    assert "Zugestellt" in client.get(path).get_data(as_text=True)


def test_cache_can_be_switched_off(app, client, minted):
    app.config["STATUS_PAGE_CACHE_SECONDS"] = 0
    _, path = minted
    client.get(path)
    with counted_statements() as statements:
        assert client.get(path).status_code == 200
    assert len(statements) > STATEMENTS_CACHED


def test_page_works_without_redis_and_caches_nothing(app, client, minted):
    app.extensions["statuslink.redis"] = Redis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.2
    )
    link, path = minted
    assert client.get(path).status_code == 200
    with counted_statements() as statements:
        assert client.get(path).status_code == 200
    assert len(statements) > STATEMENTS_CACHED
    db.session.refresh(link)
    assert link.open_count == 2


def test_the_page_sets_no_cookie(client, minted):
    response = client.get(minted[1])
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_form_token_is_bound_to_its_link(client, tenant, minted, order_set):
    _, path = minted
    other = make_order(tenant, "WEB-3003", customer_name="Sam Other")
    _, other_url = services.mint_status_link(tenant.account.id, other.order.id)
    other_page = client.get(path_of(other_url))
    response = client.post(
        f"{path}/preferences", data={"csrf_token": csrf_token(other_page), "channel": "sms"}
    )
    assert response.status_code == 400
    db.session.refresh(order_set.customer)
    assert order_set.customer.channel is None


def test_form_token_checks(app, minted):
    link, _ = minted
    token = services.form_token(link.link_id)
    assert services.form_token_valid(link.link_id, token)
    assert not services.form_token_valid("B" * 22, token)
    assert not services.form_token_valid(link.link_id, None)
    assert not services.form_token_valid(link.link_id, token[:-2])
    # The link's own page token is no form token (another purpose).
    assert not services.form_token_valid(link.link_id, services.status_token(link))
    app.config["WTF_CSRF_TIME_LIMIT"] = 60
    old = services.form_token(link.link_id, now=datetime.now(UTC) - timedelta(minutes=5))
    assert not services.form_token_valid(link.link_id, old)


def test_counting_in_the_database_checks_state_in_the_same_statement(app, tenant, minted):
    link, _ = minted
    assert opens.count_in_database(link.link_id) == 1
    assert opens.count_in_database("C" * 22) is None
    later = datetime.now(UTC) + timedelta(days=400)
    assert opens.count_in_database(link.link_id, now=later) is None
    services.revoke_link(tenant.account.id, link.link_id)
    assert opens.count_in_database(link.link_id) is None
    db.session.refresh(link)
    assert link.open_count == 1


def test_rate_limit_windows_expire(app):
    first = hit("test", "client-1", 2, 30, fail_open=True)
    assert first.allowed
    assert 1 <= first.retry_after <= 30
    namespace = app.config["STATUS_RATE_NAMESPACE"]
    counter = list(get_redis().scan_iter(match=f"statuslink:rl:{namespace}:test:*"))
    assert len(counter) == 1 and 0 < get_redis().ttl(counter[0]) <= 30
    assert hit("test", "client-1", 2, 30, fail_open=True).allowed
    refused = hit("test", "client-1", 2, 30, fail_open=True)
    assert not refused.allowed and refused.retry_after >= 1
    assert hit("test", "client-2", 2, 30, fail_open=True).allowed


def test_rate_limit_without_redis_fails_open_or_closed(app):
    app.extensions["statuslink.redis"] = Redis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.2
    )
    assert hit("test", "x", 1, 30, fail_open=True).allowed
    assert not hit("test", "x", 1, 30, fail_open=False).allowed


def test_counting_an_open_does_not_wait_for_postgresql_wal_flush(client, minted):
    """On PostgreSQL the open's own transaction commits asynchronously, and only that one."""
    from sqlalchemy import text

    link, path = minted
    with counted_statements() as statements:
        assert client.get(path).status_code == 200
        assert client.get(path).status_code == 200
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE STATUS_LINK")]
    # The first open, counted in the database; the second, counted in Redis and written by
    # the flush (a batch, committed as usual).
    assert len(updates) == 2
    if db.engine.dialect.name == "postgresql":
        assert "set_config" in updates[0] and "set_config" not in updates[1]
        for _ in range(3):  # whichever pooled connection comes next keeps the default
            with db.engine.connect() as connection:
                assert connection.execute(text("SHOW synchronous_commit")).scalar() == "on"
    else:
        assert not any("set_config" in s for s in updates)
    db.session.refresh(link)
    assert link.open_count == 2


def test_an_old_page_is_served_and_built_again_in_the_background(
    app, client, minted, order_set, monkeypatch
):
    _, path = minted
    assert "Zugestellt" not in client.get(path).get_data(as_text=True)
    order_set.order.state = "delivered"
    db.session.commit()
    lifetime = app.config["STATUS_PAGE_CACHE_SECONDS"]
    later = datetime.now(UTC) + timedelta(seconds=lifetime + 1)
    monkeypatch.setattr("webapp.status.pagecache.utcnow", lambda: later)
    # The first view after the lifetime still gets the old page ...
    stale = client.get(path)
    assert stale.status_code == 200 and "Zugestellt" not in stale.get_data(as_text=True)
    # ... and the page is built again meanwhile: a later view shows the change.
    deadline = time.monotonic() + 10
    while "Zugestellt" not in client.get(path).get_data(as_text=True):
        assert time.monotonic() < deadline, "the page was not built again"
        time.sleep(0.05)
    token = path.rsplit("/", 1)[1]
    assert 0 < get_redis().ttl(page_key(token, None)) <= 2 * lifetime


def test_a_background_build_counts_no_open(app, client, minted, monkeypatch):
    link, path = minted
    client.get(path)
    lifetime = app.config["STATUS_PAGE_CACHE_SECONDS"]
    later = datetime.now(UTC) + timedelta(seconds=lifetime + 1)
    monkeypatch.setattr("webapp.status.pagecache.utcnow", lambda: later)
    token = path.rsplit("/", 1)[1]
    before = get_redis().get(page_key(token, None))
    client.get(path)
    deadline = time.monotonic() + 10
    while get_redis().get(page_key(token, None)) == before:
        assert time.monotonic() < deadline, "the page was not built again"
        time.sleep(0.05)
    db.session.refresh(link)
    assert link.open_count == 2  # the two views, not the build
