"""The rule editor: every option of the engine's Rule is stored, shown again and validated;
messages whose SMS outcome is unclear are labelled wherever message states appear."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from tests.support.html import csrf_token
from tests.support.outbox import event, messages, place_order
from webapp.extensions import db
from webapp.message_templates.services import list_templates
from webapp.notifications.models import Message, Rule
from webapp.notifications.rules import create_rule, list_rules

# Columns that are not options of a rule: keys, bookkeeping, and `purpose`, which follows
# from the chosen text (checked on its own below).
NOT_OPTIONS = {"id", "account_id", "created_at", "default_key", "purpose"}


class _FormValues(HTMLParser):
    """What a browser would submit for the page's rule form, unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "rule-form" in a.get("class", ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values.append((a["name"], a.get("value", "on")))
            elif kind != "submit":
                self.values.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._select_first, self._select_chosen = a["name"], None, False
        elif tag == "option" and self._select is not None:
            if self._select_first is None:
                self._select_first = a.get("value", "")
            if "selected" in a and not self._select_chosen:
                self.values.append((self._select, a.get("value", "")))
                self._select_chosen = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self.values.append((self._select, self._select_first))
            self._select = None
        elif tag == "form":
            self._in_form = False


def form_values(html: str) -> dict[str, list[str]]:
    """The rule form of a page as submitted by a browser: name → values."""
    parser = _FormValues()
    parser.feed(html)
    out: dict[str, list[str]] = {}
    for name, value in parser.values:
        out.setdefault(name, []).append(value)
    return out


def _option_columns() -> set[str]:
    return {c.key for c in inspect(Rule).columns} - NOT_OPTIONS


def _every_option(tenant) -> dict[str, Any]:
    """Form data that sets every option away from its default."""
    return {
        "name": "Pickup reminder",
        "event_type": "goods_received",
        "channel": "email",
        "template": "purpose:goods_received",
        "mode": "review",
        "review_fulfillments": ["FBM"],
        "once_per_order": "y",
        "shop_ids": [str(tenant.webshop.id), str(tenant.amazon.id)],
        "marketplaces": "amazon.de, Amazon.FR",
        "fulfillments": ["FBM", "own"],
        "payment_methods": ["prepayment", "invoice"],
        "pickup": "yes",
        "complete_delivery_only": "y",
        "to_contact_person": "y",
        # essential, enabled, attach_account_files, review_mail_default: unticked (off)
        "delay_value": "2",
        "delay_unit": "hours",
        "respect_quiet_hours": "y",
        "business_days_only": "y",
        "coalesce_minutes": "15",
        "repeat": "y",
        "repeat_value": "3",
        "repeat_unit": "days",
        "repeat_max_count": "4",
        "stop_events": ["cancelled", "delivered"],
        "document_kinds": ["invoice", "delivery_note"],
        "attach_status_file": "y",
        "bcc": "archive@acme.example; Boss@Acme.example",
        "copy_to_merchant": "y",
        "position": "7",
    }


def _expected(tenant) -> dict[str, Any]:
    """The Rule row that `_every_option` must produce, column by column."""
    return {
        "name": "Pickup reminder",
        "enabled": False,
        "position": 7,
        "event_type": "goods_received",
        "channel": "email",
        "template_id": None,
        "mode": "review",
        "essential": False,
        "shop_ids": [tenant.webshop.id, tenant.amazon.id],
        "marketplaces": ["amazon.de", "amazon.fr"],
        "fulfillments": ["FBM", "own"],
        "payment_methods": ["prepayment", "invoice"],
        "complete_delivery_only": True,
        "pickup": True,
        "to_contact_person": True,
        "delay_minutes": 120,
        "respect_quiet_hours": True,
        "business_days_only": True,
        "coalesce_minutes": 15,
        "repeat_interval_minutes": 3 * 24 * 60,
        "repeat_max_count": 4,
        "stop_events": ["cancelled", "delivered"],
        "document_kinds": ["invoice", "delivery_note"],
        "attach_account_files": False,
        "attach_status_file": True,
        "bcc": ["archive@acme.example", "Boss@acme.example"],
        "copy_to_merchant": True,
        "review_fulfillments": ["FBM"],
        "once_per_order": True,
        "review_mail_default": False,
    }


