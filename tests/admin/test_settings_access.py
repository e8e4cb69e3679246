"""Settings security: CSRF on every POST, roles, and tenant isolation by id swapping."""

from __future__ import annotations

import pytest

from tests.admin.settings_support import add_user, login, post
from webapp.accounts.models import ApiKey, User
from webapp.extensions import db


def _ids(tenant) -> dict[str, int]:
    key = db.session.query(ApiKey).filter_by(account_id=tenant.account.id).first()
    return {
        "shop": tenant.webshop.id,
        "sender": tenant.webshop.sender_account_id,
        "user": tenant.owner.id,
        "key": key.id,
    }


POSTS = [
    ("/settings/account", "admin"),
    ("/settings/shops/new", "admin"),
    ("/settings/shops/{shop}", "admin"),
    ("/settings/senders/new", "admin"),
    ("/settings/senders/{sender}", "admin"),
    ("/settings/senders/{sender}/test", "admin"),
    ("/settings/senders/{sender}/test-mail", "admin"),
    ("/settings/senders/{sender}/enabled", "admin"),
    ("/settings/senders/{sender}/delete", "admin"),
    ("/settings/users", "owner"),
    ("/settings/users/{user}/role", "owner"),
    ("/settings/users/{user}/deactivate", "owner"),
    ("/settings/users/{user}/reactivate", "owner"),
    ("/settings/api-keys", "owner"),
    ("/settings/api-keys/{key}/revoke", "owner"),
]
ID_GETS = [
    "/settings/shops/{shop}",
    "/settings/shops/{shop}/logo",
    "/settings/senders/{sender}",
]


@pytest.mark.parametrize(("path", "_role"), POSTS)
def test_every_post_needs_the_csrf_token(client, auth, tenant, path, _role):
    auth.login()
    url = path.format(**_ids(tenant))
    response = client.post(url, data={"name": "x"})
    assert response.status_code == 400
    htmx = client.post(url, data={"name": "x"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 400


@pytest.mark.parametrize(("path", "_role"), POSTS)
def test_agent_gets_403_on_every_settings_post(client, tenant, path, _role):
    add_user(tenant.account, "agent")
    login(client, "agent@acme.example")
    response = post(client, path.format(**_ids(tenant)), {"name": "x", "role": "agent"})
    assert response.status_code == 403


@pytest.mark.parametrize(("path", "role"), POSTS)
def test_admin_may_configure_but_not_manage_users_or_keys(client, tenant, path, role):
    add_user(tenant.account, "admin")
    login(client, "admin@acme.example")
    response = post(client, path.format(**_ids(tenant)), {"name": "x", "role": "agent"})
    if role == "owner":
        assert response.status_code == 403
    else:
        assert response.status_code != 403
        assert response.status_code < 500


@pytest.mark.parametrize(
    "path",
    [
        "/settings",
        "/settings/account",
        "/settings/shops",
        "/settings/senders",
        "/settings/users",
        "/settings/api-keys",
        "/settings/audit",
    ],
)
def test_agent_reads_settings_without_forms(client, tenant, path):
    add_user(tenant.account, "agent")
    login(client, "agent@acme.example")
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'type="submit">Save' not in html
    assert 'hx-post="/settings/senders' not in html and "Create key" not in html
    assert "Add user" not in html


def test_agent_sees_disabled_shop_form(client, tenant):
    add_user(tenant.account, "agent")
    login(client, "agent@acme.example")
    html = client.get(f"/settings/shops/{tenant.webshop.id}").get_data(as_text=True)
    assert "<fieldset disabled>" in html
    assert "an administrator can change them" in html


@pytest.mark.parametrize("path", ID_GETS)
def test_another_accounts_ids_are_404_on_get(client, auth, tenant, other_tenant, path):
    auth.login()
    assert client.get(path.format(**_ids(other_tenant))).status_code == 404


@pytest.mark.parametrize(("path", "_role"), [p for p in POSTS if "{" in p[0]])
def test_another_accounts_ids_are_404_on_post(client, auth, tenant, other_tenant, path, _role):
    auth.login()
    foreign = _ids(other_tenant)
    response = post(client, path.format(**foreign), {"name": "x", "role": "agent"})
    assert response.status_code == 404
    htmx = post(client, path.format(**foreign), {"role": "agent"}, htmx=True)
    assert htmx.status_code == 404
    db.session.expire_all()
    other_owner = db.session.get(User, other_tenant.owner.id)
    assert other_owner.active and other_owner.role == "owner"
    assert db.session.get(ApiKey, foreign["key"]).revoked_at is None


def test_settings_need_login(client, tenant):
    response = client.get("/settings/shops")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
