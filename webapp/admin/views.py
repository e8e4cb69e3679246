"""The admin shell: dashboard, the settings overview and language; the settings area."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, refresh
from flask_login import current_user, login_required

from webapp.accounts.services import (
    ValidationError,
    list_sender_accounts,
    list_shops,
    set_user_language,
)
from webapp.admin import quick_replies  # noqa: F401 - adds its pages to the settings area
from webapp.admin.nav import is_current, nav_items
from webapp.admin.settings import bp as settings_bp
from webapp.admin.settings import settings_overview
from webapp.config import ADMIN_LANGUAGES
from webapp.extensions import htmx
from webapp.htmx import hx_refresh, render_page_or_fragment
from webapp.i18n import LANGUAGE_NAMES

bp = Blueprint("admin", __name__)
# Endpoints "admin.settings.*": the navigation marks them as part of "Settings".
bp.register_blueprint(settings_bp)

# Pages of the admin UI load nothing from other hosts and run no inline code (htmx is
# configured not to inject styles or evaluate attributes), so the policy can be strict.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


@bp.app_context_processor
def _shell_context() -> dict[str, Any]:
    return {
        "nav_items": nav_items,
        "nav_is_current": is_current,
        "admin_languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in ADMIN_LANGUAGES],
    }


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    # Defaults for every HTML page; a page with its own policy (e.g. the public status page)
    # sets it first and keeps it.
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@bp.get("/")
@login_required
def dashboard():
    """The account at a glance: today's messages, 30 days of sending, failing senders, and
    the shops with their sender accounts.

    HTMX gets a fragment: the figures for target `dashboard-stats` (polled while messages
    are under way; 286 stops the polling once none are), else the shops list.
    """
    from webapp.notifications.stats import dashboard_stats

    account_id = current_user.account_id
    stats = dashboard_stats(account_id)
    if htmx and htmx.target == "dashboard-stats":
        response = make_response(render_template("admin/partials/stats.html", stats=stats))
        response.vary.add("HX-Request")
        if not stats.scheduled:
            response.status_code = 286
        return response
    return render_page_or_fragment(
        "admin/dashboard.html",
        "admin/partials/shops.html",
        account=current_user.account,
        stats=stats,
        shops=list_shops(account_id),
        senders=list_sender_accounts(account_id),
    )


@bp.get("/settings")
@login_required
def settings():
    """The settings overview: the user's login and language, links to every settings page."""
    return settings_overview()


@bp.post("/settings/language")
@login_required
def set_language():
    """Switch the user's admin UI language.

    HTMX gets the language control back (in the new language) and reloads the page so every
    text follows; a plain form post is redirected to the settings page.
    """
    try:
        set_user_language(current_user._get_current_object(), request.form.get("language", ""))
    except ValidationError:
        abort(400)
    refresh()  # the locale was chosen earlier in this request; render in the new one
    message = gettext("Language changed to %(name)s.", name=LANGUAGE_NAMES[current_user.language])
    # Shown after the reload (HTMX) or the redirect (plain form post).
    flash(message, "success")
    if htmx:
        response = make_response(
            render_template("admin/partials/language.html", language_message=message)
        )
        return hx_refresh(response)
    return redirect(url_for("admin.settings"))
