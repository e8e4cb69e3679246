"""Status link services: minting, every token case, opens, revocation, fallback, file."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.status.conftest import make_order
from tests.support.sql import counted_statements
from webapp.extensions import db
from webapp.signing import STATUS_DOCUMENT, sign
from webapp.status import opens, services
from webapp.status.logfilter import redact_tokens
from webapp.status.models import StatusLink
from webapp.status.texts import TEXTS, missing_keys
from webapp.tenancy import NotFound


def _token(url: str) -> str:
    return url.rsplit("/s/", 1)[1]


def test_mint_creates_link_with_random_id_and_default_lifetime(app, tenant, order_set):
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    assert url.startswith("http://statuslink.test/s/")
    token = _token(url)
    # The token carries only the random id: no order number, no customer data.
    assert order_set.order.number not in token
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", link.link_id)
    assert link.expires_at - link.created_at == timedelta(days=90)
    assert link.open_count == 0 and link.max_opens is None
    other, _ = services.mint_status_link(tenant.account.id, order_set.order.id)
    assert other.link_id != link.link_id


def test_lifetime_and_use_limit_come_from_account_and_shop(app, tenant, order_set):
    tenant.account.status_link_days = 7
    tenant.webshop.status_link_max_opens = 3
    db.session.commit()
    link, _ = services.new_status_link(tenant.account.id, order_set.order.id)
    assert link.expires_at - link.created_at == timedelta(days=7)
    assert link.max_opens == 3


def test_valid_token_resolves(app, tenant, order_set):
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    outcome = services.resolve_status_token(_token(url))
    assert outcome.kind == "ok" and outcome.link.id == link.id


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-10] + ("A" if t[-10] != "A" else "B") + t[-9:],  # tampered signature
        lambda t: t[:-6],  # truncated
        lambda t: t.split(".")[0],  # payload only
        lambda t: "x" + t,  # prefixed
    ],
    ids=["tampered", "truncated", "payload-only", "prefixed"],
)
def test_forged_tokens_are_not_found_without_a_query(app, tenant, order_set, mangle):
    _, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    with counted_statements() as statements:
        outcome = services.resolve_status_token(mangle(_token(url)))
    assert outcome.kind == "not_found"
    assert statements == []


def test_wrong_salt_token_is_not_found(app, tenant, order_set):
    link, _ = services.mint_status_link(tenant.account.id, order_set.order.id)
    assert services.resolve_status_token(sign(STATUS_DOCUMENT, link.link_id)).kind == "not_found"


def test_genuine_token_for_unknown_link_is_not_found(app, tenant, order_set):
    from webapp.signing import STATUS_LINK

    assert services.resolve_status_token(sign(STATUS_LINK, "A" * 22)).kind == "not_found"


def test_expired_link_is_gone(app, tenant, order_set):
    past = datetime.now(UTC) - timedelta(days=91)
    _, url = services.mint_status_link(tenant.account.id, order_set.order.id, now=past)
    outcome = services.resolve_status_token(_token(url))
    assert (outcome.kind, outcome.reason) == ("gone", "expired")
    in_time = past + timedelta(days=89)
    assert services.resolve_status_token(_token(url), now=in_time).kind == "ok"


def test_revoked_link_is_gone(app, tenant, order_set):
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    services.revoke_link(tenant.account.id, link.link_id, actor="tests")
    outcome = services.resolve_status_token(_token(url))
    assert (outcome.kind, outcome.reason) == ("gone", "revoked")


def test_rotated_in_and_rotated_out_keys(app, tenant, order_set):
    app.config["SECRET_KEY"] = "old-key-0123456789abcdef"
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    app.config.update(
        SECRET_KEY="new-key-0123456789abcdef", SECRET_KEYS_OLD=["old-key-0123456789abcdef"]
    )
    assert services.resolve_status_token(_token(url)).kind == "ok"
    app.config["SECRET_KEYS_OLD"] = []
    assert services.resolve_status_token(_token(url)).kind == "not_found"
    # A URL minted now for the same link works with the current key.
    assert services.resolve_status_token(_token(services.status_url(link))).kind == "ok"


def test_opens_are_counted_and_keep_the_first_open(app, tenant, order_set):
    link, _ = services.mint_status_link(tenant.account.id, order_set.order.id)
    first = datetime.now(UTC) + timedelta(hours=1)
    second = first + timedelta(hours=5)
    assert opens.try_open(link, now=first) == "ok"  # counted in the database, starts the ledger
    assert opens.try_open(link, now=second) == "ok"  # counted in the ledger, then written
    db.session.refresh(link)
    assert link.open_count == 2
    assert link.first_opened_at == first
    assert link.last_opened_at == second


def test_use_limit_stops_at_max_opens(app, tenant, order_set):
    tenant.webshop.status_link_max_opens = 2
    db.session.commit()
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    assert opens.try_open(link) == opens.try_open(link) == "ok"
    assert opens.try_open(link) == "used_up"
    db.session.refresh(link)
    assert link.open_count == 2
    outcome = services.resolve_status_token(_token(url))
    assert (outcome.kind, outcome.reason) == ("gone", "used_up")


def test_revoke_order_links_and_describe(app, tenant, order_set):
    account_id = tenant.account.id
    for _ in range(3):
        services.mint_status_link(account_id, order_set.order.id)
    assert services.current_status_url(account_id, order_set.order.id)
    assert services.revoke_order_links(account_id, order_set.order.id, actor="tests") == 3
    assert services.revoke_order_links(account_id, order_set.order.id, actor="tests") == 0
    described = [
        services.describe_link(x) for x in services.links_for_order(account_id, order_set.order.id)
    ]
    assert [d["state"] for d in described] == ["revoked"] * 3
    assert all("token" not in d for d in described)
    assert services.current_status_url(account_id, order_set.order.id) is None


def test_tenant_isolation_in_services(app, tenant, other_tenant, order_set):
    theirs = make_order(other_tenant, "WEB-1001", postcode="99999")
    link, _ = services.mint_status_link(tenant.account.id, order_set.order.id)
    b = other_tenant.account.id
    with pytest.raises(NotFound):
        services.mint_status_link(b, order_set.order.id)
    with pytest.raises(NotFound):
        services.revoke_link(b, link.link_id)
    with pytest.raises(NotFound):
        services.revoke_order_links(b, order_set.order.id)
    with pytest.raises(NotFound):
        services.render_status_file(b, order_set.order.id, "en")
    assert services.links_for_order(b, order_set.order.id) == []
    # The fallback of A's link never finds B's order, even with B's correct postcode.
    assert services.continue_with_order(link, "WEB-1001", "99999") is None
    view = services.build_status_view(tenant.account.id, order_set.order.id, "en", link=link)
    assert view.shop_name == "Acme Shop"
    assert theirs.order.id != order_set.order.id


def test_fallback_matches_postcode_or_email_in_same_shop_only(app, tenant, order_set):
    link, _ = services.mint_status_link(tenant.account.id, order_set.order.id)
    assert services.continue_with_order(link, "WEB-1001", "99999") is None
    assert services.continue_with_order(link, "WEB-9999", "10115") is None
    assert services.continue_with_order(link, "", "") is None
    fresh, url = services.continue_with_order(link, " WEB-1001 ", "10 115")
    assert fresh.source == "fallback" and fresh.order_id == order_set.order.id
    by_mail, _ = services.continue_with_order(link, "WEB-1001", "KIM@customer.example")
    assert by_mail.order_id == order_set.order.id
    amazon_order = make_order(tenant, "AMZ-1", shop=tenant.amazon, postcode="10115")
    assert services.continue_with_order(link, "AMZ-1", "10115") is None
    assert amazon_order.order.shop_id != order_set.order.shop_id


def test_preferences_update_customer_and_refuse_unoffered_channel(app, tenant):
    no_phone = make_order(tenant, "WEB-2", phone=None)
    link, _ = services.mint_status_link(tenant.account.id, no_phone.order.id)
    services.update_customer_preferences(link, optional_messages=False, channel="email")
    db.session.refresh(no_phone.customer)
    assert no_phone.customer.optional_messages is False
    assert no_phone.customer.channel == "email"
    with pytest.raises(services.PreferenceError):
        services.update_customer_preferences(link, optional_messages=True, channel="sms")


def test_language_chain(app, tenant):
    customer_fr = make_order(tenant, "WEB-3", language="fr")
    no_language = make_order(tenant, "WEB-4")
    assert services.choose_language(customer_fr.order) == "fr"
    assert services.choose_language(customer_fr.order, "sv") == "sv"
    assert services.choose_language(customer_fr.order, "xx") == "fr"
    assert services.choose_language(no_language.order) == "de"  # the shop's language
    tenant.webshop.language = "zz"
    db.session.commit()
    assert services.choose_language(no_language.order) == tenant.account.default_language


def test_sections_hidden_by_shop_setting(app, tenant, order_set):
    tenant.webshop.status_sections = {"prices": False, "documents": False, "timeline": True}
    db.session.commit()
    view = services.build_status_view(tenant.account.id, order_set.order.id, "en")
    assert view.sections["prices"] is False and view.sections["documents"] is False
    assert view.sections["items"] is True  # missing key = shown
    assert all(item.price is None for item in view.items) and view.total is None


def test_timeline_is_newest_first_and_localised(app, tenant, order_set):
    view = services.build_status_view(tenant.account.id, order_set.order.id, "de")
    labels = [entry.label for entry in view.timeline]
    assert labels == ["Teilweise versandt", "Rechnung erstellt", "Bestellung eingegangen"]
    assert "März" in view.placed_on


def test_status_file_is_self_contained(app, tenant, order_set):
    tenant.webshop.logo_path = "data:image/png;base64,iVBORw0KGgo="
    tenant.webshop.website = "https://acme.example"
    db.session.commit()
    html = services.render_status_file(tenant.account.id, order_set.order.id, "en")
    assert "Order WEB-1001" in html and "Garden chair oak" in html
    assert "<style>" in html and "--brand" in html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert not re.search(r"(https?:)?//", html)
    assert re.search(r'src="data:image/png', html)
    assert "RE-2025-0042" in html and "INTERNAL-7" not in html


def test_every_language_has_every_string(app):
    assert missing_keys() == {}
    assert len(TEXTS) == 8


def test_log_redaction_keeps_first_eight_characters(app, caplog):
    token = "InNUbDhpLWFUc3BnR25OTTJ3ZXV2aUEi.awSNIg.suUWvod9_fEHem6boHo7KAM2LG4"
    assert (
        redact_tokens(f"GET /s/{token}/documents/x HTTP/1.1")
        == "GET /s/InNUbDhp…/documents/x HTTP/1.1"
    )
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('127.0.0.1 - - "%s" %s', f"GET /s/{token} HTTP/1.1", 200)
    assert token not in caplog.text
    assert "/s/InNUbDhp…" in caplog.text


def test_link_model_never_stores_a_token(app, tenant, order_set):
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    stored = db.session.get(StatusLink, link.id)
    columns = {c.name: getattr(stored, c.name) for c in StatusLink.__table__.columns}
    assert _token(url) not in {str(v) for v in columns.values()}


def test_mint_link_for_message_skips_amazon_and_binds_the_message(app, tenant, order_set):
    from webapp.notifications.models import Message

    def message_for(order, key):
        return Message(
            account_id=tenant.account.id,
            dedupe_key=key,
            order_id=order.id,
            channel="email",
            to_address="kim@customer.example",
        )

    web = message_for(order_set.order, "t-web")
    url = services.mint_link_for_message(web)
    db.session.commit()
    assert url and services.resolve_status_token(_token(url)).link.message_id == web.id
    amazon = make_order(tenant, "AMZ-9", shop=tenant.amazon)
    assert services.mint_link_for_message(message_for(amazon.order, "t-amz")) is None
