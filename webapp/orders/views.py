"""Admin pages of orders: the searchable list and the order page with its actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext, ngettext
from flask_login import current_user, login_required

from webapp.accounts.services import ValidationError, list_shops
from webapp.extensions import htmx
from webapp.htmx import render_page_or_fragment, wants_fragment
from webapp.notifications.queries import messages_for_order
from webapp.notifications.workflows import set_goods_receipt_notification
from webapp.orders.forms import (
    EVENT_LABELS,
    FULFILLMENT_LABELS,
    GOODS_RECEIPT_LABELS,
    PAYMENT_LABELS,
    STATE_LABELS,
    EventForm,
    GoodsReceiptForm,
    NoteForm,
    OrderFilterForm,
)
from webapp.orders.models import FULFILLMENTS, Order
from webapp.orders.notes import set_order_note
from webapp.orders.queries import OrderFilters, search_orders
from webapp.orders.services import get_order, open_document, record_event
from webapp.orders.state import ORDER_STATES
from webapp.status.services import link_state, links_for_order, revoke_link, revoke_order_links
from webapp.tenancy import NotFound

bp = Blueprint("orders", __name__, url_prefix="/orders")

# Message states → badge tone, so failures stand out in the timeline.
MESSAGE_TONES = {
    "review": "warning",
    "scheduled": "info",
    "sending": "info",
    "sent": "success",
    "failed": "error",
    "cancelled": "neutral",
    "suppressed": "neutral",
    "unknown": "warning",
}


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the order page's timeline: an event, a message or a status-link opening."""

    at: datetime
    kind: str  # "event", "message" or "open"
    item: Any


@bp.app_template_filter("account_time")
def account_time(value: datetime | None, format: str = "short") -> str:  # noqa: A002
    """A UTC timestamp in the account's time zone and the UI language ("" for None)."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(current_user.account.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError, AttributeError):
        zone = ZoneInfo("UTC")
    return format_datetime(value.astimezone(zone), format, locale=get_locale() or "en")


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "state_labels": STATE_LABELS,
        "event_labels": EVENT_LABELS,
        "fulfillment_labels": FULFILLMENT_LABELS,
        "payment_labels": PAYMENT_LABELS,
        "message_tones": MESSAGE_TONES,
    }


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 11 else None


def _load_order(number: str) -> Order:
    try:
        return get_order(current_user.account_id, number)
    except NotFound:
        abort(404)


@bp.get("")
@login_required
def list_orders():
    """The account's orders, newest first: active search, filters and keyset pagination.

    An HTMX request (the search box, a filter, a page link) gets only the results
    (templates/orders/partials/results.html).
    """
    account_id = current_user.account_id
    shops = list_shops(account_id)
    form = OrderFilterForm(request.args, shops=shops)
    shop_id = _int_arg("shop")
    filters = OrderFilters(
        q=(form.q.data or "").strip()[:100],
        shop_id=shop_id if shop_id in {s.id for s in shops} else None,
        state=form.state.data if form.state.data in ORDER_STATES else "",
        fulfillment=form.fulfillment.data if form.fulfillment.data in FULFILLMENTS else "",
    )
    page = search_orders(account_id, filters, before=_int_arg("before"), after=_int_arg("after"))
    return render_page_or_fragment(
        "orders/list.html",
        "orders/partials/results.html",
        form=form,
        filters=filters,
        results=page,
        paged=bool(_int_arg("before") or _int_arg("after")),
    )


def _timeline(order: Order, messages: list[Any], links: list[Any]) -> list[TimelineEntry]:
    entries = [TimelineEntry(event.occurred_at, "event", event) for event in order.events]
    entries += [TimelineEntry(m.sent_at or m.created_at, "message", m) for m in messages]
    entries += [
        TimelineEntry(link.last_opened_at, "open", link) for link in links if link.last_opened_at
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def _order_context(order: Order, **extra: Any) -> dict[str, Any]:
    account_id = current_user.account_id
    messages = messages_for_order(account_id, order.id)
    links = links_for_order(account_id, order.id)
    return {
        "order": order,
        "messages": messages,
        "links": links,
        "link_states": {link.link_id: link_state(link) for link in links},
        "timeline": _timeline(order, messages, links),
        "note_form": extra.pop("note_form", None) or NoteForm(data={"note": order.note}),
        "event_form": extra.pop("event_form", None) or EventForm(formdata=None),
        "goods_receipt_form": extra.pop("goods_receipt_form", None) or _goods_receipt_form(order),
        "goods_receipt_labels": GOODS_RECEIPT_LABELS,
        # Sending by hand and quick replies belong to the notifications domain; its panel is
        # shown once that domain registers its views.
        "has_manual_send": "notifications.manual_send" in current_app.view_functions,
        "has_message_page": "notifications.show_message" in current_app.view_functions,
        **extra,
    }


@bp.get("/<number>")
@login_required
def show_order(number: str):
    """The order page: header, timeline, items, documents, tracking, note and actions."""
    order = _load_order(number)
    return render_template("orders/page.html", **_order_context(order))


@bp.post("/<number>/note")
@login_required
def save_note(number: str):
    """Save the note. HTMX gets the note form back with an inline message either way."""
    order = _load_order(number)
    form = NoteForm()
    saved = False
    if form.validate():
        try:
            order = set_order_note(
                current_user.account_id, number, form.note.data or "", actor=current_user.email
            )
            saved = True
        except ValidationError:
            form.note.errors = [gettext("The note contains characters that cannot be stored.")]
    if not (htmx or saved):
        return render_template("orders/page.html", **_order_context(order, note_form=form)), 422
    if not htmx:
        flash(gettext("Note saved."), "success")
        return redirect(url_for("orders.show_order", number=order.number))
    response = make_response(
        render_template("orders/partials/note.html", order=order, note_form=form, saved=saved)
    )
    # htmx swaps 2xx only; the form with its error is a normal answer to show inline.
    return response


def _goods_receipt_form(order: Order, formdata: Any = None) -> GoodsReceiptForm:
    return GoodsReceiptForm(
        formdata=formdata,
        data={"channel": order.notify_on_goods_receipt or ""},
        customer_default=order.customer.notify_on_goods_receipt,
    )


@bp.post("/<number>/goods-receipt")
@login_required
def save_goods_receipt(number: str):
    """Choose how this order's customer hears that the goods arrived; optionally remember it
    as the customer's default. HTMX gets the form back with an inline message either way."""
    order = _load_order(number)
    form = _goods_receipt_form(order, formdata=request.form)
    saved = False
    if form.validate():
        channel = form.channel.data or None
        order = set_goods_receipt_notification(
            current_user.account_id,
            number,
            channel,
            # "The customer's default" remembered would only erase that default.
            remember_for_customer=bool(form.remember.data and channel),
            actor=current_user.email,
        )
        saved = True
        form = _goods_receipt_form(order)
    if not (htmx or saved):
        context = _order_context(order, goods_receipt_form=form)
        return render_template("orders/page.html", **context), 422
    if not htmx:
        flash(gettext("Goods receipt notification saved."), "success")
        return redirect(url_for("orders.show_order", number=order.number))
    return render_template(
        "orders/partials/goods_receipt.html", order=order, goods_receipt_form=form, saved=saved
    )


