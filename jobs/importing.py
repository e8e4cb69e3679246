"""RQ job that runs a CSV import of orders."""

from __future__ import annotations

from typing import Any

from webapp.orders import importing


def run_import_job(import_id: int, account_id: int) -> dict[str, Any]:
    """Run the queued import `import_id` of `account_id`; a started or finished import is
    left alone, so running the job twice does no harm."""
    return importing.run_import(account_id, import_id)
