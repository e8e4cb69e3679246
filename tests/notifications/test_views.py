"""Admin pages of the outbox: review queue, message log, rules, manual sending, quick replies."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.support.factories import PASSWORD
from tests.support.html import csrf_token
from tests.support.outbox import attach_pdf, event, messages, place_order
from webapp.accounts import services as accounts
from webapp.extensions import db
from webapp.notifications.manual import install_default_quick_replies
from webapp.notifications.models import Message, MessageAttempt, Rule
from webapp.notifications.rules import list_rules, update_rule


@pytest.fixture()
def review_rule(engine_ready):
    """The shipping confirmation rule switched to review mode."""
    rule = next(r for r in list_rules(engine_ready.account.id) if r.default_key == "shipped")
    return update_rule(engine_ready.account.id, rule.id, mode="review")


@pytest.fixture()
def in_review(engine_ready, review_rule) -> Message:
    place_order(engine_ready, "A-100")
    event(engine_ready, "A-100", "shipped")
    (message,) = messages(engine_ready)
    assert message.state == "review"
    return message


@pytest.fixture()
def foreign(other_tenant) -> dict[str, int]:
    """Ids of another account's message, rule and quick reply."""
    from webapp.message_templates.services import install_default_templates
    from webapp.notifications.defaults import install_default_rules

    install_default_templates(other_tenant.account)
    rules = install_default_rules(other_tenant.account)
    update_rule(other_tenant.account.id, rules[0].id, mode="review")
    place_order(other_tenant, "G-1")
    event(other_tenant, "G-1", "shipped")
    message = messages(other_tenant)[0]
    reply = install_default_quick_replies(other_tenant.account.id)[0]
    return {"message": message.id, "rule": rules[0].id, "reply": reply.id}


def _token(client) -> str:
    return csrf_token(client.get("/review"))


def _hx(client, **extra) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRFToken": _token(client), **extra}


def _agent(tenant) -> None:
    accounts.create_user(tenant.account, "agent@acme.example", PASSWORD, role="agent")


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/review"),
        ("get", "/review/1"),
        ("post", "/review/1/approve"),
        ("post", "/review/1/discard"),
        ("post", "/review/approve"),
        ("get", "/messages"),
        ("get", "/messages/1"),
        ("post", "/messages/1/retry"),
        ("post", "/messages/1/resend"),
        ("get", "/rules"),
        ("get", "/rules/new"),
        ("get", "/rules/1"),
        ("post", "/rules/1/toggle"),
        ("get", "/orders/A-1/send"),
        ("post", "/orders/A-1/send"),
        ("post", "/orders/A-1/quick-reply/1"),
        ("get", "/orders/A-1/quick-replies"),
    ],
)
def test_every_route_requires_login(app, client, tenant, method, path):
    app.config["WTF_CSRF_ENABLED"] = False
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_htmx_request_without_login_gets_a_full_page_redirect(client, tenant):
    response = client.get("/review", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_posts_without_csrf_token_are_refused(client, auth, engine_ready, in_review):
    auth.login()
    response = client.post(f"/review/{in_review.id}/approve", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert messages(engine_ready)[0].state == "review"


def test_navigation_shows_review_messages_and_rules(client, auth, tenant):
    auth.login()
    html = client.get("/").get_data(as_text=True)
    nav = html[html.index('<nav class="container app-nav"') : html.index("</nav>")]
    assert 'href="/review">Review</a>' in nav
    assert 'href="/messages">Messages</a>' in nav
    assert 'href="/rules">Rules</a>' in nav


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/review/{message}"),
        ("post", "/review/{message}/approve"),
        ("post", "/review/{message}/discard"),
        ("get", "/messages/{message}"),
        ("post", "/messages/{message}/retry"),
        ("post", "/messages/{message}/resend"),
        ("get", "/rules/{rule}"),
        ("post", "/rules/{rule}"),
        ("post", "/rules/{rule}/toggle"),
        ("get", "/orders/G-1/send"),
        ("post", "/orders/A-100/quick-reply/{reply}"),
        ("get", "/review/99999999999"),
        ("get", "/messages/2147483648"),
    ],
)
def test_another_accounts_ids_are_not_found(client, auth, in_review, foreign, method, path):
    auth.login()
    url = path.format(**foreign)
    response = getattr(client, method)(
        url, data={"to_address": "x@example.org", "name": "x"}, headers=_hx(client)
    )
    assert response.status_code == 404
    db.session.expire_all()
    other = db.session.get(Message, foreign["message"])
    assert other.state == "review"
    assert db.session.get(Rule, foreign["rule"]).enabled is True


