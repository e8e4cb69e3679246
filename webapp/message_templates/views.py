"""Admin pages of message templates: the list and the editor with its live preview.

The preview's HTML is the merchant's template rendered in the sandbox; it may contain anything
the template author wrote (styles, forms, scripts). It is never put into the admin page: the
editor shows it in an `<iframe sandbox>` (no scripts, an opaque origin, no forms, no top
navigation) whose document comes from `preview_document`, served with its own Content-Security-
Policy (`sandbox`, no scripts, nothing loaded from anywhere, inline styles only). The form posts
the unsaved texts into the frame (form target), so no server state is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user

from webapp.accounts.auth import ROLE_RANK, role_required
from webapp.accounts.services import ValidationError, list_shops
from webapp.config import SUPPORTED_LANGUAGES
from webapp.message_templates.context import PLACEHOLDERS
from webapp.message_templates.forms import (
    VariantForm,
    language_choices,
    parse_target,
    target_choices,
    target_value,
)
from webapp.message_templates.models import MessageTemplate, TemplateVariant
from webapp.message_templates.renderer import Field, Problem
from webapp.message_templates.services import (
    Preview,
    TemplateCheckFailed,
    get_order_for_preview,
    list_templates,
    preview_variant,
    save_variant,
)
from webapp.tenancy import NotFound, get_scoped

try:  # the SMS channel's own counter, when that package is installed
    from webapp.channels.sms.segments import count_segments
except ImportError:  # pragma: no cover - the channel ships with the app
    count_segments = None  # type: ignore[assignment]

bp = Blueprint("message_templates", __name__, url_prefix="/templates")

# The preview document: the template's own inline styles may apply; nothing else may run or load.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
)
_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class PlaceholderEntry:
    """One entry of the placeholder picker: what it inserts and what it means."""

    label: str
    snippet: str
    description: str
    depth: int = 0


def _loop_name(name: str) -> str:
    return {"items": "item", "orders": "o", "documents": "document"}.get(name, name.rstrip("s"))


def placeholder_entries(
    fields: dict[str, Field] | Any = PLACEHOLDERS, prefix: str = "", depth: int = 0
) -> list[PlaceholderEntry]:
    """The placeholder schema flattened for the picker; lists become a `for` loop snippet."""
    entries: list[PlaceholderEntry] = []
    for name, spec in fields.items():
        path = f"{prefix}{name}"
        if spec.many:
            var = _loop_name(name)
            first = next(iter(spec.fields or {}), None)
            body = f"{{{{ {var}.{first} }}}}" if first else f"{{{{ {var} }}}}"
            entries.append(
                PlaceholderEntry(
                    path,
                    f"{{% for {var} in {path} %}}{body}{{% endfor %}}",
                    spec.description,
                    depth,
                )
            )
            if spec.fields and name != "orders":
                entries += placeholder_entries(spec.fields, f"{var}.", depth + 1)
        elif spec.fields:
            entries += placeholder_entries(spec.fields, f"{path}.", depth)
        else:
            entries.append(PlaceholderEntry(path, f"{{{{ {path} }}}}", spec.description, depth))
    return entries


@bp.get("", endpoint="list_templates")
@role_required("agent")
def list_templates_page():
    """The account's templates with their languages and shop variants (agents read only)."""
    account_id = current_user.account_id
    shops = {shop.id: shop for shop in list_shops(account_id)}
    return render_template(
        "message_templates/list.html",
        templates=list_templates(account_id),
        shops=shops,
        can_edit=ROLE_RANK.get(current_user.role, 0) >= ROLE_RANK["admin"],
    )


def _template_or_404(template_id: int) -> MessageTemplate:
    template = (
        get_scoped(MessageTemplate, current_user.account_id, id=template_id)
        if 0 < template_id <= _MAX_ID
        else None
    )
    if template is None:
        abort(404)
    return template


def _find_variant(
    template: MessageTemplate, language: str, shop_id: int | None, kind: str | None
) -> TemplateVariant | None:
    return next(
        (
            v
            for v in template.variants
            if v.language == language and v.shop_id == shop_id and v.marketplace_kind == kind
        ),
        None,
    )