@bp.post("/<number>/events")
@login_required
def record_order_event(number: str):
    """Record an event chosen on the order page (source "admin") through the order service.

    HTMX gets the event form back (reset on success) plus out-of-band updates of the header,
    the timeline and the items.
    """
    order = _load_order(number)
    form = EventForm()
    planned = None
    if form.validate():
        try:
            outcome = record_event(
                current_user.account_id, number, form.event_data(), source="admin"
            )
            order = outcome.order
            planned = outcome
        except ValidationError as exc:
            field = {
                "tracking.carrier": form.tracking_carrier,
                "tracking.number": form.tracking_number,
                "tracking.url": form.tracking_url,
                "delivery_date": form.delivery_date,
            }.get(exc.field, form.type)
            field.errors = [*field.errors, exc.message]
        except NotFound:
            abort(404)
    if planned is not None:
        message = _event_message(planned)
        if not htmx:
            flash(message, "success")
            return redirect(url_for("orders.show_order", number=order.number))
        order = _load_order(number)
        return render_template(
            "orders/partials/event_recorded.html",
            **_order_context(order, event_message=message),
        )
    if not htmx:
        return render_template("orders/page.html", **_order_context(order, event_form=form)), 422
    return render_template("orders/partials/event_form.html", order=order, event_form=form)


def _event_message(outcome: Any) -> str:
    label = gettext(EVENT_LABELS.get(outcome.event.type, outcome.event.type))
    if outcome.event.outcome == "repeated":
        text = gettext("%(event)s recorded again; the order did not change.", event=label)
    elif outcome.event.outcome == "out_of_order":
        text = gettext(
            "%(event)s recorded, but it does not fit the order's state; the order did not change.",
            event=label,
        )
    else:
        text = gettext("%(event)s recorded.", event=label)
    count = len(outcome.messages)
    if count:
        text += " " + ngettext("%(num)d message planned.", "%(num)d messages planned.", count)
    return text


@bp.post("/<number>/links/revoke")
@login_required
def revoke_links(number: str):
    """Revoke every status link of the order; HTMX gets the links panel back."""
    order = _load_order(number)
    count = revoke_order_links(current_user.account_id, order.id, actor=current_user.email)
    message = ngettext("%(num)d link revoked.", "%(num)d links revoked.", count)
    return _links_response(order, message)


@bp.post("/<number>/links/<link_id>/revoke")
@login_required
def revoke_one_link(number: str, link_id: str):
    """Revoke one status link of this order; another order's or account's link is a 404."""
    order = _load_order(number)
    if link_id not in {link.link_id for link in links_for_order(order.account_id, order.id)}:
        abort(404)
    revoke_link(current_user.account_id, link_id, actor=current_user.email)
    return _links_response(order, gettext("Link revoked."))


def _links_response(order: Order, message: str) -> ResponseReturnValue:
    if not wants_fragment():
        flash(message, "success")
        return redirect(url_for("orders.show_order", number=order.number, _anchor="links"))
    links = links_for_order(current_user.account_id, order.id)
    return make_response(
        render_template(
            "orders/partials/links.html",
            order=order,
            links=links,
            link_states={link.link_id: link_state(link) for link in links},
            links_message=message,
        )
    )


@bp.get("/<number>/documents/<int:document_id>")
@login_required
def download_document(number: str, document_id: int):
    """A document of the order as a download, for logged-in users of its account only."""
    order = _load_order(number)
    try:
        document, stream = open_document(current_user.account_id, document_id)
    except NotFound:
        abort(404)
    if document.order_id != order.id:
        stream.close()
        abort(404)
    response = send_file(
        stream,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=document.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