def test_bulk_approve_ignores_another_accounts_ids(client, auth, in_review, foreign):
    auth.login()
    response = client.post(
        "/review/approve",
        data={"message_id": [str(in_review.id), str(foreign["message"])]},
        headers=_hx(client),
    )
    assert response.status_code == 200
    assert "1 message approved." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Message, in_review.id).state == "scheduled"
    assert db.session.get(Message, foreign["message"]).state == "review"


# --- review queue ---------------------------------------------------------------------------


def test_review_queue_lists_waiting_messages(client, auth, in_review, foreign):
    auth.login()
    html = client.get("/review").get_data(as_text=True)
    assert "Review queue" in html
    assert in_review.subject in html
    assert "A-100" in html and "kunde@example.org" in html
    assert "G-1" not in html
    fragment = client.get("/review", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="review-list"')
    assert "<html" not in fragment


def test_review_queue_empty_state(client, auth, tenant):
    auth.login()
    html = client.get("/review").get_data(as_text=True)
    assert "Nothing to review." in html


def test_approve_as_is(client, auth, in_review):
    auth.login()
    response = client.post(f"/review/{in_review.id}/approve", headers=_hx(client))
    assert response.status_code == 200
    assert "Approved. The message is being sent." in response.get_data(as_text=True)
    db.session.expire_all()
    message = db.session.get(Message, in_review.id)
    assert message.state == "scheduled"


def test_edit_then_approve_keeps_the_edits(client, auth, in_review):
    auth.login()
    editor = client.get(f"/review/{in_review.id}?edit=1", headers={"HX-Request": "true"})
    assert 'name="body_text"' in editor.get_data(as_text=True)
    response = client.post(
        f"/review/{in_review.id}/approve",
        data={"subject": "Ihre Sendung ist unterwegs", "body_text": "Hallo!\n\nBis bald."},
        headers=_hx(client),
    )
    assert response.status_code == 200
    db.session.expire_all()
    message = db.session.get(Message, in_review.id)
    assert message.state == "scheduled"
    assert message.subject == "Ihre Sendung ist unterwegs"
    assert message.body_text == "Hallo!\n\nBis bald."
    assert message.body_html == "<p>Hallo!</p>\n<p>Bis bald.</p>"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"subject": "Hi\r\nBcc: evil@example.org", "body_text": "x"}, "line breaks"),
        ({"subject": "Hi", "body_text": "   "}, "The text must not be empty."),
        ({"subject": "x" * 1001, "body_text": "x"}, "Field cannot be longer"),
    ],
)
def test_bad_review_edits_are_shown_inline(client, auth, in_review, data, error):
    auth.login()
    response = client.post(f"/review/{in_review.id}/approve", data=data, headers=_hx(client))
    assert response.status_code == 200  # swapped by htmx, with the message inline
    html = response.get_data(as_text=True)
    assert error in html
    assert 'aria-invalid="true"' in html
    db.session.expire_all()
    assert db.session.get(Message, in_review.id).state == "review"


def test_bad_review_edit_without_htmx_is_422(client, auth, in_review):
    auth.login()
    response = client.post(
        f"/review/{in_review.id}/approve",
        data={"subject": "a\nb", "body_text": "x", "csrf_token": _token(client)},
    )
    assert response.status_code == 422


