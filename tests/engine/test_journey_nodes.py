"""A/B splits and condition groups in real runs: events ingested over HTTP, dispatched by the
batch path (plan → send → settle), continued on the step-by-step path, delivered to a local
receiver; dry runs and the node execute endpoint agree with what the runs did."""

from __future__ import annotations

from collections import Counter

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine.batch import dispatch_batch
from plugin.engine.claim import claim_events
from plugin.engine.dispatch import FlowIndex
from plugin.engine.execution import execute_isolated
from plugin.jobs.worker import make_engine
from tests.conftest import settle_late

AB = [{"key": "A", "weight": 50}, {"key": "B", "weight": 50}]
VIP = {
    "mode": "any",
    "conditions": [
        {"type": "condition.order_price", "params": {"operator": "gt", "value": 50000}},
        {"type": "condition.client_field", "params": {"path": "vip", "operator": "equals", "value": "да"}},
    ],
}


def drain(app) -> int:
    """Dispatch every stored event as a worker does, and walk the runs handed to the step path."""
    with app.app_context():
        runtime = rt()
        engine, index, total = make_engine(runtime, db.engine), FlowIndex(runtime.registry), 0
        while ids := claim_events(db.session, 200, 60):
            for run_id in dispatch_batch(db.session, engine, index, ids, runtime.redis):
                execute_isolated(db.session, engine, run_id)  # "running": late, the settler's now
            total += len(ids)
    settle_late()
    return total


def hook(node_id: str, url: str) -> dict:
    return {"id": node_id, "type": "action.webhook", "params": {"url": url}}


def split_flow(url: str, *, first: bool = False) -> dict:
    """order created → [a webhook first: the split is then decided on the step path] → A/B split →
    webhook /a or /b."""
    nodes = [
        {"id": "start", "type": "event.order_created", "params": {}},
        {"id": "ab", "type": "flow.split", "params": {"variants": AB, "sticky": "client"}},
        hook("a", url + "/a"),
        hook("b", url + "/b"),
    ]
    edges = [{"from": "ab", "to": "a", "branch": "A"}, {"from": "ab", "to": "b", "branch": "B"}]
    if first:
        nodes.append(hook("first", url + "/first"))
        edges += [{"from": "start", "to": "first"}, {"from": "first", "to": "ab"}]
    else:
        edges.append({"from": "start", "to": "ab"})
    return {"name": "Письмо A или B", "enabled": True, "nodes": nodes, "edges": edges}


def runs_of(client, flow_id: str) -> list[dict]:
    runs = client.get(f"/api/v1/runs?flow_id={flow_id}&limit=200").get_json()["runs"]
    return [client.get(f"/api/v1/runs/{r['id']}").get_json() for r in runs]


def check_one_branch_each(client, fake_receiver, flow_id: str, count: int) -> Counter:
    """Every run took exactly one variant: its webhook delivered, the other not_reached."""
    runs = runs_of(client, flow_id)
    assert len(runs) == count
    delivered = Counter((d.webhook_id, d.request.path) for d in fake_receiver.deliveries)
    variants = Counter()
    for run in runs:
        steps = {s["node_id"]: s for s in run["steps"]}
        split = steps["ab"]
        assert split["status"] == "succeeded" and split["type"] == "flow.split"
        variant = split["output"]["variant"]
        assert split["output"]["subject"] == f"client:{run['client']['id']}"
        chosen, other = ("a", "b") if variant == "A" else ("b", "a")
        assert steps[chosen]["status"] == "succeeded", run
        assert steps[other]["status"] == "not_reached", run
        assert run["status"] == "succeeded"
        assert delivered[_webhook_id(run, chosen), f"/{chosen}"] == 1
        assert not any(wid == _webhook_id(run, other) for wid, _path in delivered)
        variants[variant] += 1
    return variants


def test_a_split_sends_each_run_down_exactly_one_variant(app, client, fake_receiver):
    flow_id = client.post("/api/v1/flows", json=split_flow(fake_receiver.url)).get_json()["id"]
    for i in range(40):
        client.put(f"/api/v1/clients/c{i}", json={"name": f"Клиент {i}"})
        client.put(f"/api/v1/orders/o{i}", json={"price": 100, "client_id": f"c{i}"})
    drain(app)
    variants = check_one_branch_each(client, fake_receiver, flow_id, 40)
    assert set(variants) == {"A", "B"}
    # the same clients again (new orders): each gets the variant it got before
    before = {r["client"]["id"]: _variant(r) for r in runs_of(client, flow_id)}
    for i in range(10):
        client.put(f"/api/v1/orders/o{i}-2", json={"price": 5, "client_id": f"c{i}"})
    drain(app)
    again = [r for r in runs_of(client, flow_id) if r["order"]["id"].endswith("-2")]
    assert len(again) == 10 and all(_variant(r) == before[r["client"]["id"]] for r in again)


def test_a_split_after_an_action_is_decided_on_the_step_path(app, client, fake_receiver):
    flow_id = client.post("/api/v1/flows", json=split_flow(fake_receiver.url, first=True)).get_json()["id"]
    for i in range(12):
        client.put(f"/api/v1/clients/k{i}", json={"name": f"Клиент {i}"})
        client.put(f"/api/v1/orders/s{i}", json={"price": 100, "client_id": f"k{i}"})
    drain(app)
    variants = check_one_branch_each(client, fake_receiver, flow_id, 12)
    assert sum(variants.values()) == 12
    assert sum(d.request.path == "/first" for d in fake_receiver.deliveries) == 12


