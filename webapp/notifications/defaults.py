"""The rules every new account starts with: a shipping confirmation on, the others ready."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapp.accounts.models import Account
from webapp.extensions import db
from webapp.notifications.models import Rule
from webapp.notifications.rules import validate_rule_fields

DAY = 24 * 60

# (default key, fields). Only the shipping confirmation is switched on: the merchant turns
# the others on once their texts suit them. docs/workflows.md maps every workflow of the
# product to these keys.
DEFAULT_RULES: list[tuple[str, dict[str, Any]]] = [
    (
        "shipped",
        {
            "name": "Shipping confirmation",
            "event_type": "shipped",
            "purpose": "shipped",
            "enabled": True,
            "to_contact_person": True,
            "once_per_order": True,
        },
    ),
    (
        "shipped_sms",
        {
            "name": "Shipping confirmation (SMS)",
            "event_type": "shipped",
            "purpose": "shipped",
            "channel": "sms",
            "enabled": False,
            "respect_quiet_hours": True,
            "once_per_order": True,
        },
    ),
    (
        "partially_shipped",
        {"name": "Partial shipment", "event_type": "partially_shipped", "enabled": False},
    ),
    (
        "invoiced",
        {
            "name": "Invoice",
            "event_type": "invoiced",
            "enabled": False,
            "document_kinds": ["invoice"],
            # "Automatic only for FBA orders, FBM by hand".
            "review_fulfillments": ["FBM"],
            "once_per_order": True,
        },
    ),
    (
        "invoice_after_shipping",
        {
            "name": "Invoice after the shipping confirmation",
            "event_type": "shipped",
            "purpose": "invoiced",
            "enabled": False,
            "document_kinds": ["invoice"],
            "delay_minutes": 1 * DAY,
            "review_fulfillments": ["FBM"],
            "once_per_order": True,
        },
    ),
    ("delivered", {"name": "Delivered", "event_type": "delivered", "enabled": False}),
    ("cancelled", {"name": "Cancellation", "event_type": "cancelled", "enabled": False}),
    (
        "credit_note",
        {
            "name": "Cancellation invoice / credit note",
            "event_type": "credit_note",
            "enabled": False,
            "document_kinds": ["credit_note"],
            "review_fulfillments": ["FBM"],
        },
    ),
    (
        "goods_received",
        {
            "name": "Ready for pickup",
            "event_type": "goods_received",
            "enabled": False,
            "coalesce_minutes": 10,
        },
    ),
    (
        "goods_received_sms",
        {
            "name": "Ready for pickup (SMS)",
            "event_type": "goods_received",
            "purpose": "goods_received",
            "channel": "sms",
            "enabled": False,
            "coalesce_minutes": 10,
            "respect_quiet_hours": True,
        },
    ),
    (
        "payment_received",
        {"name": "Payment received", "event_type": "payment_received", "enabled": False},
    ),
    (
        "delivery_date_set",
        {
            "name": "Delivery date",
            "event_type": "delivery_date_set",
            "enabled": False,
            "mode": "review",
        },
    ),
    (
        "delivery_date_set_sms",
        {
            "name": "Delivery date (SMS)",
            "event_type": "delivery_date_set",
            "purpose": "delivery_date_set",
            "channel": "sms",
            "enabled": False,
            "mode": "review",
            "respect_quiet_hours": True,
        },
    ),
    (
        "delivery_note_printed",
        {
            "name": "Shipping confirmation (delivery note printed)",
            "event_type": "delivery_note_printed",
            "purpose": "shipped",
            "enabled": False,
            "to_contact_person": True,
            "once_per_order": True,
        },
    ),
    (
        "review_request",
        {
            "name": "Review request",
            "event_type": "shipped",
            "purpose": "review_request",
            "enabled": False,
            "essential": False,
            "complete_delivery_only": True,
            "delay_minutes": 7 * DAY,
            "respect_quiet_hours": True,
            "once_per_order": True,
            "review_mail_default": True,
        },
    ),
    (
        "review_request_delivery_note",
        {
            "name": "Review request (delivery note printed)",
            "event_type": "delivery_note_printed",
            "purpose": "review_request",
            "enabled": False,
            "essential": False,
            "complete_delivery_only": True,
            "delay_minutes": 7 * DAY,
            "respect_quiet_hours": True,
            "once_per_order": True,
        },
    ),
    (
        "review_request_automatic",
        {
            "name": "Review request (automatically processed orders)",
            "event_type": "delivered",
            "purpose": "review_request",
            "enabled": False,
            "essential": False,
            "fulfillments": ["FBA"],
            "complete_delivery_only": True,
            "delay_minutes": 5 * DAY,
            "respect_quiet_hours": True,
            "once_per_order": True,
        },
    ),
    (
        "payment_reminder",
        {
            "name": "Prepayment reminder",
            "event_type": "invoiced",
            "purpose": "prepayment_reminder",
            "enabled": False,
            "payment_methods": ["prepayment"],
            "delay_minutes": 3 * DAY,
            "respect_quiet_hours": True,
            "business_days_only": True,
            "repeat_interval_minutes": 4 * DAY,
            "repeat_max_count": 3,
            "stop_events": ["payment_received", "cancelled"],
        },
    ),
    (
        "payment_reminder_sms",
        {
            "name": "Prepayment reminder (SMS)",
            "event_type": "invoiced",
            "purpose": "prepayment_reminder",
            "channel": "sms",
            "enabled": False,
            "payment_methods": ["prepayment"],
            "delay_minutes": 3 * DAY,
            "respect_quiet_hours": True,
            "business_days_only": True,
            "repeat_interval_minutes": 4 * DAY,
            "repeat_max_count": 3,
            "stop_events": ["payment_received", "cancelled"],
        },
    ),
]


def install_default_rules(account: Account) -> list[Rule]:
    """Add the default rules the account does not have yet (by key). Idempotent; commits.

    A rule the merchant changed or switched off keeps their settings.
    """
    existing = set(
        db.session.execute(
            select(Rule.default_key).where(
                Rule.account_id == account.id, Rule.default_key.is_not(None)
            )
        ).scalars()
    )
    added = []
    for position, (key, spec) in enumerate(DEFAULT_RULES):
        if key in existing:
            continue
        fields = validate_rule_fields(account.id, dict(spec))
        fields.setdefault("purpose", fields["event_type"])
        rule = Rule(account_id=account.id, default_key=key, position=position * 10, **fields)
        db.session.add(rule)
        added.append(rule)
    db.session.commit()
    return added


def seed_default_rules(account: Account) -> None:
    """Install the default templates, rules and quick replies of an account (idempotent).
    Commits.

    The `statuslink demo` seed step and `statuslink account create` use it, so every account
    starts with working shipping confirmations in all supported languages, and with the
    quick replies the order page offers (their messages follow the customer's language).
    """
    from webapp.message_templates.services import install_default_templates
    from webapp.notifications.manual import install_default_quick_replies

    install_default_templates(account)
    install_default_rules(account)
    install_default_quick_replies(account.id)
