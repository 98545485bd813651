"""The flow index returns exactly what plain evaluation returns (differential, property-based).

Plain evaluation is what dispatch did before the index filed conditions: every enabled flow of
the trigger, its event node's ``matches``, then the graph walked node by node with each
condition module's ``evaluate`` (no prepared tests, no chain short-cut). The index must select
the same flows for any flows and any context: Cyrillic and case folding, comma lists, absent
data, numbers given as strings, negative operators (never equality-indexed), invalid params,
false branches, delays and graphs that are not a straight line.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.engine.context import for_conditions
from plugin.engine.graph import Graph
from plugin.engine.index import FlowIndex
from plugin.nodes.operators import NUMERIC_OPERATORS, TEXT_OPERATORS, to_number
from plugin.registry import get_registry

REGISTRY = get_registry()
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CITIES = [
    "Москва",
    "МОСКВА",
    "москва",
    " Москва ",
    "Санкт-Петербург",
    "Казань",
    "ёлка",
    "Ёлка",
    "елка",
    "STRASSE",
    "straße",
    "Omsk",
]
SOURCES = ["yandex", "Yandex", "google", "vk", "e-mail", ""]
STATUSES = ["Новая", "новая", "В работе", "Оплачен", "ОПЛАЧЕН", "Отказ"]
NAMES = ["form_submit", "Form_Submit", " form_submit ", "cart", "Корзина", "корзина"]
NUMBERS = [0, 1, 3, 5, 100, 999.5, 1000, 1000.0, 5000, -1]
NUMERIC_TEXT = ["100", " 1000 ", "1e3", "5000.0", "1_000", "abc", "", "  ", "nan", "inf"]
IPS = ["10.1.2.3", "192.168.1.7", "5.255.255.9", "::ffff:10.0.0.1", "2001:db8::1", "not an ip", "93.1.1.1"]
IP_VALUES = ["10.0.0.0/8", "192.168.0.0/16, 5.255.255.0/24", "2001:db8::/32", "93.1.1.1", "bad/99", ""]
TRIGGER_OF = {
    "event.custom": "custom_event",
    "event.order_created": "order_created",
    "event.order_status_changed": "order_status_changed",
    "event.visit_created": "visit_created",
}

texts = st.sampled_from(CITIES + SOURCES + STATUSES + NAMES)
text_values = st.one_of(
    texts,
    st.lists(texts, max_size=3),
    st.lists(texts, min_size=1, max_size=3).map(", ".join),
    st.sampled_from(NUMBERS + NUMERIC_TEXT),
    st.none(),
)
numeric_values = st.one_of(st.sampled_from(NUMBERS), st.sampled_from(NUMERIC_TEXT), st.none(), st.booleans())
scalars = st.one_of(
    texts,
    st.sampled_from(NUMBERS + NUMERIC_TEXT),
    st.none(),
    st.booleans(),
    st.just([]),
    st.just({}),
    st.lists(texts, max_size=2),
)


def _text_params(draw, *, ips=False) -> dict:
    params = {"operator": draw(st.sampled_from((*TEXT_OPERATORS, "bogus")))}
    if draw(st.booleans()) or params["operator"] != "is_empty":
        params["value"] = draw(st.sampled_from(IP_VALUES + IPS) if ips else text_values)
    if draw(st.integers(0, 3)) == 0:
        params["case_sensitive"] = True
    return params


@st.composite
def conditions(draw, event_type: str, depth: int = 1) -> dict:
    if depth <= 3 and draw(st.integers(0, 7)) == 0:  # a group of conditions (never indexed: exact)
        inner = draw(st.lists(conditions(event_type, depth + 1), min_size=1, max_size=3))
        mode = draw(st.sampled_from(["all", "any", "none", "bogus"]))
        return {"type": "condition.group", "params": {"mode": mode, "conditions": inner}}
    kinds = ["visit_city", "visit_utm", "visit_ip", "visit_roistat_param", "client_orders_count"]
    if event_type != "event.visit_created" and event_type != "event.custom":
        kinds += ["order_price", "order_price", "order_status", "order_status", "order_created_age"]
    if event_type == "event.custom":
        kinds += ["event_data", "event_data", "event_data"]
    kind = draw(st.sampled_from(kinds))
    if kind == "visit_city":
        params = _text_params(draw)
    elif kind == "visit_utm":
        params = {**_text_params(draw), "tag": draw(st.sampled_from(["utm_source", "utm_medium"]))}
    elif kind == "visit_ip":
        params = _text_params(draw, ips=True)
    elif kind == "visit_roistat_param":
        params = {**_text_params(draw), "index": draw(st.sampled_from([1, 2, "x"]))}
    elif kind in ("order_price", "client_orders_count"):
        params = {
            "operator": draw(st.sampled_from((*NUMERIC_OPERATORS, "gt", "gte", "lt", "lte", "bogus"))),
            "value": draw(numeric_values),
        }
    elif kind == "order_status":
        params = {
            "operator": draw(st.sampled_from(["in", "in", "not_in", "bogus"])),
            "value": draw(
                st.one_of(
                    st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3),
                    st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3).map(",".join),
                )
            ),
        }
    elif kind == "order_created_age":
        params = {
            "operator": draw(st.sampled_from(["older_than_days", "newer_than_days", "bogus"])),
            "value": draw(st.sampled_from([0, 1, 10, "x"])),
        }
    else:
        operator = draw(st.sampled_from((*TEXT_OPERATORS, *NUMERIC_OPERATORS, "gt", "gt", "gte", "lt")))
        value = draw(numeric_values if operator in NUMERIC_OPERATORS else text_values)
        params = {
            "path": draw(st.sampled_from(["form.amount", "form.page", "items.0.sku", "n"])),
            "operator": operator,
            "value": value,
        }
        if draw(st.integers(0, 3)) == 0:
            params["case_sensitive"] = True
    if draw(st.integers(0, 10)) == 0:
        params.pop("operator")  # the module's default operator
    return {"type": f"condition.{kind}", "params": params}


@st.composite
def event_nodes(draw) -> dict:
    event_type = draw(st.sampled_from(sorted(TRIGGER_OF)))
    params: dict = {}
    if event_type == "event.custom":
        name = draw(st.one_of(st.sampled_from([*NAMES, "", "cart, Form_Submit"]), st.none()))
        if name is not None:
            params["name"] = name
    elif event_type == "event.order_status_changed":
        for key in ("to", "from"):
            if draw(st.booleans()):
                params[key] = draw(st.lists(st.sampled_from(STATUSES), max_size=2))
    return {"id": "start", "type": event_type, "params": params}


@st.composite
def flows(draw, i: int) -> dict:
    """A flow: mostly straight lines (event → conditions / delays → action), sometimes not."""
    event = draw(event_nodes())
    conds = [{"id": f"c{k}", **draw(conditions(event["type"]))} for k in range(draw(st.integers(0, 3)))]
    nodes = [
        event,
        *conds,
        {"id": "A", "type": "action.webhook", "params": {"url": f"https://h.example/{i}"}},
    ]
    shape = draw(
        st.sampled_from(
            ["chain", "chain", "chain", "delay", "false_branch", "parallel", "dead_end", "disabled", "split"]
        )
    )
    path = ["start"] + [c["id"] for c in conds] + ["A"]
    edges = [{"from": a, "to": b} for a, b in pairwise(path)]
    if shape == "delay" and conds:
        nodes.append({"id": "d", "type": "flow.delay", "params": {"amount": 1, "unit": "hours"}})
        edges[0] = {"from": "start", "to": "d"}
        edges.insert(1, {"from": "d", "to": path[1]})
    elif shape == "false_branch" and conds:  # the first condition's false branch reaches B
        nodes.append({"id": "B", "type": "action.webhook", "params": {"url": "https://h.example/b"}})
        edges.append({"from": "c0", "to": "B", "branch": "false"})
    elif shape == "parallel" and len(conds) >= 2:  # event → c0 → A and event → c1 → A
        edges = [
            {"from": "start", "to": "c0"},
            {"from": "c0", "to": "A"},
            {"from": "start", "to": "c1"},
            {"from": "c1", "to": "A", "branch": "true"},
        ]
        edges += [{"from": c["id"], "to": "A"} for c in conds[2:]]
    elif shape == "dead_end" and conds:  # the last condition leads nowhere
        edges = edges[:-1]
    elif shape == "disabled" and conds:
        conds[0]["disabled"] = True
    elif shape == "split":  # event → split: variant A the path, B an action or nothing (a control group)
        variants = [{"key": "A", "weight": 1}, {"key": "B", "weight": 1}]
        nodes.append({"id": "s", "type": "flow.split", "params": {"variants": variants}})
        edges[0] = {"from": "s", "to": path[1], "branch": "A"}
        edges.insert(0, {"from": "start", "to": "s"})
        if draw(st.booleans()):
            nodes.append({"id": "B", "type": "action.webhook", "params": {"url": "https://h.example/b"}})
            edges.append({"from": "s", "to": "B", "branch": "B"})
    return {"nodes": nodes, "edges": edges}


@st.composite
def contexts(draw) -> tuple[str, dict, dict]:
    """(trigger, event data, run context)."""
    trigger = draw(st.sampled_from(sorted(TRIGGER_OF.values())))
    visit = None
    if draw(st.integers(0, 5)):
        visit = {
            "city": draw(scalars),
            "utm_source": draw(st.one_of(st.sampled_from(SOURCES), scalars)),
            "utm_medium": draw(scalars),
            "ip": draw(st.one_of(st.sampled_from(IPS), scalars)),
            "roistat_param_1": draw(scalars),
        }
        if draw(st.booleans()):
            visit["city"] = draw(st.sampled_from(CITIES))
    order = None
    if draw(st.integers(0, 5)):
        order = {
            "price": draw(
                st.one_of(
                    st.sampled_from(NUMBERS),
                    st.sampled_from(NUMERIC_TEXT),
                    st.floats(-10, 6000, allow_nan=False),
                    st.none(),
                )
            ),
            "status": draw(st.one_of(st.sampled_from(STATUSES), scalars)),
            "created_at": draw(
                st.sampled_from(
                    [
                        None,
                        "2026-11-20T10:00:00Z",
                        "2026-11-28T11:00:00+03:00",
                        "garbage",
                        (NOW - timedelta(days=5)).isoformat(),
                    ]
                )
            ),
        }
    data: dict = {}
    event = None
    if trigger == "custom_event":
        name = draw(st.one_of(st.sampled_from([*NAMES, "unknown", "CART"]), st.none()))
        data = {"name": name} if name is not None else {}
        payload = {
            "form": {
                "amount": draw(st.one_of(st.sampled_from(NUMBERS + NUMERIC_TEXT), scalars)),
                "page": draw(scalars),
            },
            "items": draw(st.sampled_from([[], [{"sku": "Корзина"}], "x"])),
            "n": draw(scalars),
        }
        event = {"id": "e", "name": name, "data": payload if draw(st.integers(0, 5)) else None}
    elif trigger == "order_status_changed":
        data = {
            "to": draw(st.one_of(st.sampled_from(STATUSES), st.none())),
            "from": draw(st.one_of(st.sampled_from(STATUSES), st.none())),
        }
    context = {
        "visit": visit,
        "order": order,
        "client": None,
        "event": event,
        "client_orders_count": draw(st.one_of(st.integers(0, 6), st.sampled_from([None, "3", " 2 ", "x"]))),
    }
    return trigger, data, context


def _rows(definitions: list[dict]) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(
            id=f"f{i}",
            name=f"flow {i}",
            version=1,
            event_type=d["nodes"][0]["type"],
            definition=d,
            enabled_at=None,
        )
        for i, d in enumerate(definitions)
    ]


def plain(rows, trigger: str, data: dict, cond_ctx: dict) -> list[str]:
    """The unindexed evaluation: event node ``matches``, then the graph walked with ``evaluate``."""
    out = []
    for row in rows:
        if TRIGGER_OF[row.event_type] != trigger:
            continue
        graph = Graph(row.definition, REGISTRY)
        node = graph.nodes[graph.event_id]
        if not REGISTRY[node["type"]].module.matches(
            node.get("params") or {}, {"type": trigger, "data": data}
        ):
            continue
        graph.chain = None  # node by node, with each module's evaluate
        if graph.reaches_action(cond_ctx, cond_ctx=cond_ctx):
            out.append(row.id)
    return out


def indexed(rows) -> FlowIndex:
    index = FlowIndex(REGISTRY)
    index.build(rows)
    return index


def _ids(matches) -> list[str]:
    return [info["id"] for info, _definition, _graph, _spec in matches]


@SETTINGS
@given(data=st.data())
def test_index_selects_exactly_the_flows_plain_evaluation_selects(data):
    rows = _rows([data.draw(flows(i)) for i in range(data.draw(st.integers(1, 25)))])
    index = indexed(rows)
    for _ in range(4):
        trigger, event_data, context = data.draw(contexts())
        cond_ctx = for_conditions(context, NOW)
        expected = plain(rows, trigger, event_data, cond_ctx)
        got = _ids(index.matching(None, trigger, event_data, cond_ctx, fresh=True))
        assert got == expected  # same flows, in load order
        may = index.may_fire(None, trigger, event_data, fresh=True)
        assert may or not expected
        for info, definition, graph, spec in index.matching(None, trigger, event_data, cond_ctx, fresh=True):
            assert definition is rows[int(info["id"][1:])].definition
            assert spec.type == graph.nodes[graph.event_id]["type"]


def _verdict(fn) -> bool:
    try:
        return bool(fn())
    except Exception:  # noqa: BLE001 - the engine takes a raising condition as False
        return False


@SETTINGS
@given(data=st.data())
def test_prepared_tests_and_accesses_agree_with_evaluate(data):
    from plugin.engine.graph import prepare_condition

    event_type = data.draw(st.sampled_from(sorted(TRIGGER_OF)))
    node = data.draw(conditions(event_type))
    module = REGISTRY[node["type"]].module
    check = prepare_condition(node, REGISTRY)
    for _ in range(6):
        _trigger, _data, context = data.draw(contexts())
        cond_ctx = for_conditions(context, NOW)
        expected = _verdict(lambda: module.evaluate(node["params"], cond_ctx))  # noqa: B023
        assert _verdict(lambda: check.test(cond_ctx)) is expected  # noqa: B023
        if check.access is not None:
            access = check.access
            value = access.read(cond_ctx)
            if value is None:
                holds = False
            elif access.op == "in":
                holds = value in access.value
            else:
                holds = {
                    "gt": value > access.value,
                    "gte": value >= access.value,
                    "lt": value < access.value,
                    "lte": value <= access.value,
                }[access.op]
            assert holds is expected, (node, access.op, access.value, value)


def test_flow_index_is_importable_from_dispatch():
    from plugin.engine import dispatch

    assert dispatch.FlowIndex is FlowIndex


def test_event_nodes_without_params_are_matched_once_per_event(monkeypatch):
    calls = []
    module = REGISTRY["event.order_created"].module
    original = module.matches
    monkeypatch.setattr(module, "matches", lambda params, event: calls.append(1) or original(params, event))
    rows = _rows(
        [
            {
                "nodes": [
                    {"id": "start", "type": "event.order_created", "params": {}},
                    {"id": "c", "type": "condition.order_price", "params": {"operator": "gt", "value": v}},
                    {"id": "A", "type": "action.webhook", "params": {"url": "https://h.example"}},
                ],
                "edges": [{"from": "start", "to": "c"}, {"from": "c", "to": "A"}],
            }
            for v in range(500)
        ]
    )
    index = indexed(rows)
    cond_ctx = for_conditions(
        {"order": {"price": "250"}, "visit": None, "client": None, "event": None, "client_orders_count": 0},
        NOW,
    )
    got = _ids(index.matching(None, "order_created", {}, cond_ctx, fresh=True))
    assert got == [f"f{v}" for v in range(250)]  # price 250 > 0 … 249
    assert len(calls) == 1


def _bench_like_flow(i: int, rng: random.Random) -> dict:
    """Flows shaped like bench/matching.py's (many flows, thresholds and keys shared)."""
    event = rng.choice(sorted(TRIGGER_OF))
    params = {}
    if event == "event.custom":
        params = {"name": rng.choice(["", *NAMES[:4], "cart"])}
    elif event == "event.order_status_changed":
        params = {"to": rng.sample(STATUSES, rng.randint(1, 2))}
    nodes = [{"id": "start", "type": event, "params": params}]
    prev, edges = "start", []
    for k in range(rng.randint(1, 3)):
        kind = rng.choice(["city", "utm", "price", "status", "count", "data"])
        if kind == "city":
            node = {
                "type": "condition.visit_city",
                "params": {
                    "operator": rng.choice(["equals", "any_of", "not_equals"]),
                    "value": ",".join(rng.sample(CITIES, 2)) if rng.random() < 0.5 else rng.choice(CITIES),
                },
            }
        elif kind == "utm":
            node = {
                "type": "condition.visit_utm",
                "params": {
                    "tag": "utm_source",
                    "operator": rng.choice(["equals", "contains", "any_of"]),
                    "value": rng.choice(SOURCES),
                },
            }
        elif kind == "price" and event in ("event.order_created", "event.order_status_changed"):
            node = {
                "type": "condition.order_price",
                "params": {
                    "operator": rng.choice(["gt", "lt", "gte", "lte", "eq", "ne"]),
                    "value": rng.choice(range(0, 6000, 250)),
                },
            }
        elif kind == "status" and event in ("event.order_created", "event.order_status_changed"):
            node = {
                "type": "condition.order_status",
                "params": {"operator": rng.choice(["in", "not_in"]), "value": rng.sample(STATUSES, 2)},
            }
        elif kind == "data" and event == "event.custom":
            node = {
                "type": "condition.event_data",
                "params": {
                    "path": "form.amount",
                    "operator": rng.choice(["gt", "lte", "eq", "equals"]),
                    "value": rng.randrange(0, 5000, 500),
                },
            }
        else:
            node = {
                "type": "condition.client_orders_count",
                "params": {"operator": rng.choice(["gt", "eq", "lt", "ne"]), "value": rng.randrange(0, 5)},
            }
        nodes.append({"id": f"c{k}", **node})
        edges.append({"from": prev, "to": f"c{k}"})
        prev = f"c{k}"
    nodes.append({"id": "A", "type": "action.webhook", "params": {"url": f"https://h.example/{i}"}})
    edges.append({"from": prev, "to": "A"})
    return {"nodes": nodes, "edges": edges}


