"""condition.order_field and condition.client_field: a dotted path into the record's custom ``fields``,
the operators and their typing exactly as condition.event_data; prepare agrees with evaluate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugin.nodes.conditions import client_field, event_data, order_field
from plugin.registry import get_registry

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
FIELDS = {
    "delivery_city": "Москва",
    "discount": "15",
    "segment": "VIP",
    "tags": ["new", "b2b"],
    "address": {"city": "Казань", "zip": 420000},
    "empty": "",
}
CASES = [
    ("delivery_city", "equals", "москва", True),
    ("delivery_city", "not_equals", "Москва", False),
    ("segment", "any_of", "gold, vip", True),
    ("segment", "any_of", ["gold"], False),
    ("address.city", "contains", "каз", True),
    ("address.city", "not_contains", "каз", False),
    ("address.zip", "gte", 420000, True),
    ("discount", "gt", 10, True),  # a numeric string compares as a number
    ("discount", "lt", 10, False),
    ("discount", "eq", "15", True),
    ("tags.1", "equals", "b2b", True),
    ("empty", "is_empty", None, True),
    ("missing", "is_empty", None, True),
    ("missing", "equals", "x", False),  # absent: false for positive operators
    ("missing", "not_contains", "x", True),  # …and true for the negative ones
    ("missing", "gt", 1, False),
    ("segment", "gt", 1, False),  # text under a numeric operator: false, not an error
]


def _params(path, operator, value):
    return {"path": path, "operator": operator} | ({} if value is None else {"value": value})


def _ctx(order_fields=None, client_fields=None):
    order = None if order_fields is None else {"id": "1", "fields": order_fields}
    client = None if client_fields is None else {"external_id": "c", "fields": client_fields}
    return {
        "visit": None,
        "order": order,
        "client": client,
        "event": None,
        "now": NOW,
        "client_orders_count": 0,
    }


@pytest.mark.parametrize(("path", "operator", "value", "expected"), CASES)
def test_order_and_client_fields_compare_as_event_data_does(path, operator, value, expected):
    params = _params(path, operator, value)
    event_ctx = {**_ctx(), "event": {"id": "e", "data": FIELDS}}
    assert event_data.evaluate(params, event_ctx) is expected  # the reference
    for module, context in (
        (order_field, _ctx(order_fields=FIELDS)),
        (client_field, _ctx(client_fields=FIELDS)),
    ):
        assert module.evaluate(params, context) is expected, module.__name__
        assert module.prepare(params)(context) is expected, module.__name__


def test_the_other_record_is_not_read():
    params = _params("segment", "equals", "vip")
    assert order_field.evaluate(params, _ctx(client_fields=FIELDS)) is False
    assert client_field.evaluate(params, _ctx(order_fields=FIELDS)) is False
    assert client_field.evaluate(params, _ctx(client_fields={})) is False
    assert client_field.evaluate(_params("segment", "is_empty", None), _ctx()) is True  # no client at all


def test_case_sensitive_is_honoured():
    params = {**_params("segment", "equals", "vip"), "case_sensitive": True}
    assert client_field.evaluate(params, _ctx(client_fields=FIELDS)) is False


def test_events_order_field_needs_an_order_event_client_field_works_with_every_event():
    assert {
        "event.order_created",
        "event.order_status_changed",
        "event.order_days_since_created",
        "event.order_days_since_paid",
    } == order_field.EVENTS
    assert client_field.EVENTS is None


def test_the_index_key_reads_the_field():
    access = order_field.access(_params("delivery_city", "equals", "Москва"))
    assert access is not None and access.source[1:4] == ("order", "fields", "delivery_city")
    assert access.read(_ctx(order_fields=FIELDS)) is not None


def test_registered_with_russian_titles_and_the_event_data_operators():
    registry = get_registry()
    reference = registry.get("condition.event_data").schema["properties"]["operator"]["enum"]
    for type_id, title in (
        ("condition.order_field", "Поле сделки"),
        ("condition.client_field", "Поле клиента"),
    ):
        spec = registry.get(type_id)
        assert spec is not None and spec.kind == "condition"
        assert spec.title["ru"] == title and spec.title["en"]
        assert spec.schema["properties"]["operator"]["enum"] == reference
        assert spec.schema["required"] == ["path", "operator"]
