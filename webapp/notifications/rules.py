"""Rules: creating them with validation, and deciding whether one applies to an order event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapp.accounts.models import Account, Shop
from webapp.accounts.services import ValidationError, normalise_email, record_audit
from webapp.extensions import db
from webapp.notifications.models import (
    MAX_DELAY_MINUTES,
    RULE_CHANNELS,
    RULE_MODES,
    Rule,
)
from webapp.orders.models import DOCUMENT_KINDS, FULFILLMENTS, PAYMENT_METHODS, Order
from webapp.orders.state import EVENT_TYPES
from webapp.tenancy import scoped

_LIST_FIELDS = {
    "fulfillments": FULFILLMENTS,
    "review_fulfillments": FULFILLMENTS,
    "payment_methods": PAYMENT_METHODS,
    "stop_events": EVENT_TYPES,
    "document_kinds": DOCUMENT_KINDS,
}


def _check_minutes(field: str, value: Any, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, f"must be a whole number of minutes from {low} to {high}")
    return value


def validate_rule_fields(account_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Check rule fields; returns them normalised or raises ValidationError(field, message)."""
    out = dict(fields)
    if "name" in out and not str(out["name"]).strip():
        raise ValidationError("name", "must not be empty")
    if "event_type" in out and out["event_type"] not in EVENT_TYPES:
        raise ValidationError("event_type", f"must be one of {', '.join(EVENT_TYPES)}")
    if "channel" in out and out["channel"] not in RULE_CHANNELS:
        raise ValidationError("channel", f"must be one of {', '.join(RULE_CHANNELS)}")
    if "mode" in out and out["mode"] not in RULE_MODES:
        raise ValidationError("mode", f"must be one of {', '.join(RULE_MODES)}")
    if "delay_minutes" in out:
        _check_minutes("delay_minutes", out["delay_minutes"], low=0, high=MAX_DELAY_MINUTES)
    if "coalesce_minutes" in out:
        _check_minutes("coalesce_minutes", out["coalesce_minutes"], low=0, high=24 * 60)
    if out.get("repeat_interval_minutes") is not None:
        _check_minutes(
            "repeat_interval_minutes",
            out["repeat_interval_minutes"],
            low=1,
            high=MAX_DELAY_MINUTES,
        )
    if "repeat_max_count" in out:
        count = out["repeat_max_count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 50:
            raise ValidationError("repeat_max_count", "must be a number from 1 to 50")
    for field, allowed in _LIST_FIELDS.items():
        if field in out:
            values = list(out[field] or [])
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ValidationError(field, f"unknown value {bad[0]!r}")
            out[field] = values
    if "shop_ids" in out:
        ids = [int(i) for i in out["shop_ids"] or []]
        known = set(
            db.session.execute(
                select(Shop.id).where(Shop.account_id == account_id, Shop.id.in_(ids))
            ).scalars()
        )
        if set(ids) - known:
            raise ValidationError("shop_ids", "unknown shop")
        out["shop_ids"] = ids
    if "marketplaces" in out:
        out["marketplaces"] = [str(m).strip().lower() for m in out["marketplaces"] or []]
    if "bcc" in out:
        out["bcc"] = [normalise_email(b.strip(), "bcc") for b in out["bcc"] or [] if b.strip()]
    if "purpose" in out and not str(out["purpose"] or "").strip():
        raise ValidationError("purpose", "must not be empty")
    return out


def create_rule(account: Account, *, actor: str = "system", **fields: Any) -> Rule:
    """Create a rule after validating its fields. Commits."""
    fields.setdefault("purpose", fields.get("event_type"))
    fields = validate_rule_fields(account.id, fields)
    for required in ("name", "event_type"):
        if not fields.get(required):
            raise ValidationError(required, "is required")
    rule = Rule(account_id=account.id, **fields)
    db.session.add(rule)
    record_audit(account.id, "rule.create", actor=actor, target=fields["name"])
    db.session.commit()
    return rule


def update_rule(account_id: int, rule_id: int, *, actor: str = "system", **fields: Any) -> Rule:
    """Change fields of one of the account's rules. Commits."""
    rule = db.session.execute(scoped(Rule, account_id).filter_by(id=rule_id)).scalar_one_or_none()
    if rule is None:
        raise ValidationError("rule", "no such rule")
    for key, value in validate_rule_fields(account_id, fields).items():
        if not hasattr(Rule, key) or key in ("id", "account_id"):
            raise ValidationError(key, "unknown field")
        setattr(rule, key, value)
    record_audit(account_id, "rule.update", actor=actor, target=rule.name)
    db.session.commit()
    return rule


def list_rules(account_id: int) -> list[Rule]:
    """The account's rules in evaluation order (planning reads its own: `rules_for_event`)."""
    stmt = scoped(Rule, account_id).order_by(Rule.position, Rule.id)
    return list(db.session.execute(stmt).scalars())


def rule_skip_reason(rule: Rule, order: Order) -> str | None:
    """Why the rule's order conditions exclude this order, or None when they match.

    Opt-out and channel are judged by the planner, which records them as suppressed
    messages; orders outside these conditions simply are not the rule's business.
    """
    shop = order.shop
    if rule.shop_ids and order.shop_id not in rule.shop_ids:
        return "shop"
    if rule.marketplaces and (shop.marketplace or "").lower() not in rule.marketplaces:
        return "marketplace"
    if rule.fulfillments and order.fulfillment not in rule.fulfillments:
        return "fulfillment"
    if rule.payment_methods and order.payment_method not in rule.payment_methods:
        return "payment_method"
    if rule.complete_delivery_only and not order.completely_delivered:
        return "incomplete_delivery"
    if rule.pickup is not None and bool(order.pickup) != rule.pickup:
        return "pickup"
    return None
