"""The settings area: account, shops, sender accounts, users, API keys, audit log, mailbox.

Every page is readable by every user of the account; changing shops, senders and the account
needs an admin, managing users and API keys the owner. Ids in URLs are looked up within the
user's account only, so another account's id is a 404.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import (
    Blueprint,
    Response,
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
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from webapp.accounts import services
from webapp.accounts.auth import ROLE_RANK, role_required
from webapp.accounts.forms import (
    AccountSettingsForm,
    ApiKeyForm,
    ConfirmForm,
    InviteUserForm,
    RoleForm,
    ShopForm,
    SmtpSenderForm,
    select_choices,
)
from webapp.accounts.models import CHANNELS, SHOP_KINDS, SMTP_SECURITY
from webapp.config import SUPPORTED_LANGUAGES
from webapp.devtools.mailbox import get_caught_mail, list_caught_mail
from webapp.extensions import htmx
from webapp.htmx import hx_redirect, render_page_or_fragment
from webapp.i18n import language_name
from webapp.tenancy import NotFound

bp = Blueprint("settings", __name__, url_prefix="/settings")

SHOP_KIND_LABELS = {"amazon": _l("Amazon"), "webshop": _l("Web shop"), "store": _l("Store")}
SECTION_LABELS = {
    "items": _l("Items"),
    "prices": _l("Prices"),
    "delivery_date": _l("Delivery date"),
    "documents": _l("Documents (invoice, credit note, delivery note)"),
    "tracking": _l("Tracking"),
    "contact": _l("Contact"),
    "timeline": _l("Timeline of the order"),
}
SECURITY_LABELS = {"none": _l("None (plain)"), "starttls": "STARTTLS", "ssl": "SSL/TLS"}
CHANNEL_LABELS = {
    "email": _l("E-mail"),
    "sms": _l("SMS"),
    "both": _l("E-mail and SMS"),
    "none": _l("No messages"),
}
ROLE_LABELS = {"owner": _l("Owner"), "admin": _l("Administrator"), "agent": _l("Agent")}
AUDIT_PER_PAGE = 25


# --- plumbing ------------------------------------------------------------------------------


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> ResponseReturnValue:
    return render_template("errors/error.html", code=404, message=None), 404


@bp.app_template_global()
def can_manage(role: str) -> bool:
    """True when the current user has at least `role` (templates hide forms otherwise)."""
    return ROLE_RANK.get(getattr(current_user, "role", ""), 0) >= ROLE_RANK[role]


@bp.app_template_filter("account_time")
def account_time(value: datetime | None, format: str = "short") -> str:
    """A timestamp in the account's time zone and the UI language."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(current_user.account.timezone)
    except (ZoneInfoNotFoundError, ValueError, AttributeError):
        zone = ZoneInfo("UTC")
    return format_datetime(value.astimezone(zone), format, locale=get_locale() or "en")


@bp.app_context_processor
def _settings_context() -> dict[str, Any]:
    return {
        "demo_mode": bool(current_app.config.get("DEMO_MODE")),
        "shop_kind_labels": SHOP_KIND_LABELS,
        "section_labels": SECTION_LABELS,
        "security_labels": SECURITY_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "role_labels": ROLE_LABELS,
    }


def _actor() -> dict[str, Any]:
    return {"actor": current_user.email, "user_id": current_user.id}


def _account_id() -> int:
    return int(current_user.account_id)


def _apply_service_error(form: FlaskForm, exc: services.ValidationError | services.Conflict):
    """Show a service's refusal at its field (or above the form when no field matches)."""
    message = gettext(exc.message)
    field = getattr(form, exc.field, None)
    if field is not None and hasattr(field, "errors"):
        errors = list(field.errors) if isinstance(field.errors, list | tuple) else []
        field.errors = [*errors, message]
    else:
        form.form_errors.append(message)


def _invalid(template: str, **context: Any) -> Response:
    """The form again with its messages; 422 tells scripts and tests that nothing was saved."""
    return make_response(render_template(template, **context), 422)


# --- overview ------------------------------------------------------------------------------


def settings_overview() -> str:
    """The overview of the settings area (served at /settings by admin.settings)."""
    account_id = _account_id()
    return render_template(
        "admin/settings.html",
        account=current_user.account,
        shop_count=len(services.list_shops(account_id)),
        senders=services.list_sender_accounts(account_id),
    )


# --- account -------------------------------------------------------------------------------


