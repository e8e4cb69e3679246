""" "Send a test to me" from the template editor: through the outbox, to the user's e-mail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.message_templates.conftest import make_order
from tests.support import outbox
from tests.support.client import PerRequestContextClient
from tests.support.html import csrf_token
from webapp.accounts.models import AuditLog, SenderAccount
from webapp.extensions import db
from webapp.message_templates.services import create_template, save_variant
from webapp.notifications.delivery import deliver_due_messages
from webapp.notifications.models import Message
from webapp.orders.models import Order

HX = {"HX-Request": "true"}

smtp_server = outbox.smtp_server
fast_delivery = outbox.fast_delivery


@pytest.fixture(autouse=True)
def _isolated_requests(app):
    app.test_client_class = PerRequestContextClient


@pytest.fixture()
def email_template(tenant):
    template = create_template(tenant.account.id, name="Shipping", purpose="shipped")
    save_variant(tenant.account.id, template.id, language="en",
                 subject="Order {{ order.number }} shipped",
                 body_html="<p>Hello {{ customer.name }}</p>",
                 body_text="Hello {{ customer.name }}")  # fmt: skip
    return template


def _data(token: str, **overrides) -> dict:
    data = {
        "csrf_token": token,
        "language": "en",
        "target": "generic",
        "subject": "Unsaved {{ order.number }} subject",
        "body_html": "<p>Hi {{ customer.name }}, typed but not saved</p>",
        "body_text": "",
        "order_number": "",
    }
    data.update(overrides)
    return data


def _messages() -> list[Message]:
    db.session.expire_all()
    return list(db.session.execute(select(Message).order_by(Message.id)).scalars())


def test_send_test_queues_the_editor_text_and_the_worker_delivers_it(
    client, auth, tenant, email_template, smtp_server, fast_delivery
):
    auth.login()
    url = f"/templates/{email_template.id}"
    token = csrf_token(client.get(url))
    response = client.post(f"{url}/send-test", data=_data(token), headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    [message] = _messages()
    assert "Test queued for owner@acme.example." in html
    assert f'href="/messages/{message.id}"' in html
    assert message.state == "scheduled" and message.to_address == "owner@acme.example"
    assert message.subject == "[Test] Unsaved SL-10042 subject"
    assert "typed but not saved" in message.body_html and message.context["test"] is True
    assert message.order_id is None and message.status_url is None
    assert smtp_server.messages() == []  # nothing is sent from the request
    assert deliver_due_messages().sent == 1
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["owner@acme.example"]
    assert mail.subject == "[Test] Unsaved SL-10042 subject"
    assert "typed but not saved" in mail.part("html")
    assert db.session.query(AuditLog).filter_by(action="message.test").count() == 1


def test_send_test_with_a_real_order_leaves_the_order_alone(
    client, auth, tenant, email_template, smtp_server, fast_delivery
):
    make_order(tenant, "R-77", name="Real Person")
    auth.login()
    url = f"/templates/{email_template.id}"
    token = csrf_token(client.get(url))
    response = client.post(f"{url}/send-test", data=_data(token, order_number="R-77"), headers=HX)
    assert response.status_code == 200
    [message] = _messages()
    assert message.subject == "[Test] Unsaved R-77 subject" and "Real Person" in message.body_html
    deliver_due_messages()
    order = db.session.execute(select(Order).filter_by(number="R-77")).scalar_one()
    assert order.last_notified_at is None
    assert smtp_server.wait_for(1)[0].rcpt_tos == ["owner@acme.example"]


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"body_html": "<p>{{ order.number </p>"}, "Correct the errors in the template first."),
        ({"order_number": "NOPE-1"}, "No order with this number."),
    ],
)
def test_send_test_refuses_a_broken_template_or_unknown_order(
    client, auth, tenant, email_template, overrides, text
):
    auth.login()
    url = f"/templates/{email_template.id}"
    token = csrf_token(client.get(url))
    response = client.post(f"{url}/send-test", data=_data(token, **overrides), headers=HX)
    assert response.status_code == 422
    assert text in response.get_data(as_text=True)
    assert _messages() == []


def test_send_test_without_an_email_sender_says_so(client, auth, tenant, email_template):
    db.session.query(SenderAccount).update({"enabled": False})
    db.session.commit()
    auth.login()
    url = f"/templates/{email_template.id}"
    token = csrf_token(client.get(url))
    response = client.post(f"{url}/send-test", data=_data(token), headers=HX)
    assert response.status_code == 422
    assert "no enabled e-mail sender account" in response.get_data(as_text=True)


def test_sms_template_test_goes_by_email(client, auth, tenant, smtp_server, fast_delivery):
    template = create_template(tenant.account.id, name="Pickup", purpose="goods_received",
                               channel="sms")  # fmt: skip
    save_variant(tenant.account.id, template.id, language="en",
                 body_text="Order {{ order.number }} is ready.")  # fmt: skip
    auth.login()
    url = f"/templates/{template.id}"
    token = csrf_token(client.get(url))
    data = _data(token, body_text="Order {{ order.number }} waits.", body_html="", subject="")
    assert client.post(f"{url}/send-test", data=data, headers=HX).status_code == 200
    [message] = _messages()
    assert message.channel == "email" and message.body_text.strip() == "Order SL-10042 waits."
    assert message.subject == "[Test] Pickup" and message.body_html is None


def test_send_test_needs_admin_csrf_and_own_template(
    client, auth, tenant, other_tenant, email_template
):
    from tests.admin.settings_support import add_user, login

    auth.login()
    token = csrf_token(client.get(f"/templates/{email_template.id}"))
    url = f"/templates/{email_template.id}/send-test"
    assert client.post(url, data=_data("")).status_code == 400
    other = create_template(other_tenant.account.id, name="Theirs", purpose="shipped")
    response = client.post(f"/templates/{other.id}/send-test", data=_data(token), headers=HX)
    assert response.status_code == 404
    auth.logout()
    add_user(tenant.account, "agent")
    login(client, "agent@acme.example")
    token = csrf_token(client.get("/templates"))
    assert client.post(url, data=_data(token), headers=HX).status_code == 403
    assert _messages() == []


def test_editor_has_the_button(client, auth, email_template):
    auth.login()
    html = client.get(f"/templates/{email_template.id}").get_data(as_text=True)
    assert f'hx-post="/templates/{email_template.id}/send-test"' in html
    assert "Send a test to me" in html
