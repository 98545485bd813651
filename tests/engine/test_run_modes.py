"""Run modes and exit events (issue #20): ``single`` starts no second run for a client with an
active one, ``restart`` cancels it for the new one — also when two dispatchers decide at once —
and an exit event ends the waiting runs of the entity as ``cancelled``."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine import journeys
from plugin.engine.batch import dispatch_batch
from plugin.engine.claim import claim_events
from plugin.engine.dispatch import FlowIndex
from plugin.jobs.worker import make_engine
from plugin.storage.journey_models import RunCancel, Wait
from plugin.storage.models import Flow, Run, Step, utcnow
from tests.engine.test_waits import cart_flow, drain, walk


def _runs(app) -> list[Run]:
    with app.app_context():
        db.session.expire_all()
        return list(db.session.scalars(select(Run).order_by(Run.created_at)))


def _dispatch_at_once(app, count: int) -> None:
    """``count`` dispatchers, each with its own connection and one claimed event, store their
    runs at the same moment (a barrier between the claims and the dispatches)."""
    with app.app_context():
        runtime = rt()
        sessions = [Session(bind=db.engine) for _ in range(count)]
        engine = make_engine(runtime, db.engine)
        claims = [claim_events(s, 1, 60) for s in sessions]
    assert all(len(c) == 1 for c in claims)
    barrier, errors, handed = threading.Barrier(count), [], []

    def dispatch(session, claim):
        try:
            barrier.wait(10)
            handed.extend(dispatch_batch(session, engine, FlowIndex(runtime.registry), claim, runtime.redis))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=dispatch, args=pair) for pair in zip(sessions, claims, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    walk(app, handed)  # the step path, as the dispatch job runs it after its batch


def _two_orders_of_one_client(client, fake_receiver, mode: str) -> None:
    flow = cart_flow(fake_receiver.url, settings={"run_mode": {"mode": mode, "per": "client"}})
    assert client.post("/api/v1/flows", json=flow).status_code == 201, client.post(
        "/api/v1/flows", json=flow
    ).get_json()
    client.put("/api/v1/orders/o1", json={"client_id": "c1", "status": "Новая"})
    client.put("/api/v1/orders/o2", json={"client_id": "c1", "status": "Новая"})


def test_single_mode_starts_one_run_when_two_triggers_for_a_client_are_dispatched_at_once(
    app, client, fake_receiver
):
    _two_orders_of_one_client(client, fake_receiver, "single")
    _dispatch_at_once(app, 2)
    runs = _runs(app)
    assert sorted(r.status for r in runs) == ["suppressed", "waiting"], [(r.status, r.error) for r in runs]
    (held,) = [r for r in runs if r.status == "suppressed"]
    assert held.error.startswith("подавлен: уже идёт запуск для клиента")
    listed = client.get("/api/v1/runs?status=suppressed").get_json()["runs"]
    assert [r["id"] for r in listed] == [held.id]
    with app.app_context():
        assert db.session.get(Flow, runs[0].flow_id).suppressed_count == 1
    # a third order while the first run still waits: suppressed too; once it has ended, a run starts
    drain(app)
    client.put("/api/v1/orders/o3", json={"client_id": "c1"})
    drain(app)
    assert [r.status for r in _runs(app)].count("suppressed") == 2
    client.put(
        f"/api/v1/orders/{next(r for r in runs if r.status != 'suppressed').order_id}",
        json={"status": "Оплачен"},
    )
    drain(app)
    client.put("/api/v1/orders/o4", json={"client_id": "c1"})
    drain(app)
    assert sorted(r.status for r in _runs(app)) == ["succeeded", "suppressed", "suppressed", "waiting"]


def test_restart_mode_keeps_one_run_when_two_triggers_are_dispatched_at_once(app, client, fake_receiver):
    _two_orders_of_one_client(client, fake_receiver, "restart")
    _dispatch_at_once(app, 2)
    drain(app)
    with app.app_context():  # a run whose worker held it when it was replaced: the sweeper ends it
        journeys.sweep_cancels(db.session, utcnow())
    runs = _runs(app)
    assert sorted(r.status for r in runs) == ["cancelled", "waiting"], [(r.status, r.error) for r in runs]
    (old,) = [r for r in runs if r.status == "cancelled"]
    (new,) = [r for r in runs if r.status == "waiting"]
    assert old.error.startswith(f"отменён: перезапущен запуском {new.id}")
    with app.app_context():
        states = dict(db.session.execute(select(Wait.run_id, Wait.state)).all())
    assert states.get(old.id) in (None, "cancelled") and states[new.id] == "waiting"
    # a later trigger restarts again: the waiting run is cancelled at once, its wait dropped
    client.put("/api/v1/orders/o3", json={"client_id": "c1"})
    drain(app)
    runs = _runs(app)
    assert sorted(r.status for r in runs) == ["cancelled", "cancelled", "waiting"]
    with app.app_context():
        assert db.session.scalars(select(Wait.state).where(Wait.run_id == new.id)).one() == "cancelled"
        assert db.session.scalars(
            select(Step.status).where(Step.run_id == new.id, Step.node_id == "wait")
        ).one() == ("not_reached")
    listed = client.get("/api/v1/runs?status=cancelled").get_json()["runs"]
    assert {r["id"] for r in listed} == {old.id, new.id}
    with app.app_context():
        assert db.session.get(Flow, new.flow_id).failed_count == 0


def test_parallel_is_the_default(app, client, fake_receiver):
    assert client.post("/api/v1/flows", json=cart_flow(fake_receiver.url)).status_code == 201
    client.put("/api/v1/orders/o1", json={"client_id": "c1"})
    client.put("/api/v1/orders/o2", json={"client_id": "c1"})
    drain(app)
    assert [r.status for r in _runs(app)] == ["waiting", "waiting"]


def test_an_exit_event_cancels_the_waiting_runs_of_its_order(app, client, fake_receiver):
    flow = cart_flow(
        fake_receiver.url,
        settings={"exit_event": {"type": "event.order_status_changed", "params": {"to_group": "cancelled"}}},
    )
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    for order in ("o1", "o2"):
        client.put(f"/api/v1/orders/{order}", json={"client_id": "c1", "status": "Новая"})
    drain(app)
    client.put("/api/v1/orders/o1", json={"status": "Отменён", "status_group": "cancelled"})
    drain(app)
    runs = {r.order_id: r for r in _runs(app)}
    assert runs["o1"].status == "cancelled" and runs["o2"].status == "waiting"
    assert runs["o1"].error.startswith("отменён: пришло событие выхода order_status_changed")
    with app.app_context():
        states = dict(db.session.execute(select(Wait.run_id, Wait.state)).all())
        assert states == {runs["o1"].id: "cancelled", runs["o2"].id: "waiting"}
    assert fake_receiver.deliveries == []  # neither branch
    run = client.get(f"/api/v1/runs/{runs['o1'].id}").get_json()
    assert run["status"] == "cancelled" and run["error"].startswith("отменён")


def test_an_exit_event_cancels_a_delay_and_a_busy_run_once_its_worker_lets_go(app, client, fake_receiver):
    flow = {
        "name": "Напоминание",
        "enabled": True,
        "settings": {"exit_event": {"type": "event.custom", "params": {"name": "unsubscribed"}}},
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "pause", "type": "flow.delay", "params": {"amount": 1, "unit": "days"}},
            {"id": "hook", "type": "action.webhook", "params": {"url": fake_receiver.url + "/h"}},
        ],
        "edges": [{"from": "start", "to": "pause"}, {"from": "pause", "to": "hook"}],
    }
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    client.put("/api/v1/orders/o1", json={"client_id": "c1"})
    client.put("/api/v1/orders/o2", json={"client_id": "c2"})
    drain(app)
    (busy,) = [r for r in _runs(app) if r.order_id == "o2"]
    with app.app_context():  # o2's run is held by a worker right now
        db.session.execute(
            update(Run).where(Run.id == busy.id).values(lease_until=utcnow() + timedelta(minutes=1))
        )
        db.session.commit()
    client.post("/api/v1/events", json={"id": "e1", "name": "unsubscribed", "client_id": "c1"})
    client.post("/api/v1/events", json={"id": "e2", "name": "unsubscribed", "client_id": "c2"})
    drain(app)
    runs = {r.order_id: r for r in _runs(app)}
    assert runs["o1"].status == "cancelled" and runs["o2"].status == "waiting"
    with app.app_context():
        assert db.session.scalars(select(RunCancel.run_id)).all() == [busy.id]
        assert journeys.sweep_cancels(db.session, utcnow()) == 0  # still held
        db.session.execute(update(Run).where(Run.id == busy.id).values(lease_until=None))
        db.session.commit()
        assert journeys.sweep_cancels(db.session, utcnow()) == 1
        assert db.session.scalars(select(RunCancel.run_id)).all() == []
    assert {r.status for r in _runs(app)} == {"cancelled"}


def test_settings_and_wait_params_are_validated(client):
    flow = cart_flow("http://127.0.0.1:9/x", timeout={"days": 0, "hours": 0, "minutes": 0})
    flow["nodes"][1]["params"].update(event="custom", per="order")
    flow["settings"] = {
        "run_mode": {"mode": "sometimes"},
        "exit_event": {"type": "event.custom", "params": {"to_group": "paid"}},
    }
    r = client.post("/api/v1/flows", json=flow)
    assert r.status_code == 422
    paths = sorted(e["path"] for e in r.get_json()["errors"])
    # every problem at once: the settings' shape, the wait node's (the exit event's params wait for the shape)
    assert paths == [
        "/nodes/1/params/name",
        "/nodes/1/params/per",
        "/nodes/1/params/timeout",
        "/nodes/1/params/to_group",
        "/settings/run_mode/mode",
    ]
    flow["settings"]["run_mode"] = {"mode": "single", "per": "order"}
    r = client.post("/api/v1/flows", json=flow, headers={"Accept-Language": "ru"})
    errors = {e["path"]: e["message"] for e in r.get_json()["errors"]}
    assert set(errors) == {
        "/nodes/1/params/timeout",
        "/nodes/1/params/name",
        "/nodes/1/params/per",
        "/nodes/1/params/to_group",
        "/settings/exit_event/params/to_group",
    }, errors
    assert errors["/nodes/1/params/timeout"].startswith("Ждать можно от 1 минуты до 90 дней")
    assert (
        errors["/nodes/1/params/per"]
        == "Событие «Пользовательское событие» нельзя ждать для сделки: только для клиента, посетителя"
    )
    flow["nodes"][1]["params"] = {"event": "custom", "name": "paid", "per": "client", "timeout": {"days": 90}}
    flow["settings"]["exit_event"] = {
        "type": "event.order_status_changed",
        "params": {"to": ["Оплачен"], "to_group": "paid"},
    }
    assert client.post("/api/v1/flows", json=flow).status_code == 201


def test_dispatch_looks_nothing_up_unless_a_flow_waits_exits_or_has_a_run_mode(app, client, fake_receiver):
    plain = cart_flow(fake_receiver.url)
    plain["nodes"] = [plain["nodes"][0], plain["nodes"][2]]
    plain["edges"] = [{"from": "start", "to": "thanks"}]
    assert client.post("/api/v1/flows", json=plain).status_code == 201
    with app.app_context():
        runtime = rt()
        index = FlowIndex(runtime.registry)
        index.refresh(db.session, runtime.redis)
        assert journeys.info(index, runtime.registry) is None  # cached per load: no journey work at all
    waiting = client.post("/api/v1/flows", json=cart_flow(fake_receiver.url)).get_json()
    with app.app_context():
        index.refresh(db.session, runtime.redis)
        needs = journeys.info(index, runtime.registry)
        assert needs.waits == {"order_status_changed"} and needs.exits == {} and needs.modes == {}
        assert journeys.info(index, runtime.registry) is needs
    assert waiting["id"]


def test_run_mode_locks_unused_for_an_hour_are_pruned(app, client, fake_receiver):
    _two_orders_of_one_client(client, fake_receiver, "single")
    drain(app)
    with app.app_context():
        assert journeys.prune_locks(db.session, utcnow()) == 0
        assert journeys.prune_locks(db.session, utcnow() + timedelta(hours=2)) == 1


def test_a_run_replaced_while_its_worker_held_it_never_starts_waiting(app, client, fake_receiver):
    """The restart came while the old run's first steps were being walked: it is parked at its wait
    node (no wait an event could answer) until the sweeper cancels it."""
    flow = cart_flow(fake_receiver.url, settings={"run_mode": {"mode": "restart", "per": "client"}})
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    client.put("/api/v1/orders/o1", json={"client_id": "c1"})
    with app.app_context():  # dispatched (its run stored, leased), not yet walked
        runtime = rt()
        engine = make_engine(runtime, db.engine)
        handed = dispatch_batch(
            db.session, engine, FlowIndex(runtime.registry), claim_events(db.session, 10, 60)
        )
        db.session.execute(update(Run).values(lease_until=utcnow() + timedelta(minutes=1)))
        db.session.commit()
    client.put("/api/v1/orders/o2", json={"client_id": "c1"})
    drain(app)  # the restart: the old run is held, its cancellation recorded
    with app.app_context():
        db.session.execute(update(Run).where(Run.id.in_(handed)).values(lease_until=None))
        db.session.commit()
    walk(app, handed)
    with app.app_context():
        assert db.session.scalars(select(Wait.run_id)).all() == [_new_run(app)]
    client.put("/api/v1/orders/o1", json={"status": "Оплачен"})  # its payment answers nothing
    drain(app)
    with app.app_context():
        assert journeys.sweep_cancels(db.session, utcnow()) == 1
    assert sorted(r.status for r in _runs(app)) == ["cancelled", "waiting"]
    assert fake_receiver.deliveries == []


def _new_run(app) -> str:
    return next(r.id for r in _runs(app) if r.order_id == "o2")