def _normal(row: dict[str, Any]) -> dict[str, Any]:
    """Lists compared as sets: the order of ticked choices means nothing to the engine."""
    return {k: sorted(v) if isinstance(v, list) else v for k, v in row.items()}


def _row(rule_id: int) -> dict[str, Any]:
    db.session.expire_all()
    rule = db.session.get(Rule, rule_id)
    return _normal({c: getattr(rule, c) for c in _option_columns() | {"purpose"}})


def _rule_count(tenant) -> int:
    stmt = select(func.count(Rule.id)).where(Rule.account_id == tenant.account.id)
    return int(db.session.execute(stmt).scalar_one())


def _post(client, path: str, data: dict[str, Any], **kwargs: Any):
    token = csrf_token(client.get(path))
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def _minimal() -> dict[str, Any]:
    return {
        "name": "Broken",
        "enabled": "y",
        "event_type": "shipped",
        "channel": "email",
        "template": "purpose:shipped",
        "mode": "automatic",
        "pickup": "any",
        "delay_value": "0",
        "delay_unit": "minutes",
        "repeat_unit": "days",
        "repeat_max_count": "1",
        "coalesce_minutes": "0",
        "position": "0",
    }


# --- every option ---------------------------------------------------------------------------


def test_create_stores_every_option(client, auth, engine_ready):
    auth.login()
    response = _post(client, "/rules/new", _every_option(engine_ready))
    assert response.status_code == 302, response.get_data(as_text=True)
    rule = db.session.execute(select(Rule).filter_by(name="Pickup reminder")).scalar_one()
    expected = _expected(engine_ready)
    # A column added to Rule without a place in the form makes this fail.
    assert expected.keys() == _option_columns()
    assert _row(rule.id) == _normal(expected | {"purpose": "goods_received"})


def test_edit_page_shows_every_saved_value_and_saves_it_unchanged(client, auth, engine_ready):
    auth.login()
    assert _post(client, "/rules/new", _every_option(engine_ready)).status_code == 302
    rule = db.session.execute(select(Rule).filter_by(name="Pickup reminder")).scalar_one()
    before = _row(rule.id)

    values = form_values(client.get(f"/rules/{rule.id}").get_data(as_text=True))
    shown = {k: v for k, v in values.items() if k != "csrf_token"}
    submitted = _every_option(engine_ready)
    for name, value in submitted.items():
        wanted = value if isinstance(value, list) else [value]
        if name == "marketplaces":
            wanted = ["amazon.de, amazon.fr"]
        elif name == "bcc":
            wanted = ["archive@acme.example, Boss@acme.example"]
        assert sorted(shown.get(name, [])) == sorted(wanted), name
    for switched_off in ("enabled", "essential", "attach_account_files", "review_mail_default"):
        assert switched_off not in shown

    # Submitting the edit form as shown changes nothing.
    response = client.post(f"/rules/{rule.id}", data=values)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _row(rule.id) == before


def test_every_default_rule_saves_unchanged_through_the_form(client, auth, engine_ready):
    auth.login()
    rules = list_rules(engine_ready.account.id)
    assert len(rules) > 10
    for rule in rules:
        before = _row(rule.id)
        values = form_values(client.get(f"/rules/{rule.id}").get_data(as_text=True))
        response = client.post(f"/rules/{rule.id}", data=values)
        assert response.status_code == 302, (rule.default_key, response.get_data(as_text=True))
        assert _row(rule.id) == before, rule.default_key


def test_edit_changes_every_option_of_an_existing_rule(client, auth, engine_ready):
    rule = next(r for r in list_rules(engine_ready.account.id) if r.default_key == "shipped")
    auth.login()
    response = _post(client, f"/rules/{rule.id}", _every_option(engine_ready))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _row(rule.id) == _normal(_expected(engine_ready) | {"purpose": "goods_received"})
    assert db.session.get(Rule, rule.id).default_key == "shipped"


