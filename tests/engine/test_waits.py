"""flow.wait_event in-process: the abandoned-cart journey takes the «came» or the «timed out»
branch, exactly once when the event and the timeout race, and its waits are found by index."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine import waits
from plugin.engine.batch import dispatch_batch
from plugin.engine.claim import claim_events
from plugin.engine.dispatch import FlowIndex
from plugin.engine.execution import execute_isolated
from plugin.jobs.worker import make_engine
from plugin.storage.journey_models import Wait
from plugin.storage.models import Run, Step, utcnow
from tests.conftest import settle_late


def cart_flow(url: str, *, settings: dict | None = None, timeout=None) -> dict:
    """Order created → wait up to 3 days for the order to be paid → thanks, else a reminder."""
    return {
        "name": "Брошенная корзина",
        "enabled": True,
        "settings": settings or {},
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "wait",
                "type": "flow.wait_event",
                "params": {
                    "event": "order_status_changed",
                    "to_group": "paid",
                    "per": "order",
                    "timeout": timeout or {"days": 3},
                },
            },
            {"id": "thanks", "type": "action.webhook", "params": {"url": url + "/thanks"}},
            {"id": "remind", "type": "action.webhook", "params": {"url": url + "/remind"}},
        ],
        "edges": [
            {"from": "start", "to": "wait"},
            {"from": "wait", "to": "thanks", "branch": "true"},
            {"from": "wait", "to": "remind", "branch": "false"},
        ],
    }


def drain(app, session: Session | None = None) -> None:
    """Dispatch every stored event and walk the runs handed to the step path, as a worker does."""
    with app.app_context():
        runtime = rt()
        session = session or db.session
        engine, index = make_engine(runtime, db.engine), FlowIndex(runtime.registry)
        while ids := claim_events(session, 200, 60):
            for run_id in dispatch_batch(session, engine, index, ids, runtime.redis):
                execute_isolated(session, engine, run_id)
    settle_late()


def walk(app, run_ids) -> None:
    with app.app_context():
        engine = make_engine(rt(), db.engine)
        for run_id in run_ids:
            execute_isolated(db.session, engine, run_id)
    settle_late()


def paths(receiver) -> list[str]:
    return [d.request.path for d in receiver.deliveries]


def expire_waits(app) -> None:
    """Three days pass for the stored waits."""
    with app.app_context():
        past = utcnow() - timedelta(seconds=1)
        db.session.execute(update(Wait).values(timeout_at=past))
        db.session.execute(update(Step).where(Step.node_id == "wait").values(resume_at=past))
        db.session.commit()


def start_cart(app, client, fake_receiver, order="o1", **kw) -> str:
    assert client.post("/api/v1/flows", json=cart_flow(fake_receiver.url, **kw)).status_code == 201
    client.put(f"/api/v1/orders/{order}", json={"status": "Новая", "price": 990, "client_id": "c1"})
    drain(app)
    with app.app_context():
        run = db.session.scalars(select(Run).where(Run.order_id == order)).one()
        assert run.status == "waiting", run.error
        wait = db.session.scalars(select(Wait)).one()
        assert (wait.kind, wait.subject, wait.state) == ("order_status_changed", f"order:{order}", "waiting")
        assert timedelta(days=3) - timedelta(minutes=1) < wait.timeout_at - utcnow() <= timedelta(days=3)
        return run.id


def test_paid_within_the_wait_takes_the_came_branch_with_the_event_in_context(app, client, fake_receiver):
    run_id = start_cart(app, client, fake_receiver)
    client.put("/api/v1/orders/o1", json={"status": "В работе"})  # not paid: keeps waiting
    drain(app)
    assert paths(fake_receiver) == []
    client.put("/api/v1/orders/o1", json={"status": "Оплачен"})
    drain(app)
    assert paths(fake_receiver) == ["/thanks"]
    assert fake_receiver.deliveries[0].payload["order"]["status"] == "Оплачен"  # the fresher order
    run = client.get(f"/api/v1/runs/{run_id}").get_json()
    assert run["status"] == "succeeded"
    steps = {s["node_id"]: s for s in run["steps"]}
    assert steps["wait"]["verdict"] is True and steps["wait"]["output"]["data"]["to"] == "Оплачен"
    assert steps["remind"]["status"] == "not_reached"
    expire_waits(app)  # the timeout passing afterwards changes nothing
    with app.app_context():
        assert waits.sweep_timeouts(db.session) == []
    assert paths(fake_receiver) == ["/thanks"]


def test_unpaid_gets_the_reminder_at_the_timeout_through_the_sweeper(app, client, fake_receiver):
    run_id = start_cart(app, client, fake_receiver)
    with app.app_context():
        assert waits.sweep_timeouts(db.session) == []  # not yet
    expire_waits(app)
    with app.app_context():
        due = waits.sweep_timeouts(db.session)
    assert due == [run_id]
    walk(app, due)
    assert paths(fake_receiver) == ["/remind"]
    client.put("/api/v1/orders/o1", json={"status": "Оплачен"})  # too late: nothing more
    drain(app)
    assert paths(fake_receiver) == ["/remind"]
    steps = {s["node_id"]: s for s in client.get(f"/api/v1/runs/{run_id}").get_json()["steps"]}
    assert steps["wait"]["verdict"] is False and steps["thanks"]["status"] == "not_reached"


def test_the_run_woken_at_its_timeout_decides_it_itself(app, client, fake_receiver):
    run_id = start_cart(app, client, fake_receiver)
    expire_waits(app)
    walk(app, [run_id])  # RQ's scheduled job at the timeout, not the sweeper
    assert paths(fake_receiver) == ["/remind"]
    with app.app_context():
        assert db.session.scalars(select(Wait.state)).one() == "timed_out"


def test_event_and_timeout_racing_take_exactly_one_branch(app, client, fake_receiver):
    """The payment is stored within the wait; its dispatch, the sweeper and the run's own wake-up
    all go at once after the timeout: one of them wins, the run takes one branch, once. (Here the
    sweeper's single UPDATE usually wins; the test below plays both orders deterministically.)"""
    assert client.post("/api/v1/flows", json=cart_flow(fake_receiver.url)).status_code == 201
    for round_ in range(4):
        client.put(f"/api/v1/orders/n{round_}", json={"status": "Новая", "client_id": f"c{round_}"})
    drain(app)
    for round_ in range(4):
        client.put(f"/api/v1/orders/n{round_}", json={"status": "Оплачен"})  # stored before the timeout
    with app.app_context():  # ... and the timeout passes before it is dispatched
        db.session.execute(update(Wait).values(timeout_at=utcnow() + timedelta(milliseconds=300)))
        db.session.commit()
    import time

    time.sleep(0.35)
    errors: list[BaseException] = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        return run

    def sweeper():
        with app.app_context():
            session = Session(bind=db.engine)
            try:
                walk(app, waits.sweep_timeouts(session))
            finally:
                session.close()

    def dispatcher():
        with app.app_context():
            session = Session(bind=db.engine)
        try:
            drain(app, session)
        finally:
            session.close()

    def wakers():
        with app.app_context():
            ids = list(db.session.scalars(select(Run.id)))
        walk(app, ids)

    threads = [threading.Thread(target=guarded(f)) for f in (dispatcher, sweeper, wakers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    drain(app)
    with app.app_context():
        runs = list(db.session.scalars(select(Run)))
        walk(app, [r.id for r in runs if r.status != "succeeded"])
        db.session.expire_all()
        states = dict(db.session.execute(select(Wait.run_id, Wait.state)).all())
        orders = {r.id: r.order_id for r in db.session.scalars(select(Run))}
        assert {r.status for r in db.session.scalars(select(Run))} == {"succeeded"}
    assert len(states) == 4 and set(states.values()) <= {"came", "timed_out"}
    sent = [(d.request.path, d.payload["order"]["id"]) for d in fake_receiver.deliveries]
    assert sorted(o for _p, o in sent) == sorted(orders.values())  # exactly one message per run
    for run_id, state in states.items():
        assert (("/thanks" if state == "came" else "/remind"), orders[run_id]) in sent


def test_a_client_wait_is_answered_by_a_custom_event_of_the_client(app, client, fake_receiver):
    flow = cart_flow(fake_receiver.url)
    flow["nodes"][1]["params"] = {
        "event": "custom",
        "name": "cart_paid",
        "per": "client",
        "timeout": {"hours": 2},
    }
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    client.put("/api/v1/orders/o1", json={"client_id": "c1"})
    client.put("/api/v1/orders/o2", json={"client_id": "c2"})
    drain(app)
    client.post("/api/v1/events", json={"id": "e1", "name": "other", "client_id": "c1"})
    client.post(
        "/api/v1/events", json={"id": "e2", "name": "cart_paid", "client_id": "c1", "data": {"sum": 5}}
    )
    drain(app)
    assert [(d.request.path, d.payload["order"]["id"]) for d in fake_receiver.deliveries] == [
        ("/thanks", "o1")
    ]
    with app.app_context():
        assert sorted(db.session.scalars(select(Wait.state))) == ["came", "waiting"]


def test_a_dry_run_takes_the_branch_it_is_told(client, fake_receiver):
    flow_id = client.post("/api/v1/flows", json=cart_flow(fake_receiver.url)).get_json()["id"]
    context = {"order": {"id": "o1", "status": "Новая"}}
    for body, sent, skipped in (({}, "thanks", "remind"), ({"waits": {"wait": "false"}}, "remind", "thanks")):
        result = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": context, **body}).get_json()
        steps = {s["node_id"]: s for s in result["steps"]}
        assert steps["wait"]["status"] == "would_wait"
        assert steps["wait"]["output"]["delay_seconds"] == 3 * 86400
        assert (steps[sent]["status"], steps[skipped]["status"]) == ("would_send", "not_reached")
    # anything but "true" / "false" per node is named (the fuzz found it taken silently)
    for chosen, path in (
        ({"wait": {}}, "/waits/wait"),
        ({"wait": True}, "/waits/wait"),
        ([], "/waits"),
        (None, "/waits"),
    ):
        answer = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": context, "waits": chosen})
        assert answer.status_code == 422 and [e["path"] for e in answer.get_json()["errors"]] == [path]
    assert fake_receiver.deliveries == []


def _blocked_then(app, first_ends, second):
    """``first_ends(session)`` ends the wait in an open transaction; ``second()`` runs in a thread
    meanwhile — it must wait for that transaction (a row lock on PostgreSQL, the write lock on
    SQLite) — and returns what it ended once the first commits."""
    with app.app_context():
        session = Session(bind=db.engine)
    first = first_ends(session)
    out: list = []
    thread = threading.Thread(target=lambda: out.append(second()))
    thread.start()
    thread.join(0.7)
    assert thread.is_alive(), "the second party must wait for the first one's transaction"
    session.commit()
    session.close()
    thread.join(30)
    return first, out[0]


def test_the_conditional_update_lets_exactly_one_party_end_a_wait_whichever_comes_first(
    app, client, fake_receiver
):
    """Both orders of the race, deterministically: a payment stored within the wait is dispatched
    after the timeout, while the sweeper times the wait out. Whoever's UPDATE comes first holds
    the row; the other waits for its commit, finds the wait ended and ends nothing."""
    from plugin.engine.context import contexts_for

    assert client.post("/api/v1/flows", json=cart_flow(fake_receiver.url)).status_code == 201
    for order in ("first-event", "first-sweep"):
        client.put(f"/api/v1/orders/{order}", json={"status": "Новая"})
    drain(app)
    for order in ("first-event", "first-sweep"):
        client.put(f"/api/v1/orders/{order}", json={"status": "Оплачен"})  # stored within the wait...
    with app.app_context():
        db.session.execute(update(Wait).values(timeout_at=utcnow() + timedelta(milliseconds=200)))
        db.session.commit()
        runs = dict(db.session.execute(select(Run.order_id, Run.id)).all())
        waits_of = dict(db.session.execute(select(Wait.run_id, Wait.id)).all())
        from plugin.storage.models import Event

        events = {
            e.subject_id: e
            for e in db.session.scalars(select(Event).where(Event.trigger == "order_status_changed"))
        }
    import time

    time.sleep(0.3)  # ... and the timeout passes before it is dispatched
    with app.app_context():
        bind, registry = db.engine, rt().registry

    def dispatch(order):
        def ends(session=None):
            own = session or Session(bind=bind)
            event = events[order]
            found = waits.resolve(own, registry, [event], contexts_for(own, [event]), utcnow())
            if session is None:
                own.commit()
                own.close()
            return found

        return ends

    def sweep(wait_id):
        def ends(session=None):
            own = session or Session(bind=bind)
            ended = waits._end(own, wait_id, "timed_out", utcnow())
            if session is None:
                own.commit()
                own.close()
            return ended

        return ends

    came, swept = _blocked_then(app, dispatch("first-event"), sweep(waits_of[runs["first-event"]]))
    assert (came, swept) == ([runs["first-event"]], False)
    swept, came = _blocked_then(app, sweep(waits_of[runs["first-sweep"]]), dispatch("first-sweep"))
    assert (swept, came) == (True, [])
    walk(app, runs.values())
    assert sorted((d.request.path, d.payload["order"]["id"]) for d in fake_receiver.deliveries) == [
        ("/remind", "first-sweep"),
        ("/thanks", "first-event"),
    ]
