"""Admin pages of the outbox: review queue, message log, rules, manual sending, quick replies."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from webapp.accounts.auth import role_required
from webapp.accounts.services import ValidationError, list_shops
from webapp.admin.nav import NavItem, add_nav_item
from webapp.extensions import db, htmx
from webapp.htmx import render_page_or_fragment, wants_fragment
from webapp.i18n import N_
from webapp.notifications import manual, queries_admin, review
from webapp.notifications.forms import (
    CHANNEL_LABELS,
    DOCUMENT_LABELS,
    EVENT_LABELS,
    FULFILLMENT_LABELS,
    PAYMENT_LABELS,
    STATE_LABELS,
    ManualSendForm,
    ResendForm,
    ReviewForm,
    RuleForm,
    TemplateOption,
)
from webapp.notifications.models import MESSAGE_STATES, RULE_CHANNELS
from webapp.notifications.rules import create_rule, list_rules, update_rule
from webapp.notifications.services import (
    InvalidState,
    approve_message,
    cancel_message,
    retry_message,
)
from webapp.orders.models import DOCUMENT_KINDS, FULFILLMENTS, PAYMENT_METHODS
from webapp.orders.services import get_order
from webapp.orders.state import EVENT_TYPES
from webapp.tenancy import NotFound

bp = Blueprint("notifications", __name__)

STATE_TONES = {
    "review": "warning",
    "scheduled": "info",
    "sending": "info",
    "sent": "success",
    "failed": "error",
    "cancelled": "neutral",
    "suppressed": "neutral",
    # The SMS provider has not confirmed either way yet; reconciliation settles it.
    "unknown": "warning",
}

# Readable versions of the engine's (English) validation messages, by field.
FIELD_LABELS = {
    "subject": N_("Subject"),
    "body": N_("Message"),
    "body_text": N_("Text"),
    "channel": N_("Channel"),
    "template_id": N_("Template"),
    "document": N_("Documents"),
    "to_address": N_("Address"),
}


@bp.record_once
def _register_nav(state) -> None:
    add_nav_item(state.app, NavItem("notifications.review_queue", N_("Review"), order=25))


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    # Prefixed names: other blueprints' processors label orders (states, events) globally.
    return {
        "trigger_labels": EVENT_LABELS,
        "message_state_labels": STATE_LABELS,
        "message_state_tones": STATE_TONES,
        "message_channel_labels": CHANNEL_LABELS,
        "document_kind_labels": DOCUMENT_LABELS,
    }


def _account_id() -> int:
    return int(current_user.account_id)


def _actor() -> str:
    return str(current_user.email)


def _error_status() -> int:
    # htmx swaps only successful responses, so an HTMX form with errors comes back as 200.
    return 200 if htmx else 422


def _engine_error(exc: ValidationError) -> str:
    label = FIELD_LABELS.get(exc.field)
    return f"{gettext(label)}: {exc.message}" if label else exc.message


# --- review queue ---------------------------------------------------------------------------


@bp.get("/review")
@role_required("agent")
def review_queue():
    """Messages of rules in review mode, oldest due first; HTMX gets the list only."""
    return render_page_or_fragment(
        "notifications/review.html",
        "notifications/partials/review_list.html",
        messages=queries_admin.list_review_messages(_account_id()),
    )


def _review_item(message: Any, form: ReviewForm | None = None, *, editing: bool = False):
    return render_template(
        "notifications/partials/review_item.html",
        message=message,
        form=form or ReviewForm(subject=message.subject, body_text=message.body_text),
        editing=editing,
    )


@bp.get("/review/<int:message_id>")
@role_required("agent")
def review_message(message_id: int):
    """One review message: its card (HTMX, `edit=1` opens the editor) or the full page."""
    try:
        message = queries_admin.get_message_for_admin(_account_id(), message_id)
    except NotFound:
        abort(404)
    editing = request.args.get("edit") == "1"
    if wants_fragment():
        return _review_item(message, editing=editing)
    return render_template(
        "notifications/review_message.html",
        message=message,
        form=ReviewForm(subject=message.subject, body_text=message.body_text),
    )


@bp.post("/review/<int:message_id>/approve")
@role_required("agent")
def approve(message_id: int):
    """Approve one message, with the edits when the editor was submitted."""
    account_id = _account_id()
    try:
        message = queries_admin.get_message_for_admin(account_id, message_id)
    except NotFound:
        abort(404)
    edited = "body_text" in request.form
    form = ReviewForm()
    if edited and not form.validate():
        return make_response(_review_item(message, form, editing=True), _error_status())
    try:
        if edited:
            message = review.approve_edited_message(
                account_id,
                message_id,
                subject=form.subject.data,
                body_text=form.body_text.data,
                actor=_actor(),
            )
        else:
            message = approve_message(account_id, message_id, actor=_actor())
    except ValidationError as exc:
        target = getattr(form, exc.field, None) or form.body_text
        target.errors = [*target.errors, exc.message]  # type: ignore[list-item]
        return make_response(_review_item(message, form, editing=True), _error_status())
    except InvalidState:
        return _review_done(message, gettext("This message is no longer waiting for review."))
    return _review_done(message, gettext("Approved. The message is being sent."))


@bp.post("/review/<int:message_id>/discard")
@role_required("agent")
def discard(message_id: int):
    """Discard one review message (it is cancelled, never sent)."""
    try:
        message = cancel_message(_account_id(), message_id, actor=_actor())
    except NotFound:
        abort(404)
    except InvalidState:
        message = queries_admin.get_message_for_admin(_account_id(), message_id)
        return _review_done(message, gettext("This message is no longer waiting for review."))
    return _review_done(message, gettext("Discarded. The message will not be sent."))


def _review_done(message: Any, text: str):
    if wants_fragment():
        return render_template(
            "notifications/partials/review_done.html", message=message, text=text
        )
    flash(text, "success")
    return redirect(url_for("notifications.review_queue"))


@bp.post("/review/approve")
@role_required("agent")
def approve_selected():
    """Approve every selected message; the refreshed list comes back with a summary."""
    ids = [int(v) for v in request.form.getlist("message_id") if v.isdigit() and len(v) < 12]
    if not ids:
        notice = gettext("Select at least one message.")
        tone = "warning"
    else:
        result = review.approve_many(_account_id(), ids, actor=_actor())
        notice = ngettext(
            "%(num)d message approved.", "%(num)d messages approved.", len(result.approved)
        )
        if result.skipped:
            notice += " " + ngettext(
                "%(num)d was no longer waiting.",
                "%(num)d were no longer waiting.",
                len(result.skipped),
            )
        tone = "success"
    if not wants_fragment():
        flash(notice, tone)
        return redirect(url_for("notifications.review_queue"))
    return render_template(
        "notifications/partials/review_list.html",
        messages=queries_admin.list_review_messages(_account_id()),
        notice=notice,
        notice_tone=tone,
    )


# --- message log ----------------------------------------------------------------------------


@bp.get("/messages")
@role_required("agent")
def list_messages():
    """The message log with filters and pagination; HTMX gets the results only."""
    account_id = _account_id()
    filters = queries_admin.MessageFilters.from_args(request.args)
    return render_page_or_fragment(
        "notifications/messages.html",
        "notifications/partials/message_list.html",
        result=queries_admin.search_messages(account_id, filters),
        filters=filters,
        shops=list_shops(account_id),
        rules=list_rules(account_id),
        states=MESSAGE_STATES,
        channels=RULE_CHANNELS,
    )


def _detail(message: Any, *, resend_form: ResendForm | None = None, notice: str | None = None):
    return render_page_or_fragment(
        "notifications/message.html",
        "notifications/partials/message_detail.html",
        message=message,
        rule_names=queries_admin.rule_names(message.account_id),
        resend_form=resend_form or ResendForm(to_address=message.to_address),
        notice=notice,
        has_order_page="orders.show_order" in current_app.view_functions,
    )


@bp.get("/messages/<int:message_id>")
@role_required("agent")
def show_message(message_id: int):
    """One message: text, recipients, every attempt with the server's reply."""
    try:
        message = queries_admin.get_message_for_admin(_account_id(), message_id)
    except NotFound:
        abort(404)
    return _detail(message)


