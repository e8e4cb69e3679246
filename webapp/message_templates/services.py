"""Template services: default templates, checked saving, variant selection and rendering."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from webapp.accounts.models import Account, Shop
from webapp.accounts.services import ValidationError, record_audit
from webapp.config import SUPPORTED_LANGUAGES
from webapp.dbtypes import utcnow
from webapp.extensions import db
from webapp.message_templates.context import build_context, choose_language, sample_context
from webapp.message_templates.defaults import default_variants, purpose_name
from webapp.message_templates.models import (
    ITEMS_LAYOUTS,
    MARKETPLACE_KINDS,
    TEMPLATE_CHANNELS,
    MessageTemplate,
    TemplateVariant,
)
from webapp.message_templates.renderer import (
    Problem,
    Rendered,
    TemplateProblem,
    TemplateSources,
    check_sources,
    render_sources,
)
from webapp.orders.models import Document, Order
from webapp.rawsql import get_loaded
from webapp.tenancy import NotFound, get_scoped, get_scoped_or_raise, scoped

# Bumped whenever the checker's rules change, so stored checks no longer count as current.
CHECK_VERSION = "1"


class TemplateCheckFailed(ValueError):
    """A template has errors; `problems` lists them (with warnings) for the form or API."""

    def __init__(self, problems: list[Problem]):
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("; ".join(str(p) for p in errors) or "template check failed")
        self.problems = problems


class TemplateUnavailable(LookupError):
    """No template variant fits the purpose, channel and shop (e.g. no Amazon variant)."""


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready to send; `language` is the language actually used (store it)."""

    subject: str
    html: str | None
    text: str
    language: str
    variant_id: int
    template_id: int


class TemplateLookups:
    """Which template a purpose and channel (or a pinned template id) resolved to, remembered
    for a run of renders that may share it: a delivery batch renders many messages with the
    same few templates and needs the lookup query only once each.

    Keeps the template rows themselves (so the session's identity map keeps them too); they
    are read again through the session, so a row that was expired meanwhile is reloaded and
    one deleted meanwhile is looked up afresh. Scoped by account like every query.
    """

    def __init__(self) -> None:
        # (account, purpose, channel, pinned id) -> (template id, row), or None for "none".
        self._templates: dict[
            tuple[int, str, str, int | None], tuple[int, MessageTemplate] | None
        ] = {}

    def template(
        self, account_id: int, purpose: str, channel: str, template_id: int | None
    ) -> MessageTemplate | None:
        key = (account_id, purpose, channel, template_id)
        if key in self._templates:
            known = self._templates[key]
            if known is None:
                return None
            template = get_loaded(MessageTemplate, known[0])
            if template is not None and template.account_id == account_id:
                return template
        template = _lookup_template(account_id, purpose, channel, template_id)
        self._templates[key] = (template.id, template) if template is not None else None
        return template


@dataclass
class SavedVariant:
    """The stored variant and the warnings its check produced."""

    variant: TemplateVariant
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class Preview:
    """A checked and (when free of errors) rendered template for the editor."""

    problems: list[Problem]
    rendered: Rendered | None


