"""The render context: plain values built from an order, the placeholder schema, the language."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape

from webapp.config import SUPPORTED_LANGUAGES
from webapp.message_templates.defaults import labels_for, sample_for
from webapp.message_templates.renderer import LOCALES, Field, format_date_in, format_money_in
from webapp.orders.models import Customer, Document, Order, OrderItem
from webapp.rawsql import get_loaded

_ORDER_FIELDS: dict[str, Field] = {
    "number": Field("The order number.", "302-1234567-7654321"),
    "placed_at": Field("The order date, in the customer's locale.", "12.03.2025"),
    "state": Field("The order state key (open, invoiced, shipped, ...).", "shipped"),
    "fulfillment": Field("FBA, FBM or own.", "FBM"),
    "payment_method": Field("prepayment, invoice or paid.", "prepayment"),
    "payment_method_label": Field("The payment method in the message language.", "Vorkasse"),
    "payment_due_date": Field("The payment due date (empty when none).", "26.03.2025"),
    "total": Field("The order total as money (empty when prices are unknown).", "51,60 €"),
    "total_amount": Field("The total as a plain number, for the `money` filter.", "51.60"),
    "currency": Field("The currency code.", "EUR"),
    "note": Field("The order note.", ""),
    "delivery_date": Field("The expected delivery date (empty when none).", "14.03.2025"),
    "delivery_date_iso": Field(
        "The delivery date as YYYY-MM-DD, for the `date` filter.", "2025-03-14"
    ),
    "shipped_at": Field("When the order was shipped (empty when not yet).", "13.03.2025"),
    "delivered_at": Field("When the order was delivered (empty when not yet).", ""),
    "pickup": Field("True when the customer collects the order.", "False"),
}
_ITEM_FIELDS: dict[str, Field] = {
    "title": Field("The item title.", "Ceramic mug"),
    "sku": Field("The SKU (may be empty).", "MUG-01"),
    "quantity": Field("Ordered quantity.", "2"),
    "delivered_quantity": Field("Quantity delivered so far.", "1"),
    "open_quantity": Field("Quantity still to come.", "1"),
    "unit_price": Field("Unit price as money (empty when unknown).", "12,90 €"),
    "line_total": Field("Quantity × unit price as money (empty when unknown).", "25,80 €"),
}
_DOCUMENT_FIELDS: dict[str, Field] = {
    "kind": Field("invoice, credit_note, delivery_note or other.", "invoice"),
    "kind_label": Field("The kind in the message language.", "Rechnung"),
    "number": Field("The document number.", "RE-2025-0042"),
    "filename": Field("The file name of the PDF.", "RE-2025-0042.pdf"),
}
_ORDER_WITH_ITEMS = {
    **_ORDER_FIELDS,
    "items": Field("The order's items.", fields=_ITEM_FIELDS, many=True),
}  # noqa: E501

PLACEHOLDERS: dict[str, Field] = {
    "order": Field("The order the message is about.", fields=_ORDER_WITH_ITEMS),
    "orders": Field(
        "All orders of a combined message (one entry for a normal message), each like `order`.",
        fields=_ORDER_WITH_ITEMS,
        many=True,
    ),
    "customer": Field(
        "The customer.",
        fields={
            "name": Field("Full name.", "Anna Schneider"),
            "email": Field("E-mail address.", "anna@example.com"),
            "phone": Field("Mobile phone number.", "+49 151 2345678"),
            "contact_email": Field("Address of the contact person, if any.", ""),
        },
    ),
    "shop": Field(
        "The shop (sales channel) of the order.",
        fields={
            "name": Field("Shop name.", "Acme Shop"),
            "code": Field("Shop code.", "web"),
            "kind": Field("amazon, webshop or store.", "webshop"),
            "marketplace": Field("The marketplace, e.g. amazon.de (empty for web shops).", ""),
            "contact_email": Field("The shop's contact address.", "service@acme.example"),
            "contact_phone": Field("The shop's phone number.", "+49 30 1234567"),
            "website": Field("The shop's website.", "https://acme.example"),
            "is_amazon": Field("True for Amazon shops.", "False"),
        },
    ),
    "items": Field(
        "The items (of all orders of a combined message).", fields=_ITEM_FIELDS, many=True
    ),
    "items_table": Field(
        "The items ready-made for HTML bodies: a table, or a bulleted list when the template's "
        "items layout is 'list'.",
        "<table>…</table>",
    ),
    "items_list": Field(
        "The items ready-made for text bodies and SMS: one line per item (with prices and a "
        "total for the 'table' layout, a bulleted list for 'list').",
        "2 × Ceramic mug  25,80 €",
    ),
    "tracking": Field(
        "The shipment tracking (empty values when unknown).",
        fields={
            "carrier": Field("The carrier.", "DHL"),
            "number": Field("The tracking number.", "00340434161234567890"),
            "url": Field("The carrier's tracking page (never use in Amazon variants).", ""),
        },
    ),
    "documents": Field(
        "The documents attached to this message.", fields=_DOCUMENT_FIELDS, many=True
    ),
    "status_url": Field(
        "The signed link to the order status page; always empty in Amazon messages.",
        "https://status.example.com/s/…",
    ),
    "merchant": Field(
        "Your contact details for the signature.",
        fields={
            "name": Field("Your company name.", "Acme GmbH"),
            "email": Field("Your contact address (the shop's, else the account's).", ""),
            "phone": Field("Your phone number (the shop's).", ""),
        },
    ),
    "message": Field("Free text typed when sending by hand (empty otherwise).", ""),
    "message_html": Field("The free text for HTML bodies, with its line breaks kept.", ""),
    "review_url": Field("A link where the customer can leave a review (empty if none).", ""),
}

_EXTRA_KEYS = ("message", "review_url")


def choose_language(
    customer_language: str | None, shop_language: str | None, account_default: str | None
) -> str:
    """The message language: the customer's, else the shop's (marketplace), else the account's.

    Only supported languages count ("de-AT" counts as "de"); English is the last resort.
    """
    for candidate in (customer_language, shop_language, account_default):
        code = normalise_language(candidate)
        if code:
            return code
    return "en"


def normalise_language(value: str | None) -> str | None:
    """A supported two-letter language code from e.g. "de", "de-AT" or "sv_SE", else None."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return code if code in SUPPORTED_LANGUAGES else None


