"""Ingestion idempotency and derived events, dry runs that send nothing, the runs API."""

from __future__ import annotations

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine.batch import dispatch_batch
from plugin.engine.claim import claim_events
from plugin.engine.dispatch import FlowIndex
from plugin.jobs.worker import make_engine
from plugin.storage.models import Event, Order
from tests.conftest import settle_late


def drain(app) -> int:
    """Dispatch every stored event in-process, as a worker's dispatch job does."""
    with app.app_context():
        runtime = rt()
        engine, index, total = make_engine(runtime, db.engine), FlowIndex(runtime.registry), 0
        while ids := claim_events(db.session, 200, 60):
            dispatch_batch(db.session, engine, index, ids, runtime.redis)
            total += len(ids)
    settle_late()
    return total


def _flow(url, event="event.order_created", event_params=None, conditions=()):
    nodes = [{"id": "start", "type": event, "params": event_params or {}}]
    edges, prev = [], "start"
    for i, (t, p) in enumerate(conditions):
        nodes.append({"id": f"c{i}", "type": t, "params": p})
        edges.append({"from": prev, "to": f"c{i}"})
        prev = f"c{i}"
    nodes.append({"id": "hook", "type": "action.webhook", "params": {"url": url}})
    edges.append({"from": prev, "to": "hook"})
    return {"name": "t", "enabled": True, "nodes": nodes, "edges": edges}


def test_repeated_ids_and_unchanged_upserts_fire_nothing(app, client):
    assert client.post("/api/v1/visits", json={"id": "v1", "city": "Москва"}).get_json()["events"] == 1
    assert client.post("/api/v1/visits", json={"id": "v1", "city": "Москва"}).get_json() == {
        "accepted": True,
        "created": False,
        "events": 0,
    }
    assert client.post("/api/v1/events", json={"id": "e1", "name": "form"}).get_json()["events"] == 1
    assert client.post("/api/v1/events", json={"id": "e1", "name": "form"}).get_json()["events"] == 0
    assert client.put("/api/v1/orders/1", json={"price": 10, "status": "Новая"}).get_json()["events"] == 1
    assert client.put("/api/v1/orders/1", json={"price": 10, "status": "Новая"}).get_json()["events"] == 0
    assert client.put("/api/v1/orders/1", json={"price": 11}).get_json()["events"] == 0  # no event, stored
    r = client.put("/api/v1/orders/1", json={"status": "Оплачен"})
    assert r.status_code == 202 and r.get_json()["events"] == 1
    with app.app_context():
        order = db.session.get(Order, "1")
        assert order.price == 11 and order.status_group == "paid" and order.paid_at is not None
        events = [(e.trigger, e.data) for e in db.session.query(Event).order_by(Event.id)]
    assert events == [
        ("visit_created", {}),
        ("custom_event", {"name": "form"}),
        ("order_created", {}),
        ("order_status_changed", {"from": "Новая", "to": "Оплачен"}),
    ]


def test_status_change_filters_and_days_checked_on_upsert(app, client, fake_receiver):
    client.post(
        "/api/v1/flows",
        json=_flow(fake_receiver.url + "/h", "event.order_status_changed", {"to": ["оплачен"], "from": []}),
    )
    client.put("/api/v1/orders/1", json={"status": "Новая"})
    client.put("/api/v1/orders/1", json={"status": "В работе"})
    client.put("/api/v1/orders/1", json={"status": "Оплачен"})
    drain(app)
    assert [d.payload["order"]["status"] for d in fake_receiver.deliveries] == ["Оплачен"]
    assert fake_receiver.deliveries[0].payload["event_type"] == "order_status_changed"


