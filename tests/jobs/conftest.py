"""Fixtures for the notification engine (defined in tests/support/outbox.py)."""

from tests.support.outbox import clock, engine_ready, fast_delivery, smtp_server  # noqa: F401