def _account_form() -> AccountSettingsForm:
    account = current_user.account
    form = AccountSettingsForm(obj=account)
    form.default_channel.choices = select_choices([(c, CHANNEL_LABELS[c]) for c in CHANNELS])
    form.default_language.choices = select_choices(
        [(c, language_name(c)) for c in SUPPORTED_LANGUAGES]
    )
    if not form.is_submitted():
        form.business_days.data = [d for d in (account.business_days or "").split(",") if d]
        form.status_link_days.data = account.status_link_days
    return form


def _account_page(form: AccountSettingsForm, status: int = 200) -> Response:
    return make_response(
        render_template(
            "settings/account.html",
            form=form,
            account=current_user.account,
            default_link_days=current_app.config.get("STATUS_LINK_DAYS", 90),
        ),
        status,
    )


@bp.get("/account")
@login_required
def account() -> ResponseReturnValue:
    """The account-wide settings (read-only below admin)."""
    return _account_page(_account_form())


@bp.post("/account")
@role_required("admin")
def save_account() -> ResponseReturnValue:
    """Save the account settings; errors are shown at their fields."""
    form = _account_form()
    if form.validate():
        settings = services.AccountSettings(
            name=form.name.data or "",
            service_enabled=bool(form.service_enabled.data),
            default_channel=form.default_channel.data or "",
            default_language=form.default_language.data or "",
            timezone=(form.timezone.data or "").strip(),
            quiet_hours_start=form.quiet_hours_start.data,
            quiet_hours_end=form.quiet_hours_end.data,
            business_days=[int(d) for d in form.business_days.data or []],
            status_link_days=form.status_link_days.data,
            merchant_email=form.merchant_email.data,
        )
        try:
            services.update_account_settings(_account_id(), settings, **_actor())
        except services.ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("Account settings saved."), "success")
            return redirect(url_for("admin.settings.account"))
    return _account_page(form, 422)


# --- shops ---------------------------------------------------------------------------------


@bp.get("/shops")
@login_required
def shops() -> ResponseReturnValue:
    """The account's shops."""
    return render_template("settings/shops.html", shops=services.list_shops(_account_id()))


def _shop_form(shop: Any = None) -> ShopForm:
    # Without explicit formdata Flask-WTF reads request.form and request.files on POST.
    form = ShopForm(obj=shop)
    form.kind.choices = select_choices([(k, SHOP_KIND_LABELS[k]) for k in SHOP_KINDS])
    form.language.choices = select_choices([(c, language_name(c)) for c in SUPPORTED_LANGUAGES])
    form.status_sections.choices = select_choices(
        [(k, SECTION_LABELS[k]) for k in services.STATUS_SECTIONS]
    )
    form.sender_account_id.choices = select_choices(
        [("", gettext("No sender account"))]
        + [(s.id, s.name) for s in services.list_sender_accounts(_account_id())]
    )
    if not form.is_submitted():
        stored = (shop.status_sections if shop is not None else None) or {}
        form.status_sections.data = [
            k for k in services.STATUS_SECTIONS if stored.get(k, True) is not False
        ]
        if shop is None:
            form.language.data = current_user.account.default_language
    return form


def _shop_settings(form: ShopForm) -> services.ShopSettings:
    chosen = set(form.status_sections.data or [])
    return services.ShopSettings(
        name=form.name.data or "",
        kind=form.kind.data or "",
        marketplace=form.marketplace.data,
        language=form.language.data or "",
        country=form.country.data,
        contact_email=form.contact_email.data,
        contact_phone=form.contact_phone.data,
        website=form.website.data,
        brand_color=form.brand_color.data or "",
        status_sections={k: k in chosen for k in services.STATUS_SECTIONS},
        status_link_max_opens=form.status_link_max_opens.data,
        invoices_uploaded_to_amazon=bool(form.invoices_uploaded_to_amazon.data),
        sender_account_id=form.sender_account_id.data,
    )


def _uploaded_logo(form: ShopForm) -> bytes | None:
    upload = form.logo.data
    if upload is None or not getattr(upload, "filename", ""):
        return None
    data: bytes = upload.read(services.MAX_LOGO_BYTES + 1)
    services.check_logo_image(data)
    return data


@bp.route("/shops/new", methods=["GET", "POST"])
@login_required
def new_shop() -> ResponseReturnValue:
    """Create a shop with all its settings."""
    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _shop_form()
    if request.method == "GET":
        return render_template("settings/shop_form.html", form=form, shop=None)
    if form.validate():
        try:
            logo = _uploaded_logo(form)
            shop = services.create_shop_with_settings(
                current_user.account, form.code.data or "", _shop_settings(form), **_actor()
            )
            if logo is not None:
                services.set_shop_logo(_account_id(), shop.id, logo, **_actor())
        except (services.ValidationError, services.Conflict) as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("Shop %(name)s created.", name=shop.name), "success")
            return redirect(url_for("admin.settings.shops"))
    return _invalid("settings/shop_form.html", form=form, shop=None)