def test_dry_run_sends_nothing_and_shows_everything(app, client, fake_receiver):
    flow = _flow(
        fake_receiver.url + "/h", conditions=[("condition.order_price", {"operator": "gt", "value": 100})]
    )
    flow["nodes"].append(
        {
            "id": "slack",
            "type": "action.slack",
            "params": {
                "text": "Заказ {order_id} от {client_name} <b>",
                "webhook_url": fake_receiver.url + "/s",
            },
        }
    )
    flow["edges"].append({"from": "c0", "to": "slack", "branch": "false"})
    flow_id = client.post("/api/v1/flows", json=flow).get_json()["id"]
    ctx = {"order": {"id": "9", "price": 500}, "client": {"name": "Анна & Co"}}
    result = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}).get_json()
    steps = {s["node_id"]: s for s in result["steps"]}
    assert result["status"] == "would_trigger"
    assert steps["c0"]["verdict"] is True
    assert steps["hook"]["status"] == "would_send"
    assert steps["hook"]["output"]["body"]["order"] == {"id": "9", "price": 500, "cost": None, "status": None}
    assert steps["slack"]["status"] == "not_reached"
    ctx["order"]["price"] = 50
    result = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}).get_json()
    steps = {s["node_id"]: s for s in result["steps"]}
    assert steps["hook"]["status"] == "not_reached"
    assert steps["slack"]["output"]["body"] == {"text": "Заказ 9 от Анна &amp; Co <b>"}
    assert fake_receiver.requests == []
    with app.app_context():
        from plugin.storage.models import Run

        assert db.session.query(Run).count() == 0


def test_runs_filters_and_cursor_pagination(app, client, fake_receiver):
    flow_a = client.post("/api/v1/flows", json=_flow(fake_receiver.url + "/a")).get_json()["id"]
    fake_receiver.respond_with(*([400] * 3))
    for i in range(7):
        client.put(f"/api/v1/clients/c{i % 2}", json={"name": f"client {i % 2}"})
        client.put(f"/api/v1/orders/{i}", json={"price": i, "client_id": f"c{i % 2}"})
    drain(app)
    page = client.get("/api/v1/runs?limit=3").get_json()
    seen = [r["id"] for r in page["runs"]]
    while page["next_cursor"]:
        page = client.get(f"/api/v1/runs?limit=3&cursor={page['next_cursor']}").get_json()
        seen += [r["id"] for r in page["runs"]]
    assert len(seen) == len(set(seen)) == 7
    all_runs = client.get("/api/v1/runs?limit=100").get_json()["runs"]
    assert [r["id"] for r in all_runs] == seen  # newest first, same order across pages
    assert len(client.get("/api/v1/runs?status=failed").get_json()["runs"]) == 3
    assert len(client.get("/api/v1/runs?status=succeeded").get_json()["runs"]) == 4
    assert [r["order_id"] for r in client.get("/api/v1/runs?order_id=5").get_json()["runs"]] == ["5"]
    assert len(client.get("/api/v1/runs?client_id=c0").get_json()["runs"]) == 4
    assert len(client.get(f"/api/v1/runs?flow_id={flow_a}").get_json()["runs"]) == 7
    bad = client.get("/api/v1/runs?limit=0&status=nope")
    assert bad.status_code == 422 and {e["path"] for e in bad.get_json()["errors"]} == {"/limit", "/status"}
    assert client.get("/api/v1/runs?cursor=garbage").status_code == 400
    flows = client.get("/api/v1/flows").get_json()["flows"]
    assert flows[0]["stats"]["triggered"] == 7 and flows[0]["stats"]["failed"] == 3


