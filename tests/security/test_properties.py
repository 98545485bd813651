"""Properties over arbitrary input: templating fails only with TemplateError, conditions never fail."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.engine import templating
from plugin.engine.variables import VARIABLES, resolve
from plugin.nodes import operators as ops
from plugin.nodes.conditions._visit import ip_match
from plugin.registry import get_registry
from tests.security.conftest import leaks

SETTINGS = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

# -- values --------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            " ",
            "0",
            "1e3",
            " 120.5 ",
            "1_000",
            "Москва",
            "::ffff:10.0.0.1",
            "10.0.0.0/8",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "2026-01-01",
            "{{ 7*7 }}",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "id",
    "ip",
    "city",
    "country",
    "referrer",
    "domain",
    "landing_page",
    "marker",
    "utm_source",
    "utm_medium",
    "roistat_param_1",
    "name",
    "email",
    "phone",
    "company",
    "external_id",
    "price",
    "cost",
    "status",
    "created_at",
    "paid_at",
    "meta_id",
    "data",
    "fields",
]
records = st.none() | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), json_values, max_size=8)
contexts = st.fixed_dictionaries({"visit": records, "order": records, "client": records, "event": records})

# -- templates -----------------------------------------------------------------------------

FRAGMENTS = [
    "{{",
    "}}",
    "{%",
    "%}",
    "{",
    "}",
    " ",
    "(",
    ")",
    "[",
    "]",
    "'",
    '"',
    ",",
    ".",
    ":",
    "|",
    "~",
    "*",
    "**",
    "+",
    "-",
    "%",
    "=",
    "==",
    "0",
    "1",
    "9",
    "x",
    "a",
    "client",
    "order",
    "visit",
    "event",
    "roistat",
    "name",
    "price",
    "data",
    "fields",
    "loop",
    "range",
    "self",
    "for ",
    " in ",
    "endfor",
    "if ",
    "else",
    "endif",
    "set ",
    "macro ",
    "endmacro",
    "raw",
    "endraw",
    "upper",
    "join",
    "format",
    "string",
    "list",
    "attr",
    "replace",
    "center",
    "items",
    "__class__",
    "__globals__",
    "_",
    "{client_name}",
    "{order_id}",
    "{event_data}",
    "{clinet_name}",
    "{##",
    "##}",
    "\n",
    "Привет",
]
templates = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=24).map("".join)
jinja_like = st.tuples(
    st.sampled_from(["{{ ", "{% if ", "{% for x in ", "{{ ("]),
    st.lists(st.sampled_from(FRAGMENTS), max_size=10).map("".join),
    st.sampled_from([" }}", " %}{% endif %}", " %}{{ x }}{% endfor %}", ") }}", "|join }}", "|string }}"]),
).map("".join)


@SETTINGS
@given(
    template=templates | jinja_like, context=contexts, channel=st.sampled_from(sorted(templating.ESCAPERS))
)
def test_render_fails_only_with_template_error_and_prints_no_python_object(template, context, channel):
    try:
        out = templating.render(template, context, channel)
    except templating.TemplateError as exc:
        out = str(exc)
    assert isinstance(out, str)
    new = [m for m in leaks(out) if m not in template]
    assert not new, (new, out[:300])


@SETTINGS
@given(template=templates | jinja_like)
def test_check_never_raises(template):
    problems = templating.check(template)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)


# -- Roistat-only templates ----------------------------------------------------------------

NAMES = [v["name"] for v in VARIABLES]
literal = st.text(
    alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=12
)
css = st.sampled_from(
    [".t-emailBlock { padding: 0 }", "a{#x}", "{ }", "{Client_name}", "{1x}", "{ client_name }"]
)
parts = st.lists(
    st.tuples(st.just("lit"), literal | css) | st.tuples(st.just("var"), st.sampled_from(NAMES)), max_size=12
)

INDEPENDENT_ESCAPES = {
    "text": lambda v: v,
    "sms": lambda v: v,
    "html": lambda v: html.escape(v, quote=True),
    "telegram": lambda v: html.escape(v, quote=False),
    "slack": lambda v: v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    "json": lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
}


@SETTINGS
@given(parts=parts, context=contexts, channel=st.sampled_from(sorted(INDEPENDENT_ESCAPES)))
def test_roistat_templates_render_exactly_the_escaped_substitution(parts, context, channel):
    template = "".join(f"{{{text}}}" if kind == "var" else text for kind, text in parts)
    escape = INDEPENDENT_ESCAPES[channel]
    expected = "".join(escape(resolve(text, context)) if kind == "var" else text for kind, text in parts)
    assert templating.render(template, context, channel) == expected
    assert templating.check(template) == []


# -- condition operators -------------------------------------------------------------------

COMPLEMENTS = [("equals", "not_equals"), ("contains", "not_contains"), ("is_empty", "is_not_empty")]


@SETTINGS
@given(actual=json_values, expected=json_values, case_sensitive=st.booleans())
def test_text_operators_are_total_and_not_operators_are_complements(actual, expected, case_sensitive):
    results = {}
    for operator in ops.TEXT_OPERATORS:
        for item_match in (None, ip_match):
            result = ops.text_match(
                operator, actual, expected, case_sensitive=case_sensitive, item_match=item_match
            )
            assert isinstance(result, bool)
            results[operator, item_match] = result
    for positive, negative in COMPLEMENTS:
        for item_match in (None, ip_match):
            assert results[positive, item_match] is not results[negative, item_match], (positive, negative)
    if ops.is_absent(actual):  # SPEC §3.2: absent data is false for positive operators
        for operator in ops.TEXT_OPERATORS:
            assert results[operator, None] is (operator in ops.TRUE_WHEN_ABSENT)


@SETTINGS
@given(actual=json_values, expected=json_values)
def test_numeric_operators_are_total_and_ne_complements_eq(actual, expected):
    results = {op: ops.numeric_match(op, actual, expected) for op in ops.NUMERIC_OPERATORS}
    assert all(isinstance(r, bool) for r in results.values())
    if ops.to_number(expected) is not None:
        assert results["eq"] is not results["ne"]
        if ops.to_number(actual) is not None:
            assert results["gt"] is (not results["lte"])
            assert results["lt"] is (not results["gte"])
    for operator in ops.TEXT_OPERATORS + ops.NUMERIC_OPERATORS:
        assert isinstance(ops.match(operator, actual, {"value": expected}), bool)


@SETTINGS
@given(value=json_values)
def test_coercions_are_total(value):
    assert isinstance(ops.to_text(value), str)
    assert ops.to_number(value) is None or isinstance(ops.to_number(value), float)
    assert ops.to_datetime(value) is None or ops.to_datetime(value).tzinfo is not None
    assert all(isinstance(item, str) for item in ops.split_list(value))


CONDITIONS = sorted((n for n in get_registry().of_kind("condition")), key=lambda n: n.type)


@pytest.mark.parametrize("spec", CONDITIONS, ids=[n.type for n in CONDITIONS])
@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    context=contexts,
    count=st.none() | st.integers(min_value=0, max_value=10**6),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_every_condition_is_total_on_arbitrary_contexts(spec, context, count, now):
    examples = spec.schema.get("examples") or [{}]
    for params in examples:
        for operator in _operators_of(spec):
            verdict = spec.module.evaluate(
                {**params, "operator": operator}, {**context, "now": now, "client_orders_count": count}
            )
            assert isinstance(verdict, bool), (spec.type, params)
    if set(_operators_of(spec)) >= {"in", "not_in"}:
        for params in examples:
            ctx = {**context, "now": now}
            assert spec.module.evaluate({**params, "operator": "in"}, ctx) is not spec.module.evaluate(
                {**params, "operator": "not_in"}, ctx
            )


def _operators_of(spec) -> list[str]:
    operator = spec.schema.get("properties", {}).get("operator", {})
    values = operator.get("enum") or [v.get("const") for v in operator.get("oneOf", []) if "const" in v]
    return values or [None]


@pytest.mark.parametrize(
    ("node_type", "params", "order"),
    [
        ("condition.order_price", {"operator": "gt", "value": 1}, {"price": 10**400}),
        (
            "condition.order_created_age",
            {"operator": "older_than_days", "value": 1},
            {"created_at": "9999-12-31T23:59:59-01:00"},
        ),
        (
            "condition.order_paid_age",
            {"operator": "newer_than_days", "value": 1},
            {"paid_at": "0001-01-01T00:00:00+01:00"},
        ),
    ],
)
def test_node_execute_answers_out_of_range_data_instead_of_a_500(api, node_type, params, order):
    # found by the properties above: float(10**400) and astimezone() past year 9999 raised OverflowError
    body = {"params": params, "context": {"order": {"id": "1", **order}}}
    response = api.post(f"/api/v1/nodes/{node_type}/execute", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"result": False}
