"""Create accounts, shops, keys and orders for tests through the real services."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.accounts import services as accounts
from webapp.accounts.models import Account, Shop, User

PASSWORD = "correct horse battery"


@dataclass
class Tenant:
    account: Account
    api_key: str
    owner: User
    webshop: Shop
    amazon: Shop

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_tenant(slug: str = "acme", *, smtp_url: str = "smtp://127.0.0.1:2525") -> Tenant:
    """An account with an owner, an API key, a web shop and an amazon.de shop with a sender."""
    account = accounts.create_account(f"{slug.title()} GmbH", slug, default_language="de")
    owner = accounts.create_user(account, f"owner@{slug}.example", PASSWORD, role="owner")
    key = accounts.create_api_key(account, "tests")
    webshop = accounts.create_shop(account, "web", f"{slug.title()} Shop", "webshop", language="de")
    amazon = accounts.create_shop(
        account, "amz-de", f"{slug.title()} Amazon.de", "amazon", marketplace="amazon.de"
    )
    accounts.create_sender_account(
        account,
        "Main SMTP",
        smtp_url=smtp_url,
        from_email=f"shop@{slug}.example",
        from_name=f"{slug.title()} Shop",
        shop=webshop,
    )
    accounts.create_sender_account(
        account,
        "Amazon SMTP",
        smtp_url=smtp_url,
        from_email=f"amazon@{slug}.example",
        shop=amazon,
    )
    return Tenant(account, key, owner, webshop, amazon)
