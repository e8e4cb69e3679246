"""The public status pages over HTTP: every token case, headers, documents, forms, limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.status.conftest import PDF_BYTES, make_order
from tests.support.html import csrf_token
from webapp.extensions import db
from webapp.signing import STATUS_DOCUMENT, STATUS_LINK, sign
from webapp.status import services
from webapp.status.views import CONTENT_SECURITY_POLICY

ORDER_DATA = ("WEB-1001", "Garden chair oak", "Kim Example", "10115", "RE-2025-0042", "00340434")


def path_of(url: str) -> str:
    return url.replace("http://statuslink.test", "")


def assert_public_headers(response) -> None:
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"


def assert_no_order_data(response) -> None:
    body = response.get_data(as_text=True)
    for value in ORDER_DATA:
        assert value not in body


@pytest.fixture()
def minted(tenant, order_set):
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    return link, path_of(url)


def test_page_shows_the_order(client, minted):
    _, path = minted
    response = client.get(path)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert_public_headers(response)
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert "Bestellung WEB-1001" in body  # the shop's language: de
    assert "Acme Shop" in body
    assert "Garden chair oak" in body and "2 von 2" in body and "0 von 2" in body
    assert "89,90" in body and "218,80" in body
    assert "Teilweise versandt" in body
    assert "7. März 2025" in body  # expected delivery, localised
    assert "piececode=00340434161094042557" in body  # DHL tracking link
    assert "Rechnung RE-2025-0042" in body and "INTERNAL-7" not in body
    assert "<script" not in body
    assert not re.search(r'(src|href)="https?://(?!www\.dhl\.de)', body)


def test_opens_are_recorded(client, minted):
    link, path = minted
    client.get(path)
    client.get(path + "?lang=en")
    db.session.refresh(link)
    assert link.open_count == 2
    assert link.first_opened_at is not None
    assert link.last_opened_at >= link.first_opened_at


def test_sections_follow_shop_setting(client, tenant, minted):
    tenant.webshop.status_sections = {"prices": False, "tracking": False, "documents": False}
    db.session.commit()
    body = client.get(minted[1]).get_data(as_text=True)
    assert "89,90" not in body and "00340434" not in body and "RE-2025-0042" not in body
    assert "Garden chair oak" in body


@pytest.mark.parametrize(
    ("lang", "word"),
    [
        ("de", "Bestellung"),
        ("en", "Order"),
        ("fr", "Commande"),
        ("it", "Ordine"),
        ("es", "Pedido"),
        ("nl", "Bestelling"),
        ("pl", "Zamówienie"),
        ("sv", "Beställning"),
    ],
)
def test_page_in_every_language(client, minted, lang, word):
    response = client.get(f"{minted[1]}?lang={lang}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in body
    assert f'<h1 id="order-h">{word} WEB-1001</h1>' in body
    for code in ("de", "en", "fr", "it", "es", "nl", "pl", "sv"):
        assert f"?lang={code}" in body


def test_customer_language_wins_over_shop(client, tenant):
    order = make_order(tenant, "WEB-77", language="sv")
    _, url = services.mint_status_link(tenant.account.id, order.order.id)
    assert "Beställning WEB-77" in client.get(path_of(url)).get_data(as_text=True)


@pytest.mark.parametrize("kind", ["tampered", "truncated", "wrong-salt", "garbage", "unknown-id"])
def test_bad_tokens_are_404_without_order_data(client, minted, kind):
    link, path = minted
    token = path.rsplit("/", 1)[1]
    bad = {
        "tampered": token[:-10] + ("A" if token[-10] != "A" else "B") + token[-9:],
        "truncated": token[:20],
        "wrong-salt": sign(STATUS_DOCUMENT, link.link_id),
        "garbage": "not-a-token",
        "unknown-id": sign(STATUS_LINK, "B" * 22),
    }[kind]
    response = client.get(f"/s/{bad}")
    assert response.status_code == 404
    assert_public_headers(response)
    assert_no_order_data(response)
    assert "Acme" not in response.get_data(as_text=True)


def test_expired_link_is_410_with_shop_contact_only(client, tenant, order_set):
    tenant.webshop.contact_email = "service@acme.example"
    db.session.commit()
    past = datetime.now(UTC) - timedelta(days=120)
    _, url = services.mint_status_link(tenant.account.id, order_set.order.id, now=past)
    response = client.get(path_of(url))
    body = response.get_data(as_text=True)
    assert response.status_code == 410
    assert_public_headers(response)
    assert_no_order_data(response)
    assert "Acme Shop" in body and "service@acme.example" in body
    assert "abgelaufen" in body
    assert 'name="order_number"' in body  # the fallback form


def test_revoked_link_is_410_without_fallback(client, tenant, minted):
    link, path = minted
    services.revoke_link(tenant.account.id, link.link_id)
    response = client.get(path)
    assert response.status_code == 410
    assert_public_headers(response)
    assert_no_order_data(response)
    assert 'name="order_number"' not in response.get_data(as_text=True)


def test_rotated_keys_over_http(app, client, tenant, order_set):
    app.config["SECRET_KEY"] = "old-key-0123456789abcdef"
    _, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    app.config.update(
        SECRET_KEY="new-key-0123456789abcdef", SECRET_KEYS_OLD=["old-key-0123456789abcdef"]
    )
    assert client.get(path_of(url)).status_code == 200
    app.config["SECRET_KEYS_OLD"] = []
    assert client.get(path_of(url)).status_code == 404


def test_link_of_account_a_never_shows_account_b(client, tenant, other_tenant, order_set):
    theirs = make_order(other_tenant, "WEB-1001", customer_name="Bo Other", postcode="99999")
    _, url_a = services.mint_status_link(tenant.account.id, order_set.order.id)
    _, url_b = services.mint_status_link(other_tenant.account.id, theirs.order.id)
    body_a = client.get(path_of(url_a)).get_data(as_text=True)
    body_b = client.get(path_of(url_b)).get_data(as_text=True)
    assert "Acme Shop" in body_a and "Globex" not in body_a
    assert "Globex Shop" in body_b and "Acme" not in body_b
    # A document URL of A's link does not open B's document through B's link.
    token_a = path_of(url_a).rsplit("/", 1)[1]
    token_b = path_of(url_b).rsplit("/", 1)[1]
    doc_a = re.search(rf"/s/{re.escape(token_a)}/documents/([^\"]+)", body_a).group(1)
    assert client.get(f"/s/{token_b}/documents/{doc_a}").status_code == 404
    forged = sign(
        STATUS_DOCUMENT, [services.resolve_status_token(token_a).link.link_id, theirs.invoice.id]
    )
    assert client.get(f"/s/{token_a}/documents/{forged}").status_code == 404


def _document_path(body: str) -> str:
    return re.search(r'href="(/s/[^"]+/documents/[^"]+)"', body).group(1)


def test_document_download(client, minted):
    body = client.get(minted[1]).get_data(as_text=True)
    response = client.get(_document_path(body))
    assert response.status_code == 200
    assert response.data == PDF_BYTES
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "RE-2025-0042.pdf" in response.headers["Content-Disposition"]
    assert response.mimetype == "application/pdf"
    assert_public_headers(response)


def test_document_url_expires(client, minted, order_set):
    link, path = minted
    old = datetime.now(UTC) - timedelta(hours=2)
    token = sign(STATUS_DOCUMENT, [link.link_id, order_set.invoice.id], now=old)
    response = client.get(f"{path}/documents/{token}")
    assert response.status_code == 410
    assert_public_headers(response)
    assert PDF_BYTES not in response.data


def test_document_url_is_bound_to_its_order(client, tenant, minted, order_set):
    link, path = minted
    other = make_order(tenant, "WEB-555")
    for doc_id in (other.invoice.id, order_set.internal.id, 999999):
        token = sign(STATUS_DOCUMENT, [link.link_id, doc_id])
        assert client.get(f"{path}/documents/{token}").status_code == 404
    wrong_link = sign(STATUS_DOCUMENT, ["C" * 22, order_set.invoice.id])
    assert client.get(f"{path}/documents/{wrong_link}").status_code == 404
    hidden = sign(STATUS_DOCUMENT, [link.link_id, order_set.invoice.id])
    tenant.webshop.status_sections = {"documents": False}
    db.session.commit()
    assert client.get(f"{path}/documents/{hidden}").status_code == 404


def test_use_limit_then_fallback_mints_a_fresh_link(client, tenant, order_set):
    tenant.webshop.status_link_max_opens = 1
    db.session.commit()
    link, url = services.mint_status_link(tenant.account.id, order_set.order.id)
    path = path_of(url)
    assert client.get(path).status_code == 200
    gone = client.get(path)
    assert gone.status_code == 410
    assert_no_order_data(gone)
    form = {"order_number": "WEB-1001", "secret": "10115", "csrf_token": csrf_token(gone)}
    response = client.post(f"{path}/continue", data=form)
    assert response.status_code == 303
    assert_public_headers(response)
    new_path = response.headers["Location"]
    assert new_path.startswith("/s/") and new_path != path
    page = client.get(new_path)
    assert page.status_code == 200 and "WEB-1001" in page.get_data(as_text=True)
    links = services.links_for_order(tenant.account.id, order_set.order.id)
    assert [x.source for x in links] == ["fallback", "message"]


def test_fallback_with_wrong_details_fails_neutrally(client, tenant, order_set):
    past = datetime.now(UTC) - timedelta(days=120)
    _, url = services.mint_status_link(tenant.account.id, order_set.order.id, now=past)
    path = path_of(url)
    gone = client.get(path)
    messages = set()
    for number, secret in (("WEB-1001", "99999"), ("NOPE", "10115"), ("WEB-1001", "x@y.example")):
        response = client.post(
            f"{path}/continue",
            data={"order_number": number, "secret": secret, "csrf_token": csrf_token(gone)},
        )
        assert response.status_code == 400
        assert_public_headers(response)
        assert_no_order_data(response)
        messages.add(re.search(r'role="alert">([^<]+)<', response.get_data(as_text=True))[1])
    assert messages == {"Wir konnten keine Bestellung mit diesen Angaben finden."}
    assert len(services.links_for_order(tenant.account.id, order_set.order.id)) == 1


def test_fallback_attempts_are_rate_limited_per_link(app, client, tenant, order_set):
    app.config["STATUS_FALLBACK_LIMIT_LINK"] = 2
    past = datetime.now(UTC) - timedelta(days=120)
    _, url = services.mint_status_link(tenant.account.id, order_set.order.id, now=past)
    path = path_of(url)
    gone = client.get(path)
    data = {"order_number": "WEB-1001", "secret": "00000", "csrf_token": csrf_token(gone)}
    codes = [client.post(f"{path}/continue", data=data).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    # Even the right answer is refused while limited.
    data["secret"] = "10115"
    assert client.post(f"{path}/continue", data=data).status_code == 429


def test_fallback_on_a_valid_link_just_redirects(client, minted):
    page = client.get(minted[1])
    response = client.post(
        f"{minted[1]}/continue",
        data={"order_number": "x", "secret": "y", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 303 and response.headers["Location"] == minted[1]


def test_page_rate_limit_answers_429(app, client, minted):
    app.config["STATUS_RATE_LIMIT"] = 3
    codes = [client.get(minted[1]).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/s/anything")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert_public_headers(limited)


def test_preferences_form_changes_the_customer(client, minted, order_set):
    page = client.get(minted[1])
    response = client.post(
        f"{minted[1]}/preferences",
        data={"csrf_token": csrf_token(page), "channel": "sms", "lang": "en"},
    )
    assert response.status_code == 200
    assert "Your settings have been saved." in response.get_data(as_text=True)
    assert_public_headers(response)
    db.session.refresh(order_set.customer)
    assert order_set.customer.optional_messages is False
    assert order_set.customer.channel == "sms"


def test_preferences_form_requires_csrf(client, minted, order_set):
    response = client.post(f"{minted[1]}/preferences", data={"channel": "sms"})
    assert response.status_code == 400
    assert_public_headers(response)
    db.session.refresh(order_set.customer)
    assert order_set.customer.optional_messages is True
    assert order_set.customer.channel is None


def test_preferences_refuse_an_unoffered_channel(client, minted, order_set):
    page = client.get(minted[1])
    response = client.post(
        f"{minted[1]}/preferences",
        data={
            "csrf_token": csrf_token(page),
            "channel": "carrier-pigeon",
            "optional_messages": "1",
        },
    )
    assert response.status_code == 400
    db.session.refresh(order_set.customer)
    assert order_set.customer.channel is None


def test_preferences_on_a_revoked_link_are_refused(client, tenant, minted, order_set):
    page = client.get(minted[1])
    services.revoke_link(tenant.account.id, minted[0].link_id)
    response = client.post(
        f"{minted[1]}/preferences", data={"csrf_token": csrf_token(page), "channel": "sms"}
    )
    assert response.status_code == 410
    db.session.refresh(order_set.customer)
    assert order_set.customer.channel is None


def test_page_weighs_less_than_50_kb(client, minted):
    page = client.get(minted[1])
    body = page.get_data(as_text=True)
    total = len(page.data)
    for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', body):
        asset = client.get(href)
        assert asset.status_code == 200
        total += len(asset.data)
        asset.close()
    assert total < 50 * 1024


def test_every_public_response_has_the_headers(client, tenant, minted):
    responses = [
        client.get(minted[1]),
        client.get("/s/theme/1f6feb.css"),
        client.get("/s/theme/zzzzzz.css"),
        client.get("/s/whatever/else/here"),
        client.get("/s/"),
        client.post(f"{minted[1]}/continue"),
        client.get(f"{minted[1]}/logo"),
    ]
    for response in responses:
        assert_public_headers(response)
    assert [r.status_code for r in responses] == [200, 200, 404, 404, 404, 400, 404]


def test_logo_is_served_from_the_logos_dir(app, client, tenant, minted, tmp_path):
    app.config["LOGOS_DIR"] = str(tmp_path)
    (tmp_path / "acme.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    tenant.webshop.logo_path = "acme.png"
    db.session.commit()
    body = client.get(minted[1]).get_data(as_text=True)
    assert f'src="{minted[1]}/logo"' in body
    logo = client.get(f"{minted[1]}/logo")
    assert logo.status_code == 200 and logo.data.startswith(b"\x89PNG")
    tenant.webshop.logo_path = "../../etc/passwd"
    db.session.commit()
    assert client.get(f"{minted[1]}/logo").status_code == 404


def test_head_requests_do_not_count_as_opens(client, minted):
    link, path = minted
    assert client.head(path).status_code == 200
    db.session.refresh(link)
    assert link.open_count == 0


def test_overlong_token_is_404(client):
    response = client.get("/s/" + "a" * 5000)
    assert response.status_code == 404
    assert_public_headers(response)