def _choose(template: MessageTemplate, shops: list[Any], values: Any) -> tuple[str, str]:
    """The (language, target) asked for, falling back to the account's language, generic."""
    language = values.get("language") or ""
    if language not in SUPPORTED_LANGUAGES:
        preferred = current_user.account.default_language
        languages = {v.language for v in template.variants}
        language = preferred if preferred in languages or not languages else sorted(languages)[0]
    target = values.get("target") or "generic"
    if parse_target(target, shops) is None:
        target = "generic"
    return language, target


def _editor_context(
    template: MessageTemplate,
    shops: list[Any],
    form: VariantForm,
    language: str,
    target: str,
    *,
    preview: Preview | None = None,
    problems: list[Problem] | None = None,
    preview_error: str | None = None,
) -> dict[str, Any]:
    shop_id, kind = parse_target(target, shops) or (None, None)
    return {
        "template": template,
        "form": form,
        "language": language,
        "target": target,
        "languages": language_choices(),
        "targets": target_choices(shops),
        "variant": _find_variant(template, language, shop_id, kind),
        "variants": sorted(
            template.variants, key=lambda v: (v.language, v.shop_id or 0, v.marketplace_kind or "")
        ),
        "shops": {shop.id: shop for shop in shops},
        "target_value": target_value,
        "placeholders": placeholder_entries(),
        "preview": preview,
        "problems": problems if problems is not None else (preview.problems if preview else []),
        "preview_error": preview_error,
        "segments": _segments(template, preview),
    }


def _segments(template: MessageTemplate, preview: Preview | None) -> Any:
    if template.channel != "sms" or count_segments is None:
        return None
    text = preview.rendered.text if preview and preview.rendered else ""
    return count_segments(text)


def _run_preview(
    template: MessageTemplate, shops: list[Any], form: VariantForm, language: str, target: str
) -> tuple[Preview | None, str | None]:
    """Render the form's texts; returns (preview, a message when no preview was possible)."""
    if form.errors:
        messages = [str(m) for errors in form.errors.values() for m in errors]
        return None, " ".join(messages) or gettext("Correct the marked fields to see the preview.")
    shop_id, kind = parse_target(target, shops) or (None, None)
    order = None
    if form.order_number.data:
        order = get_order_for_preview(current_user.account_id, form.order_number.data)
        if order is None:
            form.order_number.errors = [gettext("No order with this number.")]
            return None, gettext("No order with this number.")
    try:
        preview = preview_variant(
            current_user.account_id,
            template.id,
            language=language,
            subject=form.subject.data or "",
            body_html=form.body_html.data or "",
            body_text=form.body_text.data or "",
            shop_id=shop_id,
            marketplace_kind=kind,
            order=order,
        )
    except (ValidationError, NotFound):
        abort(404)
    return preview, None


@bp.get("/<int:template_id>")
@role_required("admin")
def edit_template(template_id: int):
    """The editor for one variant (language × shop/marketplace) of a template.

    A variant that does not exist yet starts from the generic variant of its language.
    """
    template = _template_or_404(template_id)
    shops = list_shops(current_user.account_id)
    language, target = _choose(template, shops, request.args)
    shop_id, kind = parse_target(target, shops) or (None, None)
    source = _find_variant(template, language, shop_id, kind) or _find_variant(
        template, language, None, None
    )
    form = VariantForm(
        formdata=None,
        data={
            "language": language,
            "target": target,
            "subject": source.subject if source else "",
            "body_html": source.body_html if source else "",
            "body_text": source.body_text if source else "",
        },
    )
    preview, error = _run_preview(template, shops, form, language, target)
    return render_template(
        "message_templates/editor.html",
        **_editor_context(
            template, shops, form, language, target, preview=preview, preview_error=error
        ),
    )


@bp.post("/<int:template_id>")
@role_required("admin")
def save_template_variant(template_id: int):
    """Check and save the variant; errors (with line numbers) keep the form on the page."""
    template = _template_or_404(template_id)
    shops = list_shops(current_user.account_id)
    form = VariantForm()
    language, target = _choose(template, shops, request.form)
    shop_id, kind = parse_target(target, shops) or (None, None)
    if not form.validate():
        return render_template(
            "message_templates/editor.html",
            **_editor_context(template, shops, form, language, target),
        ), 422
    try:
        saved = save_variant(
            current_user.account_id,
            template.id,
            language=language,
            subject=form.subject.data or "",
            body_html=form.body_html.data or "",
            body_text=form.body_text.data or "",
            shop_id=shop_id,
            marketplace_kind=kind,
            actor=current_user.email,
        )
    except TemplateCheckFailed as exc:
        return render_template(
            "message_templates/editor.html",
            **_editor_context(
                template,
                shops,
                form,
                language,
                target,
                problems=exc.problems,
                preview_error=gettext("Not saved: correct the errors below."),
            ),
        ), 422
    except ValidationError:
        abort(404)
    flash(gettext("Template saved."), "success")
    for warning in saved.warnings:
        flash(_problem_text(warning), "warning")
    return redirect(
        url_for(
            "message_templates.edit_template",
            template_id=template.id,
            language=language,
            target=target,
        )
    )