@bp.route("/shops/<int:shop_id>", methods=["GET", "POST"])
@login_required
def edit_shop(shop_id: int) -> ResponseReturnValue:
    """A shop's settings: identity, branding, status page, sender."""
    shop = services.get_shop(_account_id(), shop_id)
    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _shop_form(shop)
    del form.code  # fixed once the shop exists
    if request.method == "GET":
        return render_template("settings/shop_form.html", form=form, shop=shop)
    if form.validate():
        try:
            logo = _uploaded_logo(form)
            services.update_shop(_account_id(), shop.id, _shop_settings(form), **_actor())
            if logo is not None:
                services.set_shop_logo(_account_id(), shop.id, logo, **_actor())
            elif form.remove_logo.data and shop.logo_path:
                services.remove_shop_logo(_account_id(), shop.id, **_actor())
        except services.ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("Shop %(name)s saved.", name=shop.name), "success")
            return redirect(url_for("admin.settings.edit_shop", shop_id=shop.id))
    return _invalid("settings/shop_form.html", form=form, shop=shop)


@bp.get("/shops/<int:shop_id>/logo")
@login_required
def shop_logo(shop_id: int) -> ResponseReturnValue:
    """The shop's stored logo, for the preview on its settings page."""
    path = services.shop_logo_file(services.get_shop(_account_id(), shop_id))
    if path is None:
        abort(404)
    mimetype = "image/png" if path.suffix == ".png" else "image/jpeg"
    return send_file(path, mimetype=mimetype, max_age=0)


# --- sender accounts -----------------------------------------------------------------------


@bp.get("/senders")
@login_required
def senders() -> ResponseReturnValue:
    """The account's sender accounts, failing ones with their error."""
    return render_template(
        "settings/senders.html",
        senders=services.list_sender_accounts(_account_id()),
        confirm=ConfirmForm(),
    )


def _sender_form(sender: Any = None) -> SmtpSenderForm:
    form = SmtpSenderForm(obj=sender)
    form.security.choices = select_choices([(k, SECURITY_LABELS[k]) for k in SMTP_SECURITY])
    form.shop_id.choices = select_choices(
        [("", gettext("All shops"))]
        + [(s.id, f"{s.name} ({s.code})") for s in services.list_shops(_account_id())]
    )
    if not form.is_submitted() and sender is not None:
        form.host.data = sender.smtp_host
        form.port.data = sender.smtp_port
        form.security.data = sender.smtp_security
        form.username.data = sender.smtp_username
        form.bcc.data = "\n".join(sender.bcc or [])
    form.password.data = ""
    return form


def _smtp_settings(form: SmtpSenderForm) -> services.SmtpSettings:
    return services.SmtpSettings(
        name=form.name.data or "",
        host=(form.host.data or "").strip(),
        port=form.port.data,
        security=form.security.data or "",
        username=form.username.data,
        password=request.form.get("password") or None,
        clear_password=bool(form.clear_password.data),
        from_name=form.from_name.data,
        from_email=form.from_email.data or "",
        reply_to=form.reply_to.data,
        bcc=services.parse_address_list(form.bcc.data),
        shop_id=form.shop_id.data,
        enabled=bool(form.enabled.data),
    )


@bp.route("/senders/new", methods=["GET", "POST"])
@login_required
def new_sender() -> ResponseReturnValue:
    """Create an SMTP sender account."""
    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _sender_form()
    if request.method == "GET":
        preset = request.args.get("shop", type=int)
        if preset is not None and any(c.value == preset for c in form.shop_id.choices):
            form.shop_id.data = preset
        return render_template("settings/sender_form.html", form=form, sender=None)
    if form.validate():
        try:
            sender = services.create_smtp_sender_account(
                current_user.account, _smtp_settings(form), **_actor()
            )
        except services.ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("Sender account %(name)s created.", name=sender.name), "success")
            return redirect(url_for("admin.settings.edit_sender", sender_id=sender.id))
    return _invalid("settings/sender_form.html", form=form, sender=None)