def test_switching_every_option_back_off(client, auth, engine_ready):
    auth.login()
    assert _post(client, "/rules/new", _every_option(engine_ready)).status_code == 302
    rule = db.session.execute(select(Rule).filter_by(name="Pickup reminder")).scalar_one()
    data = _minimal() | {
        "name": "Plain",
        "essential": "y",
        "attach_account_files": "y",
        "review_mail_default": "y",
        "pickup": "no",
    }
    assert _post(client, f"/rules/{rule.id}", data).status_code == 302
    row = _row(rule.id)
    assert row["enabled"] and row["essential"] and row["attach_account_files"]
    assert row["review_mail_default"] and row["pickup"] is False
    for name in (
        "shop_ids", "marketplaces", "fulfillments", "payment_methods", "stop_events",
        "document_kinds", "bcc", "review_fulfillments",
    ):  # fmt: skip
        assert row[name] == [], name
    for name in (
        "complete_delivery_only", "to_contact_person", "respect_quiet_hours",
        "business_days_only", "copy_to_merchant", "once_per_order",
    ):  # fmt: skip
        assert row[name] is False, name
    assert row["mode"] == "automatic" and row["delay_minutes"] == 0
    assert row["repeat_interval_minutes"] is None and row["repeat_max_count"] == 1
    assert row["coalesce_minutes"] == 0 and row["position"] == 0
    assert row["purpose"] == "shipped" and row["event_type"] == "shipped"


def test_a_pinned_template_and_sms(client, auth, engine_ready):
    sms = next(
        t
        for t in list_templates(engine_ready.account.id)
        if t.channel == "sms" and t.purpose == "shipped"
    )
    auth.login()
    data = _minimal() | {"name": "SMS", "channel": "sms", "template": f"template:{sms.id}"}
    assert _post(client, "/rules/new", data).status_code == 302
    rule = db.session.execute(select(Rule).filter_by(name="SMS")).scalar_one()
    assert (rule.channel, rule.template_id, rule.purpose) == ("sms", sms.id, "shipped")
    html = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert form_values(html)["template"] == [f"template:{sms.id}"]
    assert form_values(html)["channel"] == ["sms"]


def test_delay_and_repeat_are_shown_in_the_largest_whole_unit(client, auth, engine_ready):
    rule = create_rule(
        engine_ready.account,
        name="Units",
        event_type="invoiced",
        purpose="prepayment_reminder",
        delay_minutes=90,
        repeat_interval_minutes=2 * 60,
        repeat_max_count=3,
    )
    auth.login()
    values = form_values(client.get(f"/rules/{rule.id}").get_data(as_text=True))
    assert (values["delay_value"], values["delay_unit"]) == (["90"], ["minutes"])
    assert (values["repeat_value"], values["repeat_unit"]) == (["2"], ["hours"])
    assert values["repeat"] == ["y"] and values["repeat_max_count"] == ["3"]
    assert values["template"] == ["purpose:prepayment_reminder"]


def test_the_form_explains_the_options_in_german(client, auth, engine_ready):
    auth.login()
    html = client.get("/rules/new", headers={"Accept-Language": "de"}).get_data(as_text=True)
    for text in (
        "Vor dem Senden warten",
        "Höchstens eine solche Nachricht pro Bestellung",
        "Trotzdem zuerst in die Prüfwarteschlange bei dieser Versandart",
        "Bewertungsanfragen: an Bestellungen ohne eigene Wahl senden",
        "Erinnerungen und Beenden",
        "Standardtext für den Zweck",
    ):
        assert text in html, text


# --- bad input ------------------------------------------------------------------------------

