"""The public status pages under /s/: page, documents, preferences and the fallback form."""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.config import SUPPORTED_LANGUAGES
from webapp.extensions import csrf, db
from webapp.status import opens, services
from webapp.status.pagecache import (
    ENVIRON_REFRESH,
    ENVIRON_SLOT,
    ENVIRON_VIEW,
    CachedView,
    new_generation,
    requested_language,
)
from webapp.status.ratelimit import hit
from webapp.status.texts import LANGUAGE_NAMES, texts_for
from webapp.tenancy import NotFound

bp = Blueprint("status", __name__)
# The forms of these pages carry a token signed for their link instead of the session-bound
# one (checked by _check_form_token): the pages set no cookie, and can be cached.
csrf.exempt(bp)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PUBLIC_HEADERS = {
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}
_COLOUR_RE = re.compile(r"^[0-9a-f]{6}$")


def register_public_headers(app: Flask) -> None:
    """Give every response under /s/ (pages, errors, downloads) the public-page headers."""

    @app.after_request
    def _public_headers(response: Response) -> Response:
        if request.path.startswith("/s/"):
            for name, value in PUBLIC_HEADERS.items():
                response.headers[name] = value
        return response


def _requested_language() -> str | None:
    """`?lang=` of the URL; for a form post also a `lang` field. A page view reads the URL
    alone, as the page cache does (a body on a GET must not choose the cached language)."""
    from_url = requested_language(request.query_string.decode("latin-1"))
    if from_url or request.method in ("GET", "HEAD"):
        return from_url
    lang = (request.form.get("lang") or "").strip().lower()
    return lang if lang in SUPPORTED_LANGUAGES else None


def _fallback_language() -> str:
    return _requested_language() or request.accept_languages.best_match(
        SUPPORTED_LANGUAGES, default="en"
    )


def _not_found():
    lang = _fallback_language()
    return (
        render_template(
            "status/not_found.html",
            t=texts_for(lang),
            language=lang,
            languages=[(c, LANGUAGE_NAMES[c]) for c in SUPPORTED_LANGUAGES],
        ),
        404,
    )


def _gone(token: str, link, reason: str, *, error: bool = False, status: int = 410):
    view = services.build_gone_view(link, reason, _requested_language())
    return (
        render_template(
            "status/gone.html",
            v=view,
            token=token,
            error=error,
            form_token=services.form_token(link.link_id),
        ),
        status,
    )


def _check_form_token(link_id: str) -> None:
    """Refuse a form post without this link's form token (CSRF), before anything else."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if not services.form_token_valid(link_id, request.form.get("csrf_token")):
        raise CSRFError("The form token is missing, invalid or expired.")


def _client() -> str:
    return request.remote_addr or "unknown"


@bp.before_request
def _rate_limit() -> Response | None:
    if request.endpoint == "status.theme":
        return None
    if request.endpoint == "status.page" and ENVIRON_VIEW in request.environ:
        # CachedPages looked the view up already, counting this hit (None: without Redis).
        view: CachedView | None = request.environ[ENVIRON_VIEW]
        if view is not None and not view.allowed:
            return _too_many(view.retry_after)
        return None
    config = current_app.config
    result = hit(
        "page",
        _client(),
        int(config["STATUS_RATE_LIMIT"]),
        int(config["STATUS_RATE_WINDOW"]),
        fail_open=True,
    )
    g.status_redis_down = not result.reachable
    if not result.allowed:
        return _too_many(result.retry_after)
    return None


def _too_many(retry_after: int):
    lang = _fallback_language()
    response = current_app.make_response(
        (render_template("status/too_many.html", t=texts_for(lang), language=lang), 429)
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError):
    lang = _fallback_language()
    return render_template(
        "status/error.html", t=texts_for(lang), language=lang, text_key="form_expired"
    ), 400


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 404:
        return _not_found()
    lang = _fallback_language()
    return render_template(
        "status/error.html", t=texts_for(lang), language=lang, text_key="error_text"
    ), exc.code or 400


@bp.get("/s/<token>")
def page(token: str):
    """The status page; each view counts as one open of the link."""
    # HEAD (link checkers, previews) shows the page's status without using up an open, and
    # so does the background build of a cached page (pagecache.CachedPages).
    counted = request.method != "HEAD" and ENVIRON_REFRESH not in request.environ
    link_id = services.verified_link_id(token)
    if link_id is None:
        return _not_found()
    # Not served from the cache by CachedPages (pagecache.py); what its lookup found, if any.
    view: CachedView | None = request.environ.get(ENVIRON_VIEW)
    redis_down = (ENVIRON_VIEW in request.environ and view is None) or g.get("status_redis_down")
    # The lookup found the page and counted the open, but its cache entry could not be used:
    # build the page, without checking or counting the open again.
    opened = view is not None and view.outcome == "ok"
    # Built from the database; when the link may not be opened, this says why.
    outcome = services.resolve_status_token(token)
    if outcome.kind == "not_found" or outcome.link is None:
        return _not_found()
    link = outcome.link
    if outcome.kind == "gone":
        return _gone(token, link, outcome.reason or "expired")
    if view is not None and view.outcome in opens.REFUSED:
        # The ledger knows what the database does not yet (opens not written so far).
        return _gone(token, link, view.outcome)
    # The page is built before the open is counted, so a page that fails to build does not
    # use up an open.
    html = _page_html(token, link)
    # What the page needed is read: handing the session's connection back lets the open be
    # counted on a bare connection (no session commit, which would expire every loaded row).
    db.session.close()
    if not opened:
        refused = opens.try_open(link, counted=counted, ledger=not redis_down)
        if refused != "ok":
            return _gone(token, link, refused)
    if view is not None:
        request.environ[ENVIRON_SLOT] = view.slot  # CachedPages keeps the finished response
    return _html_response(html)


def _html_response(html: str | bytes) -> Response:
    return Response(html, mimetype="text/html")


def _page_view(link) -> services.StatusView:
    order = services.get_order_for_page(link)
    account = services.get_account_for_page(link)
    language = services.choose_language(order, _requested_language(), account=account)
    return services.build_status_view(
        link.account_id, link.order_id, language, link=link, order=order, account=account
    )


def _page_html(token: str, link, *, saved: bool = False, invalid: bool = False) -> str:
    return render_template(
        "status/page.html",
        v=_page_view(link),
        token=token,
        saved=saved,
        invalid=invalid,
        form_token=services.form_token(link.link_id),
    )


def _render_page(token: str, link, *, saved: bool = False, invalid: bool = False, status=200):
    return _page_html(token, link, saved=saved, invalid=invalid), status


@bp.post("/s/<token>/preferences")
def preferences(token: str):
    """Save the customer's choice of optional messages and channel from the page."""
    link_id = services.verified_link_id(token)
    if link_id is None:
        return _not_found()
    _check_form_token(link_id)
    outcome = services.resolve_status_token(token)
    if outcome.kind == "not_found" or outcome.link is None:
        return _not_found()
    if outcome.kind == "gone":
        return _gone(token, outcome.link, outcome.reason or "expired")
    channel = request.form.get("channel") or None
    try:
        services.update_customer_preferences(
            outcome.link,
            optional_messages=request.form.get("optional_messages") == "1",
            channel=channel,
        )
    except services.PreferenceError:
        return _render_page(token, outcome.link, invalid=True, status=400)
    # Every process shows the change from now on, not when its cached page expires.
    new_generation()
    return _render_page(token, outcome.link, saved=True)


