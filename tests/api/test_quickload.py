"""QuickLoader against marshmallow's own ``Schema.load``, on generated input.

The quick loader may give up (None) on anything; whenever it answers, the answer must be the
schema's, key for key and in the same order, and it must never answer where the schema refuses.
It must also really answer the plain, valid items the API receives — else the fast path is dead.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, post_load, validate, validates_schema
from marshmallow import fields as mf

from plugin.ingest import schemas
from plugin.ingest.quickload import QuickLoader

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCHEMAS = [
    schemas.VisitIn,
    schemas.ClientIn,
    schemas.ClientWithId,
    schemas.OrderIn,
    schemas.OrderWithId,
    schemas.CustomEventIn,
]

texts = st.one_of(
    st.text(max_size=5),
    st.sampled_from(
        [
            "",
            " ",
            " a ",
            "a/b",
            "Новая",
            "paid",
            "in_work",
            "cancelled",
            "PAID",
            "x" * 64,
            "x" * 65,
            "y" * 200,
            "y" * 201,
            "z" * 500,
            "z" * 501,
            "w" * 2000,
            "w" * 2001,
            "2026-11-28T10:00:00",
            "2026-11-28T10:00:00+03:00",
            "2026-11-28",
            "not a date",
            "12.5",
            "1e3",
            "NaN",
            "inf",
        ]
    ),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**53, 2**53 + 1, -(2**53), -(2**53) - 1, 10**64, 10**65, True, False]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), texts, numbers)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def items_for(schema_class):
    names = sorted(schema_class().load_fields)
    keys = st.sampled_from([*names, "unknown", "ID"])
    client = st.fixed_dictionaries(
        {"external_id": st.one_of(texts, numbers)},
        optional={"name": texts, "phone": scalars, "fields": values},
    )
    return st.dictionaries(keys, st.one_of(values, client), max_size=len(names) + 1)


def same_as_schema(schema: Schema, data) -> bool:
    quick = QuickLoader(schema).load(data)
    try:
        expected = schema.load(data)
    except ValidationError:
        assert quick is None, f"the quick loader accepted what the schema refuses: {data!r} -> {quick!r}"
        return False
    if quick is None:
        return False
    assert list(quick.items()) == list(expected.items()) or _same_nan(quick, expected), (
        data,
        quick,
        expected,
    )
    assert list(quick) == list(expected)
    return True


def _same_nan(a: dict, b: dict) -> bool:
    """Equal but for NaN in Dict fields (both sides hold the very same objects)."""
    return list(a) == list(b) and all(
        x is y or x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
        for x, y in zip(a.values(), b.values(), strict=True)
    )


@pytest.mark.parametrize("schema_class", SCHEMAS, ids=lambda s: s.__name__)
def test_the_quick_loader_answers_as_the_schema_or_not_at_all(schema_class):
    schema = schema_class()
    assert QuickLoader(schema).usable

    @SETTINGS
    @given(items_for(schema_class))
    def check(data):
        same_as_schema(schema, data)

    check()


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries(
            {"name": st.text(min_size=1, max_size=20)},
            optional={
                "id": st.one_of(
                    st.text(alphabet="abc-1", min_size=1, max_size=10).map(lambda s: f" {s} "),
                    st.integers(min_value=0, max_value=10**12),
                ),
                "client_id": st.one_of(st.none(), st.text(alphabet="c0123", min_size=1, max_size=8)),
                "visit_id": st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)),
                "data": st.dictionaries(st.text(max_size=4), scalars, max_size=4),
                "created_at": st.sampled_from([None, "2026-11-28T10:00:00Z", "2026-11-28T10:00:00"]),
            },
        ),
        min_size=1,
        max_size=5,
    )
)
def test_plain_valid_custom_events_are_loaded_quickly(items):
    schema = schemas.CustomEventIn()
    assert all(same_as_schema(schema, item) for item in items)
    assert QuickLoader(schema).load_many(items) == schema.load(items, many=True)


def test_plain_valid_orders_and_visits_are_loaded_quickly():
    order = {
        "id": "o-1",
        "price": 1500.5,
        "cost": 0,
        "status": "Новая",
        "client_id": "c7",
        "fields": {"source": "x"},
        "created_at": "2026-11-28T10:00:00+03:00",
        "client": {"external_id": 7, "name": "Анна"},
    }
    visit = {
        "id": 42,
        "ip": "10.0.0.1",
        "utm_source": "google",
        "landing_page": "https://x.test/?a=1",
        "created_at": "2026-11-28T10:00:00+03:00",
        "client_id": None,
    }
    assert same_as_schema(schemas.OrderWithId(), order)
    assert same_as_schema(schemas.VisitIn(), visit)
    loaded = QuickLoader(schemas.OrderWithId()).load(order)
    assert loaded["cost"] == 0.0 and type(loaded["cost"]) is float and loaded["client"]["external_id"] == "7"


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"name": "x" * 201},
        {"name": None},
        {"name": "a", "data": None},
        {"name": "a", "id": "a/b"},
        {"name": "a", "id": True},
        {"name": "a", "data": []},
        {"name": "a", "extra": 1},
        {"id": "1"},
        {"name": "a", "created_at": "yesterday"},
        {"name": 5},
    ],
)
def test_what_the_schema_refuses_is_never_loaded_quickly(bad):
    assert QuickLoader(schemas.CustomEventIn()).load(bad) is None
    with pytest.raises(ValidationError):
        schemas.CustomEventIn().load(bad)


def test_a_loaded_dict_is_a_copy_as_marshmallow_makes():
    data = {"a": 1}
    loaded = QuickLoader(schemas.CustomEventIn()).load({"name": "n", "data": data})
    assert loaded == {"name": "n", "data": {"a": 1}} and loaded["data"] is not data


def test_a_missing_data_gets_its_load_default_each_time():
    quick = QuickLoader(schemas.CustomEventIn())
    first, second = quick.load({"name": "n"}), quick.load({"name": "n"})
    assert first == {"name": "n", "data": {}} and first["data"] is not second["data"]


def test_floats_beyond_the_exact_range_and_specials_go_to_the_schema():
    quick = QuickLoader(schemas.OrderIn())
    for value in (2**53 + 1, 10**400, float("nan"), float("inf"), True, "12.5"):
        assert quick.load({"price": value}) is None
    assert quick.load({"price": -(2**53)}) == {"price": float(-(2**53))}


class WithHook(Schema):
    a = mf.String()

    @post_load
    def upper(self, data, **kwargs):
        return {k: v.upper() for k, v in data.items()}


class WithSchemaValidator(Schema):
    a = mf.String()

    @validates_schema
    def never(self, data, **kwargs):
        raise ValidationError("no")


class WithDataKey(Schema):
    a = mf.String(data_key="b")


class WithOtherValidator(Schema):
    a = mf.String(validate=validate.Regexp("^x"))


@pytest.mark.parametrize("schema_class", [WithHook, WithSchemaValidator, WithDataKey])
def test_schemas_it_does_not_understand_are_never_loaded_quickly(schema_class):
    quick = QuickLoader(schema_class())
    assert not quick.usable and quick.load({"a": "x"}) is None and quick.load({"b": "x"}) is None


def test_a_validator_it_does_not_know_runs_through_the_field_itself():
    quick = QuickLoader(WithOtherValidator())
    assert quick.usable
    assert quick.load({"a": "xy"}) == {"a": "xy"} and quick.load({"a": "yx"}) is None
