"""RQ jobs of the status pages."""

from __future__ import annotations

from webapp.status.opens import flush_all_opens


def flush_status_opens() -> int:
    """Periodic: write the status-link opens counted in Redis to the database (the web
    processes do so too while pages are being opened; this catches the last ones)."""
    return flush_all_opens()
