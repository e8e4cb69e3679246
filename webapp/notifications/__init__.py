"""Rules, messages (the outbox), scheduling and delivery."""

from __future__ import annotations

import os

from flask import Flask

# Delivery settings: (config key, default). Each may also come from the environment, so a
# `statuslink worker` started by an operator (or a test) can be tuned without code.
DELIVERY_DEFAULTS: dict[str, float] = {
    "DISPATCH_SWEEP_SECONDS": 5,
    "DISPATCH_BATCH_SIZE": 50,
    "DISPATCH_LEASE_SECONDS": 300,
    "DISPATCH_MAX_SECONDS": 50,
    "DISPATCH_COALESCE_SECONDS": 5,
    # Threads per delivery run once more than one batch is due; each has its own database
    # session and SMTP connections (see delivery.deliver_due_messages).
    "DISPATCH_LANES": 2,
    "RETRY_BASE_SECONDS": 30,
    "RETRY_MAX_SECONDS": 3600,
    "RETRY_GIVE_UP_SECONDS": 24 * 3600,
    "SMTP_TIMEOUT_SECONDS": 15,
    # An SMS in state "unknown" is checked with its provider this often, and marked failed
    # ("outcome unknown") when still unclear after the give-up time.
    "SMS_RECONCILE_SECONDS": 60,
    "SMS_UNKNOWN_GIVE_UP_SECONDS": 6 * 3600,
}


def register_notifications(app: Flask) -> None:
    """Read the delivery settings and connect the outbox to the order-event signals."""
    from webapp.notifications.scheduling import install_test_clock
    from webapp.notifications.services import (
        on_event_arriving,
        on_event_committed,
        on_event_recorded,
    )
    from webapp.orders.signals import event_arriving, event_committed, event_recorded

    for key, default in DELIVERY_DEFAULTS.items():
        if key not in app.config:
            raw = os.environ.get(key)
            app.config[key] = float(raw) if raw not in (None, "") else default
    install_test_clock(app)
    _register_demo_step()
    # Connected once for every app (blinker de-duplicates); receivers use current_app.
    event_arriving.connect(on_event_arriving)
    event_recorded.connect(on_event_recorded)
    event_committed.connect(on_event_committed)


def _register_demo_step() -> None:
    # `statuslink demo` seeds the demo account with every registered step; ours adds rules.
    from webapp.accounts.demo import DEMO_SEED_STEPS
    from webapp.notifications.defaults import seed_default_rules

    if seed_default_rules not in DEMO_SEED_STEPS:
        DEMO_SEED_STEPS.append(seed_default_rules)
