"""Settings pages of the quick replies: list, create, edit, switch on/off, delete.

Part of the settings area (endpoints `admin.settings.*`): every user of the account reads
them and sends quick replies from the order page; creating and changing them needs an admin.
Ids in URLs are looked up within the user's account only, so another account's id is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required

from webapp.accounts.auth import role_required
from webapp.accounts.forms import select_choices
from webapp.accounts.services import ValidationError
from webapp.admin.settings import _apply_service_error, bp, can_manage
from webapp.extensions import htmx
from webapp.htmx import hx_redirect, render_page_or_fragment
from webapp.notifications import manual
from webapp.notifications.forms import DOCUMENT_LABELS
from webapp.notifications.queries_admin import get_quick_reply
from webapp.notifications.quick_reply_forms import PURPOSE_LABELS, QuickReplyForm
from webapp.orders.models import DOCUMENT_KINDS

FORM_TEMPLATE = "settings/quick_reply_form.html"


def _account_id() -> int:
    return int(current_user.account_id)


def _actor() -> str:
    return str(current_user.email)


@bp.app_template_global()
def quick_reply_title(reply: Any) -> str:
    """A quick reply's name; a default one is stored in English and shown in the UI language."""
    return gettext(reply.title) if reply.default_key else str(reply.title)


def _form(reply: Any = None) -> QuickReplyForm:
    form = QuickReplyForm(obj=reply)
    purposes = dict.fromkeys(
        [*manual.QUICK_REPLY_PURPOSES["email"], *manual.QUICK_REPLY_PURPOSES["sms"]]
    )
    form.purpose.choices = select_choices(
        [("", gettext("Your own text"))]
        + [(p, gettext(PURPOSE_LABELS.get(p, p))) for p in purposes]
    )
    form.document_kinds.choices = select_choices(
        (k, gettext(DOCUMENT_LABELS.get(k, k))) for k in DOCUMENT_KINDS
    )
    if not form.is_submitted() and reply is not None:
        form.title.data = quick_reply_title(reply)
        form.purpose.data = reply.purpose or ""
        form.document_kinds.data = list(reply.document_kinds or [])
    return form


def _fields(form: QuickReplyForm, reply: Any = None) -> dict[str, Any]:
    fields = form.reply_fields()
    if reply is not None and reply.default_key and fields["title"] == quick_reply_title(reply):
        # Unchanged: keep the English source so every user keeps seeing it in their language.
        fields["title"] = reply.title
    return fields


def _list_page() -> Response:
    return render_page_or_fragment(
        "settings/quick_replies.html",
        "settings/partials/quick_reply_list.html",
        replies=manual.list_all_quick_replies(_account_id()),
        purpose_labels=PURPOSE_LABELS,
    )


@bp.get("/quick-replies")
@login_required
def quick_replies() -> ResponseReturnValue:
    """The account's quick replies in the order the order page offers them."""
    return _list_page()


@bp.route("/quick-replies/new", methods=["GET", "POST"])
@login_required
def new_quick_reply() -> ResponseReturnValue:
    """Create a quick reply."""
    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _form()
    if request.method == "GET":
        return render_template(FORM_TEMPLATE, form=form, reply=None)
    if form.validate():
        try:
            reply = manual.create_quick_reply(_account_id(), actor=_actor(), **_fields(form))
        except ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("Quick reply “%(name)s” created.", name=reply.title), "success")
            return redirect(url_for("admin.settings.quick_replies"))
    return make_response(render_template(FORM_TEMPLATE, form=form, reply=None), 422)


@bp.route("/quick-replies/<int:reply_id>", methods=["GET", "POST"])
@login_required
def edit_quick_reply(reply_id: int) -> ResponseReturnValue:
    """Every field of a quick reply (read-only below admin)."""
    reply = get_quick_reply(_account_id(), reply_id)
    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _form(reply)
    if request.method == "GET":
        return render_template(FORM_TEMPLATE, form=form, reply=reply)
    if form.validate():
        try:
            reply = manual.update_quick_reply(
                _account_id(), reply.id, actor=_actor(), **_fields(form, reply)
            )
        except ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(
                gettext("Quick reply “%(name)s” saved.", name=quick_reply_title(reply)), "success"
            )
            return redirect(url_for("admin.settings.quick_replies"))
    return make_response(render_template(FORM_TEMPLATE, form=form, reply=reply), 422)


@bp.post("/quick-replies/<int:reply_id>/enabled")
@role_required("admin")
def toggle_quick_reply(reply_id: int) -> ResponseReturnValue:
    """Offer a quick reply on the order page or stop offering it; HTMX gets its row back."""
    enabled = request.form.get("enabled") == "1"
    reply = manual.set_quick_reply_enabled(_account_id(), reply_id, enabled, actor=_actor())
    if htmx:
        return render_template(
            "settings/partials/quick_reply_row.html", reply=reply, purpose_labels=PURPOSE_LABELS
        )
    return redirect(url_for("admin.settings.quick_replies"))


@bp.post("/quick-replies/<int:reply_id>/delete")
@role_required("admin")
def delete_quick_reply(reply_id: int) -> ResponseReturnValue:
    """Delete a quick reply (after the confirmation on its page)."""
    reply = get_quick_reply(_account_id(), reply_id)
    name = quick_reply_title(reply)
    manual.delete_quick_reply(_account_id(), reply.id, actor=_actor())
    flash(gettext("Quick reply “%(name)s” deleted.", name=name), "success")
    target = url_for("admin.settings.quick_replies")
    if htmx:
        return hx_redirect(make_response("", 200), target)
    return redirect(target)


@bp.post("/quick-replies/defaults")
@role_required("admin")
def install_quick_reply_defaults() -> ResponseReturnValue:
    """Add the suggested quick replies the account does not have yet; HTMX gets the list."""
    added = manual.install_default_quick_replies(_account_id(), actor=_actor())
    if htmx:
        return _list_page()
    if added:
        flash(gettext("The suggested quick replies were added."), "success")
    return redirect(url_for("admin.settings.quick_replies"))