FOREIGN = object()


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"name": ""}, "name", "Enter a name."),
        ({"name": "x" * 201}, "name", "Field cannot be longer than 200 characters."),
        ({"event_type": "exploded"}, "event_type", "Not a valid choice"),
        ({"channel": "fax"}, "channel", "Not a valid choice"),
        ({"template": "purpose:nothing"}, "template", "Not a valid choice"),
        ({"template": "template:999999"}, "template", "Not a valid choice"),
        (
            {"channel": "sms", "template": "purpose:review_request"},
            "template",
            "There is no SMS text for this yet.",
        ),
        ({"mode": "later"}, "mode", "Not a valid choice"),
        ({"review_fulfillments": ["FBX"]}, "review_fulfillments", "Not a valid choice"),
        ({"shop_ids": ["999999"]}, "shop_ids", "Not a valid choice"),
        ({"shop_ids": ["abc"]}, "shop_ids", "could not be coerced"),
        ({"shop_ids": FOREIGN}, "shop_ids", "Not a valid choice"),
        ({"marketplaces": "amazon.de, <b>x</b>"}, "marketplaces", "is not a marketplace name"),
        ({"marketplaces": "a" * 501}, "marketplaces", "Field cannot be longer"),
        ({"fulfillments": ["FBX"]}, "fulfillments", "Not a valid choice"),
        ({"payment_methods": ["cash"]}, "payment_methods", "Not a valid choice"),
        ({"pickup": "maybe"}, "pickup", "Not a valid choice"),
        ({"delay_value": "-1"}, "delay_value", "Enter 0 or more."),
        ({"delay_value": "abc"}, "delay_value", "Not a valid integer value"),
        ({"delay_value": "31", "delay_unit": "days"}, "delay_value", "Wait at most 30 days."),
        ({"delay_value": "9" * 30}, "delay_value", "Wait at most 30 days."),
        ({"delay_unit": "weeks"}, "delay_unit", "Not a valid choice"),
        ({"coalesce_minutes": "1441"}, "coalesce_minutes", "Enter 0 to 1440 minutes."),
        ({"coalesce_minutes": "-5"}, "coalesce_minutes", "Enter 0 to 1440 minutes."),
        ({"repeat": "y", "repeat_value": ""}, "repeat_value", "Enter how often"),
        ({"repeat": "y", "repeat_value": "0"}, "repeat_value", "Enter 1 or more."),
        (
            {"repeat": "y", "repeat_value": "5", "repeat_unit": "weeks"},
            "repeat_unit",
            "Not a valid choice",
        ),
        (
            {"repeat": "y", "repeat_value": "721", "repeat_unit": "hours"},
            "repeat_value",
            "Repeat at most every 30 days.",
        ),
        ({"repeat_max_count": "0"}, "repeat_max_count", "Enter 1 to 50."),
        ({"repeat_max_count": "51"}, "repeat_max_count", "Enter 1 to 50."),
        ({"stop_events": ["exploded"]}, "stop_events", "Not a valid choice"),
        ({"document_kinds": ["passport"]}, "document_kinds", "Not a valid choice"),
        ({"bcc": "archive@acme.example, not-an-address"}, "bcc", "is not a valid e-mail"),
        (
            {"bcc": ", ".join(f"a{i}@acme.example" for i in range(11))},
            "bcc",
            "Enter at most 10 addresses.",
        ),
        ({"position": "-1"}, "position", "Enter 0 to 100000."),
        ({"position": "100001"}, "position", "Enter 0 to 100000."),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_saved(
    client, auth, engine_ready, other_tenant, changes, field, error
):
    if changes.get("shop_ids") is FOREIGN:
        changes = {"shop_ids": [str(other_tenant.webshop.id)]}
    auth.login()
    count = _rule_count(engine_ready)
    response = _post(client, "/rules/new", _minimal() | changes)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = html[html.index(f'id="{field}-errors"') :]
    assert error in errors[: errors.index("</small>")]
    assert "Please correct the marked fields." in html
    assert _rule_count(engine_ready) == count
    # The rest of the input stays in the form.
    assert 'value="Broken"' in html or field == "name"


