"""Login and logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from flask_login import current_user, login_user, logout_user

from webapp.accounts.forms import LoginForm
from webapp.accounts.services import authenticate_user, end_user_sessions
from webapp.extensions import htmx, login_manager
from webapp.i18n import N_
from webapp.status.ratelimit import hit

bp = Blueprint("accounts", __name__)

LOGIN_MESSAGE = N_("Please log in to open this page.")


@bp.record_once
def _configure_login_manager(state) -> None:
    login_manager.unauthorized_handler(_unauthorized)


def _unauthorized() -> ResponseReturnValue:
    """Send anonymous visitors to the login page; for HTMX, as a full-page redirect."""
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    if target == "/":
        target = None
    login_url = url_for("accounts.login", next=safe_next_url(target))
    if htmx:
        # Following the redirect inside htmx would swap the login page into a fragment.
        response = Response(status=401)
        response.headers["HX-Redirect"] = login_url
        return response
    if target:  # opening the dashboard needs no explanation; a deep link does
        flash(gettext(LOGIN_MESSAGE), "info")
    return redirect(login_url)


def _start_new_session() -> None:
    """Drop everything in the session, including the CSRF token cached for this request."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def safe_next_url(target: str | None) -> str | None:
    """`target` when it is a relative path on this host, else None (no open redirects)."""
    if not target or len(target) > 2000:
        return None
    if any(ord(c) < 32 or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _client_rate_limited() -> int:
    """Seconds to wait when this client address made too many login attempts, else 0.

    Counted before the password is checked, so guessing across many e-mail addresses is
    limited as well; without Redis the limit is not applied (the per-address lockout is).
    """
    result = hit(
        "login-ip",
        request.remote_addr or "unknown",
        int(current_app.config["LOGIN_IP_MAX_ATTEMPTS"]),
        int(current_app.config["LOGIN_IP_WINDOW_SECONDS"]),
        fail_open=True,
    )
    return 0 if result.allowed else result.retry_after


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success a fresh session and a redirect to `next` or the dashboard."""
    next_url = safe_next_url(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("admin.dashboard"))
    form = LoginForm(next=next_url or "")
    if request.method == "POST":
        limited = _client_rate_limited()
        if limited:
            form.form_errors.append(
                ngettext(
                    "Too many login attempts from your network. Try again in %(num)d second.",
                    "Too many login attempts from your network. Try again in %(num)d seconds.",
                    limited,
                )
            )
            form.password.data = ""
            response = make_response(render_template("accounts/login.html", form=form), 429)
            response.headers["Retry-After"] = str(limited)
            return response
    if form.validate_on_submit():
        result = authenticate_user(form.email.data or "", form.password.data or "")
        if result.user is not None:
            # A new session for the new identity: nothing planted before login survives.
            _start_new_session()
            login_user(result.user)
            return redirect(next_url or url_for("admin.dashboard"))
        if result.locked_seconds:
            message = ngettext(
                "Too many failed attempts. Try again in %(num)d second.",
                "Too many failed attempts. Try again in %(num)d seconds.",
                result.locked_seconds,
            )
        else:
            message = gettext("E-mail or password is wrong.")
        form.form_errors.append(message)
        form.password.data = ""
    # A refused login re-renders the form with its message (200), like any form error.
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout():
    """End the session for real: the identity version is bumped, so copied cookies die too."""
    if current_user.is_authenticated:
        end_user_sessions(current_user._get_current_object())
    logout_user()
    _start_new_session()
    flash(gettext("You are logged out."), "success")
    return redirect(url_for("accounts.login"))