@bp.post("/messages/<int:message_id>/retry")
@role_required("agent")
def retry(message_id: int):
    """Send a failed message again now."""
    try:
        message = retry_message(_account_id(), message_id, actor=_actor())
    except NotFound:
        abort(404)
    except InvalidState:
        message = queries_admin.get_message_for_admin(_account_id(), message_id)
        return _detail(message, notice=gettext("Only failed messages can be sent again."))
    return _detail(message, notice=gettext("The message is queued and will be sent now."))


@bp.post("/messages/<int:message_id>/resend")
@role_required("agent")
def resend(message_id: int):
    """Send the message again to a corrected address (a new message in the log)."""
    account_id = _account_id()
    try:
        message = queries_admin.get_message_for_admin(account_id, message_id)
    except NotFound:
        abort(404)
    form = ResendForm()
    if form.validate():
        try:
            copy = manual.resend_message(
                account_id, message_id, form.to_address.data or "", actor=_actor()
            )
        except ValidationError as exc:
            form.to_address.errors = [*form.to_address.errors, _engine_error(exc)]  # type: ignore[list-item]
        else:
            text = gettext("A new message to %(address)s is queued.", address=copy.to_address)
            if wants_fragment():
                return _detail(copy, notice=text)
            flash(text, "success")
            return redirect(url_for("notifications.show_message", message_id=copy.id))
    response = _detail(message, resend_form=form)
    response.status_code = _error_status()
    return response


