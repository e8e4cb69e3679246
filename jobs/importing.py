"""RQ jobs of the CSV import: the run of one import, and the sweep that picks up lost ones."""

from __future__ import annotations

from typing import Any

from webapp.orders import importing


def run_import_job(import_id: int, account_id: int) -> dict[str, Any]:
    """Run the queued import `import_id` of `account_id`; a started or finished import is
    left alone, so running the job twice does no harm. A running import whose worker was
    lost (no progress for importing.STALE_AFTER) is resumed from its last checkpoint."""
    return importing.run_import(account_id, import_id)


def sweep_imports() -> dict[str, int]:
    """Periodic safety net: enqueue imports Redis lost, resume or fail those whose worker
    died (see importing.recover_stuck_imports)."""
    return importing.recover_stuck_imports()