def _problem_text(problem: Problem) -> str:
    if problem.line:
        return gettext(
            "%(part)s, line %(line)d: %(message)s",
            part=_part_name(problem.part),
            line=problem.line,
            message=problem.message,
        )
    return gettext("%(part)s: %(message)s", part=_part_name(problem.part), message=problem.message)


def _part_name(part: str) -> str:
    return {
        "subject": gettext("Subject"),
        "html": gettext("HTML body"),
        "text": gettext("Text body"),
        "sms": gettext("SMS text"),
    }.get(part, gettext("Template"))


@bp.app_context_processor
def _problem_helpers() -> dict[str, Any]:
    return {"problem_text": _problem_text, "part_name": _part_name}


@bp.post("/<int:template_id>/preview")
@role_required("admin")
def preview_template(template_id: int):
    """The live preview fragment: problems with lines, rendered subject and text, SMS parts."""
    template = _template_or_404(template_id)
    shops = list_shops(current_user.account_id)
    form = VariantForm()
    form.validate()
    language, target = _choose(template, shops, request.form)
    preview, error = _run_preview(template, shops, form, language, target)
    return render_template(
        "message_templates/partials/preview.html",
        **_editor_context(
            template, shops, form, language, target, preview=preview, preview_error=error
        ),
    )


@bp.post("/<int:template_id>/preview/document")
@role_required("admin")
def preview_document(template_id: int):
    """The rendered HTML e-mail as a document for the editor's sandboxed preview frame."""
    template = _template_or_404(template_id)
    shops = list_shops(current_user.account_id)
    form = VariantForm()
    form.validate()
    language, target = _choose(template, shops, request.form)
    preview, error = _run_preview(template, shops, form, language, target)
    if preview is not None and preview.rendered is not None and preview.rendered.html:
        # Rendered in the sandbox, autoescaped there; shown only inside the sandboxed frame.
        body = preview.rendered.html
    else:
        body = render_template(
            "message_templates/preview_document.html",
            preview=preview,
            error=error,
            language=language,
        )
    response = make_response(body)
    response.mimetype = "text/html"
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:template_id>/send-test")
@role_required("admin")
def send_test(template_id: int):
    """Queue the variant as it stands in the editor as a test e-mail to the current user.

    Rendered like the preview (sample data or the order typed), then sent by the worker
    through the outbox; the answer says "queued" and links to the message.
    """
    from webapp.notifications.test_sends import send_template_test

    template = _template_or_404(template_id)
    shops = list_shops(current_user.account_id)
    form = VariantForm()
    form.validate()
    language, target = _choose(template, shops, request.form)
    preview, error = _run_preview(template, shops, form, language, target)
    message = None
    if preview is None or preview.rendered is None:
        error = error or gettext("Correct the errors in the template first.")
    else:
        shop_id, _kind = parse_target(target, shops) or (None, None)
        order = (
            get_order_for_preview(current_user.account_id, form.order_number.data)
            if form.order_number.data
            else None
        )
        rendered = preview.rendered
        try:
            message = send_template_test(
                current_user.account_id,
                current_user._get_current_object(),
                template_id=template.id,
                subject=rendered.subject or template.name,
                text=rendered.text,
                html=rendered.html if template.channel == "email" else None,
                language=language,
                order=order,
                shop_id=shop_id,
            )
        except ValidationError as exc:
            error = gettext(exc.message)
    if request.headers.get("HX-Request"):
        return make_response(
            render_template(
                "message_templates/partials/send_test.html", message=message, error=error
            ),
            200 if message is not None else 422,
        )
    if message is not None:
        flash(gettext("Test queued for %(email)s.", email=current_user.email), "success")
    else:
        flash(error or "", "error")
    return redirect(
        url_for(
            "message_templates.edit_template",
            template_id=template.id,
            language=language,
            target=target,
        )
    )