def test_discard(client, auth, in_review):
    auth.login()
    response = client.post(f"/review/{in_review.id}/discard", headers=_hx(client))
    assert "Discarded" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Message, in_review.id).state == "cancelled"
    again = client.post(f"/review/{in_review.id}/discard", headers=_hx(client))
    assert "no longer waiting" in again.get_data(as_text=True)


def test_approve_many(client, auth, engine_ready, review_rule):
    for number in ("A-1", "A-2", "A-3"):
        place_order(engine_ready, number, email=f"{number.lower()}@example.org")
        event(engine_ready, number, "shipped")
    ids = [m.id for m in messages(engine_ready)]
    auth.login()
    response = client.post(
        "/review/approve", data={"message_id": [str(i) for i in ids[:2]]}, headers=_hx(client)
    )
    html = response.get_data(as_text=True)
    assert "2 messages approved." in html
    assert html.lstrip().startswith('<div id="review-list"')
    assert [m.state for m in messages(engine_ready)] == ["scheduled", "scheduled", "review"]
    nothing = client.post("/review/approve", data={}, headers=_hx(client))
    assert "Select at least one message." in nothing.get_data(as_text=True)
    junk = client.post("/review/approve", data={"message_id": ["x", "-1"]}, headers=_hx(client))
    assert junk.status_code == 200


def test_agent_can_approve(client, auth, engine_ready, in_review):
    _agent(engine_ready)
    auth.login("agent@acme.example")
    response = client.post(f"/review/{in_review.id}/approve", headers=_hx(client))
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Message, in_review.id).state == "scheduled"


# --- message log ----------------------------------------------------------------------------


def _failed(tenant, number: str = "F-1", email: str = "wrong@example.org") -> Message:
    place_order(tenant, number, email=email)
    event(tenant, number, "shipped")
    message = messages(tenant)[-1]
    message.state = "failed"
    message.error = "550 5.1.1 <wrong@example.org>: Recipient address rejected: User unknown"
    db.session.add(
        MessageAttempt(
            account_id=tenant.account.id,
            message_id=message.id,
            outcome="failed",
            reply_code=550,
            reply="550 5.1.1 <wrong@example.org>: Recipient address rejected: User unknown",
        )
    )
    db.session.commit()
    return message


def test_message_log_filters_and_detail(client, auth, engine_ready, foreign):
    failed = _failed(engine_ready)
    place_order(engine_ready, "OK-1")
    event(engine_ready, "OK-1", "shipped")
    auth.login()
    html = client.get("/messages").get_data(as_text=True)
    assert "F-1" in html and "OK-1" in html and "G-1" not in html
    assert "Recipient address rejected" in html
    only_failed = client.get("/messages?state=failed", headers={"HX-Request": "true"})
    fragment = only_failed.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="message-list"')
    assert "F-1" in fragment and "OK-1" not in fragment
    by_shop = client.get(f"/messages?shop={engine_ready.amazon.id}").get_data(as_text=True)
    assert "No messages match these filters." in by_shop
    junk = client.get("/messages?state=evil&shop=abc&page=-3&rule=99999999999999")
    assert junk.status_code == 200
    detail = client.get(f"/messages/{failed.id}").get_data(as_text=True)
    assert "Delivery attempts" in detail and "550 5.1.1" in detail
    assert "Retry now" in detail


def test_message_log_pagination(client, auth, engine_ready):
    from webapp.notifications.queries_admin import PAGE_SIZE

    for i in range(PAGE_SIZE + 2):
        place_order(engine_ready, f"P-{i:03d}", email=f"p{i}@example.org")
        event(engine_ready, f"P-{i:03d}", "shipped")
    auth.login()
    first = client.get("/messages").get_data(as_text=True)
    assert "Older" in first and "Page 1" in first
    second = client.get("/messages?page=2").get_data(as_text=True)
    assert "P-000" in second and "P-001" in second and "Newer" in second
    assert "P-010" not in second
    empty = client.get("/messages?page=50").get_data(as_text=True)
    assert "No more messages." in empty