@pytest.mark.parametrize("seed", [1, 2])
def test_index_agrees_with_plain_evaluation_on_many_flows(seed):
    rng = random.Random(seed)
    rows = _rows([_bench_like_flow(i, rng) for i in range(1500)])
    index = indexed(rows)
    hits = 0
    for _ in range(150):
        trigger = rng.choice(sorted(TRIGGER_OF.values()))
        data = {}
        if trigger == "custom_event":
            data = {"name": rng.choice([*NAMES, "cart", "other"])}
        elif trigger == "order_status_changed":
            data = {"to": rng.choice(STATUSES), "from": rng.choice(STATUSES)}
        context = {
            "visit": {"city": rng.choice([*CITIES, None]), "utm_source": rng.choice(SOURCES)},
            "order": {
                "price": rng.choice([rng.randrange(0, 6000, 250), str(rng.randrange(6000)), None]),
                "status": rng.choice([*STATUSES, None]),
            },
            "client": None,
            "event": {"data": {"form": {"amount": rng.choice([rng.randrange(0, 5000, 500), "1500", None])}}},
            "client_orders_count": rng.randrange(0, 6),
        }
        cond_ctx = for_conditions(context, NOW)
        expected = plain(rows, trigger, data, cond_ctx)
        assert _ids(index.matching(None, trigger, data, cond_ctx, fresh=True)) == expected
        hits += len(expected)
    assert hits > 0