def _locale(language: str) -> str:
    return LOCALES.get(language, "en_GB")


def format_money(amount: Decimal | None, currency: str, language: str) -> str:
    """Money in the language's locale, e.g. `1.234,56 €` (de) or `£1,234.56` (en)."""
    if amount is None:
        return ""
    return format_money_in(amount, currency, _locale(language))


def format_day(value: date | datetime | None, language: str, tz: ZoneInfo) -> str:
    """A date in the language's locale (medium format); datetimes in the account's zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return format_date_in(value, "medium", _locale(language))


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _item_dict(item: OrderItem, currency: str, language: str) -> dict[str, Any]:
    line_total = item.unit_price * item.quantity if item.unit_price is not None else None
    return {
        "title": item.title,
        "sku": item.sku or "",
        "quantity": item.quantity,
        "delivered_quantity": item.delivered_quantity,
        "open_quantity": max(item.quantity - item.delivered_quantity, 0),
        "unit_price": format_money(item.unit_price, currency, language),
        "line_total": format_money(line_total, currency, language),
    }


def _order_dict(order: Order, language: str, tz: ZoneInfo) -> dict[str, Any]:
    labels = labels_for(language)
    due: date | None = None
    if order.payment_method in ("prepayment", "invoice") and order.payment_due_days:
        due = order.placed_at.astimezone(tz).date() + timedelta(days=order.payment_due_days)
    total = order.total
    return {
        "number": order.number,
        "placed_at": format_day(order.placed_at, language, tz),
        "state": order.state,
        "fulfillment": order.fulfillment,
        "payment_method": order.payment_method,
        "payment_method_label": labels["payment_methods"].get(order.payment_method, ""),
        "payment_due_date": format_day(due, language, tz),
        "total": format_money(total, order.currency, language),
        "total_amount": f"{total:.2f}" if total is not None else "",
        "currency": order.currency,
        "note": order.note or "",
        "delivery_date": format_day(order.delivery_date, language, tz),
        "delivery_date_iso": order.delivery_date.isoformat() if order.delivery_date else "",
        "shipped_at": format_day(order.shipped_at, language, tz),
        "delivered_at": format_day(order.delivered_at, language, tz),
        "pickup": bool(order.pickup),
        "items": [_item_dict(i, order.currency, language) for i in order.items],
    }


_CELL = "padding:6px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top;"


def _html(value: Any) -> str:
    # What Markup.format inserts for a value: its escaped text (markup stays as it is).
    return str(escape(value))


def render_items_table(
    items: Sequence[Mapping[str, Any]], total: str, language: str, layout: str
) -> Markup:
    """The items as HTML: a table (with prices and total) or a bulleted list."""
    labels = labels_for(language)
    if layout == "list":
        # Markup("").join keeps the escaped <li> lines as markup (a plain "".join would be
        # escaped again by the outer format).
        lines = Markup("").join(
            Markup("<li>{} × {}</li>").format(i["quantity"], i["title"]) for i in items
        )
        return Markup('<ul style="padding-left:20px;margin:12px 0;">{}</ul>').format(lines)
    # Built as text with every value escaped (rendered once per message, so kept cheap).
    with_prices = any(i["line_total"] for i in items)
    cell = _html(_CELL)
    price_head = (
        f'<th align="right" style="{cell}">{_html(labels["price"])}</th>' if with_prices else ""
    )
    parts = [
        f'<table role="presentation" cellpadding="0" cellspacing="0" '
        f'style="width:100%;border-collapse:collapse;margin:12px 0;">'
        f'<tr><th align="left" style="{cell}">{_html(labels["quantity"])}</th>'
        f'<th align="left" style="{cell}">{_html(labels["item"])}</th>{price_head}</tr>'
    ]
    for item in items:
        price = (
            f'<td align="right" style="{cell}white-space:nowrap;">{_html(item["line_total"])}</td>'
            if with_prices
            else ""
        )
        parts.append(
            f'<tr><td style="{cell}">{_html(item["quantity"])}</td>'
            f'<td style="{cell}">{_html(item["title"])}</td>{price}</tr>'
        )
    if with_prices and total:
        parts.append(
            f'<tr><td></td><td style="padding:6px 8px;"><strong>{_html(labels["total"])}</strong>'
            f'</td><td align="right" style="padding:6px 8px;white-space:nowrap;">'
            f"<strong>{_html(total)}</strong></td></tr>"
        )
    parts.append("</table>")
    return Markup("".join(parts))  # noqa: S704 - every inserted value is escaped above


def render_items_list(
    items: Sequence[Mapping[str, Any]], total: str, language: str, layout: str
) -> str:
    """The items as plain text: lines with prices and total ("table") or a bulleted list."""
    if layout == "list":
        return "\n".join(f"- {i['quantity']} × {i['title']}" for i in items)
    lines = [
        f"{i['quantity']} × {i['title']}" + (f"  {i['line_total']}" if i["line_total"] else "")
        for i in items
    ]
    if total and any(i["line_total"] for i in items):
        lines.append(f"{labels_for(language)['total']}: {total}")
    return "\n".join(lines)


def _document_dict(document: Document | Mapping[str, Any], language: str) -> dict[str, Any]:
    labels = labels_for(language)["document_kinds"]
    if isinstance(document, Mapping):
        kind = str(document.get("kind", "other"))
        number = str(document.get("number", ""))
        filename = str(document.get("filename", ""))
    else:
        kind, number, filename = document.kind, document.number, document.filename
    return {"kind": kind, "kind_label": labels.get(kind, labels["other"]), "number": number,
            "filename": filename}  # fmt: skip


def build_context(
    order: Order,
    *,
    language: str,
    status_url: str = "",
    documents: Iterable[Document | Mapping[str, Any]] | None = None,
    merchant: Mapping[str, str] | None = None,
    orders: Sequence[Order] | None = None,
    items_layout: str = "table",
    extra: Mapping[str, Any] | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """The render context for an order: plain strings, numbers, lists and dicts only.

    `orders` lists every order of a combined message (the first is `order`); `documents` are
    the documents attached to this message (default: the order's documents); `merchant`
    defaults to the account name and the shop's (else the account's) contact details.
    `extra` may set `message` (manual free text) and `review_url`. Amazon shops never get a
    status link. Reads the account when `merchant` or `timezone` is missing; writes nothing.
    """
    language = language if language in SUPPORTED_LANGUAGES else "en"
    all_orders = list(orders) if orders else [order]
    if order not in all_orders:
        all_orders.insert(0, order)
    shop = order.shop
    customer: Customer = order.customer
    if merchant is None or timezone is None:
        from webapp.accounts.models import Account

        account = get_loaded(Account, order.account_id)
        if merchant is None:
            merchant = {
                "name": account.name if account else shop.name,
                "email": shop.contact_email or (account.merchant_email if account else "") or "",
                "phone": shop.contact_phone or "",
            }
        if timezone is None:
            timezone = account.timezone if account else "UTC"
    tz = _zone(timezone)
    order_dicts = [_order_dict(o, language, tz) for o in all_orders]
    items = [item for o in order_dicts for item in o["items"]]
    total = order_dicts[0]["total"] if len(order_dicts) == 1 else ""
    docs = order.documents if documents is None else documents
    context: dict[str, Any] = {
        "order": order_dicts[0],
        "orders": order_dicts,
        "customer": {
            "name": customer.name,
            "email": customer.email or "",
            "phone": customer.phone or "",
            "contact_email": customer.contact_email or "",
        },
        "shop": {
            "name": shop.name,
            "code": shop.code,
            "kind": shop.kind,
            "marketplace": shop.marketplace or "",
            "contact_email": shop.contact_email or "",
            "contact_phone": shop.contact_phone or "",
            "website": shop.website or "",
            "is_amazon": shop.kind == "amazon",
        },
        "items": items,
        "items_table": render_items_table(items, total, language, items_layout),
        "items_list": render_items_list(items, total, language, items_layout),
        "tracking": {
            "carrier": order.tracking_carrier or "",
            "number": order.tracking_number or "",
            "url": order.tracking_url or "",
        },
        "documents": [_document_dict(d, language) for d in docs],
        # Amazon forbids external links in buyer messages, whatever the template says.
        "status_url": "" if shop.kind == "amazon" else (status_url or ""),
        "merchant": {
            "name": merchant.get("name", "") or "",
            "email": merchant.get("email", "") or "",
            "phone": merchant.get("phone", "") or "",
        },
        "message": "",
        "message_html": Markup(""),
        "review_url": "",
    }
    for key in _EXTRA_KEYS:
        value = (extra or {}).get(key)
        if value is not None:
            context[key] = str(value)
    if shop.kind == "amazon":
        context["review_url"] = ""
        context["tracking"]["url"] = ""
    context["message_html"] = Markup("<br>\n").join(
        escape(line) for line in context["message"].splitlines()
    )
    return context


def sample_order(language: str, *, amazon: bool = False) -> Order:
    """A transient (never saved) order with customer, shop, items and a document, for previews."""
    from webapp.accounts.models import Shop

    sample = sample_for(language)
    shop = Shop(
        code="amz" if amazon else "web",
        name=sample["shop"] + (" (Amazon)" if amazon else ""),
        kind="amazon" if amazon else "webshop",
        marketplace=f"amazon.{sample['tld']}" if amazon else None,
        language=language,
        contact_email=None if amazon else sample["email"],
        contact_phone=None if amazon else "+49 30 1234567",
        website=None if amazon else "https://shop.example.com",
    )
    customer = Customer(
        name=sample["customer"], email="customer@example.com", phone="+49 151 2345678",
        language=language,
    )  # fmt: skip
    placed = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)
    order = Order(
        number="302-1234567-7654321" if amazon else "SL-10042",
        shop=shop,
        customer=customer,
        placed_at=placed,
        fulfillment="FBM",
        currency=sample["currency"],
        payment_method="prepayment",
        payment_due_days=14,
        state="shipped",
        pickup=False,
        note="",
        tracking_carrier="DHL",
        tracking_number="00340434161234567890",
        tracking_url=None if amazon else "https://www.dhl.de/track?id=00340434161234567890",
        delivery_date=date(2025, 3, 14),
        shipped_at=datetime(2025, 3, 13, 15, 0, tzinfo=UTC),
    )
    for position, (title, quantity, price) in enumerate(sample["items"]):
        order.items.append(
            OrderItem(
                position=position, title=title, quantity=quantity, unit_price=Decimal(price),
                delivered_quantity=quantity if position == 0 else 0, sku=f"SKU-{position + 1}",
            )
        )  # fmt: skip
    return order


def sample_context(
    language: str,
    *,
    amazon: bool = False,
    items_layout: str = "table",
    status_url: str = "https://status.example.com/s/sample-link",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A realistic context for previews in `language`, without touching the database."""
    sample = sample_for(language)
    order = sample_order(language, amazon=amazon)
    return build_context(
        order,
        language=language,
        status_url=status_url,
        documents=[{"kind": "invoice", "number": "RE-2025-0042", "filename": "RE-2025-0042.pdf"}],
        merchant={
            "name": sample["merchant"],
            "email": "" if amazon else sample["email"],
            "phone": "" if amazon else "+49 30 1234567",
        },
        items_layout=items_layout,
        extra={"message": sample["message"], "review_url": "" if amazon else
               "https://shop.example.com/review/SL-10042", **(extra or {})},
        timezone="Europe/Berlin",
    )  # fmt: skip