def test_message_log_empty_state(client, auth, tenant):
    auth.login()
    assert "No messages yet." in client.get("/messages").get_data(as_text=True)


def test_retry_now(client, auth, engine_ready):
    failed = _failed(engine_ready)
    auth.login()
    response = client.post(f"/messages/{failed.id}/retry", headers=_hx(client))
    assert "queued and will be sent now" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Message, failed.id).state == "scheduled"
    again = client.post(f"/messages/{failed.id}/retry", headers=_hx(client))
    assert "Only failed messages can be sent again." in again.get_data(as_text=True)


def test_resend_to_corrected_address(client, auth, engine_ready):
    failed = _failed(engine_ready)
    auth.login()
    bad = client.post(
        f"/messages/{failed.id}/resend", data={"to_address": "not an address"}, headers=_hx(client)
    )
    assert bad.status_code == 200
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)
    response = client.post(
        f"/messages/{failed.id}/resend",
        data={"to_address": "right@example.org"},
        headers=_hx(client),
    )
    assert "A new message to right@example.org is queued." in response.get_data(as_text=True)
    rows = messages(engine_ready)
    copy = rows[-1]
    assert copy.id != failed.id and copy.to_address == "right@example.org"
    assert copy.state == "scheduled" and copy.context["resend_of"] == failed.id
    assert [o.number for o in copy.orders] == ["F-1"]
    assert db.session.get(Message, failed.id).state == "failed"


# --- rules ----------------------------------------------------------------------------------


def test_rules_list_in_plain_language(client, auth, engine_ready):
    auth.login()
    html = client.get("/rules").get_data(as_text=True)
    assert "Shipping confirmation" in html and "Prepayment reminder" in html
    assert "repeats every 4 days, at most 3 times" in html
    assert "New rule" in html


def test_agent_reads_rules_but_cannot_edit(client, auth, engine_ready):
    _agent(engine_ready)
    rule = list_rules(engine_ready.account.id)[0]
    auth.login("agent@acme.example")
    html = client.get("/rules").get_data(as_text=True)
    assert "Shipping confirmation" in html and "New rule" not in html
    assert client.get("/rules/new").status_code == 403
    assert client.get(f"/rules/{rule.id}").status_code == 403
    assert client.post(f"/rules/{rule.id}/toggle", headers=_hx(client)).status_code == 403


def _rule_form(client, path: str) -> dict:
    html = client.get(path).get_data(as_text=True)
    assert 'name="delay_value"' in html
    return {"csrf_token": csrf_token(client.get(path))}