def test_numbers_as_strings_and_thresholds_at_the_boundary():
    def flow(operator, value):
        return {
            "nodes": [
                {"id": "start", "type": "event.order_created", "params": {}},
                {
                    "id": "c",
                    "type": "condition.order_price",
                    "params": {"operator": operator, "value": value},
                },
                {"id": "A", "type": "action.webhook", "params": {"url": "https://h.example"}},
            ],
            "edges": [{"from": "start", "to": "c"}, {"from": "c", "to": "A"}],
        }

    rows = _rows([flow(op, v) for op in ("gt", "gte", "lt", "lte", "eq", "ne") for v in (100, "100", "x")])
    index = indexed(rows)
    for price in (99, 100, "100.0", " 100 ", 101, None, "abc"):
        cond_ctx = for_conditions(
            {
                "order": {"price": price},
                "visit": None,
                "client": None,
                "event": None,
                "client_orders_count": 0,
            },
            NOW,
        )
        expected = plain(rows, "order_created", {}, cond_ctx)
        assert _ids(index.matching(None, "order_created", {}, cond_ctx, fresh=True)) == expected
    # a price of "100" (text) equals a threshold of 100
    cond_ctx = for_conditions(
        {"order": {"price": "100"}, "visit": None, "client": None, "event": None, "client_orders_count": 0},
        NOW,
    )
    got = {
        (
            rows[int(i[1:])].definition["nodes"][1]["params"]["operator"],
            rows[int(i[1:])].definition["nodes"][1]["params"]["value"],
        )
        for i in _ids(index.matching(None, "order_created", {}, cond_ctx, fresh=True))
    }
    assert got == {("gte", 100), ("gte", "100"), ("lte", 100), ("lte", "100"), ("eq", 100), ("eq", "100")}
    assert to_number(" 100 ") == 100