# --- rules ----------------------------------------------------------------------------------


@bp.get("/rules", endpoint="list_rules")
@role_required("agent")
def rules_page():
    """The account's rules in plain language; admins can edit and switch them."""
    account_id = _account_id()
    return render_template(
        "notifications/rules.html",
        rules=list_rules(account_id),
        shops={s.id: s for s in list_shops(account_id)},
        can_edit=current_user.role in ("admin", "owner"),
    )


def _template_options(account_id: int) -> tuple[list[SelectChoice], dict[str, TemplateOption]]:
    """The "text to send" choices: standard texts by purpose, then the account's templates."""
    from webapp.message_templates.defaults import EMAIL_PURPOSES, SMS_PURPOSES
    from webapp.message_templates.services import list_templates

    templates = list_templates(account_id)
    own = [t.purpose for t in templates]
    purposes = list(dict.fromkeys([*EMAIL_PURPOSES, *SMS_PURPOSES, *own]))
    options: dict[str, TemplateOption] = {}
    choices: list[SelectChoice] = []
    standard = gettext("Standard text for the purpose")
    for purpose in purposes:
        channels = frozenset(t.channel for t in templates if t.purpose == purpose)
        value = f"purpose:{purpose}"
        options[value] = TemplateOption(purpose, channels)
        names = ", ".join(gettext(CHANNEL_LABELS[c]) for c in RULE_CHANNELS if c in channels)
        names = names or gettext("no text yet")
        label = f"{_purpose_label(purpose)} ({names})"
        choices.append(SelectChoice(value, label, optgroup=standard))
    pinned = gettext("Always this template")
    for template in templates:
        value = f"template:{template.id}"
        channels = frozenset([template.channel])
        options[value] = TemplateOption(template.purpose, channels, template.id)
        channel = gettext(CHANNEL_LABELS.get(template.channel, template.channel))
        label = template.name if f"({channel})" in template.name else f"{template.name} ({channel})"
        choices.append(SelectChoice(value, label, optgroup=pinned))
    return choices, options


def _purpose_label(purpose: str) -> str:
    if purpose in EVENT_LABELS:
        return gettext(EVENT_LABELS[purpose])
    return {
        "prepayment_reminder": gettext("Prepayment reminder"),
        "review_request": gettext("Review request"),
        "manual": gettext("Message by hand"),
        "quick_reply_invoice": gettext("Invoice on request"),
    }.get(purpose, purpose.replace("_", " "))


def _choices(values: Any, labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, gettext(labels[value])) for value in values]


def _rule_form(account_id: int, **kwargs: Any) -> RuleForm:
    form = RuleForm(**kwargs)
    form.event_type.choices = _choices(EVENT_TYPES, EVENT_LABELS)
    form.channel.choices = _choices(RULE_CHANNELS, CHANNEL_LABELS)
    form.template.choices, form.template_options = _template_options(account_id)
    form.shop_ids.choices = [SelectChoice(s.id, s.name) for s in list_shops(account_id)]
    form.fulfillments.choices = _choices(FULFILLMENTS, FULFILLMENT_LABELS)
    form.review_fulfillments.choices = _choices(FULFILLMENTS, FULFILLMENT_LABELS)
    form.payment_methods.choices = _choices(PAYMENT_METHODS, PAYMENT_LABELS)
    form.stop_events.choices = _choices(EVENT_TYPES, EVENT_LABELS)
    form.document_kinds.choices = _choices(DOCUMENT_KINDS, DOCUMENT_LABELS)
    return form