@bp.route("/senders/<int:sender_id>", methods=["GET", "POST"])
@login_required
def edit_sender(sender_id: int) -> ResponseReturnValue:
    """An SMTP sender account: settings, connection test and test mail."""
    sender = services.get_sender_account(_account_id(), sender_id)
    if sender.channel == "sms":
        return redirect(url_for("admin.settings.edit_sms_sender", sender_id=sender.id))
    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _sender_form(sender)
    if request.method == "GET":
        return render_template("settings/sender_form.html", form=form, sender=sender)
    if form.validate():
        try:
            services.update_sender_account(
                _account_id(), sender.id, _smtp_settings(form), **_actor()
            )
        except services.ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("Sender account %(name)s saved.", name=sender.name), "success")
            return redirect(url_for("admin.settings.edit_sender", sender_id=sender.id))
    return _invalid("settings/sender_form.html", form=form, sender=sender)


def _check_result(kind: str, check: services.SenderCheck) -> Response:
    return make_response(
        render_template(
            "settings/partials/sender_check.html",
            kind=kind,
            ok=check.ok,
            detail=gettext(check.message),
        )
    )


@bp.post("/senders/<int:sender_id>/test")
@role_required("admin")
def test_sender(sender_id: int) -> ResponseReturnValue:
    """Connect, EHLO, STARTTLS and log in; the result as a fragment (or a flash)."""
    check = services.test_sender_connection(_account_id(), sender_id)
    if htmx:
        return _check_result("connection", check)
    flash(_check_message("connection", check), "success" if check.ok else "error")
    return redirect(url_for("admin.settings.edit_sender", sender_id=sender_id))


@bp.post("/senders/<int:sender_id>/test-mail")
@role_required("admin")
def test_mail(sender_id: int) -> ResponseReturnValue:
    """Send a test mail through the sender account to the current user."""
    check = services.send_test_mail(_account_id(), sender_id, current_user.email)
    if htmx:
        return _check_result("mail", check)
    flash(_check_message("mail", check), "success" if check.ok else "error")
    return redirect(url_for("admin.settings.edit_sender", sender_id=sender_id))


def _check_message(kind: str, check: services.SenderCheck) -> str:
    detail = gettext(check.message)
    if kind == "connection":
        if check.ok:
            return gettext("Connection works (%(detail)s).", detail=detail)
        return gettext("Connection failed: %(detail)s", detail=detail)
    if check.ok:
        return gettext("Test mail sent to %(email)s.", email=current_user.email)
    return gettext("The test mail could not be sent: %(detail)s", detail=detail)


@bp.app_template_global()
def sender_check_message(kind: str, ok: bool, detail: str) -> str:
    """The sentence shown for a connection test or test mail."""
    return _check_message(kind, services.SenderCheck(ok, detail))


@bp.post("/senders/<int:sender_id>/enabled")
@role_required("admin")
def toggle_sender(sender_id: int) -> ResponseReturnValue:
    """Switch a sender account on or off; HTMX gets its row back."""
    enabled = request.form.get("enabled") == "1"
    sender = services.set_sender_enabled(_account_id(), sender_id, enabled, **_actor())
    if htmx:
        return render_template(
            "settings/partials/sender_row.html", sender=sender, confirm=ConfirmForm()
        )
    return redirect(url_for("admin.settings.senders"))


@bp.post("/senders/<int:sender_id>/delete")
@role_required("admin")
def delete_sender(sender_id: int) -> ResponseReturnValue:
    """Delete a sender account; its shops are left without one."""
    sender = services.get_sender_account(_account_id(), sender_id)
    name = sender.name
    services.delete_sender_account(_account_id(), sender_id, **_actor())
    flash(gettext("Sender account %(name)s deleted.", name=name), "success")
    target = url_for("admin.settings.senders")
    if htmx:
        return hx_redirect(make_response("", 200), target)
    return redirect(target)


# --- users ---------------------------------------------------------------------------------


def _role_choices() -> list[Any]:
    return select_choices((r, ROLE_LABELS[r]) for r in ("agent", "admin", "owner"))


def _invite_form() -> InviteUserForm:
    form = InviteUserForm()
    form.role.choices = _role_choices()
    return form


def _users_page(invite: InviteUserForm, status: int = 200) -> Response:
    return make_response(
        render_template(
            "settings/users.html",
            users=services.list_users(_account_id()),
            invite=invite,
            role_choices=_role_choices(),
            confirm=ConfirmForm(),
        ),
        status,
    )


@bp.get("/users")
@login_required
def users() -> ResponseReturnValue:
    """The account's users and their roles."""
    return _users_page(_invite_form())


