"""Event nodes: which engine events fire a flow (matches) and when N-day events fall due (due_at)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugin.nodes.events import (
    custom,
    order_created,
    order_days_since_created,
    order_days_since_paid,
    order_status_changed,
    visit_created,
)

ALL = [
    visit_created,
    order_created,
    order_status_changed,
    order_days_since_created,
    order_days_since_paid,
    custom,
]
ENGINE_EVENTS = {
    "visit_created",
    "order_created",
    "order_status_changed",
    "order_days_since_created",
    "order_days_since_paid",
    "custom_event",
}


@pytest.mark.parametrize(
    ("module", "trigger", "payload_type"),
    [
        (visit_created, "visit_created", "visit_created"),
        (order_created, "order_created", "order_created"),
        (order_status_changed, "order_status_changed", "order_status_changed"),
        (order_days_since_created, "order_days_since_created", "order_days_since_created"),
        (order_days_since_paid, "order_days_since_paid", "order_days_since_paid"),
        (custom, "custom_event", "custom_event"),
    ],
)
def test_triggers_and_payload_event_type(module, trigger, payload_type):
    assert (trigger,) == module.TRIGGERS
    assert payload_type == module.PAYLOAD_EVENT_TYPE
    assert module.matches({}, {"type": trigger, "data": {}}) is True
    for other in ENGINE_EVENTS - {trigger}:
        assert module.matches({}, {"type": other, "data": {}}) is False, other


@pytest.mark.parametrize("module", ALL, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_an_event_without_a_type_is_checked_on_its_data_only(module):
    # POST /nodes/{type}/execute may send just the data
    assert module.matches({}, {"data": {}}) is True


# ---------------------------------------------------------------- order_status_changed


def status_event(from_=None, to=None):
    return {"type": "order_status_changed", "data": {"from": from_, "to": to}}


@pytest.mark.parametrize(
    ("params", "from_", "to", "expected"),
    [
        ({}, "Новая", "В работе", True),
        ({"to": [], "from": []}, "Новая", "В работе", True),
        ({"to": ["В работе"]}, "Новая", "В работе", True),
        ({"to": ["в работе"]}, "Новая", "В РАБОТЕ", True),  # casefold
        ({"to": ["Оплачено", "В работе"]}, "Новая", "в работе", True),
        ({"to": ["Оплачено"]}, "Новая", "В работе", False),
        ({"to": ["Оплачено"]}, "Новая", " Оплачено ", True),  # trimmed
        ({"to": ["Оплачено"]}, "Новая", None, False),
        ({"to": ["Отменён"]}, "Новая", "Отменен", False),  # ё ≠ е
        ({"from": ["Новая"]}, "НОВАЯ", "Оплачено", True),
        ({"from": ["Новая"]}, "В работе", "Оплачено", False),
        ({"from": ["Новая"]}, None, "Оплачено", False),  # first status: no "from"
        ({"from": ["Новая"], "to": ["Оплачено"]}, "Новая", "Оплачено", True),
        ({"from": ["Новая"], "to": ["Оплачено"]}, "В работе", "Оплачено", False),
        ({"from": ["Новая"], "to": ["Оплачено"]}, "Новая", "В работе", False),
        ({"to": "Оплачено, В работе"}, "Новая", "в работе", True),  # a comma string is tolerated
    ],
)
def test_order_status_changed(params, from_, to, expected):
    assert order_status_changed.matches(params, status_event(from_, to)) is expected


def test_order_status_changed_without_data():
    assert order_status_changed.matches({}, {"type": "order_status_changed"}) is True
    assert order_status_changed.matches({"to": ["Оплачено"]}, {"type": "order_status_changed"}) is False


def test_order_status_changed_ignores_other_events_even_when_statuses_match():
    event = {"type": "order_created", "data": {"from": "Новая", "to": "Оплачено"}}
    assert order_status_changed.matches({"to": ["Оплачено"]}, event) is False


# ---------------------------------------------------------------- custom


@pytest.mark.parametrize(
    ("params", "name", "expected"),
    [
        ({}, "form_submit", True),
        ({"name": ""}, "form_submit", True),
        ({"name": None}, "form_submit", True),
        ({"name": "   "}, "anything", True),
        ({"name": "form_submit"}, "form_submit", True),
        ({"name": "Form_Submit"}, "form_submit", True),
        ({"name": " form_submit "}, "form_submit", True),
        ({"name": "form_submit"}, "callback", False),
        ({"name": "form_submit"}, "form_submit_2", False),
        ({"name": "form_submit"}, None, False),
        ({"name": "Заявка"}, "ЗАЯВКА", True),
    ],
)
def test_custom_event_name(params, name, expected):
    assert custom.matches(params, {"type": "custom_event", "data": {"name": name}}) is expected


# ---------------------------------------------------------------- N-day events


@pytest.mark.parametrize(
    ("module", "field"), [(order_days_since_created, "created_at"), (order_days_since_paid, "paid_at")]
)
def test_days_events_leave_due_ness_to_the_sweep(module, field):
    assert field == module.TIME_FIELD
    assert module.matches({"days": 3}, {"type": module.PAYLOAD_EVENT_TYPE, "data": {}}) is True
    assert module.matches({"days": 3650, "catch_up_hours": 0}, {"type": module.PAYLOAD_EVENT_TYPE}) is True


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("2026-11-01T10:00:00Z", 3, datetime(2026, 11, 4, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00+00:00", 3, datetime(2026, 11, 4, 10, tzinfo=UTC)),
        ("2026-11-01T13:00:00+03:00", 3, datetime(2026, 11, 4, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00", 1, datetime(2026, 11, 2, 10, tzinfo=UTC)),  # naive means UTC
        ("2026-11-01T10:00:00Z", 0, datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-12-30T10:00:00Z", 3, datetime(2027, 1, 2, 10, tzinfo=UTC)),
        ("2028-02-27T00:00:00Z", 2, datetime(2028, 2, 29, tzinfo=UTC)),  # leap year
        ("2016-01-01T00:00:00Z", 3650, datetime(2025, 12, 29, tzinfo=UTC)),
        (None, 3, None),
        ("", 3, None),
        ("not a date", 3, None),
    ],
)
@pytest.mark.parametrize(
    ("module", "field"), [(order_days_since_created, "created_at"), (order_days_since_paid, "paid_at")]
)
def test_due_at(module, field, value, days, expected):
    due = module.due_at({"days": days, "catch_up_hours": 24}, {field: value})
    assert due == expected
    if due is not None:
        assert due.utcoffset().total_seconds() == 0


def test_due_at_reads_its_own_time_field():
    order = {"created_at": "2026-11-01T10:00:00Z", "paid_at": None}
    assert order_days_since_created.due_at({"days": 1}, order) == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert order_days_since_paid.due_at({"days": 1}, order) is None
    order = {"paid_at": "2026-11-05T00:00:00Z"}
    assert order_days_since_created.due_at({"days": 1}, order) is None
    assert order_days_since_paid.due_at({"days": 1}, order) == datetime(2026, 11, 6, tzinfo=UTC)


@pytest.mark.parametrize("module", [order_days_since_created, order_days_since_paid])
def test_due_at_without_an_order(module):
    assert module.due_at({"days": 1}, None) is None
    assert module.due_at({"days": 1}, {}) is None
