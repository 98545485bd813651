"""Every operator of every condition: case folding, comma lists, CIDR, absent data, dates, paths."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from plugin.nodes import operators as _operators
from plugin.nodes.conditions import (
    client_orders_count,
    event_data,
    order_created_age,
    order_paid_age,
    order_price,
    order_status,
    visit_city,
    visit_country,
    visit_domain,
    visit_ip,
    visit_landing_page,
    visit_marker,
    visit_referrer,
    visit_roistat_param,
    visit_utm,
)

NOW = datetime(2026, 11, 10, 12, 0, 0, tzinfo=UTC)
ORDER_EVENTS = {
    "event.order_created",
    "event.order_status_changed",
    "event.order_days_since_created",
    "event.order_days_since_paid",
}


def ctx(visit=None, order=None, client=None, event=None, count=0, now=NOW):
    return {
        "visit": visit,
        "order": order,
        "client": client,
        "event": event,
        "now": now,
        "client_orders_count": count,
    }


# ---------------------------------------------------------------- EVENTS


@pytest.mark.parametrize(
    ("module", "events"),
    [
        (visit_city, None),
        (visit_country, None),
        (visit_ip, None),
        (visit_referrer, None),
        (visit_domain, None),
        (visit_landing_page, None),
        (visit_marker, None),
        (visit_utm, None),
        (visit_roistat_param, None),
        (client_orders_count, None),
        (order_status, ORDER_EVENTS),
        (order_created_age, ORDER_EVENTS),
        (order_paid_age, ORDER_EVENTS),
        (order_price, ORDER_EVENTS),
        (event_data, {"event.custom"}),
    ],
    ids=lambda x: getattr(x, "__name__", "").rsplit(".", 1)[-1] or None,
)
def test_events_each_condition_can_be_used_with(module, events):
    assert events == module.EVENTS
    assert module.EVENTS is None or isinstance(module.EVENTS, frozenset)


# ---------------------------------------------------------------- text operators (via visit_city)


@pytest.mark.parametrize(
    ("params", "city", "expected"),
    [
        # equals: casefold, Cyrillic, trimming, ё ≠ е, full Unicode folding
        ({"operator": "equals", "value": "Москва"}, "Москва", True),
        ({"operator": "equals", "value": "москва"}, "МОСКВА", True),
        ({"operator": "equals", "value": "МОСКВА"}, "москва", True),
        ({"operator": "equals", "value": " Москва "}, "Москва  ", True),
        ({"operator": "equals", "value": "Москва"}, "Мocква", False),  # Latin "o" and "c"
        ({"operator": "equals", "value": "Москва"}, "Московская область", False),
        ({"operator": "equals", "value": "Королёв"}, "Королев", False),
        ({"operator": "equals", "value": "Королёв"}, "КОРОЛЁВ", True),
        ({"operator": "equals", "value": "straße"}, "STRASSE", True),  # casefold, not lower
        ({"operator": "equals", "value": "москва", "case_sensitive": True}, "Москва", False),
        ({"operator": "equals", "value": "Москва", "case_sensitive": True}, "Москва", True),
        ({"operator": "equals", "value": ["Казань", "москва"]}, "Москва", True),
        ({"operator": "equals", "value": ["Казань", "Сочи"]}, "Москва", False),
        ({"operator": "equals", "value": "Москва, Сочи"}, "Москва", False),  # no comma split for equals
        # not_equals
        ({"operator": "not_equals", "value": "Москва"}, "Казань", True),
        ({"operator": "not_equals", "value": "москва"}, "МОСКВА", False),
        ({"operator": "not_equals", "value": "москва", "case_sensitive": True}, "МОСКВА", True),
        ({"operator": "not_equals", "value": ["Казань", "Москва"]}, "Москва", False),
        ({"operator": "not_equals", "value": ["Казань", "Сочи"]}, "Москва", True),
        # any_of: comma string (trimmed items, empty items ignored) or a list
        ({"operator": "any_of", "value": "Казань, москва ,Сочи"}, "Москва", True),
        ({"operator": "any_of", "value": "Казань,Сочи"}, "Москва", False),
        ({"operator": "any_of", "value": "Москва, Санкт-Петербург"}, "санкт-петербург", True),
        ({"operator": "any_of", "value": ", ,Москва,,"}, "Москва", True),
        ({"operator": "any_of", "value": ",,"}, "Москва", False),
        ({"operator": "any_of", "value": ["Казань", " МОСКВА "]}, "Москва", True),
        ({"operator": "any_of", "value": ["Казань"]}, "Москва", False),
        ({"operator": "any_of", "value": "Моск"}, "Москва", False),  # whole items, not substrings
        ({"operator": "any_of", "value": "МОСКВА, Сочи", "case_sensitive": True}, "Москва", False),
        ({"operator": "any_of", "value": "Москва, Сочи", "case_sensitive": True}, "Москва", True),
        # contains
        ({"operator": "contains", "value": "моск"}, "Москва", True),
        ({"operator": "contains", "value": "ВА"}, "Москва", True),
        ({"operator": "contains", "value": "питер"}, "Москва", False),
        ({"operator": "contains", "value": "моск", "case_sensitive": True}, "Москва", False),
        ({"operator": "contains", "value": "Моск", "case_sensitive": True}, "Москва", True),
        ({"operator": "contains", "value": ["питер", "СКВ"]}, "Москва", True),
        ({"operator": "contains", "value": ["питер", "сочи"]}, "Москва", False),
        ({"operator": "contains", "value": ""}, "Москва", False),  # an empty needle finds nothing
        # not_contains
        ({"operator": "not_contains", "value": "питер"}, "Москва", True),
        ({"operator": "not_contains", "value": "МОСК"}, "Москва", False),
        ({"operator": "not_contains", "value": "МОСК", "case_sensitive": True}, "Москва", True),
        ({"operator": "not_contains", "value": ["питер", "сочи"]}, "Москва", True),
        ({"operator": "not_contains", "value": ["питер", "ква"]}, "Москва", False),
        # is_empty / is_not_empty (value ignored)
        ({"operator": "is_empty"}, "Москва", False),
        ({"operator": "is_not_empty"}, "Москва", True),
        ({"operator": "is_empty"}, "   ", True),
        ({"operator": "is_not_empty"}, "   ", False),
        ({"operator": "is_empty", "value": "x"}, "", True),
    ],
)
def test_text_operators(params, city, expected):
    assert visit_city.evaluate(params, ctx(visit={"city": city})) is expected


ABSENT_EXPECTED = [
    ("equals", False),
    ("not_equals", True),
    ("any_of", False),
    ("contains", False),
    ("not_contains", True),
    ("is_empty", True),
    ("is_not_empty", False),
]


@pytest.mark.parametrize(("operator", "expected"), ABSENT_EXPECTED)
@pytest.mark.parametrize(
    "visit",
    [None, {}, {"city": None}, {"city": ""}, {"country": "Россия"}],
    ids=["no visit", "empty visit", "None", "empty string", "missing key"],
)
def test_absent_visit_data_is_false_for_positive_operators(operator, expected, visit):
    params = {"operator": operator, "value": "Москва"}
    assert visit_city.evaluate(params, ctx(visit=visit)) is expected


@pytest.mark.parametrize(("operator", "expected"), ABSENT_EXPECTED)
def test_absent_context_keys_do_not_raise(operator, expected):
    assert visit_city.evaluate({"operator": operator, "value": "Москва"}, {"now": NOW}) is expected


def test_operator_defaults_to_equals():
    assert visit_city.evaluate({"value": "москва"}, ctx(visit={"city": "Москва"})) is True


def test_unknown_text_operator_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'gt'"):
        visit_city.evaluate({"operator": "gt", "value": "1"}, ctx(visit={"city": "1"}))


# ---------------------------------------------------------------- each visit condition reads its own field

OTHER_FIELDS = {
    "city": "other",
    "country": "other",
    "referrer": "other",
    "domain": "other",
    "landing_page": "other",
    "marker": "other",
    "ip": "10.0.0.1",
}


@pytest.mark.parametrize(
    ("module", "params", "field"),
    [
        (visit_city, {}, "city"),
        (visit_country, {}, "country"),
        (visit_referrer, {}, "referrer"),
        (visit_domain, {}, "domain"),
        (visit_landing_page, {}, "landing_page"),
        (visit_marker, {}, "marker"),
        *[(visit_utm, {"tag": tag}, tag) for tag in ("utm_source", "utm_medium", "utm_campaign", "utm_term")],
        (visit_utm, {"tag": "utm_content"}, "utm_content"),
        *[(visit_roistat_param, {"index": n}, f"roistat_param_{n}") for n in range(1, 6)],
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_each_visit_condition_reads_its_field(module, params, field):
    visit = {**OTHER_FIELDS, field: "Target-Значение"}
    assert module.evaluate({**params, "operator": "equals", "value": "target-значение"}, ctx(visit=visit))
    assert module.evaluate({**params, "operator": "contains", "value": "ЗНАЧ"}, ctx(visit=visit))
    # the same value in every other field does not count
    others = dict.fromkeys((*OTHER_FIELDS, "utm_source", "roistat_param_1"), "Target-Значение")
    others.pop(field, None)
    assert not module.evaluate(
        {**params, "operator": "equals", "value": "Target-Значение"}, ctx(visit=others)
    )
    assert module.evaluate({**params, "operator": "is_empty"}, ctx(visit=others))


def test_utm_and_roistat_param_pick_the_tag_from_params():
    visit = {"utm_source": "yandex", "utm_medium": "cpc", "roistat_param_2": "b", "roistat_param_3": "c"}
    assert visit_utm.evaluate({"tag": "utm_medium", "operator": "equals", "value": "CPC"}, ctx(visit=visit))
    assert not visit_utm.evaluate(
        {"tag": "utm_source", "operator": "equals", "value": "cpc"}, ctx(visit=visit)
    )
    assert visit_roistat_param.evaluate({"index": 3, "operator": "any_of", "value": "a, c"}, ctx(visit=visit))
    assert not visit_roistat_param.evaluate(
        {"index": 2, "operator": "any_of", "value": "a, c"}, ctx(visit=visit)
    )


# ---------------------------------------------------------------- visit_ip


@pytest.mark.parametrize(
    ("operator", "value", "ip", "expected"),
    [
        ("equals", "123.45.67.89", "123.45.67.89", True),
        ("equals", "123.45.67.89", "123.45.67.90", False),
        ("equals", "2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001", True),  # any spelling
        ("equals", "10.0.0.0/8", "10.200.3.4", True),  # equals takes a range too
        ("equals", "10.0.0.0/8", "11.0.0.1", False),
        ("not_equals", "10.0.0.0/8", "10.200.3.4", False),
        ("not_equals", "10.0.0.0/8", "11.0.0.1", True),
        ("not_equals", "1.2.3.4", "1.2.3.4", False),
        # any_of with single addresses and CIDR, v4 and v6
        ("any_of", "10.0.0.0/8, 192.168.0.0/16", "192.168.10.20", True),
        ("any_of", "10.0.0.0/8, 192.168.0.0/16", "172.16.0.1", False),
        ("any_of", "10.0.0.0/8, 123.45.67.89", "123.45.67.89", True),
        ("any_of", ["10.0.0.0/8", "192.168.0.0/16"], "10.1.1.1", True),
        ("any_of", "192.168.1.0/24", "192.168.1.255", True),
        ("any_of", "192.168.1.0/24", "192.168.2.0", False),
        ("any_of", "192.168.1.7/24", "192.168.1.200", True),  # host bits set: not strict
        ("any_of", "2001:db8::/32", "2001:db8:abcd::5", True),
        ("any_of", "2001:db8::/32", "2001:db9::1", False),
        ("any_of", "10.0.0.0/8, 2001:db8::/32", "2001:DB8::FFFF", True),
        ("any_of", "2001:db8::/32", "10.0.0.1", False),  # v4 address, v6 range
        ("any_of", "10.0.0.0/8", "2001:db8::1", False),  # v6 address, v4 range
        ("any_of", "10.0.0.0/8", "::ffff:10.1.2.3", True),  # IPv4-mapped IPv6
        ("any_of", "::ffff:0:0/96", "::ffff:10.1.2.3", True),
        ("any_of", "fe80::/10", "fe80::1", True),
        # invalid data or items: no match, no exception
        ("any_of", "10.0.0.0/8", "unknown", False),
        ("any_of", "10.0.0.0/8", "10.0.0.999", False),
        ("equals", "unknown", "unknown", False),
        ("not_equals", "1.2.3.4", "not-an-ip", True),
        ("any_of", "bogus/99, 10.0.0.0/8", "10.0.0.1", True),
        ("any_of", "bogus, 300.1.1.1/8", "10.0.0.1", False),
        # text operators stay text (case-insensitive for hex)
        ("contains", "192.168.", "192.168.1.1", True),
        ("contains", "DB8", "2001:db8::1", True),
        ("not_contains", "192.168.", "10.0.0.1", True),
        ("is_not_empty", None, "10.0.0.1", True),
        ("is_empty", None, "10.0.0.1", False),
    ],
)
def test_visit_ip(operator, value, ip, expected):
    assert visit_ip.evaluate({"operator": operator, "value": value}, ctx(visit={"ip": ip})) is expected


@pytest.mark.parametrize(("operator", "expected"), ABSENT_EXPECTED)
def test_visit_ip_absent(operator, expected):
    params = {"operator": operator, "value": "10.0.0.0/8"}
    assert visit_ip.evaluate(params, ctx(visit={"ip": None})) is expected
    assert visit_ip.evaluate(params, ctx(visit=None)) is expected


# ---------------------------------------------------------------- numeric operators

NUMERIC_TABLE = [
    # (operator, actual, value, expected)
    ("eq", 1000, 1000, True),
    ("eq", 1000, 999, False),
    ("eq", 1000.0, 1000, True),
    ("ne", 1000, 1000, False),
    ("ne", 1000, 999, True),
    ("gt", 1000, 999, True),
    ("gt", 1000, 1000, False),
    ("gt", 1000, 1001, False),
    ("lt", 1000, 1001, True),
    ("lt", 1000, 1000, False),
    ("lt", 1000, 999, False),
    ("gte", 1000, 1000, True),
    ("gte", 1000, 999, True),
    ("gte", 1000, 1001, False),
    ("lte", 1000, 1000, True),
    ("lte", 1000, 1001, True),
    ("lte", 1000, 999, False),
    ("gt", 0.5, 0, True),
    ("lt", -1, 0, True),
]


@pytest.mark.parametrize(("operator", "count", "value", "expected"), NUMERIC_TABLE)
def test_client_orders_count(operator, count, value, expected):
    assert client_orders_count.evaluate({"operator": operator, "value": value}, ctx(count=count)) is expected


@pytest.mark.parametrize(
    ("operator", "expected"), [("eq", True), ("ne", False), ("gt", False), ("lt", False), ("gte", True)]
)
@pytest.mark.parametrize("context", [ctx(count=0), {"now": NOW}, {**ctx(), "client_orders_count": None}])
def test_client_orders_count_without_orders_is_zero(operator, expected, context):
    assert client_orders_count.evaluate({"operator": operator, "value": 0}, context) is expected


@pytest.mark.parametrize(("operator", "price", "value", "expected"), NUMERIC_TABLE)
def test_order_price(operator, price, value, expected):
    assert (
        order_price.evaluate({"operator": operator, "value": value}, ctx(order={"price": price})) is expected
    )


@pytest.mark.parametrize(
    ("operator", "price", "value", "expected"),
    [
        ("eq", "1000", 1000, True),  # numeric strings in the data
        ("eq", " 1000.0 ", 1000, True),
        ("gt", "1500.50", 1500, True),
        ("lt", "-3", 0, True),
        ("eq", Decimal("99.90"), 99.9, True),
        ("gte", 1000, "1000", True),  # and in the value
        ("eq", "1e3", 1000, True),
        ("eq", "1 000", 1000, False),  # not a number: treated as absent
        ("ne", "1 000", 1000, True),
        ("eq", "1_000", 1000, False),
        ("gt", "abc", 0, False),
        ("ne", "abc", 0, True),
        ("gt", "nan", 0, False),
        ("lt", "-inf", 0, False),
        ("eq", True, 1, False),  # a boolean is not a price
        ("gt", 10, "not a number", False),
    ],
)
def test_order_price_tolerates_numeric_strings(operator, price, value, expected):
    assert (
        order_price.evaluate({"operator": operator, "value": value}, ctx(order={"price": price})) is expected
    )


@pytest.mark.parametrize(
    ("operator", "expected"),
    [("eq", False), ("ne", True), ("gt", False), ("lt", False), ("gte", False), ("lte", False)],
)
@pytest.mark.parametrize(
    "order", [None, {}, {"price": None}, {"price": ""}], ids=["none", "{}", "None", "''"]
)
def test_order_price_absent(operator, expected, order):
    assert order_price.evaluate({"operator": operator, "value": 0}, ctx(order=order)) is expected


def test_unknown_numeric_operator_is_an_error():
    with pytest.raises(ValueError, match="'equals'"):
        order_price.evaluate({"operator": "equals", "value": 1}, ctx(order={"price": 1}))


# ---------------------------------------------------------------- order_status


@pytest.mark.parametrize(
    ("params", "status", "expected"),
    [
        ({"operator": "in", "value": ["Новая"]}, "Новая", True),
        ({"operator": "in", "value": ["новая"]}, "НОВАЯ", True),
        ({"operator": "in", "value": ["Новая", "В работе"]}, "в работе", True),
        ({"operator": "in", "value": ["Новая"]}, "Оплачено", False),
        ({"operator": "in", "value": "Новая, В работе"}, "В работе", True),
        ({"operator": "in", "value": " Оплачено ,Отменено"}, "Отменено ", True),
        ({"operator": "in", "value": "Новая, В работе"}, "Работе", False),
        ({"operator": "in", "value": ["Отменён"]}, "Отменен", False),  # ё ≠ е
        ({"operator": "not_in", "value": ["Новая"]}, "Оплачено", True),
        ({"operator": "not_in", "value": ["Новая"]}, "новая", False),
        ({"operator": "not_in", "value": "Оплачено, Отменено"}, "Новая", True),
        ({"operator": "not_in", "value": "Оплачено, Отменено"}, "ОТМЕНЕНО", False),
    ],
)
def test_order_status(params, status, expected):
    assert order_status.evaluate(params, ctx(order={"status": status})) is expected


@pytest.mark.parametrize(("operator", "expected"), [("in", False), ("not_in", True)])
@pytest.mark.parametrize(
    "order", [None, {}, {"status": None}, {"status": ""}], ids=["none", "{}", "None", "''"]
)
def test_order_status_absent(operator, expected, order):
    assert order_status.evaluate({"operator": operator, "value": ["Новая"]}, ctx(order=order)) is expected


# ---------------------------------------------------------------- order_created_age / order_paid_age

# NOW is 2026-11-10T12:00:00Z, so exactly 3 days ago is 2026-11-07T12:00:00Z.
AGE_TABLE = [
    # (date, operator, days, expected)
    ("2026-11-07T12:00:00Z", "older_than_days", 3, False),  # exactly N days: neither older
    ("2026-11-07T12:00:00Z", "newer_than_days", 3, False),  # ... nor newer
    ("2026-11-07T11:59:59Z", "older_than_days", 3, True),
    ("2026-11-07T11:59:59Z", "newer_than_days", 3, False),
    ("2026-11-07T12:00:01Z", "older_than_days", 3, False),
    ("2026-11-07T12:00:01Z", "newer_than_days", 3, True),
    ("2026-11-07T12:00:00+00:00", "older_than_days", 2, True),
    ("2026-11-07T15:00:00+03:00", "older_than_days", 3, False),  # = 12:00Z, exactly 3 days
    ("2026-11-07T14:59:59+03:00", "older_than_days", 3, True),
    ("2026-11-07T11:00:00", "older_than_days", 3, True),  # naive means UTC
    ("2026-11-07T13:00:00", "older_than_days", 3, False),
    ("2026-11-07", "older_than_days", 3, True),  # a date alone is its midnight UTC
    ("2026-11-10T11:00:00Z", "older_than_days", 0, True),
    ("2026-11-10T11:00:00Z", "newer_than_days", 0, False),
    ("2026-11-10T11:00:00Z", "newer_than_days", 1, True),
    ("2026-11-11T00:00:00Z", "newer_than_days", 1, True),  # a future date is newer
    ("2026-11-11T00:00:00Z", "older_than_days", 0, False),
    ("2016-01-01T00:00:00Z", "older_than_days", 3650, True),
    (datetime(2026, 11, 1, tzinfo=UTC), "older_than_days", 3, True),  # already parsed
]


@pytest.mark.parametrize(("date", "operator", "days", "expected"), AGE_TABLE)
def test_order_created_age(date, operator, days, expected):
    context = ctx(order={"created_at": date, "paid_at": None})
    assert order_created_age.evaluate({"operator": operator, "value": days}, context) is expected


@pytest.mark.parametrize(("date", "operator", "days", "expected"), AGE_TABLE)
def test_order_paid_age(date, operator, days, expected):
    context = ctx(order={"paid_at": date, "created_at": None})
    assert order_paid_age.evaluate({"operator": operator, "value": days}, context) is expected


@pytest.mark.parametrize("operator", ["older_than_days", "newer_than_days"])
@pytest.mark.parametrize("module", [order_created_age, order_paid_age])
@pytest.mark.parametrize(
    "order",
    [
        None,
        {},
        {"created_at": None, "paid_at": None},
        {"created_at": "", "paid_at": ""},
        {"created_at": "вчера"},
    ],
    ids=["no order", "{}", "None", "''", "not a date"],
)
def test_order_age_without_a_date_is_false(operator, module, order):
    assert module.evaluate({"operator": operator, "value": 0}, ctx(order=order)) is False


def test_paid_age_reads_paid_at_not_created_at():
    context = ctx(order={"created_at": "2020-01-01T00:00:00Z", "paid_at": "2026-11-10T00:00:00Z"})
    assert order_created_age.evaluate({"operator": "older_than_days", "value": 30}, context)
    assert not order_paid_age.evaluate({"operator": "older_than_days", "value": 30}, context)
    assert order_paid_age.evaluate({"operator": "newer_than_days", "value": 1}, context)


def test_unknown_age_operator_is_an_error():
    with pytest.raises(ValueError, match="'gt'"):
        order_created_age.evaluate({"operator": "gt", "value": 1}, ctx(order={"created_at": "2026-01-01"}))


# ---------------------------------------------------------------- event_data

DATA = {
    "form": {"name": "Обратный звонок", "amount": 1500, "price": "2500.50", "empty": "", "none": None},
    "items": [{"sku": "A-1"}, {"sku": "B-2"}],
    "tags": ["vip", "new"],
    "paid": True,
    "ratio": 1500.0,
    "0": "zero key",
    "nested": {},
}


def event(data=DATA):
    return {"id": "501", "meta_id": "form_submit", "name": "form_submit", "data": data}


@pytest.mark.parametrize(
    ("path", "operator", "value", "expected"),
    [
        # paths
        ("form.name", "equals", "обратный ЗВОНОК", True),
        ("form.name", "equals", "Обратный", False),
        ("items.0.sku", "equals", "a-1", True),
        ("items.1.sku", "equals", "B-2", True),
        ("items.2.sku", "is_empty", None, True),  # out of range: absent
        ("items.x.sku", "is_empty", None, True),  # not an index: absent
        ("items.-1.sku", "is_empty", None, True),
        ("0", "equals", "zero key", True),  # digits are dict keys on a dict
        ("form.name.first", "is_empty", None, True),  # through a string: absent
        ("missing.deep.path", "not_equals", "x", True),
        ("missing", "equals", "x", False),
        # text operators on the text form of the value
        ("form.amount", "equals", "1500", True),
        ("ratio", "equals", "1500", True),  # 1500.0 reads as 1500
        ("paid", "equals", "TRUE", True),
        ("form.name", "contains", "звон", True),
        ("form.name", "not_contains", "звон", False),
        ("form.name", "any_of", "Заявка, обратный звонок", True),
        ("form.name", "any_of", ["Заявка", "Покупка"], False),
        ("tags", "contains", "vip", True),  # a list reads as its JSON
        ("tags", "is_not_empty", None, True),
        ("nested", "is_empty", None, True),  # {} is empty
        ("form.empty", "is_empty", None, True),
        ("form.none", "is_empty", None, True),
        ("form.none", "not_contains", "x", True),
        ("form.none", "not_equals", "x", True),
        ("form.none", "equals", "x", False),
        # numeric operators on numbers and numeric strings
        ("form.amount", "eq", 1500, True),
        ("form.amount", "gt", 1000, True),
        ("form.amount", "gt", 1500, False),
        ("form.amount", "gte", 1500, True),
        ("form.amount", "lt", 1500, False),
        ("form.amount", "lte", 1500, True),
        ("form.amount", "ne", 1500, False),
        ("form.price", "gt", 2500, True),
        ("form.price", "eq", 2500.5, True),
        ("form.name", "gt", 0, False),  # not a number
        ("form.name", "ne", 0, True),
        ("missing", "eq", 0, False),
        ("missing", "ne", 0, True),
    ],
)
def test_event_data(path, operator, value, expected):
    params = {"path": path, "operator": operator, "value": value}
    assert event_data.evaluate(params, ctx(event=event())) is expected


def test_event_data_case_sensitive():
    params = {"path": "form.name", "operator": "equals", "value": "обратный звонок", "case_sensitive": True}
    assert not event_data.evaluate(params, ctx(event=event()))
    params["value"] = "Обратный звонок"
    assert event_data.evaluate(params, ctx(event=event()))


@pytest.mark.parametrize(("operator", "expected"), ABSENT_EXPECTED)
@pytest.mark.parametrize(
    "ev", [None, {"id": "1"}, event(data=None), event(data={})], ids=["none", "no data", "None", "{}"]
)
def test_event_data_without_an_event(operator, expected, ev):
    assert (
        event_data.evaluate({"path": "form.name", "operator": operator, "value": "x"}, ctx(event=ev))
        is expected
    )


# ---------------------------------------------------------------- the shared helpers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a, b ,c", ["a", "b", "c"]),
        (["a ", " b", ""], ["a", "b"]),
        ("", []),
        (None, []),
        (",,", []),
        ("Москва", ["Москва"]),
        ([1, 2.0], ["1", "2"]),
    ],
)
def test_split_list(value, expected):
    assert _operators.split_list(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00+00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T13:00:00+03:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00.123456Z", datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-01T10:00:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
        (12345, None),
    ],
)
def test_to_datetime(value, expected):
    parsed = _operators.to_datetime(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset().total_seconds() == 0