@bp.post("/users")
@role_required("owner")
def invite_user() -> ResponseReturnValue:
    """Create a user with an initial password."""
    form = _invite_form()
    if form.validate():
        try:
            user = services.invite_user(
                current_user.account,
                form.email.data or "",
                form.password.data or "",
                role=form.role.data or "agent",
                name=form.name.data or "",
                **_actor(),
            )
        except services.Conflict:
            form.email.errors = [gettext("A user with this e-mail address already exists.")]
        except services.ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("admin.settings.users"))
    form.password.data = ""
    return _users_page(form, 422)


def _user_row(user: Any, error: str | None = None, message: str | None = None) -> Response:
    return make_response(
        render_template(
            "settings/partials/user_row.html",
            user=user,
            role_choices=_role_choices(),
            confirm=ConfirmForm(),
            row_error=error,
            row_message=message,
        )
    )


def _user_action_done(user: Any, error: str | None, message: str | None) -> ResponseReturnValue:
    if htmx:
        return _user_row(user, error, message)
    flash(error or message or "", "error" if error else "success")
    return redirect(url_for("admin.settings.users"))


@bp.post("/users/<int:user_id>/role")
@role_required("owner")
def change_role(user_id: int) -> ResponseReturnValue:
    """Give a user another role (never your own, never away from the last owner)."""
    user = services.get_user(_account_id(), user_id)
    form = RoleForm()
    form.role.choices = _role_choices()
    if not form.validate():
        return _user_action_done(user, gettext("Choose a role."), None)
    try:
        user = services.change_user_role(
            _account_id(), user.id, form.role.data or "", actor_user=current_user
        )
    except services.ValidationError as exc:
        return _user_action_done(user, gettext(exc.message), None)
    return _user_action_done(
        user, None, gettext("Role changed to %(role)s.", role=ROLE_LABELS[user.role])
    )


@bp.post("/users/<int:user_id>/deactivate")
@role_required("owner")
def deactivate_user(user_id: int) -> ResponseReturnValue:
    """Deactivate a user: they are logged out and cannot log in."""
    user = services.get_user(_account_id(), user_id)
    try:
        user = services.deactivate_user(_account_id(), user.id, actor_user=current_user)
    except services.ValidationError as exc:
        return _user_action_done(user, gettext(exc.message), None)
    return _user_action_done(user, None, gettext("%(email)s deactivated.", email=user.email))


@bp.post("/users/<int:user_id>/reactivate")
@role_required("owner")
def reactivate_user(user_id: int) -> ResponseReturnValue:
    """Let a deactivated user log in again."""
    user = services.reactivate_user(_account_id(), user_id, actor_user=current_user)
    return _user_action_done(user, None, gettext("%(email)s can log in again.", email=user.email))


# --- API keys ------------------------------------------------------------------------------


def _api_keys_page(form: ApiKeyForm, new_key: str | None = None, status: int = 200) -> Response:
    response = render_page_or_fragment(
        "settings/api_keys.html",
        "settings/partials/api_keys_panel.html",
        keys=services.list_api_keys(_account_id()),
        form=form,
        new_key=new_key,
        confirm=ConfirmForm(),
    )
    response.status_code = status
    # A page that shows a key in full must not be kept by any cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api-keys")
@login_required
def api_keys() -> ResponseReturnValue:
    """The account's API keys (prefix, name, created, last used)."""
    return _api_keys_page(ApiKeyForm(formdata=None))


@bp.post("/api-keys")
@role_required("owner")
def create_api_key() -> ResponseReturnValue:
    """Create an API key and show it in full, this once."""
    form = ApiKeyForm()
    if not form.validate():
        return _api_keys_page(form, status=200 if htmx else 422)
    key = services.create_api_key(
        current_user.account, (form.name.data or "").strip(), actor=current_user.email
    )
    return _api_keys_page(ApiKeyForm(formdata=None), new_key=key)


@bp.post("/api-keys/<int:key_id>/revoke")
@role_required("owner")
def revoke_api_key(key_id: int) -> ResponseReturnValue:
    """Revoke an API key; requests with it fail from now on."""
    try:
        services.revoke_api_key(_account_id(), key_id, actor=current_user.email)
    except services.ValidationError:
        abort(404)
    if htmx:
        return _api_keys_page(ApiKeyForm(formdata=None))
    flash(gettext("API key revoked."), "success")
    return redirect(url_for("admin.settings.api_keys"))


# --- audit log -----------------------------------------------------------------------------


