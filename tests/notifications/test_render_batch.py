"""Rendering inside a delivery batch: the template and account-file lookups are made once per
batch, the result is the same as rendering each message alone, and an edit made between two
batches is seen by the next one."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.outbox import attach_pdf, event, messages, place_order
from tests.support.sql import counted_statements
from webapp.config import SUPPORTED_LANGUAGES
from webapp.extensions import db
from webapp.message_templates import renderer, services
from webapp.message_templates.models import MessageTemplate
from webapp.notifications import delivery
from webapp.notifications.delivery import deliver_due_messages
from webapp.notifications.models import AttachmentFile
from webapp.notifications.rendering import prepare_message
from webapp.notifications.services import create_attachment_file


def _plan(tenant, numbers: list[str], **order) -> None:
    for number in numbers:
        place_order(tenant, number, **order)
        event(tenant, number)
    db.session.expire_all()


def _between_batches(monkeypatch, edit) -> list[str]:
    """Run `edit` after the first batch, before the second is claimed."""
    claims: list[str] = []
    real = delivery.claim_due_messages

    def claim(lease_owner, *, at, limit):
        claims.append(lease_owner)
        if len(claims) == 2:
            edit()
        return real(lease_owner, at=at, limit=limit)

    monkeypatch.setattr(delivery, "claim_due_messages", claim)
    return claims


def test_a_batch_looks_up_its_template_and_account_files_once(engine_ready, smtp_server, clock):
    create_attachment_file(engine_ready.account, "AGB", "agb.pdf", b"%PDF-agb")
    _plan(engine_ready, [f"O-{n}" for n in range(10)])
    with counted_statements() as statements:
        report = deliver_due_messages()
    assert report.sent == 10
    templates = [s for s in statements if "FROM message_template" in s]
    files = [s for s in statements if "FROM attachment_file" in s]
    assert len(templates) <= 2, templates  # the batch's preload and one lookup
    assert len(files) == 1, files
    mails = smtp_server.wait_for(10)
    assert all(mail.attachments() == {"agb.pdf": b"%PDF-agb"} for mail in mails)


def test_rendering_in_a_batch_equals_rendering_each_message_alone(engine_ready, smtp_server, clock):
    tenant = engine_ready
    create_attachment_file(tenant.account, "Widerruf", "widerruf.pdf", b"%PDF-w", languages=["de"])
    create_attachment_file(tenant.account, "Terms", "terms.pdf", b"%PDF-t", languages=["en"])
    _plan(tenant, ["B-de-1", "B-de-2"], language="de")
    _plan(tenant, ["B-en-1"], language="en")
    _plan(tenant, ["B-fr-1"], language="fr", customer_name="Zoé <Dupont> & Fils")
    _plan(tenant, ["B-amz-1"], shop="amz-de", fulfillment="FBA")
    attach_pdf(tenant, "B-de-2", "invoice", "RE-7")
    report = deliver_due_messages()
    assert report.sent == 5
    batched = messages(tenant)
    seen = {
        m.id: (m.subject, m.body_html, m.body_text, m.language, m.template_variant_id,
               m.attachments)
        for m in batched
    }  # fmt: skip
    assert len({v[3] for v in seen.values()}) >= 3
    # Alone: no batch (the messages are sent now), every renderer cache emptied.
    renderer._CHECKED.clear()
    renderer._COMPILED.clear()
    renderer._FORMATTED.clear()
    for message in batched:
        prepare_message(message, force=True)
        again = (message.subject, message.body_html, message.body_text, message.language,
                 message.template_variant_id, message.attachments)  # fmt: skip
        assert again == seen[message.id]
    db.session.rollback()


def test_a_template_switched_between_batches_is_used_by_the_next_batch(
    app, engine_ready, smtp_server, clock, monkeypatch
):
    tenant = engine_ready
    # One lane, so the batches follow each other in order.
    app.config.update(DISPATCH_BATCH_SIZE=2, DISPATCH_LANES=1)
    _plan(tenant, [f"T-{n}" for n in range(4)])

    def switch_template():
        new = services.create_template(tenant.account.id, name="Neu", purpose="shipped")
        for language in SUPPORTED_LANGUAGES:
            services.save_variant(
                tenant.account.id, new.id, language=language,
                subject="Neu {{ order.number }}", body_html="<p>Neu</p>",
            )  # fmt: skip
        old = db.session.execute(
            select(MessageTemplate).where(
                MessageTemplate.account_id == tenant.account.id,
                MessageTemplate.purpose == "shipped",
                MessageTemplate.channel == "email",
                MessageTemplate.is_default.is_(True),
            )
        ).scalar_one()
        old.is_default = False
        new.is_default = True
        db.session.commit()

    claims = _between_batches(monkeypatch, switch_template)
    report = deliver_due_messages()
    assert report.sent == 4 and len(claims) >= 2
    subjects = [mail.subject for mail in smtp_server.wait_for(4)]
    assert sorted(subjects[2:]) == ["Neu T-2", "Neu T-3"]
    assert not any(s.startswith("Neu") for s in subjects[:2])


def test_an_account_file_switched_off_between_batches_is_left_out_of_the_next(
    app, engine_ready, smtp_server, clock, monkeypatch
):
    tenant = engine_ready
    # One lane, so the batches follow each other in order.
    app.config.update(DISPATCH_BATCH_SIZE=2, DISPATCH_LANES=1)
    item = create_attachment_file(tenant.account, "AGB", "agb.pdf", b"%PDF-agb")
    _plan(tenant, [f"F-{n}" for n in range(4)])

    def switch_off():
        db.session.get(AttachmentFile, item.id).enabled = False
        db.session.commit()

    _between_batches(monkeypatch, switch_off)
    report = deliver_due_messages()
    assert report.sent == 4
    mails = sorted(smtp_server.wait_for(4), key=lambda mail: mail.subject)
    assert [list(mail.attachments()) for mail in mails] == [["agb.pdf"], ["agb.pdf"], [], []]
