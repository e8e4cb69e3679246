"""Template services: defaults, checked saving, variant selection, rendering for orders."""

from __future__ import annotations

import pytest

from tests.message_templates.conftest import make_order
from webapp.extensions import db
from webapp.message_templates import services
from webapp.message_templates.models import MessageTemplate, TemplateVariant
from webapp.tenancy import NotFound, scoped


def _template(account_id: int, purpose: str, channel: str = "email") -> MessageTemplate:
    stmt = scoped(MessageTemplate, account_id).filter_by(purpose=purpose, channel=channel)
    return db.session.execute(stmt).scalars().one()


def test_install_defaults_is_idempotent(tenant):
    added = services.install_default_templates(tenant.account)
    assert added == 8 * (14 * 2 + 4)
    assert services.install_default_templates(tenant.account) == 0
    shipped = _template(tenant.account.id, "shipped")
    assert len(shipped.variants) == 16
    assert all(v.checked_checksum for v in shipped.variants)


def test_save_variant_refuses_errors_and_keeps_nothing(tenant):
    services.install_default_templates(tenant.account)
    template = _template(tenant.account.id, "manual")
    before = {v.id: v.body_html for v in template.variants}
    with pytest.raises(services.TemplateCheckFailed) as info:
        services.save_variant(
            tenant.account.id, template.id, language="de", subject="Hi",
            body_html="<p>ok</p>\n<p>{{ order.__class__ }}</p>",
        )  # fmt: skip
    assert [(p.line, p.part) for p in info.value.problems] == [(2, "html")]
    db.session.expire_all()
    assert {v.id: v.body_html for v in _template(tenant.account.id, "manual").variants} == before


def test_save_amazon_variant_warns_about_status_url(tenant):
    template = services.create_template(tenant.account.id, name="Mine", purpose="shipped")
    saved = services.save_variant(
        tenant.account.id, template.id, language="de", marketplace_kind="amazon",
        subject="Versand {{ order.number }}", body_html="<p>{{ status_url }}</p>",
    )  # fmt: skip
    assert len(saved.warnings) == 1 and "status_url" in saved.warnings[0].message
    assert saved.variant.checked_checksum


def test_other_tenant_cannot_touch_templates(tenant, other_tenant):
    template = services.create_template(tenant.account.id, name="Mine", purpose="manual")
    with pytest.raises(NotFound):
        services.save_variant(other_tenant.account.id, template.id, language="de", subject="x",
                              body_text="y")  # fmt: skip


def test_select_variant_preferences(tenant):
    account_id = tenant.account.id
    template = services.create_template(account_id, name="T", purpose="shipped")

    def save(language, **kw):
        return services.save_variant(
            account_id, template.id, language=language, subject=f"{language} {kw}",
            body_text="x", **kw,
        ).variant  # fmt: skip

    generic_en = save("en")
    assert services.select_variant(account_id, "shipped", "email", "fr", tenant.webshop) == (
        generic_en
    )
    generic_de = save("de")  # the web shop's language comes before English
    assert services.select_variant(account_id, "shipped", "email", "fr", tenant.webshop) == (
        generic_de
    )
    generic_fr = save("fr")
    assert services.select_variant(account_id, "shipped", "email", "fr", tenant.webshop) == (
        generic_fr
    )
    shop_fr = save("fr", shop_id=tenant.webshop.id)
    assert services.select_variant(account_id, "shipped", "email", "fr", tenant.webshop) == (
        shop_fr
    )
    # Amazon: never the generic e-mail variant, the Amazon one instead.
    assert services.select_variant(account_id, "shipped", "email", "fr", tenant.amazon) is None
    amazon_de = save("de", marketplace_kind="amazon")
    assert services.select_variant(account_id, "shipped", "email", "fr", tenant.amazon) == (
        amazon_de
    )
    amazon_fr = save("fr", marketplace_kind="amazon")
    assert services.select_variant(account_id, "shipped", "email", "fr", tenant.amazon) == (
        amazon_fr
    )
    amazon_shop = save("fr", shop_id=tenant.amazon.id)
    assert services.select_variant(account_id, "shipped", "email", "fr", tenant.amazon) == (
        amazon_shop
    )


def test_render_message_for_order(tenant):
    services.install_default_templates(tenant.account)
    order = make_order(tenant, "5001", language="fr")
    message = services.render_message(
        tenant.account.id, "shipped", "email", order, status_url="https://s.example/s/tok"
    )
    assert message.language == "fr"
    assert message.subject == "Votre commande 5001 est en route"
    assert "https://s.example/s/tok" in message.text
    assert message.html and 'href="https://s.example/s/tok"' in message.html
    assert "Jana Roth" in message.text


def test_render_message_amazon_has_no_links(tenant):
    services.install_default_templates(tenant.account)
    order = make_order(tenant, "A-9", shop=tenant.amazon, language=None)
    message = services.render_message(
        tenant.account.id, "shipped", "email", order, status_url="https://s.example/s/tok"
    )
    assert message.language == "de"  # amazon.de shop language
    assert "/s/" not in message.text and "http" not in message.text
    variant = db.session.get(TemplateVariant, message.variant_id)
    assert variant.marketplace_kind == "amazon"


def test_render_message_refuses_tampered_variant(tenant):
    services.install_default_templates(tenant.account)
    order = make_order(tenant, "5002")
    variant = services.select_variant(tenant.account.id, "shipped", "email", "de", tenant.webshop)
    variant.body_html = "<p>{{ order.__class__.__mro__ }}</p>"  # bypassing save_variant
    db.session.commit()
    with pytest.raises(services.TemplateCheckFailed):
        services.render_message(tenant.account.id, "shipped", "email", order)


def test_render_message_unavailable_and_wrong_tenant(tenant, other_tenant):
    order = make_order(tenant, "5003")
    with pytest.raises(services.TemplateUnavailable):
        services.render_message(tenant.account.id, "shipped", "email", order)
    with pytest.raises(NotFound):
        services.render_message(other_tenant.account.id, "shipped", "email", order)


def test_preview_reports_problems_and_renders(tenant):
    template = services.create_template(tenant.account.id, name="P", purpose="manual")
    bad = services.preview_variant(
        tenant.account.id, template.id, language="en", subject="x", body_text="{{ nope }}"
    )
    assert bad.rendered is None and bad.problems[0].message.startswith("unknown placeholder")
    good = services.preview_variant(
        tenant.account.id, template.id, language="en", subject="Hi {{ customer.name }}",
        body_text="{{ message }}",
    )  # fmt: skip
    assert good.rendered is not None and good.rendered.subject == "Hi Emma Taylor"
