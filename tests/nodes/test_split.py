"""flow.split: weighted variants (50/50 over 10,000 clients: 50 ± 2 % each), sticky per client or
order across edits of the flow and across processes, the run as the subject without one, and
the validator's rules on variants and on the split's edges."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from plugin.engine import validation
from plugin.engine.graph import Graph, StepView, choose
from plugin.messages import render
from plugin.nodes.flow import split
from plugin.registry import get_registry

REGISTRY = get_registry()
ROOT = Path(__file__).resolve().parents[2]
AB = [{"key": "A", "weight": 50}, {"key": "B", "weight": 50}]


def definition(variants=AB, sticky="client", extra_nodes=(), name="Письмо A или B") -> dict:
    return {
        "name": name,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "ab", "type": "flow.split", "params": {"variants": variants, "sticky": sticky}},
            {"id": "a", "type": "action.webhook", "params": {"url": "https://h.example/a"}},
            {"id": "b", "type": "action.webhook", "params": {"url": "https://h.example/b"}},
            *extra_nodes,
        ],
        "edges": [
            {"from": "start", "to": "ab"},
            {"from": "ab", "to": "a", "branch": "A"},
            {"from": "ab", "to": "b", "branch": "B"},
        ],
    }


def client(i: int) -> dict:
    return {"client": {"external_id": f"c{i}"}, "order": {"id": f"o{i}", "client_id": f"c{i}"}}


def variants_of(doc: dict, clients: range, flow_id: str = "flow-1") -> list[str]:
    graph = Graph(doc, REGISTRY)
    return [choose(graph, "ab", client(i), flow_id=flow_id, run_id=f"r{i}").branch for i in clients]


def test_50_50_over_10000_clients_is_50_plus_or_minus_2_percent_each():
    counts = Counter(variants_of(definition(), range(10_000)))
    assert set(counts) == {"A", "B"}
    for key in ("A", "B"):
        assert 4_800 <= counts[key] <= 5_200, counts


def test_three_variants_keep_their_weights():
    variants = [{"key": "A", "weight": 60}, {"key": "B", "weight": 30}, {"key": "control", "weight": 10}]
    counts = Counter(variants_of(definition(variants), range(10_000)))
    assert abs(counts["A"] - 6_000) <= 200 and abs(counts["B"] - 3_000) <= 200, counts
    assert abs(counts["control"] - 1_000) <= 150, counts


def test_a_client_keeps_its_variant_after_the_flow_is_edited():
    before = variants_of(definition(), range(2_000))
    edited = definition(
        name="Переименован",
        extra_nodes=[{"id": "c", "type": "action.webhook", "params": {"url": "https://h.example/c"}}],
    )
    edited["nodes"][2]["params"]["url"] = "https://h.example/a2"
    assert variants_of(edited, range(2_000)) == before
    # 50/50 → 55/45: only the clients between the old and the new boundary move (about 5 %)
    moved = sum(a != b for a, b in zip(before, variants_of(definition([{**AB[0], "weight": 55}, {**AB[1], "weight": 45}]), range(2_000)), strict=True))  # fmt: skip
    assert 40 <= moved <= 160
    assert all(
        b == "A" or a == "B"
        for a, b in zip(before, variants_of(definition([{**AB[0], "weight": 55}, {**AB[1], "weight": 45}]), range(2_000)), strict=True)
    )  # fmt: skip


def test_a_client_keeps_its_variant_in_a_new_process():
    here = variants_of(definition(), range(300))
    code = (
        "import json, sys; sys.path.insert(0, '.');"
        "from tests.nodes.test_split import definition, variants_of;"
        "print(json.dumps(variants_of(definition(), range(300))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == here


def test_each_split_draws_on_its_own():
    """Two splits (another flow, or another node) do not give every client the same letter."""
    one = variants_of(definition(), range(2_000), flow_id="flow-1")
    other = variants_of(definition(), range(2_000), flow_id="flow-2")
    same = sum(a == b for a, b in zip(one, other, strict=True))
    assert 850 <= same <= 1_150  # independent: about half agree


def test_subject_client_order_and_the_run_without_one():
    params = {"variants": AB}
    assert split.subject(params, {"client": {"external_id": "42"}}) == "client:42"
    assert split.subject(params, {"client": None, "order": {"id": "9", "client_id": "7"}}) == "client:7"
    assert split.subject(params, {"visit": {"client_id": "v5"}}) == "client:v5"
    assert split.subject({**params, "sticky": "order"}, client(3)) == "order:o3"
    graph = Graph(definition(), REGISTRY)
    view = choose(graph, "ab", {"client": None, "order": None, "visit": None}, flow_id="f", run_id="run-1")
    assert view.output["subject"] == "run:run-1"
    assert view == choose(graph, "ab", {}, flow_id="f", run_id="run-1")
    # sticky per order: two orders of one client may get different variants, each its own always
    by_order = Graph(definition(sticky="order"), REGISTRY)
    got = {choose(by_order, "ab", {"client": {"external_id": "c"}, "order": {"id": f"o{i}"}}, flow_id="f", run_id="r").branch for i in range(40)}  # fmt: skip
    assert got == {"A", "B"}


def test_the_graph_follows_only_the_chosen_variant():
    graph = Graph(definition(), REGISTRY)
    view = choose(graph, "ab", client(1), flow_id="flow-1", run_id="r")
    assert view.output == {"variant": view.branch, "subject": "client:c1"}
    steps = {"start": StepView(status="succeeded"), "ab": view}
    chosen, other = ("a", "b") if view.branch == "A" else ("b", "a")
    assert graph.activation(chosen, steps) is True
    assert graph.activation(other, steps) is False
    # a stored step: the branch is read back from its output
    assert graph.branch_of("ab", view.output) == view.branch
    assert graph.branch_of("a", {"variant": "A"}) is None
    # without a recorded variant no edge is followed
    assert graph.activation("a", {**steps, "ab": StepView(status="succeeded")}) is False
    assert graph.reaches_action(client(1)) is True


# -- validation ---------------------------------------------------------------------------------


def problems(doc: dict) -> list[tuple[str, str]]:
    return [(p["path"], render(p["message"], "ru")) for p in validation.validate_flow(doc, REGISTRY)]


def test_a_valid_split_and_a_variant_without_an_edge_a_control_group():
    assert problems(definition()) == []
    control = definition([*AB, {"key": "control", "weight": 10}])
    assert problems(control) == []


def test_variant_and_edge_problems():
    doc = definition([{"key": "A", "weight": 50}, {"key": "A", "weight": 50}])
    assert problems(doc) == [
        ("/nodes/1/params/variants/1/key", "Вариант «A» назван дважды: у каждого варианта своё название"),
        ("/edges/2/branch", "В A/B-тесте нет варианта «B»; есть: «A» — выберите один из них"),
    ]
    doc = definition()
    doc["edges"][1].pop("branch")
    doc["edges"].append({"from": "a", "to": "b", "branch": "A"})
    assert problems(doc) == [
        ("/edges/1/branch", "Связь из A/B-теста должна вести из одного из вариантов: «A», «B» — выберите вариант"),
        ("/edges/3/branch", "Ветку задают только у связи, которая выходит из условия («да» или «нет») или из A/B-теста (вариант)"),
    ]  # fmt: skip
    doc = definition([{"key": "A", "weight": 0}, {"key": "B", "weight": 1}, {"key": "C", "weight": 1}])
    assert [p[0] for p in problems(doc)] == ["/nodes/1/params/variants/0/weight"]
