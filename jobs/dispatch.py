"""RQ jobs that deliver the outbox: on demand after an event, and as a periodic sweep."""

from __future__ import annotations

from dataclasses import asdict

from webapp.notifications import services


def dispatch_due_messages() -> dict[str, int]:
    """Deliver every due message (enqueued after events; coalesced in Redis)."""
    services.clear_dispatch_request()
    return asdict(services.deliver_due_messages())


def sweep_messages() -> dict[str, int]:
    """Periodic safety net: recover expired leases and deliver whatever is due.

    Runs every DISPATCH_SWEEP_SECONDS whether or not Redis remembered any dispatch job.
    """
    return asdict(services.deliver_due_messages())