def test_slack_flow_end_to_end_with_rate_limits(app, client, fake_slack):
    """Five orders at once to one Slack hook (1 msg/s, burst 3): all arrive, escaped, none dropped."""
    flow = {
        "name": "Крупный заказ",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "big", "type": "condition.order_price", "params": {"operator": "gt", "value": 10000}},
            {
                "id": "slack",
                "type": "action.slack",
                "params": {
                    "text": "Новый крупный заказ {order_id} от {client_name}",
                    "webhook_url": fake_slack.hook_url,
                },
            },
        ],
        "edges": [{"from": "start", "to": "big"}, {"from": "big", "to": "slack"}],
    }
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    client.put("/api/v1/clients/2", json={"name": "<!channel> & Co"})
    for i in range(5):
        client.put(f"/api/v1/orders/{i}", json={"price": 20000, "client_id": "2"})
    client.put("/api/v1/orders/small", json={"price": 5, "client_id": "2"})
    from plugin.engine.execution import execute_run
    from plugin.storage.models import Run

    drain(app)
    import time

    deadline = time.monotonic() + 20
    with app.app_context():  # what the batch deferred (rate limit) continues step by step
        engine = make_engine(rt(), db.engine)
        while time.monotonic() < deadline:
            open_runs = db.session.query(Run).filter(Run.status.in_(["queued", "waiting", "running"])).all()
            if not open_runs:
                break
            # a ``running`` run has a call in flight (late: its waiter moved on) that the late
            # settler stores and takes on; resuming it here too would send it twice, as a worker
            # never does (the settler keeps its lease)
            for run_id in [r.id for r in open_runs if r.status != "running"]:
                db.session.query(Run).filter_by(id=run_id).update({"lease_until": None})
                db.session.commit()
                execute_run(db.session, engine, run_id)
            db.session.commit()
            time.sleep(0.2)
    assert sorted(fake_slack.messages) == sorted(
        [f"Новый крупный заказ {i} от &lt;!channel&gt; &amp; Co" for i in range(5)]
    )
    # the shared limiter kept us under Slack's limit: no request was refused and retried
    assert len(fake_slack.requests) == 5
    runs = client.get("/api/v1/runs?limit=50").get_json()["runs"]
    assert len(runs) == 5 and {r["status"] for r in runs} == {"succeeded"}


def test_event_node_execute_defaults_to_the_context_event(client):
    body = {"params": {"name": "form_submit"}, "context": {"event": {"id": "1", "meta_id": "form_submit"}}}
    assert client.post("/api/v1/nodes/event.custom/execute", json=body).get_json() == {"matches": True}
    body["context"]["event"]["meta_id"] = "other"
    assert client.post("/api/v1/nodes/event.custom/execute", json=body).get_json() == {"matches": False}


