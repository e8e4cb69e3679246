"""`statuslink account|user|apikey|shop|sender|demo`: set up tenants from the command line."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webapp.accounts import services
from webapp.accounts.demo import mail_catcher_url, seed_demo_account, smtp_security_for_url
from webapp.accounts.models import Account
from webapp.cli import cli_errors, redact_url

account_cli = AppGroup("account", help="Manage accounts (tenants).")
user_cli = AppGroup("user", help="Manage users of the admin UI.")
apikey_cli = AppGroup("apikey", help="Manage API keys.")
shop_cli = AppGroup("shop", help="Manage shops (sales channels).")
sender_cli = AppGroup("sender", help="Manage SMTP sender accounts.")


def _account(slug: str) -> Account:
    account = services.get_account_by_slug(slug)
    if account is None:
        raise click.ClickException(f"account: no account with slug {slug!r}")
    return account


@account_cli.command("create")
@click.argument("name")
@click.option("--slug", required=True, help="Short unique name, e.g. acme.")
@click.option("--language", default="en", show_default=True, help="Default language.")
@cli_errors
def create_account_command(name: str, slug: str, language: str) -> None:
    """Create an account called NAME."""
    from webapp.notifications.defaults import seed_default_rules

    account = services.create_account(name, slug, default_language=language)
    seed_default_rules(account)
    click.echo(f"Created account {account.slug} ({account.name}) with default templates and rules.")


@user_cli.command("create")
@click.option("--account", "slug", required=True, help="Account slug.")
@click.option("--email", required=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 10 characters; asked for when not given.",
)
@click.option("--role", default="agent", show_default=True, help="owner, admin or agent.")
@click.option("--name", default="", help="Display name.")
@cli_errors
def create_user_command(slug: str, email: str, password: str, role: str, name: str) -> None:
    """Create a user who can log into the admin UI."""
    user = services.create_user(_account(slug), email, password, role=role, name=name)
    click.echo(f"Created user {user.email} ({user.role}) in account {slug}.")


@apikey_cli.command("create")
@click.option("--account", "slug", required=True, help="Account slug.")
@click.option("--name", default="default", show_default=True, help="What the key is for.")
@cli_errors
def create_apikey_command(slug: str, name: str) -> None:
    """Create an API key and print it (alone, on stdout). It is shown only this once."""
    click.echo(services.create_api_key(_account(slug), name))


@shop_cli.command("create")
@click.option("--account", "slug", required=True, help="Account slug.")
@click.option("--code", required=True, help="The shop's code used by the API, e.g. amz-de.")
@click.option("--name", required=True)
@click.option("--kind", required=True, help="amazon, webshop or store.")
@click.option("--marketplace", default=None, help="Amazon marketplace, e.g. amazon.de.")
@click.option("--language", default=None, help="Default language (from the marketplace).")
@click.option("--contact-email", default=None)
@cli_errors
def create_shop_command(
    slug: str,
    code: str,
    name: str,
    kind: str,
    marketplace: str | None,
    language: str | None,
    contact_email: str | None,
) -> None:
    """Create a shop in an account."""
    shop = services.create_shop(
        _account(slug),
        code,
        name,
        kind,
        marketplace=marketplace,
        language=language,
        contact_email=contact_email,
    )
    where = f", {shop.marketplace}" if shop.marketplace else ""
    click.echo(f"Created shop {shop.code} ({shop.kind}{where}, language {shop.language}).")


@sender_cli.command("create")
@click.option("--account", "slug", required=True, help="Account slug.")
@click.option("--name", required=True)
@click.option("--smtp", "smtp_url", required=True, help="smtp://[user:pass@]host:port")
@click.option("--security", default=None, help="none, starttls or ssl (default: by port).")
@click.option("--from-email", required=True)
@click.option("--from-name", default=None)
@click.option("--bcc", default="", help="Comma-separated addresses, e.g. a@x,b@y.")
@click.option("--shop", "shop_code", default=None, help="Use it for this shop (code).")
@cli_errors
def create_sender_command(
    slug: str,
    name: str,
    smtp_url: str,
    security: str | None,
    from_email: str,
    from_name: str | None,
    bcc: str,
    shop_code: str | None,
) -> None:
    """Create an SMTP sender account; its password is stored encrypted."""
    account = _account(slug)
    services.parse_smtp_url(smtp_url)
    shop = None
    if shop_code:
        shop = services.get_shop_by_code(account.id, shop_code)
        if shop is None:
            raise click.ClickException(f"shop: no shop with code {shop_code!r} in {slug}")
    sender = services.create_sender_account(
        account,
        name,
        smtp_url=smtp_url,
        from_email=from_email,
        security=security or smtp_security_for_url(smtp_url),
        from_name=from_name,
        bcc=[b for b in bcc.split(",") if b.strip()],
        shop=shop,
    )
    for_shop = f" for shop {shop.code}" if shop else ""
    click.echo(
        f"Created sender account {sender.name} ({sender.smtp_host}:{sender.smtp_port}, "
        f"{sender.smtp_security}){for_shop}."
    )


@click.command("demo")
@click.option("--smtp", "smtp_url", default=None, help="SMTP URL for the demo sender account.")
@click.option("--json", "as_json", is_flag=True, help="Print the credentials as JSON only.")
@with_appcontext
@cli_errors
def demo_command(smtp_url: str | None, as_json: bool) -> None:
    """Create or refresh the demo account and print how to log in and use the API."""
    creds = seed_demo_account(smtp_url)
    if as_json:
        click.echo(json.dumps(creds.as_dict()))
        return
    base_url = current_app.config["BASE_URL"]
    click.echo(format_demo_summary(creds.as_dict(), base_url))
    click.echo(f"Demo mail goes to {redact_url(smtp_url or mail_catcher_url())}.")


def format_demo_summary(creds: dict, base_url: str) -> str:
    """The human-readable block with admin URL, login, password and API key."""
    shops = ", ".join(
        f"{s['code']} ({s['kind']}{', ' + s['marketplace'] if s['marketplace'] else ''})"
        for s in creds["shops"]
    )
    return "\n".join(
        [
            f"Demo account:  {creds['account']}",
            f"Admin URL:     {base_url}/login",
            f"Login:         {creds['admin_email']}",
            f"Password:      {creds['admin_password']}",
            f"API key:       {creds['api_key']}",
            f"Shops:         {shops}",
        ]
    )