# Engine field names that the form shows under another name.
_RULE_FORM_FIELDS = {
    "delay_minutes": "delay_value",
    "repeat_interval_minutes": "repeat_value",
    "purpose": "template",
    "template_id": "template",
}


def _render_rule_form(account_id: int, form: RuleForm, rule_id: int | None, status: int):
    account = current_user.account
    shops = list_shops(account_id)
    return make_response(
        render_template(
            "notifications/rule_form.html",
            form=form,
            rule_id=rule_id,
            known_marketplaces=sorted({s.marketplace.lower() for s in shops if s.marketplace}),
            merchant_email=account.merchant_email,
        ),
        status,
    )


def _save_rule(account_id: int, form: RuleForm, rule_id: int | None):
    if request.method == "GET":
        return _render_rule_form(account_id, form, rule_id, 200)
    if form.validate():
        try:
            fields = form.rule_fields()
            if rule_id is None:
                rule = create_rule(current_user.account, actor=_actor(), **fields)
            else:
                rule = update_rule(account_id, rule_id, actor=_actor(), **fields)
        except ValidationError as exc:
            # The form checks everything the engine does; this catches a race (a shop deleted
            # meanwhile) and keeps the error next to its field.
            db.session.rollback()
            target = getattr(form, _RULE_FORM_FIELDS.get(exc.field, exc.field), None)
            if target is None or not hasattr(target, "errors"):
                form.form_errors.append(exc.message)
            else:
                target.errors = [*target.errors, exc.message]
        else:
            flash(gettext("Rule “%(name)s” saved.", name=rule.name), "success")
            response = redirect(url_for("notifications.list_rules"))
            if htmx:
                response = make_response("", 204)
                response.headers["HX-Redirect"] = url_for("notifications.list_rules")
            return response
    return _render_rule_form(account_id, form, rule_id, _error_status())


@bp.route("/rules/new", methods=["GET", "POST"])
@role_required("admin")
def new_rule():
    """Create a rule."""
    account_id = _account_id()
    form = _rule_form(account_id)
    if request.method == "GET":
        form.template.data = "purpose:shipped"
        form.event_type.data = "shipped"
    return _save_rule(account_id, form, None)


@bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_rule(rule_id: int):
    """Edit every option of a rule."""
    account_id = _account_id()
    try:
        rule = queries_admin.get_rule(account_id, rule_id)
    except NotFound:
        abort(404)
    form = _rule_form(account_id)
    if request.method == "GET":
        form.fill_from(rule)
    return _save_rule(account_id, form, rule.id)


@bp.post("/rules/<int:rule_id>/toggle")
@role_required("admin")
def toggle_rule(rule_id: int):
    """Switch a rule on or off; HTMX gets its row back."""
    account_id = _account_id()
    try:
        rule = queries_admin.get_rule(account_id, rule_id)
    except NotFound:
        abort(404)
    rule = update_rule(account_id, rule.id, actor=_actor(), enabled=not rule.enabled)
    if not wants_fragment():
        return redirect(url_for("notifications.list_rules"))
    return render_template(
        "notifications/partials/rule_row.html",
        rule=rule,
        shops={s.id: s for s in list_shops(account_id)},
        can_edit=True,
    )


# --- manual sending and quick replies -------------------------------------------------------


def _manual_form(account_id: int, order: Any, **kwargs: Any) -> ManualSendForm:
    from webapp.message_templates.services import list_templates

    form = ManualSendForm(**kwargs)
    choices = [("", gettext("Free text"))]
    choices += [
        (str(t.id), f"{t.name} ({gettext(CHANNEL_LABELS.get(t.channel, t.channel))})")
        for t in list_templates(account_id)
    ]
    form.template_id.choices = choices
    form.channel.choices = [("email", gettext("E-mail")), ("sms", gettext("SMS"))]
    if request.method == "GET" and not form.body.data:
        titles = ", ".join(item.title for item in order.items)
        form.body.data = gettext("About %(titles)s: ", titles=titles) if titles else ""
    return form