def test_create_rule_with_every_option(client, auth, engine_ready):
    auth.login()
    data = _rule_form(client, "/rules/new") | {
        "name": "Pickup SMS",
        "enabled": "y",
        "event_type": "goods_received",
        "channel": "email",
        "template": "purpose:goods_received",
        "mode": "review",
        "review_fulfillments": ["FBM"],
        "once_per_order": "y",
        "shop_ids": [str(engine_ready.webshop.id)],
        "marketplaces": "amazon.de, Amazon.FR",
        "fulfillments": ["FBM", "own"],
        "payment_methods": ["prepayment"],
        "complete_delivery_only": "y",
        "pickup": "yes",
        "to_contact_person": "y",
        "delay_value": "2",
        "delay_unit": "hours",
        "respect_quiet_hours": "y",
        "business_days_only": "y",
        "coalesce_minutes": "15",
        "repeat": "y",
        "repeat_value": "3",
        "repeat_unit": "days",
        "repeat_max_count": "4",
        "stop_events": ["cancelled", "delivered"],
        "document_kinds": ["invoice"],
        "bcc": "archive@acme.example, boss@acme.example",
        "copy_to_merchant": "y",
        "position": "5",
    }
    response = client.post("/rules/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    rule = db.session.execute(select(Rule).filter_by(name="Pickup SMS")).scalar_one()
    assert rule.event_type == "goods_received" and rule.mode == "review"
    assert rule.purpose == "goods_received" and rule.template_id is None
    assert rule.shop_ids == [engine_ready.webshop.id]
    assert rule.marketplaces == ["amazon.de", "amazon.fr"]
    assert rule.fulfillments == ["FBM", "own"] and rule.payment_methods == ["prepayment"]
    assert rule.complete_delivery_only and rule.pickup is True and rule.to_contact_person
    assert rule.essential is False  # unchecked
    assert rule.delay_minutes == 120 and rule.respect_quiet_hours and rule.business_days_only
    assert rule.coalesce_minutes == 15
    assert rule.repeat_interval_minutes == 3 * 24 * 60 and rule.repeat_max_count == 4
    assert rule.stop_events == ["cancelled", "delivered"]
    assert rule.document_kinds == ["invoice"] and rule.attach_account_files is False
    assert rule.bcc == ["archive@acme.example", "boss@acme.example"]
    assert rule.copy_to_merchant and rule.position == 5
    assert rule.review_fulfillments == ["FBM"] and rule.once_per_order is True
    assert rule.review_mail_default is False  # unchecked
    assert rule.enabled is True

    # The edit form shows it again in plain units.
    html = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert re.search(r'name="delay_value"[^>]*value="2"', html)
    assert '<option selected value="hours">' in html or 'value="hours" selected' in html


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": ""}, "Enter a name."),
        ({"delay_value": "31", "delay_unit": "days"}, "Wait at most 30 days."),
        ({"delay_value": "-1"}, "Enter 0 or more."),
        ({"coalesce_minutes": "5000"}, "Enter 0 to 1440 minutes."),
        ({"repeat": "y", "repeat_value": ""}, "Enter how often the message repeats."),
        ({"repeat_max_count": "99"}, "Enter 1 to 50."),
        ({"bcc": "not-an-address"}, "bcc"),
        ({"event_type": "exploded"}, "Not a valid choice"),
        ({"shop_ids": ["999999"]}, "Not a valid choice"),
        ({"template": "template:999999"}, "Not a valid choice"),
        ({"delay_value": "abc"}, "Not a valid integer value"),
    ],
)
def test_bad_rule_input_is_shown_inline(client, auth, engine_ready, changes, error):
    auth.login()
    data = _rule_form(client, "/rules/new") | {
        "name": "Broken",
        "event_type": "shipped",
        "channel": "email",
        "template": "purpose:shipped",
        "mode": "automatic",
        "pickup": "any",
        "delay_unit": "minutes",
        "repeat_unit": "days",
    }
    data.update(changes)
    response = client.post("/rules/new", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error in html
    assert db.session.execute(select(Rule).filter_by(name="Broken")).first() is None


def test_edit_and_toggle_rule(client, auth, engine_ready):
    rule = next(r for r in list_rules(engine_ready.account.id) if r.default_key == "shipped")
    auth.login()
    data = _rule_form(client, f"/rules/{rule.id}") | {
        "name": "Versandbestätigung",
        "enabled": "y",
        "event_type": "shipped",
        "channel": "email",
        "template": "purpose:shipped",
        "mode": "automatic",
        "pickup": "any",
        "delay_value": "1",
        "delay_unit": "days",
        "repeat_unit": "days",
    }
    assert client.post(f"/rules/{rule.id}", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Rule, rule.id).delay_minutes == 24 * 60
    response = client.post(f"/rules/{rule.id}/toggle", headers=_hx(client))
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="rule-{rule.id}"')
    assert 'aria-pressed="false"' in html
    db.session.expire_all()
    assert db.session.get(Rule, rule.id).enabled is False


def test_rules_page_in_german(client, auth, engine_ready):
    auth.login()
    html = client.get("/rules", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Regeln" in html and "Neue Regel" in html
    form = client.get("/rules/new", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Vor dem Senden warten" in form


# --- manual sending and quick replies -------------------------------------------------------


def test_manual_send_form_prefills_item_titles(client, auth, engine_ready):
    place_order(engine_ready, "M-1")
    install_default_quick_replies(engine_ready.account.id)
    auth.login()
    html = client.get("/orders/M-1/send").get_data(as_text=True)
    assert "Wanderschuh Alpin" in html
    assert "Where is my invoice?" in html and "Pickup ready" in html
    fragment = client.get("/orders/M-1/send", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="manual-send-M-1"')


def test_manual_send_queues_a_message_and_updates_the_note(client, auth, engine_ready):
    place_order(engine_ready, "M-2")
    auth.login()
    response = client.post(
        "/orders/M-2/send",
        data={"channel": "email", "template_id": "", "body": "Ihr Paket kommt morgen."},
        headers=_hx(client),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Message to kunde@example.org queued." in html
    assert "added to the order note" in html
    (message,) = messages(engine_ready)
    assert message.state == "scheduled" and message.context["manual"] is True
    assert "Ihr Paket kommt morgen." in message.body_text
    from webapp.orders.services import get_order

    assert "Ihr Paket kommt morgen." in get_order(engine_ready.account.id, "M-2").note


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"channel": "email", "body": ""}, "Enter the message text or choose a template."),
        ({"channel": "fax", "body": "x"}, "Not a valid choice"),
        ({"channel": "email", "body": "x", "subject": "a\r\nBcc: x@y"}, "line breaks"),
        ({"channel": "email", "body": "x", "template_id": "999999"}, "Not a valid choice"),
        ({"channel": "email", "body": "x" * 5001}, "Field cannot be longer"),
        ({"channel": "sms", "body": "Hallo"}, "no enabled sms sender account"),
    ],
)
def test_bad_manual_send_input_is_shown_inline(client, auth, engine_ready, data, error):
    place_order(engine_ready, "M-3", customer={"phone": "+49 151 23456789"})
    auth.login()
    response = client.post("/orders/M-3/send", data=data, headers=_hx(client))
    assert response.status_code == 200
    assert error in response.get_data(as_text=True)
    assert messages(engine_ready) == []


def test_manual_send_for_unknown_order_is_404(client, auth, tenant):
    auth.login()
    assert client.get("/orders/NOPE/send").status_code == 404
    assert client.get("/orders/..%2F..%2Fetc/send").status_code == 404


def test_quick_reply_invoice_in_two_clicks(client, auth, engine_ready):
    place_order(engine_ready, "Q-1")
    attach_pdf(engine_ready, "Q-1", "invoice", "RE-77")
    install_default_quick_replies(engine_ready.account.id)
    auth.login()
    page = client.get("/orders/Q-1/quick-replies", headers={"HX-Request": "true"})
    html = page.get_data(as_text=True)
    match = re.search(r'hx-post="(/orders/Q-1/quick-reply/\d+)"', html)
    assert match and "Where is my invoice?" in html
    response = client.post(match.group(1), headers=_hx(client))
    assert "queued for kunde@example.org" in response.get_data(as_text=True)
    (message,) = messages(engine_ready)
    assert message.purpose == "quick_reply_invoice"
    assert message.attachments and message.attachments[0]["type"] == "document"


def test_quick_reply_without_invoice_explains(client, auth, engine_ready):
    place_order(engine_ready, "Q-2")
    reply = install_default_quick_replies(engine_ready.account.id)[0]
    auth.login()
    response = client.post(f"/orders/Q-2/quick-reply/{reply.id}", headers=_hx(client))
    assert response.status_code == 200
    assert "the order has no invoice yet" in response.get_data(as_text=True)
    assert messages(engine_ready) == []
