"""The admin navigation: data, not markup, so new pages appear once their view exists."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_login import current_user

from webapp.accounts.auth import ROLE_RANK
from webapp.i18n import N_


@dataclass(frozen=True)
class NavItem:
    """One entry of the main navigation.

    `label` is the untranslated text (translated when rendered). The item is shown only when
    `endpoint` is a registered view and the user has at least `role`. It is marked as the
    current page for its own endpoint and for every endpoint starting with one of `active_for`
    (e.g. "orders." for all order pages).
    """

    endpoint: str
    label: str
    order: int = 100
    role: str = "agent"
    active_for: tuple[str, ...] = ()


# The sections of the admin UI. A section whose page does not exist yet stays hidden, so the
# navigation never holds a dead link; a page with another endpoint calls add_nav_item().
DEFAULT_NAV = (
    NavItem("admin.dashboard", N_("Dashboard"), order=10),
    NavItem("orders.list_orders", N_("Orders"), order=20, active_for=("orders.",)),
    NavItem("notifications.list_messages", N_("Messages"), order=30),
    NavItem(
        "message_templates.list_templates",
        N_("Templates"),
        order=40,
        active_for=("message_templates.",),
    ),
    NavItem("notifications.list_rules", N_("Rules"), order=50),
    NavItem("admin.settings", N_("Settings"), order=90, active_for=("admin.settings",)),
)

_EXTENSION_KEY = "statuslink.nav"


def add_nav_item(app: Flask, item: NavItem) -> None:
    """Add (or replace, by endpoint) an entry of the main navigation of `app`."""
    items: dict[str, NavItem] = app.extensions.setdefault(
        _EXTENSION_KEY, {i.endpoint: i for i in DEFAULT_NAV}
    )
    items[item.endpoint] = item


def nav_items() -> list[NavItem]:
    """The entries the current user can open, in order."""
    items = current_app.extensions.get(_EXTENSION_KEY) or {i.endpoint: i for i in DEFAULT_NAV}
    rank = ROLE_RANK.get(getattr(current_user, "role", ""), 0)
    return sorted(
        (
            item
            for item in items.values()
            if item.endpoint in current_app.view_functions and rank >= ROLE_RANK[item.role]
        ),
        key=lambda item: (item.order, item.endpoint),
    )


def is_current(item: NavItem) -> bool:
    """True when the current request belongs to the item's section."""
    endpoint = request.endpoint or ""
    return endpoint == item.endpoint or endpoint.startswith(item.active_for or (item.endpoint,))