def _load_order(number: str) -> Any:
    try:
        return get_order(_account_id(), number)
    except NotFound:
        abort(404)


def _manual_context(order: Any, form: ManualSendForm, **extra: Any) -> dict[str, Any]:
    return {
        "order": order,
        "manual_form": form,
        "quick_reply_list": manual.list_quick_replies(order.account_id),
        "has_order_page": "orders.show_order" in current_app.view_functions,
        **extra,
    }


@bp.get("/orders/<number>/send")
@role_required("agent")
def manual_send(number: str):
    """The form to write to the customer of an order (HTMX: the panel only)."""
    order = _load_order(number)
    form = _manual_form(order.account_id, order)
    return render_page_or_fragment(
        "notifications/manual_send_page.html",
        "notifications/partials/manual_send_panel.html",
        **_manual_context(order, form),
    )


@bp.post("/orders/<number>/send")
@role_required("agent")
def send_manual(number: str):
    """Queue the hand-written message; the panel comes back with the outcome."""
    order = _load_order(number)
    account_id = order.account_id
    form = _manual_form(account_id, order)
    if form.validate():
        template_id = int(form.template_id.data) if form.template_id.data else None
        try:
            result = manual.send_manual_message(
                account_id,
                order.number,
                channel=form.channel.data or "email",
                template_id=template_id,
                subject=form.subject.data,
                body=form.body.data,
                copy_to_me=bool(form.copy_to_me.data),
                user=current_user._get_current_object(),
            )
        except ValidationError as exc:
            name = {"template_id": "template_id", "subject": "subject", "channel": "channel"}
            target = getattr(form, name.get(exc.field, "body"))
            target.errors = [*target.errors, _engine_error(exc)]
        else:
            notice = _sent_notice(result)
            if not wants_fragment():
                flash(notice, "success")
                return redirect(_back_to_order(order.number))
            fresh = _manual_form(account_id, order, formdata=None)
            fresh.body.data = ""
            return render_template(
                "notifications/partials/manual_send_panel.html",
                **_manual_context(order, fresh, notice=notice, sent=result.message),
            )
    response = make_response(
        render_template(
            "notifications/partials/manual_send_panel.html"
            if wants_fragment()
            else "notifications/manual_send_page.html",
            **_manual_context(order, form),
        ),
        _error_status(),
    )
    return response


def _sent_notice(result: manual.ManualResult) -> str:
    text = gettext("Message to %(to)s queued.", to=result.message.to_address)
    if result.note_added:
        text += " " + gettext("The text was added to the order note.")
    elif any(result.copies):
        text += " " + gettext("The note is full, so a copy goes to %(to)s.", to=result.copies[-1])
    return text


def _back_to_order(number: str) -> str:
    if "orders.show_order" in current_app.view_functions:
        return url_for("orders.show_order", number=number)
    return url_for("notifications.manual_send", number=number)


@bp.post("/orders/<number>/quick-reply/<int:reply_id>")
@role_required("agent")
def send_quick_reply(number: str, reply_id: int):
    """Send one quick reply for the order (the second click); the list comes back."""
    order = _load_order(number)
    try:
        reply = queries_admin.get_quick_reply(order.account_id, reply_id)
    except NotFound:
        abort(404)
    notice, tone = None, "success"
    try:
        result = manual.send_quick_reply(
            order.account_id, order.number, reply.id, user=current_user._get_current_object()
        )
    except ValidationError as exc:
        notice, tone = _engine_error(exc), "error"
    else:
        title = gettext(reply.title) if reply.default_key else reply.title
        notice = gettext(
            "“%(title)s” queued for %(to)s.", title=title, to=result.message.to_address
        )
    if not wants_fragment():
        flash(notice, tone)
        return redirect(_back_to_order(order.number))
    response = make_response(
        render_template(
            "notifications/partials/quick_replies.html",
            order=order,
            quick_reply_list=manual.list_quick_replies(order.account_id),
            quick_reply_notice=notice,
            notice_tone=tone,
        )
    )
    return response


@bp.get("/orders/<number>/quick-replies")
@role_required("agent")
def quick_replies(number: str):
    """The quick replies of an order as a fragment (the order page loads it)."""
    order = _load_order(number)
    return render_template(
        "notifications/partials/quick_replies.html",
        order=order,
        quick_reply_list=manual.list_quick_replies(order.account_id),
    )