def test_ids_with_a_slash_are_rejected_everywhere(client):
    r = client.post("/api/v1/batch", json={"items": [{"type": "order", "data": {"id": "A/1"}}]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["path"] == "/items/0/data/id"
    assert client.put("/api/v1/orders/1", json={"visit_id": "v/1"}).status_code == 422


def test_batch_has_the_semantics_of_single_requests(app, client):
    client.post("/api/v1/visits", json={"id": "v0"})
    items = [
        {"type": "visit", "data": {"id": "v0", "city": "Москва"}},  # stored before: fires nothing
        {"type": "visit", "data": {"id": "v1", "city": "Москва"}},
        {"type": "visit", "data": {"id": "v1", "city": "Казань"}},  # repeated in the batch: first wins
        {"type": "client", "data": {"external_id": "c1", "name": "Анна"}},
        {"type": "order", "data": {"id": "o1", "status": "Новая", "client_id": "c1"}},
        {"type": "order", "data": {"id": "o1", "status": "Оплачен"}},  # same order again: a status change
        {"type": "order", "data": {"id": "o2", "client": {"external_id": "c2", "name": "Борис"}}},
        {"type": "event", "data": {"id": "e1", "name": "form", "data": {"n": 1}}},
        {"type": "event", "data": {"id": "e1", "name": "form"}},
    ]
    r = client.post("/api/v1/batch", json={"items": items})
    assert r.status_code == 202 and r.get_json() == {"accepted": 9, "events": 5}
    with app.app_context():
        from plugin.storage.models import Client, CustomEvent, Visit

        triggers = sorted(
            (e.trigger, e.subject_id, tuple(sorted((e.data or {}).items())))
            for e in db.session.query(Event).filter(Event.subject_id != "v0")
        )
        assert triggers == sorted(
            [
                ("visit_created", "v1", ()),
                ("order_created", "o1", ()),
                ("order_created", "o2", ()),
                ("order_status_changed", "o1", (("from", "Новая"), ("to", "Оплачен"))),
                ("custom_event", "e1", (("name", "form"),)),
            ]
        )
        assert db.session.get(Visit, "v1").city == "Москва"
        assert db.session.get(Order, "o1").status_group == "paid"
        assert db.session.get(Client, "c2").name == "Борис"
        assert db.session.get(CustomEvent, "e1").data == {"n": 1}
    # replayed: visits, events and o2 fire nothing; o1 goes back to «Новая» and on to «Оплачен» again
    assert client.post("/api/v1/batch", json={"items": items}).get_json() == {"accepted": 9, "events": 2}


def test_flow_index_files_custom_events_by_name(app, client, fake_receiver):
    named = _flow(fake_receiver.url + "/named", "event.custom", {"name": "Form_Submit"})
    anyname = _flow(fake_receiver.url + "/any", "event.custom", {"name": ""})
    other = _flow(fake_receiver.url + "/other", "event.custom", {"name": "cart"})
    for flow in (named, anyname, other):
        assert client.post("/api/v1/flows", json=flow).status_code == 201
    client.post("/api/v1/events", json={"id": "1", "name": " form_submit "})
    client.post("/api/v1/events", json={"id": "2", "name": "unknown"})
    drain(app)
    paths = sorted(r.path for r in fake_receiver.requests)
    assert paths == ["/any", "/any", "/named"]


def test_branches_false_paths_and_an_action_reached_twice_runs_once(app, client, fake_receiver):
    """event → (city = Москва) → A;  event → (price > 100) → A;  (price > 100) —false→ B."""
    url = fake_receiver.url
    flow = {
        "name": "ветки",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "city",
                "type": "condition.visit_city",
                "params": {"operator": "equals", "value": "москва"},
            },
            {"id": "price", "type": "condition.order_price", "params": {"operator": "gt", "value": 100}},
            {"id": "A", "type": "action.webhook", "params": {"url": url + "/A"}},
            {"id": "B", "type": "action.webhook", "params": {"url": url + "/B"}},
            {"id": "after", "type": "action.webhook", "params": {"url": url + "/after"}},
        ],
        "edges": [
            {"from": "start", "to": "city"},
            {"from": "start", "to": "price"},
            {"from": "city", "to": "A"},
            {"from": "price", "to": "A", "branch": "true"},
            {"from": "price", "to": "B", "branch": "false"},
            {"from": "A", "to": "after"},
        ],
    }
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    client.post("/api/v1/visits", json={"id": "v", "city": "МОСКВА"})
    client.put("/api/v1/orders/1", json={"price": 500, "visit_id": "v"})  # both paths reach A
    client.put("/api/v1/orders/2", json={"price": 5})  # only the false branch
    drain(app)
    from plugin.engine.execution import execute_run
    from plugin.storage.models import Run

    with app.app_context():  # A's successor runs after A succeeded, on the step-by-step path
        engine = make_engine(rt(), db.engine)
        for run in db.session.query(Run).filter(Run.status == "queued").all():
            execute_run(db.session, engine, run.id)
    got = sorted((r.path, r.json()["order"]["id"]) for r in fake_receiver.requests)
    assert got == [("/A", "1"), ("/B", "2"), ("/after", "1")]
    runs = {r["order_id"]: r for r in client.get("/api/v1/runs").get_json()["runs"]}
    steps1 = {s["node_id"]: s["status"] for s in runs["1"]["steps"]}
    assert steps1 == {
        "start": "succeeded",
        "city": "succeeded",
        "price": "succeeded",
        "A": "succeeded",
        "B": "not_reached",
        "after": "succeeded",
    }
    assert runs["1"]["status"] == runs["2"]["status"] == "succeeded"