@bp.get("/audit")
@login_required
def audit_log() -> ResponseReturnValue:
    """Who changed what, when; newest first, page by page."""
    page = services.list_audit_log(
        _account_id(), request.args.get("page", 1, type=int) or 1, AUDIT_PER_PAGE
    )
    return render_page_or_fragment(
        "settings/audit.html", "settings/partials/audit_table.html", audit=page
    )


# --- mailbox (demo mode) -------------------------------------------------------------------


def _require_demo_mode() -> None:
    if not current_app.config.get("DEMO_MODE"):
        abort(404)


MAILBOX_SHOWN = 100
MAILBOX_SCANNED = 1000


def _own_sender_addresses() -> set[str]:
    return {
        s.from_email.strip().lower()
        for s in services.list_sender_accounts(_account_id())
        if s.channel == "email" and s.from_email
    }


def _is_own_mail(mail: Any, addresses: set[str]) -> bool:
    """True when the mail went out through one of the account's sender accounts.

    The catcher is shared by every account of the demo server, so the envelope sender (or,
    failing that, the From address) decides whose mailbox a message belongs to.
    """
    header_from = parseaddr(mail.sender)[1].strip().lower()
    return mail.envelope_from.strip().lower() in addresses or header_from in addresses


@bp.get("/mailbox")
@login_required
def mailbox() -> ResponseReturnValue:
    """What the local mail catcher received from this account's senders (demo mode only)."""
    _require_demo_mode()
    addresses = _own_sender_addresses()
    mails = [m for m in list_caught_mail(MAILBOX_SCANNED) if _is_own_mail(m, addresses)]
    return render_page_or_fragment(
        "settings/mailbox.html",
        "settings/partials/mailbox_list.html",
        mails=mails[:MAILBOX_SHOWN],
    )


@bp.get("/mailbox/<mail_id>")
@login_required
def mailbox_message(mail_id: str) -> ResponseReturnValue:
    """One caught message: headers and its text part (only the account's own mail)."""
    _require_demo_mode()
    mail = get_caught_mail(mail_id)
    if mail is None or not _is_own_mail(mail, _own_sender_addresses()):
        abort(404)
    return render_template("settings/mail.html", mail=mail)


# --- attachment library --------------------------------------------------------------------


def _attachment_form(item: Any = None) -> Any:
    from webapp.notifications.attachment_forms import AttachmentForm
    from webapp.orders.forms import EVENT_LABELS, FULFILLMENT_LABELS

    form = AttachmentForm(obj=item)
    form.fulfillments.choices = select_choices(
        (k, gettext(label)) for k, label in FULFILLMENT_LABELS.items()
    )
    form.languages.choices = select_choices((c, language_name(c)) for c in SUPPORTED_LANGUAGES)
    form.event_types.choices = select_choices(
        (k, gettext(label)) for k, label in EVENT_LABELS.items()
    )
    if not form.is_submitted() and item is not None:
        form.marketplaces.data = ", ".join(item.marketplaces or [])
    return form


def _attachment_conditions(form: Any) -> Any:
    from webapp.notifications.attachments import AttachmentConditions

    return AttachmentConditions(
        name=form.name.data or "",
        marketplaces=[m for m in (form.marketplaces.data or "").replace(";", ",").split(",")],
        fulfillments=list(form.fulfillments.data or []),
        languages=list(form.languages.data or []),
        event_types=list(form.event_types.data or []),
        enabled=bool(form.enabled.data),
    )


def _attachment_labels() -> dict[str, Any]:
    from webapp.orders.forms import EVENT_LABELS, FULFILLMENT_LABELS

    return {"event_labels": EVENT_LABELS, "fulfillment_labels": FULFILLMENT_LABELS}


@bp.get("/attachments")
@login_required
def attachments() -> ResponseReturnValue:
    """The attachment library: every file with the conditions it is attached under."""
    from webapp.notifications.attachments import list_attachment_files

    return render_template(
        "settings/attachments.html",
        files=list_attachment_files(_account_id()),
        **_attachment_labels(),
    )