def test_the_dry_run_and_the_execute_endpoint_give_the_variant_the_run_got(app, client, fake_receiver):
    flow_id = client.post("/api/v1/flows", json=split_flow(fake_receiver.url)).get_json()["id"]
    for i in range(6):
        client.put(f"/api/v1/orders/d{i}", json={"price": 100, "client_id": f"d{i}"})
    drain(app)
    for run in runs_of(client, flow_id):
        # no client record: the order's client id is the subject, as in the run
        subject = next(s for s in run["steps"] if s["node_id"] == "ab")["output"]["subject"]
        assert subject == f"client:{run['order']['id']}"  # orders d<i> of clients d<i>
        ctx = {"order": {"id": run["order"]["id"], "client_id": subject.split(":", 1)[1]}}
        dry = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}).get_json()
        steps = {s["node_id"]: s for s in dry["steps"]}
        variant = _variant(run)
        assert steps["ab"]["output"] == {"variant": variant, "subject": subject}
        assert steps["a" if variant == "A" else "b"]["status"] == "would_send"
        assert steps["b" if variant == "A" else "a"]["status"] == "not_reached"
        body = {"params": {"variants": AB}, "context": ctx, "flow_id": flow_id, "node_id": "ab"}
        answer = client.post("/api/v1/nodes/flow.split/execute", json=body).get_json()
        assert answer == {"variant": variant, "subject": subject}
    n = len(fake_receiver.deliveries)
    assert n == 6  # the dry runs and the execute calls sent nothing


def test_a_group_in_a_real_flow_records_every_inner_verdict(app, client, fake_receiver):
    url = fake_receiver.url
    flow = {
        "name": "VIP — сумма > 50 000 или клиент из списка",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "vip", "type": "condition.group", "params": VIP},
            hook("yes", url + "/vip"),
            hook("no", url + "/regular"),
        ],
        "edges": [
            {"from": "start", "to": "vip"},
            {"from": "vip", "to": "yes", "branch": "true"},
            {"from": "vip", "to": "no", "branch": "false"},
        ],
    }
    flow_id = client.post("/api/v1/flows", json=flow).get_json()["id"]
    client.put("/api/v1/clients/listed", json={"name": "Анна", "fields": {"vip": "Да"}})
    client.put("/api/v1/orders/big", json={"price": 70000})
    client.put("/api/v1/orders/small", json={"price": 100})
    client.put("/api/v1/orders/listed", json={"price": 100, "client_id": "listed"})
    drain(app)
    by_order = {r["order"]["id"]: r for r in runs_of(client, flow_id)}
    expected = {
        "big": (True, False, "/vip"),
        "small": (False, False, "/regular"),
        "listed": (False, True, "/vip"),
    }
    paths = {d.webhook_id: d.request.path for d in fake_receiver.deliveries}
    for order_id, (price, listed, path) in expected.items():
        run = by_order[order_id]
        step = next(s for s in run["steps"] if s["node_id"] == "vip")
        assert step["verdict"] is (price or listed)
        assert step["output"] == {
            "verdict": price or listed,
            "mode": "any",
            "items": [
                {"type": "condition.order_price", "verdict": price},
                {"type": "condition.client_field", "verdict": listed},
            ],
        }
        sent = next(s for s in run["steps"] if s["node_id"] == ("yes" if path == "/vip" else "no"))
        assert paths[sent["output"]["webhook_id"]] == path
        assert sent["output"]["webhook_id"] == _webhook_id(run, sent["node_id"])
    ctx = {"order": {"id": "x", "price": 100}, "client": {"external_id": "listed", "fields": {"vip": "да"}}}
    dry = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}).get_json()
    step = next(s for s in dry["steps"] if s["node_id"] == "vip")
    assert step["verdict"] is True and [i["verdict"] for i in step["output"]["items"]] == [False, True]
    answer = client.post(
        "/api/v1/nodes/condition.group/execute", json={"params": VIP, "context": ctx}
    ).get_json()
    assert answer == {"result": True, "output": step["output"]}
    bad = {"mode": "all", "conditions": [{"type": "condition.order_price", "params": {"operator": "gt"}}]}
    problem = client.post("/api/v1/nodes/condition.group/execute", json={"params": bad, "context": ctx})
    assert problem.status_code == 422
    assert problem.get_json()["errors"][0]["path"] == "/params/conditions/0/params/value"


def _webhook_id(run: dict, node_id: str) -> str:
    """The ``webhook-id`` of a run's webhook step: stable per run and node (SPEC §5)."""
    return f"msg_{run['id']}-{node_id}"


def _variant(run: dict) -> str:
    return next(s for s in run["steps"] if s["node_id"] == "ab")["output"]["variant"]


def test_a_variant_without_an_edge_is_a_control_group_with_runs_on_record(app, client, fake_receiver):
    """The analytics compare conversions per variant: the control group's runs exist too, with
    their variant, and send nothing."""
    flow = split_flow(fake_receiver.url)
    flow["nodes"][1]["params"]["variants"] = [{"key": "A", "weight": 50}, {"key": "control", "weight": 50}]
    flow["nodes"] = [n for n in flow["nodes"] if n["id"] != "b"]
    flow["edges"] = [e for e in flow["edges"] if e["to"] != "b"]
    flow_id = client.post("/api/v1/flows", json=flow).get_json()["id"]
    for i in range(20):
        client.put(f"/api/v1/clients/h{i}", json={"name": f"Клиент {i}"})
        client.put(f"/api/v1/orders/h{i}", json={"price": 1, "client_id": f"h{i}"})
    drain(app)
    runs = runs_of(client, flow_id)
    assert len(runs) == 20 and all(r["status"] == "succeeded" for r in runs)
    control = [r for r in runs if _variant(r) == "control"]
    assert 0 < len(control) < 20
    for run in control:
        assert next(s for s in run["steps"] if s["node_id"] == "a")["status"] == "not_reached"
    assert len(fake_receiver.deliveries) == 20 - len(control)