@bp.post("/s/<token>/continue")
def fallback(token: str):
    """Order number + postcode/e-mail on a gone link: a fresh link on a match."""
    link_id = services.verified_link_id(token)
    if link_id is None:
        return _not_found()
    _check_form_token(link_id)
    outcome = services.resolve_status_token(token)
    if outcome.kind == "not_found" or outcome.link is None:
        return _not_found()
    link = outcome.link
    if outcome.kind == "ok":
        return redirect(url_for("status.page", token=token), 303)
    if outcome.reason not in ("expired", "used_up"):
        return _gone(token, link, outcome.reason or "revoked")
    config = current_app.config
    window = int(config["STATUS_FALLBACK_WINDOW"])
    for bucket, identity, limit in (
        ("fallback-client", _client(), int(config["STATUS_FALLBACK_LIMIT_CLIENT"])),
        ("fallback-link", link.link_id, int(config["STATUS_FALLBACK_LIMIT_LINK"])),
    ):
        result = hit(bucket, identity, limit, window, fail_open=False)
        if not result.allowed:
            return _too_many(result.retry_after)
    fresh = services.continue_with_order(
        link, request.form.get("order_number", ""), request.form.get("secret", "")
    )
    if fresh is None:
        return _gone(token, link, outcome.reason or "expired", error=True, status=400)
    new_link, _ = fresh
    target = url_for("status.page", token=services.status_token(new_link))
    lang = _requested_language()
    if lang:
        target += f"?lang={lang}"
    return redirect(target, 303)


@bp.get("/s/<token>/documents/<doc_token>")
def document(token: str, doc_token: str):
    """Download one document of the link's order through its short-lived URL."""
    outcome = services.resolve_status_token(token)
    if outcome.kind == "not_found" or outcome.link is None:
        return _not_found()
    if outcome.kind == "gone":
        return _gone(token, outcome.link, outcome.reason or "expired")
    try:
        doc, path = services.resolve_document(outcome.link, doc_token)
    except services.DocumentLinkExpired:
        view = services.build_gone_view(outcome.link, "expired", _requested_language())
        return render_template("status/download_expired.html", v=view, token=token), 410
    except NotFound:
        return _not_found()
    return send_file(
        path,
        mimetype=doc.content_type or "application/octet-stream",
        as_attachment=True,
        download_name=doc.filename,
        conditional=False,
        etag=False,
        max_age=0,
    )


@bp.get("/s/<token>/logo")
def logo(token: str):
    """The shop's logo for a valid link's page."""
    outcome = services.resolve_status_token(token)
    if outcome.link is None or outcome.kind == "not_found":
        return _not_found()
    path = services.logo_file(services.get_order_for_link(outcome.link).shop)
    if path is None:
        return _not_found()
    return send_file(path, conditional=False, etag=False, max_age=0)


@bp.get("/s/theme/<colour>.css")
def theme(colour: str):
    """The shop colour as CSS custom properties (the CSP allows no inline styles)."""
    if not _COLOUR_RE.match(colour):
        return _not_found()
    css = f":root{{--brand:#{colour};--brand-text:{services.readable_on('#' + colour)}}}\n"
    return Response(css, mimetype="text/css")


@bp.route("/s/", defaults={"rest": ""}, methods=["GET", "POST"])
@bp.route("/s/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str):
    """Anything else under /s/ is a plain not-found page with the public headers."""
    return _not_found()
