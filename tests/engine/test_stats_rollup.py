"""The analytics' hourly rollup on the real dispatch path (both databases): every event of a
scenario's type is counted once — triggered or not_triggered — the counts stay right after a
failed run is retried to success, and flows alike share one «seen» row per hour."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine import stats
from plugin.engine.execution import execute_isolated
from plugin.jobs.worker import make_engine
from plugin.storage.models import Run, Step, utcnow
from plugin.storage.stats_models import FlowStat, StatsGroup, StatsSeen
from tests.engine.test_flow_rules import drain


def price_flow(url: str, threshold: int, name: str) -> dict:
    return {
        "name": name,
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "big", "type": "condition.order_price", "params": {"operator": "gt", "value": threshold}},
            {"id": "hook", "type": "action.webhook", "params": {"url": url}},
        ],
        "edges": [{"from": "start", "to": "big"}, {"from": "big", "to": "hook"}],
    }


def _totals(client, flow_id: str) -> dict:
    answer = client.get(f"/api/v1/flows/{flow_id}/stats?interval=hour&from=2000-01-01T00:00:00Z")
    assert answer.status_code == 422  # 26 years by the hour: too many points, said with the path
    assert answer.get_json()["errors"][0]["path"] == "/from"
    answer = client.get(f"/api/v1/flows/{flow_id}/stats?interval=hour")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert len(body["series"]) == 24 * 30 + 1 or len(body["series"]) == 24 * 30
    assert {k: sum(p[k] for p in body["series"]) for k in stats.SERIES} == body["totals"]
    return body["totals"]


def test_every_event_counts_once_as_triggered_or_not_triggered(app, client, fake_receiver):
    a = client.post("/api/v1/flows", json=price_flow(fake_receiver.url + "/a", 1000, "Крупные")).get_json()[
        "id"
    ]
    b = client.post(
        "/api/v1/flows", json=price_flow(fake_receiver.url + "/b", 5000, "Очень крупные")
    ).get_json()
    b = b["id"]
    prices = [500, 2000, 3000, 6000, 100]
    for i, price in enumerate(prices):
        client.put(f"/api/v1/clients/c{i}", json={"name": f"Клиент {i}"})
        assert (
            client.put(f"/api/v1/orders/o{i}", json={"price": price, "client_id": f"c{i}"}).status_code == 202
        )
        if i == 1:
            drain(app)  # two batches: the rows add up
    drain(app)
    assert len(fake_receiver.deliveries) == 3 + 1

    ta, tb = _totals(client, a), _totals(client, b)
    assert ta == {"triggered": 3, "succeeded": 3, "failed": 0, "suppressed": 0, "not_triggered": 2}
    assert tb == {"triggered": 1, "succeeded": 1, "failed": 0, "suppressed": 0, "not_triggered": 4}
    reach = client.get(f"/api/v1/flows/{a}/stats").get_json()["conversions"]
    assert reach["clients_reached"] == 3 and reach["by_branch"]["hook"]["clients_reached"] == 3
    with app.app_context():
        assert sorted(db.session.scalars(select(Run.branch).where(Run.flow_id == a))) == ["hook"] * 3
        # the two flows' event nodes are alike: one group, one «seen» row for the hour
        groups = db.session.scalars(select(StatsGroup.group_id).where(StatsGroup.flow_id.in_([a, b]))).all()
        assert len(groups) == 2 and len(set(groups)) == 1
        assert db.session.scalar(select(func.sum(StatsSeen.count))) == len(prices)

    # a disabled flow sees nothing: the next events count for the enabled one only
    assert client.patch(f"/api/v1/flows/{b}", json={"enabled": False}).status_code == 200
    client.put("/api/v1/orders/o9", json={"price": 50})
    drain(app)
    assert _totals(client, a)["not_triggered"] == 3
    assert _totals(client, b)["not_triggered"] == 4

    # the list's counters agree with the rollup
    listed = {f["id"]: f["stats"] for f in client.get("/api/v1/flows").get_json()["flows"]}
    assert listed[a]["triggered"] == 3 and listed[a]["last_7_days"]["triggered"] == 3
    assert sum(listed[a]["last_7_days"]["daily"]) == 3 and len(listed[a]["last_7_days"]["daily"]) == 7


def test_a_failed_run_retried_to_success_moves_to_succeeded(app, client, fake_receiver):
    flow_id = client.post("/api/v1/flows", json=price_flow(fake_receiver.url + "/a", 0, "Все")).get_json()[
        "id"
    ]
    fake_receiver.gone()
    client.put("/api/v1/orders/o1", json={"price": 10})
    drain(app)
    assert _totals(client, flow_id) == {
        "triggered": 1,
        "succeeded": 0,
        "failed": 1,
        "suppressed": 0,
        "not_triggered": 0,
    }
    listed = {f["id"]: f["stats"] for f in client.get("/api/v1/flows").get_json()["flows"]}
    assert listed[flow_id]["failed"] == 1 and listed[flow_id]["last_7_days"]["failed"] == 1

    fake_receiver.reset()
    with app.app_context():
        run_id = db.session.scalar(select(Run.id).where(Run.flow_id == flow_id))
    assert client.post(f"/api/v1/runs/{run_id}/retry").status_code == 202
    assert _totals(client, flow_id)["failed"] == 0  # no longer failed, not yet succeeded
    with app.app_context():  # the worker's job, in-process
        engine = make_engine(rt(), db.engine)
        assert execute_isolated(db.session, engine, run_id) == "succeeded"
    totals = _totals(client, flow_id)
    assert totals["failed"] == 0 and totals["succeeded"] == 1 and totals["triggered"] == 1
    listed = {f["id"]: f["stats"] for f in client.get("/api/v1/flows").get_json()["flows"]}
    assert listed[flow_id]["failed"] == 0 and listed[flow_id]["last_7_days"]["failed"] == 0
    with app.app_context():  # all in the hour the run was created in
        assert db.session.scalar(select(func.count()).select_from(FlowStat)) == 1


def test_days_are_local_and_buckets_zero_filled(app):
    period = stats.Period(datetime(2026, 12, 1, 20, 30), datetime(2026, 12, 3, 5, 0), "day", "Europe/Moscow")
    # 20:30 UTC on Dec 1 is Dec 1, 23:30 in Moscow; 05:00 UTC on Dec 3 is Dec 3, 08:00
    assert [k.isoformat() for k in period.bucket_keys()] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert period.start == datetime(2026, 11, 30, 21, 0) and period.end == datetime(2026, 12, 3, 21, 0)
    assert period.key(datetime(2026, 12, 1, 21, 0)).isoformat() == "2026-12-02"
    hours = stats.Period(datetime(2026, 12, 1, 20, 30), datetime(2026, 12, 1, 23, 0), "hour", "UTC")
    assert [period.label(k) for k in hours.bucket_keys()] == [
        "2026-12-01T20:00:00Z",
        "2026-12-01T21:00:00Z",
        "2026-12-01T22:00:00Z",
    ]


def test_reach_and_revenue_per_split_variant_match_a_hand_count(app, client, fake_receiver):
    doc = {
        "name": "A/B письмо",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "ab",
                "type": "flow.split",
                "params": {
                    "variants": [{"key": "A", "weight": 50}, {"key": "B", "weight": 50}],
                    "sticky": "client",
                },
            },
            {"id": "mail_a", "type": "action.webhook", "params": {"url": fake_receiver.url + "/a"}},
            {"id": "mail_b", "type": "action.webhook", "params": {"url": fake_receiver.url + "/b"}},
        ],
        "edges": [
            {"from": "start", "to": "ab"},
            {"from": "ab", "to": "mail_a", "branch": "A"},
            {"from": "ab", "to": "mail_b", "branch": "B"},
        ],
    }
    answer = client.post("/api/v1/flows", json=doc)
    assert answer.status_code == 201, answer.get_json()
    flow_id = answer.get_json()["id"]
    prices = {f"o{i}": 1000 + 100 * i for i in range(24)}
    for i, (order_id, price) in enumerate(prices.items()):
        client.put(f"/api/v1/clients/k{i}", json={"name": f"Клиент {i}"})
        client.put(f"/api/v1/orders/{order_id}", json={"price": price, "client_id": f"k{i}"})
    drain(app)
    with app.app_context():
        runs = db.session.execute(select(Run.order_id, Run.branch).where(Run.flow_id == flow_id)).all()
    variant = dict(runs)  # order -> variant, as each run recorded it
    assert set(variant.values()) == {"A", "B"} and len(variant) == len(prices)
    # what was sent agrees: each variant's hook got exactly its runs
    with app.app_context():  # each run went down its own variant's edge only
        taken = db.session.execute(
            select(Run.order_id, Step.node_id)
            .join(Step, Step.run_id == Run.id)
            .where(Step.node_id.in_(["mail_a", "mail_b"]), Step.status != "not_reached")
        ).all()
    assert sorted(taken) == sorted((o, "mail_" + v.lower()) for o, v in variant.items())

    paid = [f"o{i}" for i in range(0, 24, 3)] + ["o1"]  # o1 paid, then paid again below
    for order_id in paid:
        client.put(f"/api/v1/orders/{order_id}", json={"status": "Оплачен"})
    client.put("/api/v1/orders/o1", json={"status": "В работе"})
    client.put("/api/v1/orders/o1", json={"status": "Оплачен"})
    drain(app)
    with app.app_context():
        from plugin.engine import attribution

        attribution.catch_up(db.session, now=utcnow() + timedelta(minutes=10))
    conv = client.get(f"/api/v1/flows/{flow_id}/stats").get_json()["conversions"]
    for key in ("A", "B"):
        mine = [o for o, v in variant.items() if v == key]
        assert conv["by_branch"][key]["clients_reached"] == len(mine)
        assert conv["by_branch"][key]["converted"] == len([o for o in set(paid) if variant[o] == key])
        assert conv["by_branch"][key]["revenue"] == sum(prices[o] for o in set(paid) if variant[o] == key)
    assert conv["converted"] == len(set(paid)) and conv["revenue"] == sum(prices[o] for o in set(paid))


def test_a_control_group_is_reached_and_credited_without_a_send(app, client, fake_receiver):
    doc = {
        "name": "Письмо против контрольной группы",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "ab",
                "type": "flow.split",
                "params": {"variants": [{"key": "mail", "weight": 50}, {"key": "control", "weight": 50}]},
            },
            {"id": "hook", "type": "action.webhook", "params": {"url": fake_receiver.url + "/m"}},
        ],
        "edges": [{"from": "start", "to": "ab"}, {"from": "ab", "to": "hook", "branch": "mail"}],
    }
    answer = client.post("/api/v1/flows", json=doc)
    assert answer.status_code == 201, answer.get_json()
    flow_id = answer.get_json()["id"]
    for i in range(16):
        client.put(f"/api/v1/clients/k{i}", json={"name": f"Клиент {i}"})
        client.put(f"/api/v1/orders/o{i}", json={"price": 100 * (i + 1), "client_id": f"k{i}"})
    drain(app)
    with app.app_context():
        variant = dict(
            db.session.execute(select(Run.order_id, Run.branch).where(Run.flow_id == flow_id)).all()
        )
    control = sorted(o for o, v in variant.items() if v == "control")
    with app.app_context():  # the control group's runs sent nothing: their hook was never reached
        hooks = db.session.execute(
            select(Run.order_id, Step.status).join(Step, Step.run_id == Run.id).where(Step.node_id == "hook")
        ).all()
    assert control and {o for o, status in hooks if status == "not_reached"} == set(control)
    for order_id in variant:
        client.put(f"/api/v1/orders/{order_id}", json={"status": "Оплачен"})
    drain(app)
    with app.app_context():
        from plugin.engine import attribution

        attribution.catch_up(db.session, now=utcnow() + timedelta(minutes=10))
    conv = client.get(f"/api/v1/flows/{flow_id}/stats").get_json()["conversions"]
    assert conv["by_branch"]["control"]["clients_reached"] == len(control)
    assert conv["by_branch"]["control"]["converted"] == len(control)
    assert conv["by_branch"]["control"]["revenue"] == sum(100 * (int(o[1:]) + 1) for o in control)


def _metric_families(client) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    text = client.get("/metrics").get_data(as_text=True)
    return {f.name: f for f in text_string_to_metric_families(text)}


def _samples(families: dict, name: str) -> dict:
    """(sample name, sorted labels) → value of one metric family."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in families[name].samples}


