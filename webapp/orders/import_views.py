"""Admin pages of the CSV import: upload, column mapping, live progress and the bad rows."""

from __future__ import annotations

import contextlib
import csv
import io
from typing import Any

from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.accounts.auth import role_required
from webapp.accounts.services import ValidationError, list_shops
from webapp.htmx import wants_fragment
from webapp.orders.importing import (
    IMPORT_FIELDS,
    REQUIRED_FIELDS,
    ImportJob,
    get_import,
    list_imports,
    mapping_for,
    max_upload_bytes,
    preview_rows,
    save_upload,
    start_import,
)
from webapp.orders.views import bp
from webapp.tenancy import NotFound

# Import status → badge tone.
IMPORT_TONES = {
    "new": "neutral",
    "queued": "info",
    "running": "info",
    "done": "success",
    "failed": "error",
}
IMPORT_STATUS_LABELS = {
    "new": _l("Waiting for the column mapping"),
    "queued": _l("Waiting for a worker"),
    "running": _l("Running"),
    "done": _l("Done"),
    "failed": _l("Failed"),
}
# How many bad rows the progress page lists; the CSV download has all stored ones.
ERRORS_SHOWN = 200


class UploadForm(FlaskForm):
    """The CSV file to import."""

    file = FileField(_l("CSV file"), render_kw={"accept": ".csv,text/csv"})


def import_error_text(error: dict[str, Any]) -> str:
    """The reason of a stored bad row in the UI language, e.g. "is not a valid phone number"."""
    reason = gettext(str(error.get("reason", "")))
    params = error.get("params") or {}
    if params:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            reason = reason % params
    return reason


def _message(exc: ValidationError) -> str:
    """The (untranslated) message of a service error in the UI language, with its params."""
    text = gettext(exc.message)
    params = getattr(exc, "params", None)
    if not params:
        return text
    values = {
        key: ", ".join(gettext(v) for v in value) if isinstance(value, list) else value
        for key, value in params.items()
    }
    if "label" in values:
        values["label"] = gettext(str(values["label"]))
    return text % values


def _load(import_id: int) -> ImportJob:
    try:
        return get_import(current_user.account_id, import_id)
    except NotFound:
        abort(404)


@bp.app_context_processor
def _import_labels() -> dict[str, Any]:
    return {
        "import_fields": IMPORT_FIELDS,
        "import_tones": IMPORT_TONES,
        "import_status_labels": IMPORT_STATUS_LABELS,
        "import_error_text": import_error_text,
    }


def _upload_page(form: UploadForm, status: int = 200) -> Response:
    response = make_response(
        render_template(
            "orders/import.html",
            form=form,
            imports=list_imports(current_user.account_id),
            max_mb=round(max_upload_bytes() / 2**20, 1),
        ),
        status,
    )
    return response


@bp.get("/import")
@role_required("admin")
def import_upload() -> ResponseReturnValue:
    """The import page: choose a CSV file; the latest imports below."""
    return _upload_page(UploadForm())


@bp.post("/import")
@role_required("admin")
def import_upload_file() -> ResponseReturnValue:
    """Store the uploaded CSV file and go on to the column mapping."""
    try:
        form = UploadForm()
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        form = UploadForm(formdata=None)
        form.file.errors = [gettext("The file is too large.")]
        return _upload_page(form, 413)
    valid = form.validate()
    if not valid:
        return _upload_page(form, 422)
    if upload is None or not upload.filename:
        form.file.errors = [gettext("Choose a CSV file.")]
        return _upload_page(form, 422)
    try:
        job = save_upload(current_user.account_id, current_user, upload.filename, upload.stream)
    except ValidationError as exc:
        form.file.errors = [_message(exc)]
        return _upload_page(form, 422)
    return redirect(url_for("orders.import_mapping", import_id=job.id))


def _mapping_page(
    job: ImportJob,
    mapping: dict[str, str],
    default_shop: str | None,
    *,
    error: str | None = None,
    shop_error: str | None = None,
    status: int = 200,
) -> Response:
    try:
        rows = preview_rows(job)
    except (OSError, ValueError):
        rows = []
    return make_response(
        render_template(
            "orders/import_mapping.html",
            job=job,
            mapping=mapping,
            default_shop=default_shop or "",
            shops=list_shops(current_user.account_id),
            rows=rows,
            required_fields=REQUIRED_FIELDS,
            error=error,
            shop_error=shop_error,
        ),
        status,
    )


@bp.get("/import/<int:import_id>/mapping")
@role_required("admin")
def import_mapping(import_id: int) -> ResponseReturnValue:
    """Map each column of the file to a field, with a preview of the first rows."""
    job = _load(import_id)
    if job.status != "new":
        return redirect(url_for("orders.import_progress", import_id=job.id))
    mapping, default_shop = mapping_for(current_user.account_id, job.headers)
    return _mapping_page(job, mapping, default_shop)


@bp.post("/import/<int:import_id>/mapping")
@role_required("admin")
def import_start(import_id: int) -> ResponseReturnValue:
    """Save the mapping, queue the import and show its progress."""
    job = _load(import_id)
    if job.status != "new":
        return redirect(url_for("orders.import_progress", import_id=job.id))
    mapping = {
        header: request.form.get(f"column-{index}", "")[:32]
        for index, header in enumerate(job.headers)
    }
    default_shop = request.form.get("default_shop", "").strip()[:64] or None
    try:
        job, enqueued = start_import(
            current_user.account_id, job.id, mapping, default_shop, actor=current_user.email
        )
    except ValidationError as exc:
        message = _message(exc)
        return _mapping_page(
            job,
            mapping,
            default_shop,
            error=None if exc.field == "default_shop" else message,
            shop_error=message if exc.field == "default_shop" else None,
            status=422,
        )
    if not enqueued:
        return _mapping_page(
            job,
            mapping,
            default_shop,
            error=gettext("The job queue cannot be reached. Try again in a moment."),
            status=503,
        )
    flash(gettext("The import has started."), "success")
    return redirect(url_for("orders.import_progress", import_id=job.id))


@bp.get("/import/<int:import_id>")
@role_required("admin")
def import_progress(import_id: int) -> ResponseReturnValue:
    """The import's progress; HTMX polls the fragment every second until the import ends,
    which answers 286 so polling stops."""
    job = _load(import_id)
    if job.status == "new" and not wants_fragment():
        return redirect(url_for("orders.import_mapping", import_id=job.id))
    context = {"job": job, "errors_shown": ERRORS_SHOWN}
    if not wants_fragment():
        return make_response(render_template("orders/import_progress.html", **context))
    response = make_response(render_template("orders/partials/import_progress.html", **context))
    response.vary.add("HX-Request")
    if job.finished:
        response.status_code = 286
    return response


@bp.get("/import/<int:import_id>/errors.csv")
@role_required("admin")
def import_errors_csv(import_id: int) -> Response:
    """Every stored bad row of the import as a CSV file: line, column, reason."""
    job = _load(import_id)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([gettext("Line"), gettext("Column"), gettext("Reason")])
    for error in job.errors or []:
        column = _safe_cell(str(error.get("column") or ""))
        writer.writerow([error.get("line"), column, _safe_cell(import_error_text(error))])
    response = make_response("\ufeff" + out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="import-{job.id}-errors.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _safe_cell(value: str) -> str:
    # A cell starting with = + - @ would run as a formula in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