@bp.route("/attachments/new", methods=["GET", "POST"])
@login_required
def new_attachment() -> ResponseReturnValue:
    """Upload a PDF with its conditions."""
    from webapp.notifications.attachments import create_attachment_file, max_attachment_bytes

    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _attachment_form()
    context = {"item": None, "max_mb": max_attachment_bytes() // (1024 * 1024)}
    if request.method == "GET":
        return render_template("settings/attachment_form.html", form=form, **context)
    if form.validate():
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", ""):
            form.file.errors = [gettext("Choose a PDF file.")]
        else:
            try:
                item = create_attachment_file(
                    current_user.account,
                    _attachment_conditions(form),
                    upload.filename,
                    upload.stream,
                    **_actor(),
                )
            except services.ValidationError as exc:
                _apply_service_error(form, exc)
            else:
                flash(gettext("File %(name)s added to the library.", name=item.name), "success")
                return redirect(url_for("admin.settings.attachments"))
    return _invalid("settings/attachment_form.html", form=form, **context)


@bp.route("/attachments/<int:file_id>", methods=["GET", "POST"])
@login_required
def edit_attachment(file_id: int) -> ResponseReturnValue:
    """A library file's name and conditions (the PDF itself is replaced by a new upload)."""
    from webapp.notifications.attachments import get_attachment_file, update_attachment_file

    item = get_attachment_file(_account_id(), file_id)
    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _attachment_form(item)
    del form.file
    if request.method == "GET":
        return render_template("settings/attachment_form.html", form=form, item=item)
    if form.validate():
        try:
            update_attachment_file(_account_id(), item.id, _attachment_conditions(form), **_actor())
        except services.ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("File %(name)s saved.", name=item.name), "success")
            return redirect(url_for("admin.settings.attachments"))
    return _invalid("settings/attachment_form.html", form=form, item=item)


@bp.post("/attachments/<int:file_id>/enabled")
@role_required("admin")
def toggle_attachment(file_id: int) -> ResponseReturnValue:
    """Use a file again or stop attaching it; HTMX gets its row back."""
    from webapp.notifications.attachments import (
        AttachmentConditions,
        get_attachment_file,
        update_attachment_file,
    )

    item = get_attachment_file(_account_id(), file_id)
    conditions = AttachmentConditions(
        name=item.name,
        marketplaces=list(item.marketplaces or []),
        fulfillments=list(item.fulfillments or []),
        languages=list(item.languages or []),
        event_types=list(item.event_types or []),
        enabled=request.form.get("enabled") == "1",
    )
    item = update_attachment_file(_account_id(), item.id, conditions, **_actor())
    if htmx:
        return render_template(
            "settings/partials/attachment_row.html", item=item, **_attachment_labels()
        )
    return redirect(url_for("admin.settings.attachments"))


@bp.post("/attachments/<int:file_id>/delete")
@role_required("admin")
def delete_attachment(file_id: int) -> ResponseReturnValue:
    """Remove a file from the library (and from disk)."""
    from webapp.notifications.attachments import delete_attachment_file

    name = delete_attachment_file(_account_id(), file_id, **_actor())
    flash(gettext("File %(name)s deleted.", name=name), "success")
    target = url_for("admin.settings.attachments")
    if htmx:
        return hx_redirect(make_response("", 200), target)
    return redirect(target)


@bp.get("/attachments/<int:file_id>/download")
@login_required
def download_attachment(file_id: int) -> ResponseReturnValue:
    """The stored PDF, for users of the account only."""
    from webapp.notifications.attachments import attachment_file_path

    item, path = attachment_file_path(_account_id(), file_id)
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=item.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- SMS sender accounts -------------------------------------------------------------------


def _sms_form(sender: Any = None) -> Any:
    from webapp.channels.sms.forms import COMMON_SETTINGS, PROVIDER_SETTINGS, SmsSenderForm
    from webapp.channels.sms.registry import provider_choices

    form = SmsSenderForm(obj=sender)
    form.provider.choices = select_choices(provider_choices())
    form.shop_id.choices = select_choices(
        [("", gettext("All shops"))]
        + [(s.id, f"{s.name} ({s.code})") for s in services.list_shops(_account_id())]
    )
    if sender is not None:
        form.provider.data = sender.provider
        if not form.is_submitted():
            stored = dict(sender.provider_settings or {})
            for key in COMMON_SETTINGS + PROVIDER_SETTINGS.get(sender.provider or "", ()):
                value = stored.get(key)
                if key == "success_values" and isinstance(value, list):
                    value = ", ".join(str(v) for v in value)
                if value is not None:
                    getattr(form, key).data = value
    form.credentials.data = ""
    return form


def _sms_shop(form: Any) -> Any:
    return services.get_shop(_account_id(), form.shop_id.data) if form.shop_id.data else None


def _sms_page(form: Any, sender: Any, status: int = 200) -> Response:
    from webapp.channels.sms.forms import PROVIDER_SETTINGS, TestSmsForm
    from webapp.channels.sms.registry import provider_choices

    return make_response(
        render_template(
            "settings/sms_sender_form.html",
            form=form,
            sender=sender,
            provider_fields=PROVIDER_SETTINGS,
            provider_label=dict(provider_choices()).get(sender.provider, sender.provider)
            if sender is not None
            else "",
            test_form=TestSmsForm(formdata=None),
        ),
        status,
    )


