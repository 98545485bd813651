"""condition.group: all / any / none verdicts with each inner one in the trace, nesting to depth 3,
and the validator's problems inside a group with their full JSON paths (Russian and English)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise, product

import pytest

from plugin.engine import validation
from plugin.engine.graph import prepare_condition
from plugin.messages import render
from plugin.nodes.conditions import group
from plugin.registry import get_registry

REGISTRY = get_registry()
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CONTEXT = {
    "visit": {"city": "Москва"},
    "order": {"id": "1", "price": 70000, "status": "Новая"},
    "client": {"external_id": "c1", "fields": {"vip": "нет"}},
    "event": None,
    "client_orders_count": 2,
    "now": NOW,
}
TRUE = [
    {"type": "condition.order_price", "params": {"operator": "gt", "value": 50000}},
    {"type": "condition.visit_city", "params": {"operator": "equals", "value": "москва"}},
]
FALSE = [
    {"type": "condition.client_field", "params": {"path": "vip", "operator": "equals", "value": "да"}},
    {"type": "condition.order_status", "params": {"operator": "in", "value": ["Оплачен"]}},
]


def expected(mode: str, verdicts: list[bool]) -> bool:
    return {"all": all(verdicts), "any": any(verdicts), "none": not any(verdicts)}[mode]


@pytest.mark.parametrize("mode", ["all", "any", "none"])
@pytest.mark.parametrize("verdicts", [v for n in (1, 2, 3) for v in product([True, False], repeat=n)])
def test_verdict_of_every_mode_and_every_combination(mode, verdicts):
    items = [(TRUE if v else FALSE)[i % 2] for i, v in enumerate(verdicts)]
    params = {"mode": mode, "conditions": items}
    trace = group.explain(params, CONTEXT)
    assert trace == {
        "verdict": expected(mode, list(verdicts)),
        "mode": mode,
        "items": [{"type": item["type"], "verdict": v} for item, v in zip(items, verdicts, strict=True)],
    }
    assert group.evaluate(params, CONTEXT) is trace["verdict"]
    assert group.prepare(params)(CONTEXT) is trace["verdict"]  # the prepared (short-circuit) test agrees


def test_the_issue_s_vip_example_any_of_price_or_client_list():
    vip = {"mode": "any", "conditions": [TRUE[0], FALSE[0]]}
    assert group.evaluate(vip, CONTEXT) is True
    cheap = {**CONTEXT, "order": {**CONTEXT["order"], "price": 100}}
    assert group.evaluate(vip, cheap) is False
    listed = {**cheap, "client": {"external_id": "c1", "fields": {"vip": "Да"}}}
    assert group.explain(vip, listed)["items"] == [
        {"type": "condition.order_price", "verdict": False},
        {"type": "condition.client_field", "verdict": True},
    ]


def test_nested_groups_trace_every_level():
    inner = {"mode": "none", "conditions": [FALSE[1]]}
    middle = {"mode": "all", "conditions": [TRUE[1], {"type": "condition.group", "params": inner}]}
    top = {"mode": "any", "conditions": [FALSE[0], {"type": "condition.group", "params": middle}]}
    assert group.explain(top, CONTEXT) == {
        "verdict": True,
        "mode": "any",
        "items": [
            {"type": "condition.client_field", "verdict": False},
            {
                "type": "condition.group",
                "verdict": True,
                "mode": "all",
                "items": [
                    {"type": "condition.visit_city", "verdict": True},
                    {
                        "type": "condition.group",
                        "verdict": True,
                        "mode": "none",
                        "items": [{"type": "condition.order_status", "verdict": False}],
                    },
                ],
            },
        ],
    }
    check = prepare_condition({"type": "condition.group", "params": top}, REGISTRY)
    assert check.test(CONTEXT) is True and check.access is None  # never indexed


def test_an_inner_condition_that_raises_is_a_false_verdict():
    broken = {"type": "condition.order_price", "params": {"operator": "bogus", "value": 1}}
    params = {"mode": "any", "conditions": [broken, TRUE[0]]}
    assert group.explain(params, CONTEXT)["items"][0] == {"type": "condition.order_price", "verdict": False}
    assert group.evaluate(params, CONTEXT) is True
    assert group.prepare(params)(CONTEXT) is True
    assert group.evaluate({"mode": "none", "conditions": [broken]}, CONTEXT) is True


# -- validation ---------------------------------------------------------------------------------


def nest(depth: int) -> dict:
    """Params of a group nested ``depth`` levels deep (1: a group with a plain condition)."""
    params = {"mode": "all", "conditions": [TRUE[0]]}
    for _ in range(depth - 1):
        params = {"mode": "all", "conditions": [{"type": "condition.group", "params": params}]}
    return params


def flow(*groups: dict, event: str = "event.order_created") -> dict:
    nodes = [{"id": "start", "type": event, "params": {}}]
    nodes += [{"id": f"g{i}", "type": "condition.group", "params": p} for i, p in enumerate(groups)]
    nodes.append(
        {"id": "hook", "type": "action.webhook", "params": {"url": "https://h.example/x"}},
    )
    ids = [n["id"] for n in nodes]
    return {"name": "Группы", "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in pairwise(ids)]}


def problems(doc: dict) -> list[tuple[str, str, str]]:
    return [
        (p["path"], render(p["message"], "ru"), render(p["message"], "en"))
        for p in validation.validate_flow(doc, REGISTRY)
    ]


def test_three_levels_are_accepted_and_a_fourth_is_a_problem_at_its_path():
    assert problems(flow(nest(1), nest(2), nest(3))) == []
    [(path, ru, en)] = problems(flow(nest(4)))
    assert path == "/nodes/1/params/conditions/0/params/conditions/0/params/conditions/0/type"
    assert ru.startswith("Группы условий вкладываются не глубже 3 уровней")
    assert "at most 3 levels" in en


def test_inner_params_are_checked_against_their_own_schema_with_the_full_path():
    doc = flow(
        {
            "mode": "any",
            "conditions": [
                TRUE[0],
                {"type": "condition.order_price", "params": {"operator": "gt", "value": "десять"}},
                {"type": "condition.group", "params": {"mode": "all", "conditions": [
                    {"type": "condition.visit_utm", "params": {"operator": "equals", "value": "x"}},
                ]}},
                {"type": "condition.nosuch", "params": {}},
            ],
        }
    )  # fmt: skip
    doc["nodes"].insert(1, {"id": "x", "type": "action.webhook", "params": {"url": "https://h.example/y"}})
    doc["edges"].append({"from": "start", "to": "x"})
    assert problems(doc) == [
        ("/nodes/2/params/conditions/1/params/value", "Сумма: нужно число, а не «десять»", "'десять' is not of type 'number'"),
        ("/nodes/2/params/conditions/2/params/conditions/0/params/tag", "Метка: обязательное поле — заполните его", "'tag' is a required property"),
        ("/nodes/2/params/conditions/3/type", "Неизвестный тип условия «condition.nosuch» в группе условий", "unknown condition type 'condition.nosuch'"),
    ]  # fmt: skip


def test_the_group_s_own_schema_comes_first():
    found = problems(flow({"mode": "most", "conditions": []}))
    assert [p[0] for p in found] == ["/nodes/1/params/conditions", "/nodes/1/params/mode"]
    found = problems(flow({"mode": "all", "conditions": [{"type": "action.slack", "params": {}}]}))
    assert [p[0] for p in found] == ["/nodes/1/params/conditions/0/type"]


def test_an_inner_condition_the_event_cannot_have_is_named_at_its_path():
    data = {"type": "condition.event_data", "params": {"path": "a", "operator": "is_empty"}}
    doc = flow(
        {
            "mode": "all",
            "conditions": [
                TRUE[0],
                {"type": "condition.group", "params": {"mode": "any", "conditions": [data]}},
            ],
        }
    )
    [(path, ru, _en)] = problems(doc)
    assert path == "/nodes/1/params/conditions/1/params/conditions/0/type"
    assert ru.startswith("Условие «Данные события» работает только с событием «Пользовательское событие»")
    custom = {**doc, "nodes": [{"id": "start", "type": "event.custom", "params": {}}, *doc["nodes"][1:]]}
    assert [p[0] for p in problems(custom)] == [
        "/nodes/1/params/conditions/0/type"
    ]  # order_price: orders only
