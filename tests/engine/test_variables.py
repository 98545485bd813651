"""The Roistat template variables: the full SPEC §4 list and how each value reads in a message."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from plugin.engine.variables import VARIABLE_NAMES, VARIABLES, resolve

SPEC_NAMES = [
    "visit_id",
    "visit_ip",
    "visit_marker",
    "visit_city",
    "visit_country",
    "visit_referrer",
    "visit_domain",
    "visit_landing_page",
    "visit_utm_source",
    "visit_utm_medium",
    "visit_utm_campaign",
    "visit_utm_term",
    "visit_utm_content",
    "visit_roistat_param_1",
    "visit_roistat_param_2",
    "visit_roistat_param_3",
    "visit_roistat_param_4",
    "visit_roistat_param_5",
    "client_external_id",
    "client_name",
    "client_company",
    "client_phone",
    "client_email",
    "order_id",
    "order_price",
    "order_cost",
    "order_status",
    "event_id",
    "event_meta_id",
    "event_data",
    "unsubscribe_url",  # SPEC §11
]

# Roistat's own webhook example (reference/roistat.md §4.4) plus a custom event.
CONTEXT = {
    "visit": {
        "id": "12345",
        "ip": "123.45.67.89",
        "marker": "test_page_post",
        "city": "Москва",
        "country": "Россия",
        "referrer": "testpage.com",
        "domain": "site.com",
        "landing_page": "site.com/test/page",
        "utm_source": "yandex",
        "utm_medium": None,
        "utm_campaign": None,
        "utm_term": None,
        "utm_content": None,
        "roistat_param_1": "p1",
        "roistat_param_2": None,
        "roistat_param_3": None,
        "roistat_param_4": None,
        "roistat_param_5": "p5",
    },
    "order": {"id": "100", "price": 120.0, "cost": 100, "status": "Новая"},
    "client": {
        "external_id": "2",
        "name": "Test Client",
        "company": None,
        "phone": "79012223344",
        "email": "test@client.com",
    },
    "event": {
        "id": "501",
        "meta_id": "form_submit",
        "name": "form_submit",
        "data": {"form": "Заявка", "n": 2},
    },
}


def test_the_list_is_exactly_the_30_spec_variables_in_order_and_the_unsubscribe_link():
    assert [v["name"] for v in VARIABLES] == SPEC_NAMES
    assert frozenset(SPEC_NAMES) == VARIABLE_NAMES
    assert len(VARIABLES) == 31


@pytest.mark.parametrize("var", VARIABLES, ids=lambda v: v["name"])
def test_every_variable_has_titles_an_example_and_a_path(var):
    assert var["title"]["ru"].strip() and var["title"]["en"].strip()
    assert isinstance(var["example"], str) and var["example"]
    assert isinstance(var["path"], tuple) and len(var["path"]) == 2
    assert var["path"][0] in ("visit", "client", "order", "event", "unsubscribe")
    assert var["name"] == f"{var['path'][0]}_{var['path'][1]}"


@pytest.mark.parametrize("var", VARIABLES, ids=lambda v: v["name"])
def test_every_variable_resolves_its_own_example(var):
    section, key = var["path"]
    value = json.loads(var["example"]) if var["name"] == "event_data" else var["example"]
    assert resolve(var["name"], {section: {key: value}}) == var["example"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("visit_id", "12345"),
        ("visit_ip", "123.45.67.89"),
        ("visit_marker", "test_page_post"),
        ("visit_city", "Москва"),
        ("visit_country", "Россия"),
        ("visit_referrer", "testpage.com"),
        ("visit_domain", "site.com"),
        ("visit_landing_page", "site.com/test/page"),
        ("visit_utm_source", "yandex"),
        ("visit_utm_medium", ""),
        ("visit_roistat_param_1", "p1"),
        ("visit_roistat_param_2", ""),
        ("visit_roistat_param_5", "p5"),
        ("client_external_id", "2"),
        ("client_name", "Test Client"),
        ("client_company", ""),
        ("client_phone", "79012223344"),
        ("client_email", "test@client.com"),
        ("order_id", "100"),
        ("order_price", "120"),
        ("order_cost", "100"),
        ("order_status", "Новая"),
        ("event_id", "501"),
        ("event_meta_id", "form_submit"),
        ("event_data", '{"form":"Заявка","n":2}'),
    ],
)
def test_resolve_reads_the_context(name, expected):
    assert resolve(name, CONTEXT) == expected


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (120.0, "120"),
        (120, "120"),
        (0, "0"),
        (0.0, "0"),
        (-5.0, "-5"),
        (120.5, "120.5"),
        (0.1, "0.1"),
        (Decimal("120.00"), "120"),
        (Decimal("99.90"), "99.9"),
        ("120.0", "120.0"),  # a string is shown as it was sent
        (True, "true"),
        (None, ""),
    ],
)
def test_numbers_render_without_a_needless_fraction(price, expected):
    assert resolve("order_price", {"order": {"price": price}}) == expected


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"visit": None, "order": None, "client": None, "event": None},
        {"client": {}},
        {"client": {"name": None}},
        {"client": "not a dict"},
    ],
)
def test_absent_data_renders_as_an_empty_string(context):
    assert resolve("client_name", context) == ""
    assert resolve("event_data", context) == ""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"form": "Заявка", "amount": 1500}, '{"form":"Заявка","amount":1500}'),
        ({"nested": {"a": [1, 2]}}, '{"nested":{"a":[1,2]}}'),
        ({}, ""),
        (None, ""),
    ],
)
def test_event_data_is_compact_json_without_ascii_escapes(data, expected):
    assert resolve("event_data", {"event": {"data": data}}) == expected


def test_unknown_variable_is_an_error_naming_it():
    with pytest.raises(KeyError, match="clinet_name"):
        resolve("clinet_name", CONTEXT)
