"""CSV import of orders with their customers: uploads, per-account column mappings, the run."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import (
    JSON,
    CursorResult,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from webapp.accounts.models import Account, User
from webapp.accounts.services import ValidationError, list_shops, record_audit
from webapp.dbtypes import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.i18n import N_
from webapp.orders.services import MAX_QUANTITY, upsert_order
from webapp.queue import enqueue
from webapp.tenancy import NotFound, TenantOwned, get_scoped, get_scoped_or_raise, scoped

log = logging.getLogger(__name__)

IMPORT_STATUSES = ("new", "queued", "running", "done", "failed")
FINISHED = ("done", "failed")
ALLOWED_SUFFIXES = (".csv", ".txt")
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_ROWS = 50_000
DEFAULT_PROGRESS_EVERY = 25
# At most this many bad rows are stored with their reason; the count stays exact beyond it.
MAX_STORED_ERRORS = 5_000
# A "running" import whose progress has not moved for this long lost its worker; it may restart.
STALE_AFTER = timedelta(minutes=10)
# A "queued" import whose job has not started after this long is enqueued again (Redis may have
# lost the job); a second copy of the job finds the import claimed and does nothing.
QUEUED_GRACE = timedelta(minutes=1)
# A stale import that started this long ago is not resumed again but failed (its worker keeps
# dying on it).
RESUME_GIVE_UP = timedelta(hours=6)
F_INTERNAL = N_("The import stopped because of an internal error.")
F_WORKER_LOST = N_(
    "The import stopped: the worker running it was lost and it could not be resumed. "
    "Orders imported so far are kept; upload the file again to import the rest."
)
PREVIEW_ROWS = 5
JOB_PATH = "jobs.importing.run_import_job"

# What a CSV column can be mapped to ("" = ignore the column); labels are translated where shown.
IMPORT_FIELDS: dict[str, str] = {
    "": N_("Ignore this column"),
    "number": N_("Order number"),
    "shop": N_("Shop code"),
    "placed_at": N_("Order date"),
    "fulfillment": N_("Fulfilment (FBA, FBM, own)"),
    "payment": N_("Payment method"),
    "currency": N_("Currency"),
    "customer_name": N_("Customer name"),
    "customer_email": N_("Customer e-mail"),
    "customer_mobile": N_("Mobile number (SMS)"),
    "customer_language": N_("Customer language"),
    "customer_channel": N_("Preferred channel"),
    "customer_id": N_("Customer number"),
    "sku": N_("Item number (SKU)"),
    "title": N_("Item title"),
    "quantity": N_("Quantity"),
    "unit_price": N_("Unit price"),
}
REQUIRED_FIELDS = ("number", "customer_name", "title")

# Header names (normalised: lower case, letters and digits only) that suggest a field. English
# and German, as exported by common shop systems and spreadsheets.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "number": (
        "bestellnummer", "bestellnr", "auftragsnummer", "auftragsnr", "ordernumber", "orderno",
        "orderid", "order", "number", "nummer", "bestellung", "auftrag", "belegnummer",
    ),
    "shop": ("shop", "shopcode", "marketplace", "marktplatz", "verkaufskanal", "salechannel"),
    "placed_at": (
        "bestelldatum", "auftragsdatum", "datum", "orderdate", "date", "placedat", "purchasedate",
    ),
    "fulfillment": ("fulfillment", "fulfilment", "fulfillmentchannel", "versandtyp"),
    "payment": ("zahlungsart", "zahlweise", "zahlung", "payment", "paymentmethod"),
    "currency": ("währung", "waehrung", "currency"),
    "customer_name": (
        "name", "kunde", "kundenname", "customer", "customername", "buyername", "fullname",
        "empfänger", "empfaenger", "recipient", "recipientname",
    ),
    "customer_email": (
        "email", "mail", "emailadresse", "emailaddress", "kundenemail", "buyeremail",
    ),
    "customer_mobile": (
        "handy", "mobil", "mobile", "handynummer", "mobilnummer", "mobiltelefon", "mobilfunk",
        "mobilephone", "mobilenumber", "cell", "cellphone", "sms",
    ),
    "customer_language": ("sprache", "language", "lang", "kundensprache"),
    "customer_channel": ("kanal", "channel", "benachrichtigung", "preferredchannel"),
    "customer_id": (
        "kundennummer", "kundennr", "customerid", "customernumber", "customerno", "externalid",
    ),
    "sku": ("sku", "artikelnummer", "artikelnr", "artnr", "itemnumber", "itemno", "asin"),
    "title": (
        "artikel", "artikelname", "titel", "title", "item", "itemtitle", "itemname", "product",
        "produkt", "productname", "bezeichnung", "artikelbezeichnung",
    ),
    "quantity": ("menge", "anzahl", "quantity", "qty", "stück", "stueck", "quantitypurchased"),
    "unit_price": ("preis", "einzelpreis", "stückpreis", "price", "unitprice", "itemprice"),
}  # fmt: skip
# Used for the mobile number only when no column is clearly a mobile number.
_PHONE_FALLBACK = ("telefon", "telefonnummer", "phone", "phonenumber", "tel", "buyerphonenumber")

_FULFILLMENT_VALUES = {"fba": "FBA", "fbm": "FBM", "own": "own", "eigen": "own"}
_PAYMENT_VALUES = {
    "prepayment": "prepayment",
    "vorkasse": "prepayment",
    "invoice": "invoice",
    "rechnung": "invoice",
    "paid": "paid",
    "bezahlt": "paid",
}
_CHANNEL_VALUES = {
    "email": "email",
    "mail": "email",
    "sms": "sms",
    "both": "both",
    "beide": "both",
    "none": "none",
    "keine": "none",
    "keiner": "none",
}
_DATE_FORMATS = (
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%Y-%m-%d %H:%M",
)

# Reasons for bad rows; stored in English and translated where they are shown.
R_MISSING = N_("is empty")
R_NO_NUMBER = N_("The order number is missing.")
R_BAD_NUMBER = N_("Use 1-64 letters, digits, '.', '_' or '-'.")
R_QUANTITY = N_("must be a whole number from 1 to %(max)d")
R_PRICE = N_("is not a number")
R_DATE = N_("is not a date (use 31.12.2024 or 2024-12-31)")
R_FULFILLMENT = N_("must be FBA, FBM or own")
R_PAYMENT = N_("must be prepayment, invoice or paid")
R_CHANNEL = N_("must be email, sms, both or none")
R_UNKNOWN_SHOP = N_("There is no shop with the code %(code)s.")
R_NO_SHOP = N_("No shop: the row has no shop code and no default shop was chosen.")
R_EMAIL = N_("is not a valid e-mail address")
R_PHONE = N_("is not a valid phone number")
R_LANGUAGE = N_("is not a supported language")
R_TOO_LONG = N_("is too long")
R_INVALID = N_("is not valid")

_NAME_RE = re.compile(r"[\W_]+")


class ImportJob(TenantOwned, db.Model):
    """One uploaded CSV file and the run that turns its rows into orders."""

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="new")
    filename: Mapped[str] = mapped_column(String(255))
    # Relative to the imports directory: "<account_id>/<random>.csv".
    stored_path: Mapped[str] = mapped_column(String(300))
    encoding: Mapped[str] = mapped_column(String(16), default="utf-8")
    delimiter: Mapped[str] = mapped_column(String(1), default=",")
    headers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The mapping this run uses: column header -> field (see IMPORT_FIELDS).
    mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    default_shop: Mapped[str | None] = mapped_column(String(64), nullable=True)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Every bad row: {"line", "column", "reason", "params"}; "reason" is an untranslated text.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.processed * 100 // self.total_rows)

    @property
    def errors_truncated(self) -> bool:
        return self.failed > len(self.errors or [])


class ImportMapping(TenantOwned, db.Model):
    """The account's saved column mapping, offered again on the next upload."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(  # type: ignore[assignment]
        ForeignKey("account.id", ondelete="CASCADE"), unique=True, index=True
    )
    # Column header -> field; a header mapped to "" is remembered as ignored.
    columns: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    default_shop: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_by: Mapped[str] = mapped_column(String(254), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ImportInputError(ValidationError):
    """Bad input for an import (file or mapping); `message` is untranslated, with `params`."""

    def __init__(self, field: str, message: str, **params: Any):
        super().__init__(field, message)
        self.params = params


class RowError(Exception):
    """A bad CSV row: the column at fault (header or "") and an untranslated reason."""

    def __init__(self, column: str, reason: str, **params: Any):
        super().__init__(reason)
        self.column = column
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class ParsedFile:
    """A decoded CSV file: unique headers, data rows with their first line number."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]


# --- files ---------------------------------------------------------------------------------


def imports_root() -> Path:
    """Where uploaded CSV files live: IMPORTS_DIR, else `imports/` next to DOCUMENTS_DIR."""
    configured = current_app.config.get("IMPORTS_DIR")
    if configured:
        return Path(configured).resolve()
    return (Path(current_app.config["DOCUMENTS_DIR"]).resolve().parent / "imports").resolve()


def _path_for(stored_path: str) -> Path:
    root = imports_root()
    path = (root / stored_path).resolve()
    if root not in path.parents:
        raise ValueError("stored path outside the imports directory")
    return path


def max_upload_bytes() -> int:
    """The largest CSV file accepted, in bytes (IMPORT_MAX_BYTES)."""
    return int(current_app.config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def decode_csv(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was in: UTF-8 (with or without BOM), else
    Windows-1252 (Excel's default in Western Europe). Raises ValidationError for binary data."""
    if b"\x00" in data:
        raise ValidationError("file", N_("This is not a CSV file."))
    try:
        text = data.decode("utf-8-sig")
        encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ValidationError("file", N_("The file's text encoding is not supported.")) from exc
        encoding = "cp1252"
    return text, encoding


def sniff_delimiter(text: str) -> str:
    """ ";" or "," (or a tab), whichever splits the header line into more columns."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {d: _count_outside_quotes(first, d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _unique_headers(raw: list[str]) -> list[str]:
    headers: list[str] = []
    for index, name in enumerate(raw):
        name = " ".join(name.split()) or f"#{index + 1}"
        candidate, n = name, 2
        while candidate in headers:
            candidate, n = f"{name} ({n})", n + 1
        headers.append(candidate[:200])
    return headers


def parse_csv(text: str, delimiter: str) -> ParsedFile:
    """Headers and non-blank rows of a CSV text; each row with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ValidationError("file", N_("The file is empty."))
        rows: list[tuple[int, list[str]]] = []
        last_line = reader.line_num
        for row in reader:
            start = last_line + 1
            last_line = reader.line_num
            if any(cell.strip() for cell in row):
                rows.append((start, row))
    except csv.Error as exc:
        raise ValidationError("file", N_("The file is not valid CSV.")) from exc
    return ParsedFile(_unique_headers(header), rows)


def read_import_file(job: ImportJob) -> ParsedFile:
    """The stored file of an import, parsed. Raises FileNotFoundError when it is gone."""
    data = _path_for(job.stored_path).read_bytes()
    text, _ = decode_csv(data)
    return parse_csv(text, job.delimiter)


def save_upload(account_id: int, user: User | None, filename: str, stream: IO[bytes]) -> ImportJob:
    """Store an uploaded CSV file under the account's imports folder and register the import.

    Checks name, size, encoding (UTF-8 with or without BOM, else cp1252), delimiter (";" or ",")
    and that there are a header and at least one row. Commits the new ImportJob (status "new");
    enqueues nothing. Raises ValidationError(field "file") with an untranslated message.
    """
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    if not name:
        raise ValidationError("file", N_("Choose a CSV file."))
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise ValidationError("file", N_("Only CSV files (.csv) can be imported."))
    limit = max_upload_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImportInputError(
            "file",
            N_("The file is larger than the limit of %(mb)s MB."),
            mb=round(limit / 2**20, 1),
        )
    if not data.strip():
        raise ValidationError("file", N_("The file is empty."))
    text, encoding = decode_csv(data)
    delimiter = sniff_delimiter(text)
    parsed = parse_csv(text, delimiter)
    if not parsed.rows:
        raise ValidationError("file", N_("The file has a header but no rows below it."))
    max_rows = int(current_app.config.get("IMPORT_MAX_ROWS") or DEFAULT_MAX_ROWS)
    if len(parsed.rows) > max_rows:
        raise ImportInputError(
            "file", N_("The file has more than %(rows)s rows; split it."), rows=max_rows
        )

    stored_path = f"{account_id}/{secrets.token_hex(16)}.csv"
    path = _path_for(stored_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    job = ImportJob(
        account_id=account_id,
        status="new",
        filename=name[:255],
        stored_path=stored_path,
        encoding=encoding,
        delimiter=delimiter,
        headers=parsed.headers,
        total_rows=len(parsed.rows),
        created_by_id=user.id if user is not None else None,
        created_by=user.email if user is not None else "",
        errors=[],
        mapping={},
    )
    db.session.add(job)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return job


def get_import(account_id: int, import_id: int) -> ImportJob:
    """The import with this id; NotFound also when it belongs to another account."""
    return get_scoped_or_raise(ImportJob, account_id, id=import_id)


def list_imports(account_id: int, limit: int = 10) -> list[ImportJob]:
    """The account's latest imports, newest first."""
    stmt = scoped(ImportJob, account_id).order_by(ImportJob.id.desc()).limit(limit)
    return list(db.session.execute(stmt).scalars())


def preview_rows(job: ImportJob, count: int = PREVIEW_ROWS) -> list[tuple[int, list[str]]]:
    """The first rows of the file, padded to the header width, for the mapping step."""
    width = len(job.headers)
    rows = read_import_file(job).rows[:count]
    return [(line, (row + [""] * width)[:width]) for line, row in rows]


# --- mapping -------------------------------------------------------------------------------


def _normalise_header(header: str) -> str:
    return _NAME_RE.sub("", unicodedata.normalize("NFC", header).casefold())


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """A field for every header that names one (English or German); "" for the others.

    Each field goes to the first column that names it. A phone column becomes the mobile
    number only when no column is clearly a mobile number.
    """
    suggestion = {header: "" for header in headers}
    taken: set[str] = set()
    lookup = {name: field for field, names in _SYNONYMS.items() for name in names}
    for header in headers:
        field = lookup.get(_normalise_header(header))
        if field and field not in taken:
            suggestion[header] = field
            taken.add(field)
    if "customer_mobile" not in taken:
        for header in headers:
            if suggestion[header] == "" and _normalise_header(header) in _PHONE_FALLBACK:
                suggestion[header] = "customer_mobile"
                break
    return suggestion


def get_mapping(account_id: int) -> ImportMapping | None:
    """The account's saved mapping, if any."""
    return get_scoped(ImportMapping, account_id)


def mapping_for(account_id: int, headers: list[str]) -> tuple[dict[str, str], str | None]:
    """The mapping to offer for these headers, and the default shop code.

    Headers known from the account's saved mapping keep their saved field; the others get a
    suggestion from their name, unless that field is already taken.
    """
    saved = get_mapping(account_id)
    suggestion = suggest_mapping(headers)
    if saved is None:
        return suggestion, None
    mapping: dict[str, str] = {}
    for header in headers:
        if header in saved.columns and saved.columns[header] in IMPORT_FIELDS:
            mapping[header] = saved.columns[header]
    taken = {field for field in mapping.values() if field}
    for header in headers:
        if header not in mapping:
            field = suggestion[header]
            mapping[header] = field if field not in taken else ""
            taken.add(mapping[header])
    return mapping, saved.default_shop


def validate_mapping(
    account_id: int, headers: list[str], mapping: Mapping[str, str], default_shop: str | None
) -> dict[str, str]:
    """The mapping restricted to the file's headers; raises ValidationError("mapping", ...)."""
    clean: dict[str, str] = {}
    seen: dict[str, str] = {}
    for header in headers:
        field = mapping.get(header, "") or ""
        if field not in IMPORT_FIELDS:
            raise ValidationError("mapping", N_("Choose a field from the list for every column."))
        if field and field in seen:
            raise ImportInputError(
                "mapping",
                N_("%(label)s is chosen for more than one column."),
                label=IMPORT_FIELDS[field],
            )
        if field:
            seen[field] = header
        clean[header] = field
    missing = [IMPORT_FIELDS[f] for f in REQUIRED_FIELDS if f not in seen]
    if missing:
        raise ImportInputError("mapping", N_("Choose a column for: %(fields)s."), fields=missing)
    codes = {shop.code for shop in list_shops(account_id)}
    if default_shop and default_shop not in codes:
        raise ValidationError("default_shop", N_("Choose one of your shops."))
    if "shop" not in seen and not default_shop:
        raise ValidationError(
            "default_shop", N_("Choose a default shop, or a column that holds the shop code.")
        )
    return clean


def save_mapping(
    account_id: int, columns: Mapping[str, str], default_shop: str | None, *, actor: str
) -> ImportMapping:
    """Remember the account's column mapping (merged over the saved one) and default shop.

    Adds an audit entry; commits.
    """
    saved = get_mapping(account_id)
    if saved is None:
        saved = ImportMapping(account_id=account_id, columns={})
        db.session.add(saved)
    merged = dict(saved.columns or {})
    merged.update(columns)
    # Keep one column per field: a field now mapped here is dropped from older headers.
    now_used = {field for field in columns.values() if field}
    for header, field in list(merged.items()):
        if header not in columns and field in now_used:
            merged[header] = ""
    saved.columns = merged
    saved.default_shop = default_shop or None
    saved.updated_by = actor
    record_audit(
        account_id,
        "import.mapping_saved",
        actor=actor,
        target="import mapping",
        details={"columns": {h: f for h, f in columns.items() if f}},
    )
    db.session.commit()
    return saved


def start_import(
    account_id: int,
    import_id: int,
    mapping: Mapping[str, str],
    default_shop: str | None,
    *,
    actor: str,
) -> tuple[ImportJob, bool]:
    """Validate and save the mapping, queue the import and enqueue its job.

    Returns (import, enqueued). Only a new import can start (ValidationError otherwise). Commits
    the mapping and the queued import, then enqueues `jobs.importing.run_import_job`; when Redis
    cannot be reached the import goes back to "new" so it can be started again.
    """
    job = get_import(account_id, import_id)
    if job.status != "new":
        raise ValidationError("status", N_("This import has already been started."))
    clean = validate_mapping(account_id, job.headers, mapping, default_shop)
    save_mapping(account_id, clean, default_shop, actor=actor)
    job.mapping = clean
    job.default_shop = default_shop or None
    job.status = "queued"
    db.session.commit()
    if _enqueue_run(job.id, account_id):
        return job, True
    job.status = "new"
    db.session.commit()
    return job, False


# --- the run -------------------------------------------------------------------------------


def _claim(account_id: int, import_id: int) -> bool:
    """Atomically move a queued (or stale running) import to running; False if not ours.

    A stale import keeps its first start time (the give-up time of resuming counts from it).
    """
    now = utcnow()
    stmt = (
        update(ImportJob)
        .where(ImportJob.id == import_id, ImportJob.account_id == account_id)
        .where(
            (ImportJob.status == "queued")
            | ((ImportJob.status == "running") & (ImportJob.updated_at < now - STALE_AFTER))
        )
        .values(
            status="running",
            started_at=func.coalesce(ImportJob.started_at, literal(now, UTCDateTime())),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = cast(CursorResult[Any], db.session.execute(stmt)).rowcount == 1
    db.session.commit()
    return claimed


def _decimal_text(value: str) -> str:
    value = value.replace(" ", "").replace("\u00a0", "").replace("€", "")
    if "," in value and "." in value:
        # The separator that comes last is the decimal one: 1.234,50 or 1,234.50.
        if value.rfind(",") > value.rfind("."):
            value = value.replace(".", "").replace(",", ".")
        else:
            value = value.replace(",", "")
    elif "," in value:
        value = value.replace(",", ".")
    return value


def _parse_datetime(value: str, zone: ZoneInfo) -> datetime:
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)  # noqa: DTZ007 - zone added below
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


@dataclass
class _Row:
    line: int
    values: dict[str, str]


class _Runner:
    """Turns the rows of one import into orders; counters live here between checkpoints."""

    def __init__(self, job: ImportJob, account: Account):
        self.job_id = job.id
        self.account_id = job.account_id
        self.mapping = dict(job.mapping)
        self.default_shop = job.default_shop
        self.columns = {field: header for header, field in self.mapping.items() if field}
        self.shop_codes = {shop.code for shop in list_shops(job.account_id)}
        try:
            self.zone = ZoneInfo(account.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.every = int(current_app.config.get("IMPORT_PROGRESS_EVERY") or DEFAULT_PROGRESS_EVERY)
        self.processed = self.created = self.updated = self.failed = 0
        self.errors: list[dict[str, Any]] = []
        self._checkpoint_at = 0
        # Rows a previous run of this import (whose worker was lost) already checkpointed.
        self.resume_from = 0

    def resume(self, job: ImportJob) -> None:
        """Continue after the last checkpoint of a run whose worker was lost.

        Checkpoints are taken between orders, so everything up to `job.processed` was imported
        with these counters and errors. Orders imported after the checkpoint are imported
        again: upsert_order is idempotent by order number, so nothing is duplicated (such an
        order counts as updated instead of created).
        """
        self.resume_from = self._checkpoint_at = job.processed
        self.processed = job.processed
        self.created, self.updated, self.failed = job.created, job.updated, job.failed
        self.errors = list(job.errors or [])

    def column(self, field: str) -> str:
        return self.columns.get(field, "")

    def bad(self, line: int, error: RowError) -> None:
        self.failed += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(
                {
                    "line": line,
                    "column": error.column,
                    "reason": error.reason,
                    "params": error.params,
                }
            )

    def checkpoint(self, *, force: bool = False) -> None:
        if not force and self.processed - self._checkpoint_at < self.every:
            return
        self._checkpoint_at = self.processed
        db.session.execute(
            update(ImportJob)
            .where(ImportJob.id == self.job_id, ImportJob.account_id == self.account_id)
            .values(
                processed=self.processed,
                created=self.created,
                updated=self.updated,
                failed=self.failed,
                errors=list(self.errors),
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    # -- rows --

    def row_values(self, row: list[str], headers: list[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for index, header in enumerate(headers):
            field = self.mapping.get(header)
            if field and index < len(row):
                cell = row[index].strip()
                if cell:
                    values[field] = cell
        return values

    def item(self, values: dict[str, str]) -> dict[str, Any]:
        title = values.get("title")
        if not title:
            raise RowError(self.column("title"), R_MISSING)
        item: dict[str, Any] = {"title": title}
        if values.get("sku"):
            item["sku"] = values["sku"]
        raw_quantity = values.get("quantity", "1")
        quantity = _decimal_text(raw_quantity)
        if quantity.endswith(".0"):
            quantity = quantity[:-2]
        if not quantity.isdigit() or not 1 <= int(quantity) <= MAX_QUANTITY:
            raise RowError(self.column("quantity"), R_QUANTITY, max=MAX_QUANTITY)
        item["quantity"] = int(quantity)
        if values.get("unit_price"):
            try:
                price = Decimal(_decimal_text(values["unit_price"]))
            except InvalidOperation as exc:
                raise RowError(self.column("unit_price"), R_PRICE) from exc
            if not price.is_finite() or price < 0:
                raise RowError(self.column("unit_price"), R_PRICE)
            item["unit_price"] = str(price)
        return item

    def order_data(self, values: dict[str, str]) -> dict[str, Any]:
        shop = values.get("shop") or self.default_shop
        if not shop:
            raise RowError(self.column("shop"), R_NO_SHOP)
        if shop not in self.shop_codes:
            raise RowError(self.column("shop"), R_UNKNOWN_SHOP, code=shop)
        name = values.get("customer_name")
        if not name:
            raise RowError(self.column("customer_name"), R_MISSING)
        customer: dict[str, Any] = {"name": name}
        for field, key in (
            ("customer_email", "email"),
            ("customer_mobile", "phone"),
            ("customer_id", "external_id"),
        ):
            if values.get(field):
                customer[key] = values[field]
        if values.get("customer_language"):
            customer["language"] = values["customer_language"].casefold().split("-")[0][:8]
        if values.get("customer_channel"):
            channel = _CHANNEL_VALUES.get(_normalise_header(values["customer_channel"]))
            if channel is None:
                raise RowError(self.column("customer_channel"), R_CHANNEL)
            customer["channel"] = channel
        data: dict[str, Any] = {"number": values["number"], "shop": shop, "customer": customer}
        if values.get("placed_at"):
            try:
                data["placed_at"] = _parse_datetime(values["placed_at"], self.zone)
            except ValueError as exc:
                raise RowError(self.column("placed_at"), R_DATE) from exc
        if values.get("fulfillment"):
            fulfillment = _FULFILLMENT_VALUES.get(values["fulfillment"].casefold())
            if fulfillment is None:
                raise RowError(self.column("fulfillment"), R_FULFILLMENT)
            data["fulfillment"] = fulfillment
        if values.get("payment"):
            method = _PAYMENT_VALUES.get(values["payment"].casefold())
            if method is None:
                raise RowError(self.column("payment"), R_PAYMENT)
            data["payment"] = {"method": method}
        if values.get("currency"):
            data["currency"] = values["currency"].upper()
        return data

    def service_error(self, exc: ValidationError) -> RowError:
        """A ValidationError of upsert_order as a row error naming the CSV column."""
        fields = {
            "number": "number",
            "shop": "shop",
            "placed_at": "placed_at",
            "fulfillment": "fulfillment",
            "currency": "currency",
            "payment.method": "payment",
            "customer.name": "customer_name",
            "customer.email": "customer_email",
            "customer.phone": "customer_mobile",
            "customer.language": "customer_language",
            "customer.channel": "customer_channel",
            "customer.external_id": "customer_id",
        }
        path = exc.field
        if path.startswith("items."):
            path = path.split(".")[-1]
            field = {"title": "title", "sku": "sku", "quantity": "quantity"}.get(path, "unit_price")
        else:
            field = fields.get(path, "")
        message = exc.message
        if field == "customer_email":
            reason = R_EMAIL
        elif field == "customer_mobile":
            reason = R_PHONE
        elif field == "customer_language":
            reason = R_LANGUAGE
        elif field == "number":
            reason = R_BAD_NUMBER
        elif message == "is required":
            reason = R_MISSING
        elif message.startswith("must be at most"):
            reason = R_TOO_LONG
        elif field:
            reason = R_INVALID
        else:
            reason = f"{exc.field}: {message}"
        return RowError(self.column(field) if field else "", reason)

    # -- orders --

    def import_group(self, rows: list[_Row]) -> None:
        """Upsert one order from its rows; bad item rows are dropped and reported.

        The rows count as processed (and reach the next checkpoint) once the order is done.
        When the run is cut short inside the order by anything but an error of its own (the
        worker is stopped or killed), the checkpoint stays before it, so a resumed run
        imports it again.
        """
        try:
            self._import_group(rows)
        except Exception:
            self.processed += len(rows)  # the failed import reports how far it got
            raise
        self.processed += len(rows)
        self.checkpoint()

    def _import_group(self, rows: list[_Row]) -> None:
        items: list[tuple[_Row, dict[str, Any]]] = []
        for row in rows:
            try:
                items.append((row, self.item(row.values)))
            except RowError as row_error:
                self.bad(row.line, row_error)
        if not items:
            return
        try:
            data = self.order_data(items[0][0].values)
        except RowError as order_error:
            for row, _ in items:
                self.bad(row.line, order_error)
            return
        while items:
            data["items"] = [item for _, item in items]
            try:
                _, created = upsert_order(self.account_id, data)
            except ValidationError as exc:
                service_error = self.service_error(exc)
                position = exc.field.split(".")[1] if exc.field.startswith("items.") else ""
                if position.isdigit() and int(position) < len(items):
                    # One item is bad: report its row, import the order without it.
                    row, _ = items.pop(int(position))
                    self.bad(row.line, service_error)
                    continue
                for row, _ in items:
                    self.bad(row.line, service_error)
                return
            if created:
                self.created += 1
            else:
                self.updated += 1
            return

    def run(self, parsed: ParsedFile) -> None:
        groups: dict[str, list[_Row]] = {}
        position = 0  # rows accounted for, in the order this run (and any earlier) goes
        for line, raw in parsed.rows:
            values = self.row_values(raw, parsed.headers)
            number = values.get("number")
            if not number:
                position += 1
                if not self.resume_from:  # else counted by the checkpoint already
                    self.bad(line, RowError(self.column("number"), R_NO_NUMBER))
                    self.processed += 1
                continue
            groups.setdefault(number, []).append(_Row(line, values))
        if not self.resume_from:
            self.checkpoint(force=True)
        for rows in groups.values():
            if position + len(rows) <= self.resume_from:
                position += len(rows)
                continue  # imported before the checkpoint the run resumes from
            position += len(rows)
            self.import_group(rows)
        self.errors.sort(key=lambda error: error["line"])


def run_import(account_id: int, import_id: int) -> dict[str, Any]:
    """Run a queued import: rows with the same order number become one order with several
    items, each order goes through upsert_order (the API's rules); every bad row is recorded
    with its line and reason and the good rows are kept.

    Commits after every order (upsert_order) and the progress every IMPORT_PROGRESS_EVERY rows;
    enqueues nothing. An import that is already running, done or failed is left alone, so a
    job delivered twice does no harm. Returns the counters.
    """
    job = get_scoped(ImportJob, account_id, id=import_id)
    if job is None:
        raise NotFound("ImportJob")
    if not _claim(account_id, import_id):
        db.session.refresh(job)
        return {"status": job.status, "skipped": True}
    db.session.refresh(job)
    account = db.session.get(Account, account_id)
    assert account is not None
    runner = _Runner(job, account)
    if job.processed:
        log.warning("import %s: resuming after row %d", import_id, job.processed)
        runner.resume(job)
    try:
        parsed = read_import_file(job)
    except (OSError, ValueError, ValidationError) as exc:
        log.warning("import %s: file unreadable: %s", import_id, exc.__class__.__name__)
        return _finish(job, runner, "failed", N_("The uploaded file can no longer be read."))
    try:
        runner.run(parsed)
    except Exception:
        db.session.rollback()
        log.exception("import %s failed", import_id)
        _finish(job, runner, "failed", F_INTERNAL)
        raise
    return _finish(job, runner, "done", None)


def _finish(job: ImportJob, runner: _Runner, status: str, failure: str | None) -> dict[str, Any]:
    job = get_import(runner.account_id, runner.job_id)
    job.status = status
    job.failure = failure
    job.processed = runner.processed
    job.created = runner.created
    job.updated = runner.updated
    job.failed = runner.failed
    job.errors = list(runner.errors)
    job.finished_at = utcnow()
    db.session.commit()
    return {
        "status": status,
        "processed": runner.processed,
        "created": runner.created,
        "updated": runner.updated,
        "failed": runner.failed,
    }


# --- the sweep -----------------------------------------------------------------------------


def recover_stuck_imports(*, at: datetime | None = None) -> dict[str, int]:
    """Pick up imports whose job was lost: the periodic sweep (jobs.importing.sweep_imports).

    - "queued" for longer than QUEUED_GRACE: Redis lost the job (or was down when the import
      started); the job is enqueued again. Its claim is atomic, so a job that was only late
      and now runs twice imports once.
    - "running" without progress for STALE_AFTER: the worker died. The import is resumed
      from its last checkpoint by a new job (run_import claims stale imports), unless it
      started more than RESUME_GIVE_UP ago: then it is failed with a reason, keeping the
      orders imported so far.

    Covers every account (each import is enqueued with its own account). Commits.
    """
    current = at or utcnow()
    report = {"requeued": 0, "resumed": 0, "failed": 0}
    queued = db.session.execute(
        select(ImportJob.id, ImportJob.account_id).where(
            ImportJob.status == "queued", ImportJob.updated_at < current - QUEUED_GRACE
        )
    ).all()
    for import_id, account_id in queued:
        # Touch it so the next sweep waits another grace period before enqueueing again.
        touched = db.session.execute(
            update(ImportJob)
            .where(ImportJob.id == import_id, ImportJob.status == "queued")
            .values(updated_at=current)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if cast(CursorResult[Any], touched).rowcount == 1 and _enqueue_run(import_id, account_id):
            report["requeued"] += 1
    stale = db.session.execute(
        select(ImportJob.id, ImportJob.account_id, ImportJob.started_at).where(
            ImportJob.status == "running", ImportJob.updated_at < current - STALE_AFTER
        )
    ).all()
    for import_id, account_id, started_at in stale:
        if started_at is not None and current - started_at < RESUME_GIVE_UP:
            if _enqueue_run(import_id, account_id):
                report["resumed"] += 1
            continue
        failed = db.session.execute(
            update(ImportJob)
            .where(
                ImportJob.id == import_id,
                ImportJob.status == "running",
                ImportJob.updated_at < current - STALE_AFTER,
            )
            .values(status="failed", failure=F_WORKER_LOST, finished_at=current, updated_at=current)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if cast(CursorResult[Any], failed).rowcount == 1:
            log.warning("import %s: worker lost, given up", import_id)
            report["failed"] += 1
    if any(report.values()):
        log.warning("import sweep: %s", report)
    return report


def _enqueue_run(import_id: int, account_id: int) -> bool:
    job_id = f"import-{import_id}-{secrets.token_hex(4)}"
    return enqueue(JOB_PATH, import_id, account_id, job_id=job_id)