def test_bad_input_on_edit_changes_nothing(client, auth, engine_ready):
    rule = next(r for r in list_rules(engine_ready.account.id) if r.default_key == "shipped")
    before = _row(rule.id)
    auth.login()
    data = _every_option(engine_ready) | {"bcc": "nope", "delay_value": "-3"}
    response = _post(client, f"/rules/{rule.id}", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="bcc-errors"' in html and 'id="delay_value-errors"' in html
    assert _row(rule.id) == before


def test_bad_input_over_htmx_comes_back_as_200_with_the_errors(client, auth, engine_ready):
    auth.login()
    token = csrf_token(client.get("/rules/new"))
    response = client.post(
        "/rules/new",
        data=_minimal() | {"coalesce_minutes": "99999"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert 'id="coalesce_minutes-errors"' in response.get_data(as_text=True)
    assert db.session.execute(select(Rule).filter_by(name="Broken")).first() is None


def test_errors_are_translated(client, auth, engine_ready):
    auth.login()
    token = csrf_token(client.get("/rules/new"))
    response = client.post(
        "/rules/new",
        data=_minimal() | {"csrf_token": token, "delay_value": "40", "delay_unit": "days"},
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 422
    assert "Höchstens 30 Tage warten." in response.get_data(as_text=True)


def test_rule_form_without_csrf_token_is_refused(client, auth, engine_ready):
    auth.login()
    response = client.post("/rules/new", data=_minimal())
    assert response.status_code == 400
    assert db.session.execute(select(Rule).filter_by(name="Broken")).first() is None


# --- the "unknown" message state ------------------------------------------------------------


@pytest.fixture()
def unclear_sms(engine_ready) -> Message:
    """Two messages: one whose provider outcome is unclear (order U-1), one sent (S-1)."""
    place_order(engine_ready, "U-1")
    event(engine_ready, "U-1", "shipped")
    place_order(engine_ready, "S-1", email="sent@example.org")
    event(engine_ready, "S-1", "shipped")
    unclear, sent = messages(engine_ready)
    unclear.state, unclear.error = "unknown", "provider timeout"
    sent.state = "sent"
    db.session.commit()
    return unclear


def test_message_log_labels_and_filters_unclear_messages(client, auth, unclear_sms):
    auth.login()
    html = client.get("/messages").get_data(as_text=True)
    assert '<span class="badge badge--warning">Outcome unclear</span>' in html
    assert '<option value="unknown">Outcome unclear</option>' in html
    only = client.get("/messages?state=unknown").get_data(as_text=True)
    assert "U-1" in only and "S-1" not in only
    assert '<option value="unknown" selected>Outcome unclear</option>' in only
    german = client.get("/messages", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<span class="badge badge--warning">Ergebnis unklar</span>' in german


def test_message_page_explains_an_unclear_outcome_and_offers_no_resend(client, auth, unclear_sms):
    auth.login()
    html = client.get(f"/messages/{unclear_sms.id}").get_data(as_text=True)
    assert "badge--warning" in html and "Outcome unclear" in html
    assert "never sent twice by itself" in html
    assert "Resend to this address" not in html and "Retry now" not in html


def test_order_timeline_shows_state_labels(client, auth, unclear_sms):
    auth.login()
    html = client.get("/orders/U-1").get_data(as_text=True)
    assert '<span class="badge badge--warning">Outcome unclear</span>' in html
    sent = client.get("/orders/S-1", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<span class="badge badge--success">Gesendet</span>' in sent


def test_dashboard_counts_unclear_messages(client, auth, unclear_sms):
    auth.login()
    html = client.get("/").get_data(as_text=True)
    assert 'href="/messages?state=unknown"' in html
    figure = html[html.index('href="/messages?state=unknown"') :]
    assert '<span class="figure__value">1</span>' in figure[:200]
    assert "Outcome unclear" in figure[:300]


def test_dashboard_has_no_unclear_figure_without_such_messages(client, auth, engine_ready):
    auth.login()
    assert "state=unknown" not in client.get("/").get_data(as_text=True)


def test_rules_list_mentions_the_workflow_options(client, auth, engine_ready):
    auth.login()
    html = client.get("/rules").get_data(as_text=True)
    invoiced = next(r for r in list_rules(engine_ready.account.id) if r.default_key == "invoiced")
    row = html[html.index(f'id="rule-{invoiced.id}"') :]
    row = row[: row.index("</tr>")]
    assert "Review first for FBM" in row and "once per order" in row
    german = client.get("/rules", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Zuerst prüfen bei FBM" in german and "einmal pro Bestellung" in german