def content_checksum(channel: str, amazon: bool, sources: TemplateSources) -> str:
    """The checksum a variant's content must still have to count as checked."""
    digest = hashlib.sha256()
    for piece in (CHECK_VERSION, channel, "amazon" if amazon else "", sources.subject,
                  sources.body_html, sources.body_text):  # fmt: skip
        digest.update(piece.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _sources(variant: TemplateVariant) -> TemplateSources:
    return TemplateSources(variant.subject or "", variant.body_html or "", variant.body_text or "")


def _variant_is_amazon(variant: TemplateVariant) -> bool:
    if variant.marketplace_kind == "amazon":
        return True
    if variant.shop_id is not None:
        shop = get_loaded(Shop, variant.shop_id)
        return bool(shop and shop.kind == "amazon")
    return False


def list_templates(account_id: int) -> list[MessageTemplate]:
    """All templates of an account, by purpose and channel."""
    stmt = scoped(MessageTemplate, account_id).order_by(
        MessageTemplate.purpose, MessageTemplate.channel, MessageTemplate.id
    )
    return list(db.session.execute(stmt).scalars())


def install_default_templates(account: Account, *, actor: str = "system") -> int:
    """Create the default templates and any missing default variants; returns how many
    variants were added. Idempotent: existing (possibly edited) variants stay untouched.
    Commits.
    """
    existing = {(t.purpose, t.channel): t for t in list_templates(account.id) if t.is_default}
    added = 0
    for language in SUPPORTED_LANGUAGES:
        for default in default_variants(language):
            template = existing.get((default.purpose, default.channel))
            if template is None:
                template = MessageTemplate(
                    account_id=account.id,
                    name=purpose_name(default.purpose, account.default_language)
                    + (" (SMS)" if default.channel == "sms" else ""),
                    purpose=default.purpose,
                    channel=default.channel,
                    items_layout="table",
                    is_default=True,
                )
                db.session.add(template)
                db.session.flush()
                existing[(default.purpose, default.channel)] = template
            have = {(v.language, v.shop_id, v.marketplace_kind) for v in template.variants}
            if (default.language, None, default.marketplace_kind) in have:
                continue
            sources = TemplateSources(default.subject, default.body_html, default.body_text)
            amazon = default.marketplace_kind == "amazon"
            problems = check_sources(sources, default.channel, amazon=amazon)
            if any(p.severity == "error" for p in problems):
                raise TemplateCheckFailed(problems)  # a broken default is a bug, not input
            template.variants.append(
                TemplateVariant(
                    account_id=account.id,
                    language=default.language,
                    marketplace_kind=default.marketplace_kind,
                    subject=default.subject,
                    body_html=default.body_html,
                    body_text=default.body_text,
                    is_default=True,
                    checked_at=utcnow(),
                    checked_checksum=content_checksum(default.channel, amazon, sources),
                )
            )
            added += 1
    if added:
        record_audit(account.id, "templates.install_defaults", actor=actor,
                     details={"variants": added})  # fmt: skip
    db.session.commit()
    return added


def create_template(
    account_id: int,
    *,
    name: str,
    purpose: str,
    channel: str = "email",
    items_layout: str = "table",
    actor: str = "admin",
) -> MessageTemplate:
    """Create an (empty) template; variants are added with save_variant. Commits."""
    if not name.strip():
        raise ValidationError("name", "must not be empty")
    if not purpose.strip() or len(purpose) > 40:
        raise ValidationError("purpose", "must be 1-40 characters")
    if channel not in TEMPLATE_CHANNELS:
        raise ValidationError("channel", f"must be one of {', '.join(TEMPLATE_CHANNELS)}")
    if items_layout not in ITEMS_LAYOUTS:
        raise ValidationError("items_layout", f"must be one of {', '.join(ITEMS_LAYOUTS)}")
    template = MessageTemplate(
        account_id=account_id, name=name.strip(), purpose=purpose.strip(), channel=channel,
        items_layout=items_layout, is_default=False,
    )  # fmt: skip
    db.session.add(template)
    db.session.flush()
    record_audit(account_id, "template.create", actor=actor, target=str(template.id))
    db.session.commit()
    return template


def _validate_target(
    account_id: int, language: str, shop_id: int | None, marketplace_kind: str | None
) -> Shop | None:
    if language not in SUPPORTED_LANGUAGES:
        raise ValidationError("language", f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
    if marketplace_kind is not None and marketplace_kind not in MARKETPLACE_KINDS:
        raise ValidationError("marketplace_kind", "must be empty or 'amazon'")
    if shop_id is None:
        return None
    shop = get_scoped(Shop, account_id, id=shop_id)
    if shop is None:
        raise ValidationError("shop_id", "no such shop")
    return shop


def check_variant(
    channel: str,
    sources: TemplateSources,
    *,
    amazon: bool,
) -> list[Problem]:
    """Check a variant's sources for a channel (errors and warnings, with part and line)."""
    return check_sources(sources, channel, amazon=amazon)


def save_variant(
    account_id: int,
    template_id: int,
    *,
    language: str,
    subject: str = "",
    body_html: str = "",
    body_text: str = "",
    shop_id: int | None = None,
    marketplace_kind: str | None = None,
    actor: str = "admin",
) -> SavedVariant:
    """Check and store the variant for (template, language, shop, marketplace kind).

    Raises TemplateCheckFailed when the check finds errors (nothing is stored); otherwise
    stores the content with its checked checksum and returns the warnings. Commits.
    """
    template = get_scoped_or_raise(MessageTemplate, account_id, id=template_id)
    shop = _validate_target(account_id, language, shop_id, marketplace_kind)
    amazon = marketplace_kind == "amazon" or bool(shop and shop.kind == "amazon")
    sources = TemplateSources(subject, body_html, body_text)
    problems = check_sources(sources, template.channel, amazon=amazon)
    if any(p.severity == "error" for p in problems):
        raise TemplateCheckFailed(problems)
    variant = next(
        (
            v
            for v in template.variants
            if v.language == language
            and v.shop_id == shop_id
            and v.marketplace_kind == marketplace_kind
        ),
        None,
    )
    if variant is None:
        variant = TemplateVariant(
            account_id=account_id, language=language, shop_id=shop_id,
            marketplace_kind=marketplace_kind,
        )  # fmt: skip
        template.variants.append(variant)
    variant.subject = subject
    variant.body_html = body_html
    variant.body_text = body_text
    variant.is_default = False
    variant.checked_at = utcnow()
    variant.checked_checksum = content_checksum(template.channel, amazon, sources)
    template.updated_at = utcnow()
    db.session.flush()
    record_audit(account_id, "template.save_variant", actor=actor, target=str(template.id),
                 details={"variant": variant.id, "language": language})  # fmt: skip
    db.session.commit()
    return SavedVariant(variant, [p for p in problems if p.severity == "warning"])


def preview_variant(
    account_id: int,
    template_id: int,
    *,
    language: str,
    subject: str = "",
    body_html: str = "",
    body_text: str = "",
    shop_id: int | None = None,
    marketplace_kind: str | None = None,
    order: Order | None = None,
) -> Preview:
    """Check sources and render them against `order` (or sample data). Writes nothing."""
    template = get_scoped_or_raise(MessageTemplate, account_id, id=template_id)
    shop = _validate_target(account_id, language, shop_id, marketplace_kind)
    if order is not None and order.account_id != account_id:
        raise NotFound("Order")
    amazon = marketplace_kind == "amazon" or bool(shop and shop.kind == "amazon")
    sources = TemplateSources(subject, body_html, body_text)
    problems = check_sources(sources, template.channel, amazon=amazon)
    if any(p.severity == "error" for p in problems):
        return Preview(problems, None)
    if order is not None:
        context = build_context(order, language=language, status_url=_preview_status_url(),
                                items_layout=template.items_layout)  # fmt: skip
    else:
        context = sample_context(language, amazon=amazon, items_layout=template.items_layout)
    try:
        rendered = render_sources(sources, context, channel=template.channel,
                                  language=language, amazon=amazon)  # fmt: skip
    except TemplateProblem as exc:
        return Preview([*problems, Problem(exc.line, exc.message, "error", exc.part)], None)
    return Preview(problems, rendered)


def _preview_status_url() -> str:
    from flask import current_app

    return f"{current_app.config.get('BASE_URL', '')}/s/preview"


def select_variant(
    account_id: int,
    purpose: str,
    channel: str,
    language: str,
    shop: Shop,
    *,
    template_id: int | None = None,
    lookups: TemplateLookups | None = None,
) -> TemplateVariant | None:
    """The best variant for a message, or None.

    Template: `template_id` when given, else the account's default template for purpose and
    channel (else its oldest one). Variant, for each language of the chain `language` → the
    shop's language → the account default → English: a variant for exactly this shop, then
    one for the shop's marketplace kind (Amazon), then the generic one. Amazon shops never
    get a generic e-mail variant: those carry links Amazon does not allow. `lookups`
    remembers the template lookup for later calls (the messages of a delivery batch).
    """
    if lookups is not None:
        template = lookups.template(account_id, purpose, channel, template_id)
    else:
        template = _lookup_template(account_id, purpose, channel, template_id)
    if template is None or template.channel != channel:
        return None
    account = get_loaded(Account, account_id)
    chain: list[str] = []
    for candidate in (language, shop.language, account.default_language if account else None,
                      "en"):  # fmt: skip
        if candidate in SUPPORTED_LANGUAGES and candidate not in chain:
            chain.append(candidate)
    amazon = shop.kind == "amazon"
    variants = list(template.variants)
    for lang in chain:
        same_language = [v for v in variants if v.language == lang]
        for variant in same_language:
            if variant.shop_id == shop.id:
                return variant
        for variant in same_language:
            if variant.shop_id is None and variant.marketplace_kind == shop.kind:
                return variant
        if amazon and channel == "email":
            continue
        for variant in same_language:
            if variant.shop_id is None and variant.marketplace_kind is None:
                return variant
    return None


def _lookup_template(
    account_id: int, purpose: str, channel: str, template_id: int | None
) -> MessageTemplate | None:
    if template_id is not None:
        return get_scoped(MessageTemplate, account_id, id=template_id)
    stmt = (
        scoped(MessageTemplate, account_id)
        .filter_by(purpose=purpose, channel=channel)
        .order_by(MessageTemplate.is_default.desc(), MessageTemplate.id)
    )
    return db.session.execute(stmt).scalars().first()


def ensure_checked(variant: TemplateVariant) -> list[Problem]:
    """Re-check a variant whose content changed since its last check; raise on errors.

    Returns the warnings. Marks the variant checked in the session (not committed).
    """
    template = variant.template
    amazon = _variant_is_amazon(variant)
    sources = _sources(variant)
    checksum = content_checksum(template.channel, amazon, sources)
    if variant.checked_checksum == checksum:
        return []
    problems = check_sources(sources, template.channel, amazon=amazon)
    if any(p.severity == "error" for p in problems):
        raise TemplateCheckFailed(problems)
    variant.checked_checksum = checksum
    variant.checked_at = utcnow()
    return [p for p in problems if p.severity == "warning"]


def render_message(
    account_id: int,
    purpose: str,
    channel: str,
    order: Order,
    *,
    language: str | None = None,
    status_url: str = "",
    extra: Mapping[str, Any] | None = None,
    template_id: int | None = None,
    orders: Sequence[Order] | None = None,
    documents: Iterable[Document | Mapping[str, Any]] | None = None,
    lookups: TemplateLookups | None = None,
) -> RenderedMessage:
    """Render the message for `order` (and `orders` of a combined message).

    Language: `language` when given, else customer → shop → account default. The variant is
    chosen by select_variant; a variant whose content changed since its check is re-checked
    and refused on errors (TemplateCheckFailed). Amazon shops get no status link. Raises
    TemplateUnavailable when no variant fits, TemplateProblem when rendering fails.
    Writes nothing (a re-check is only marked in the session). `lookups` shares the template
    lookup between the renders of a delivery batch.
    """
    if order.account_id != account_id:
        raise NotFound("Order")
    account = get_loaded(Account, account_id)
    shop = order.shop
    if language is None:
        language = choose_language(
            order.customer.language, shop.language, account.default_language if account else None
        )
    variant = select_variant(account_id, purpose, channel, language, shop,
                             template_id=template_id, lookups=lookups)  # fmt: skip
    if variant is None:
        raise TemplateUnavailable(
            f"no {channel} template for {purpose!r} fits shop {shop.code!r} ({language})"
        )
    ensure_checked(variant)
    template = variant.template
    amazon = shop.kind == "amazon" or _variant_is_amazon(variant)
    context = build_context(
        order,
        language=variant.language,
        status_url="" if amazon else status_url,
        documents=documents,
        orders=orders,
        items_layout=template.items_layout,
        extra=extra,
    )
    rendered = render_sources(_sources(variant), context, channel=channel,
                              language=variant.language, amazon=amazon)  # fmt: skip
    return RenderedMessage(rendered.subject, rendered.html, rendered.text, variant.language,
                           variant.id, template.id)  # fmt: skip


def get_order_for_preview(account_id: int, number: str) -> Order | None:
    """The account's order with this number, or None (for previews and the CLI)."""
    stmt = scoped(Order, account_id).filter_by(number=number)
    return db.session.execute(stmt).scalars().first()


def get_account(slug: str) -> Account | None:
    """The account with this slug, or None."""
    return db.session.execute(select(Account).filter_by(slug=slug)).scalar_one_or_none()