def test_metrics_have_send_latency_per_scenario_and_failures_per_destination(app, client, fake_receiver):
    ok = client.post("/api/v1/flows", json=price_flow(fake_receiver.url + "/ok", 0, "Все")).get_json()["id"]
    for i in range(3):
        client.put(f"/api/v1/orders/o{i}", json={"price": 10})
    drain(app)
    fake_receiver.gone()
    client.put("/api/v1/orders/o9", json={"price": 10})
    drain(app)
    families = _metric_families(client)
    samples = _samples(families, "automation_flow_send_seconds")
    assert samples[("automation_flow_send_seconds_count", (("flow_id", ok),))] == 4
    assert samples[("automation_flow_send_seconds_bucket", (("flow_id", ok), ("le", "+Inf")))] == 4
    assert 0 < samples[("automation_flow_send_seconds_sum", (("flow_id", ok),))] < 4 * 10
    failures = {
        (s.labels["destination"], s.labels["reason"]): s.value
        for s in families["automation_destination_failures"].samples
        if s.name.endswith("_total")
    }
    assert [(reason, n) for (dest, reason), n in failures.items() if str(fake_receiver.port) in dest] == [
        ("HTTP 410", 1)
    ]


def test_a_late_call_is_counted_in_the_latency_and_its_run_settles(app, client, fake_receiver, caplog):
    """A receiver slower than the stage's patience for a new destination (0.1 s): the call is
    stored by the late settler, and its latency still reaches the histogram (it was lost)."""
    import logging

    fake_receiver.answer_after(0.6)
    flow_id = client.post("/api/v1/flows", json=price_flow(fake_receiver.url + "/slow", 0, "Все")).get_json()[
        "id"
    ]
    client.put("/api/v1/orders/o1", json={"price": 10})
    with caplog.at_level(logging.INFO, logger="plugin.transport.sendstage"):
        drain(app)  # returns once the late settler is idle (tests/conftest.settle_late)
    assert "still in flight are settled when they end" in caplog.text, "the call was not late: proves nothing"
    with app.app_context():
        assert db.session.scalars(select(Run.status)).all() == ["succeeded"]
        sends = db.session.execute(
            select(*(func.sum(getattr(FlowStat, c)) for c in ("sends", "le_100", "le_250", "le_500")))
        ).one()
    assert tuple(sends) == (1, 0, 0, 0)  # one call, slower than 0.5 s
    families = _metric_families(client)
    samples = _samples(families, "automation_flow_send_seconds")
    assert samples[("automation_flow_send_seconds_count", (("flow_id", flow_id),))] == 1
    assert 0.6 <= samples[("automation_flow_send_seconds_sum", (("flow_id", flow_id),))] < 10