@bp.route("/senders/sms/new", methods=["GET", "POST"])
@login_required
def new_sms_sender() -> ResponseReturnValue:
    """Create an SMS sender account (provider, write-only credentials, sender id, settings)."""
    from webapp.channels.sms.services import create_sms_sender_account

    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _sms_form()
    if request.method == "GET":
        return _sms_page(form, None)
    if form.validate():
        provider = form.provider.data or ""
        try:
            sender = create_sms_sender_account(
                current_user.account,
                form.name.data or "",
                provider,
                request.form.get("credentials") or "",
                form.sender_id.data,
                {k: v for k, v in form.provider_settings(provider).items() if v not in ("", None)},
                shop=_sms_shop(form),
                actor=current_user.email,
            )
            if not form.enabled.data:
                services.set_sender_enabled(_account_id(), sender.id, False, **_actor())
        except services.ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("Sender account %(name)s created.", name=sender.name), "success")
            return redirect(url_for("admin.settings.edit_sms_sender", sender_id=sender.id))
    return _sms_page(form, None, 422)


@bp.route("/senders/sms/<int:sender_id>", methods=["GET", "POST"])
@login_required
def edit_sms_sender(sender_id: int) -> ResponseReturnValue:
    """An SMS sender account: settings and a test SMS."""
    from webapp.channels.sms.services import update_sms_sender_account

    sender = services.get_sender_account(_account_id(), sender_id)
    if sender.channel != "sms":
        return redirect(url_for("admin.settings.edit_sender", sender_id=sender.id))
    if request.method == "POST" and not can_manage("admin"):
        abort(403)
    form = _sms_form(sender)
    if request.method == "GET":
        return _sms_page(form, sender)
    if form.validate():
        try:
            update_sms_sender_account(
                _account_id(),
                sender.id,
                name=form.name.data or "",
                credentials=request.form.get("credentials") or None,
                sender_name=form.sender_id.data,
                settings=form.provider_settings(sender.provider or ""),
                shop=_sms_shop(form),
                enabled=bool(form.enabled.data),
                **_actor(),
            )
        except services.ValidationError as exc:
            _apply_service_error(form, exc)
        else:
            flash(gettext("Sender account %(name)s saved.", name=sender.name), "success")
            return redirect(url_for("admin.settings.edit_sms_sender", sender_id=sender.id))
    return _sms_page(form, sender, 422)


SMS_RESULT_MESSAGES = {
    "sent": _l("Test SMS sent to %(to)s."),
    "failed": _l("The test SMS was refused: %(reply)s"),
    "failed_temporary": _l("The provider could not be reached: %(reply)s"),
    "unknown": _l("No clear answer from the provider; the SMS may have been sent: %(reply)s"),
}


@bp.post("/senders/<int:sender_id>/test-sms")
@role_required("admin")
def test_sms(sender_id: int) -> ResponseReturnValue:
    """Send a test SMS through the sender account to the number typed; shows the result."""
    from webapp.channels.sms.base import SmsConfigError, SmsResult
    from webapp.channels.sms.forms import TestSmsForm
    from webapp.channels.sms.services import send_sms, sms_sender_config

    sender = services.get_sender_account(_account_id(), sender_id)
    form = TestSmsForm()
    if not form.validate():
        message = " ".join(str(m) for errors in form.errors.values() for m in errors)
        return _sms_check(sender_id, "invalid", message, 422)
    try:
        config = sms_sender_config(sender)
    except SmsConfigError as exc:
        result = SmsResult("failed", reply=exc.message, error_code="configuration")
    else:
        text = f"Statuslink test SMS ({sender.name})"
        result = send_sms(config, (form.to.data or "").strip(), text, reference="test")
    message = str(SMS_RESULT_MESSAGES[result.state]) % {
        "to": (form.to.data or "").strip(),
        "reply": result.reply or result.error_code or "",
    }
    return _sms_check(sender_id, result.state, message)


def _sms_check(sender_id: int, state: str, message: str, status: int = 200) -> ResponseReturnValue:
    if htmx:
        return make_response(
            render_template("settings/partials/sms_check.html", state=state, message=message),
            status,
        )
    flash(message, "success" if state == "sent" else "error")
    return redirect(url_for("admin.settings.edit_sms_sender", sender_id=sender_id))
