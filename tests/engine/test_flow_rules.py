"""Flow settings on the real dispatch path (in-process, real SMTP / SMS.ru fakes, both databases):
the frequency rule holds runs back as ``suppressed``, exactly, also under concurrency; the send
window holds a sending step ``waiting`` until the window opens (a controllable clock)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine import frequency
from plugin.engine.batch import dispatch_batch
from plugin.engine.claim import claim_events
from plugin.engine.dispatch import FlowIndex
from plugin.engine.execution import execute_isolated
from plugin.engine.resume import resume_runs
from plugin.jobs.worker import make_engine
from plugin.storage.models import Flow, FrequencySlot, Run, Step
from tests.conftest import settle_late

DAY_RULE = {"per": "client", "limit": 1, "window_hours": 24}


class Clock:
    """The engine's clock for send windows, set by the test (naive UTC)."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def drain(app, clock=None) -> None:
    """Dispatch every stored event in-process, as a worker's dispatch job does."""
    with app.app_context():
        runtime = rt()
        engine, index = make_engine(runtime, db.engine), FlowIndex(runtime.registry)
        if clock is not None:
            engine.clock = clock
        while ids := claim_events(db.session, 200, 60):
            dispatch_batch(db.session, engine, index, ids, runtime.redis)
    settle_late()


def email_flow(smtp, settings) -> dict:
    params = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.plain_port,
        "security": "none",
        "username": smtp.login,
        "password": smtp.password,
        "from_email": "shop@example.ru",
        "subject": "Мы скучаем",
        "html": "<p>Здравствуйте, {client_name}!</p>",
    }
    return {
        "name": "Вернувшийся посетитель",
        "enabled": True,
        "settings": settings,
        "nodes": [
            {"id": "start", "type": "event.visit_created", "params": {}},
            {"id": "mail", "type": "action.email", "params": params},
        ],
        "edges": [{"from": "start", "to": "mail"}],
    }


def sms_flow(smsru, settings) -> dict:
    params = {
        "provider": "smsru",
        "api_id": "SMSRU-API-ID",
        "text": "Заказ {order_id} ждёт вас",
        "base_url": smsru.url,
    }
    return {
        "name": "Брошенная корзина",
        "enabled": True,
        "settings": settings,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "big", "type": "condition.order_price", "params": {"operator": "gt", "value": 0}},
            {"id": "sms", "type": "action.sms", "params": params},
        ],
        "edges": [{"from": "start", "to": "big"}, {"from": "big", "to": "sms"}],
    }


def _runs(app, **where) -> list[Run]:
    with app.app_context():
        db.session.expire_all()
        return db.session.scalars(select(Run).filter_by(**where).order_by(Run.created_at)).all()


def test_seven_visits_of_one_client_send_one_email_and_suppress_six(app, client, fake_smtp):
    r = client.post("/api/v1/flows", json=email_flow(fake_smtp, {"frequency": DAY_RULE}))
    assert r.status_code == 201, r.get_json()
    flow_id = r.get_json()["id"]
    client.put("/api/v1/clients/c1", json={"name": "Анна", "email": "anna@example.ru"})
    for i in range(7):  # an hour of visits, dispatched one by one and all at once
        assert client.post("/api/v1/visits", json={"id": f"v{i}", "client_id": "c1"}).status_code == 202
        if i < 3:
            drain(app)
    drain(app)

    assert [m.rcpt_tos for m in fake_smtp.messages] == [["anna@example.ru"]]
    runs = _runs(app, flow_id=flow_id)
    assert sorted(r.status for r in runs) == ["succeeded"] + ["suppressed"] * 6
    suppressed = [r for r in runs if r.status == "suppressed"]
    assert all("правило частоты" in r.error and "24 h" in r.error for r in suppressed)
    assert all(r.finished_at is not None and not r.triggered for r in suppressed)

    listed = client.get(f"/api/v1/runs?flow_id={flow_id}&status=suppressed").get_json()["runs"]
    assert len(listed) == 6 and listed[0]["error"].startswith("подавлен: правило частоты")
    stats = client.get(f"/api/v1/flows/{flow_id}").get_json()["stats"]
    assert stats["triggered"] == 1 and stats["suppressed"] == 6
    assert 'automation_runs{status="suppressed"} 6.0' in client.get("/metrics").get_data(as_text=True)

    # another client is not held back by the first one's run
    client.put("/api/v1/clients/c2", json={"email": "boris@example.ru"})
    client.post("/api/v1/visits", json={"id": "w1", "client_id": "c2"})
    drain(app)
    assert [m.rcpt_tos[0] for m in fake_smtp.messages] == ["anna@example.ru", "boris@example.ru"]

    # a day later (the slot's stored time moved back, as the clock would) the first client passes again
    with app.app_context():
        age_slots(timedelta(hours=25))
    client.post("/api/v1/visits", json={"id": "v-next-day", "client_id": "c1"})
    drain(app)
    assert [m.rcpt_tos[0] for m in fake_smtp.messages].count("anna@example.ru") == 2


def test_a_rule_per_order_over_all_time(app, client, fake_smsru):
    doc = sms_flow(fake_smsru, {"frequency": {"per": "order", "limit": 1, "window_hours": None}})
    doc["nodes"][0] = {"id": "start", "type": "event.order_status_changed", "params": {"to": [], "from": []}}
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    client.put("/api/v1/clients/c1", json={"phone": "+79123456789"})
    for status in ("Новая", "В работе", "Ждёт оплаты"):  # two status changes of one order
        client.put("/api/v1/orders/o1", json={"client_id": "c1", "price": 10, "status": status})
        drain(app)
    assert len(fake_smsru.sent) == 1
    with app.app_context():  # ten years on, "ever" still holds
        age_slots(timedelta(days=3650))
    client.put("/api/v1/orders/o1", json={"status": "Оплачен"})
    client.put("/api/v1/orders/o2", json={"client_id": "c1", "price": 10, "status": "Новая"})
    client.put("/api/v1/orders/o2", json={"status": "В работе"})  # another order: its own slot
    drain(app)
    assert len(fake_smsru.sent) == 2
    statuses = sorted(r.status for r in _runs(app, flow_id=flow_id))
    assert statuses == ["succeeded", "succeeded", "suppressed", "suppressed"]


def test_concurrent_claims_let_exactly_the_limit_through(app):
    """Two dispatchers (threads with their own connections) claiming for one client at once."""
    rule = {"per": "client", "limit": 3, "window_hours": 24}
    now = datetime(2026, 12, 7, 10, 0)
    barrier, winners, errors = threading.Barrier(4), [], []
    with app.app_context():
        bind = db.engine

    def dispatcher(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(5):
                with Session(bind=bind) as session:
                    run_id = f"w{n}-{i}"
                    lost = frequency.claim(session, [(run_id, "f1", "client:c1", rule)], now)
                    session.commit()
                    if run_id not in lost:
                        winners.append(run_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(winners) == 3
    with app.app_context():
        stored = db.session.scalars(
            select(FrequencySlot.run_id).where(FrequencySlot.subject == "client:c1")
        ).all()
    assert sorted(stored) == sorted(winners)


def _shift_stored_times(run_id: str, delta: timedelta) -> None:
    """Move the run's stored times ``delta`` into the past: the real time passing for the rows
    (computed here: SQLite has no date arithmetic)."""
    db.session.expire_all()
    run = db.session.get(Run, run_id)
    run.next_attempt_at -= delta
    for step in db.session.scalars(select(Step).where(Step.run_id == run_id, Step.resume_at.is_not(None))):
        step.resume_at -= delta
    db.session.commit()


def age_slots(delta: timedelta) -> None:
    """Every frequency slot used ``delta`` earlier (computed here: SQLite has no date arithmetic)."""
    for slot in db.session.scalars(select(FrequencySlot)):
        slot.used_at -= delta
    db.session.commit()


def test_an_order_at_three_waits_for_the_nine_oclock_window_then_sends(app, client, fake_smsru):
    window = {"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "21:00", "timezone": "Europe/Moscow"}
    flow_id = client.post("/api/v1/flows", json=sms_flow(fake_smsru, {"send_window": window})).get_json()[
        "id"
    ]
    client.put("/api/v1/clients/c1", json={"phone": "+79123456789"})
    client.put("/api/v1/orders/o1", json={"client_id": "c1", "price": 10})
    clock = Clock(datetime(2026, 12, 7, 0, 0))  # Monday 03:00 in Moscow
    drain(app, clock)

    (run,) = _runs(app, flow_id=flow_id)
    assert run.status == "waiting" and not fake_smsru.sent
    body = client.get(f"/api/v1/runs/{run.id}").get_json()
    steps = {s["node_id"]: s for s in body["steps"]}
    assert steps["big"]["verdict"] is True  # conditions were evaluated before the wait
    assert steps["sms"]["status"] == "waiting" and steps["sms"]["attempts"] == 0
    assert steps["sms"]["error"].startswith("ждёт окна отправки до 09:00 07.12")
    resume_at = datetime.fromisoformat(steps["sms"]["resume_at"].rstrip("Z"))
    assert abs(
        (resume_at - datetime.fromisoformat(body["created_at"].rstrip("Z"))) - timedelta(hours=6)
    ) < timedelta(seconds=30)

    with app.app_context():
        engine = make_engine(rt(), db.engine)
        engine.clock = clock
        clock.now = datetime(2026, 12, 7, 5, 59)  # 08:59: woken early, it waits on
        _shift_stored_times(run.id, timedelta(hours=6))
        for run_id in resume_runs(db.session, engine, [run.id]):
            execute_isolated(db.session, engine, run_id)
        assert not fake_smsru.sent
        clock.now = datetime(2026, 12, 7, 6, 0)  # 09:00 in Moscow
        _shift_stored_times(run.id, timedelta(minutes=2))
        for run_id in resume_runs(db.session, engine, [run.id]):
            execute_isolated(db.session, engine, run_id)
    settle_late()  # the first call to SMS.ru: later than a new destination's 0.1 s on a busy machine
    assert [m["to"] for m in fake_smsru.sent] == ["79123456789"]
    (run,) = _runs(app, flow_id=flow_id)
    assert run.status == "succeeded"


def test_a_step_reached_later_in_the_walk_waits_too(app, client, fake_smsru, fake_receiver):
    """The step-by-step path (after a webhook) checks the window as the first wave does."""
    window = {"days": [6, 7], "from": "10:00", "to": "12:00"}  # the engine's default time zone (Moscow)
    doc = sms_flow(fake_smsru, {"send_window": window})
    doc["nodes"].insert(
        2, {"id": "hook", "type": "action.webhook", "params": {"url": fake_receiver.url + "/h"}}
    )
    doc["edges"] = [
        {"from": "start", "to": "big"},
        {"from": "big", "to": "hook"},
        {"from": "hook", "to": "sms"},
    ]
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    client.put("/api/v1/clients/c1", json={"phone": "+79123456789"})
    client.put("/api/v1/orders/o1", json={"client_id": "c1", "price": 10})
    clock = Clock(datetime(2026, 12, 7, 9, 0))  # Monday noon in Moscow: Saturday is five days away
    drain(app, clock)
    (run,) = _runs(app, flow_id=flow_id)
    with app.app_context():
        engine = make_engine(rt(), db.engine)
        engine.clock = clock
        execute_isolated(db.session, engine, run.id)
    settle_late()  # a late webhook: the settler walks the run on to the sms step
    assert len(fake_receiver.deliveries) == 1 and not fake_smsru.sent
    with app.app_context():
        step = db.session.scalars(select(Step).filter_by(run_id=run.id, node_id="sms")).one()
        assert step.status == "waiting" and step.error.startswith("ждёт окна отправки до 10:00 12.12")
        assert db.session.get(Flow, flow_id).triggered_count == 1


def test_pruning_drops_the_slots_no_window_holds(app, client, fake_receiver):
    from plugin.engine import retention

    def flow(rule) -> str:
        doc = {
            "name": "f",
            "enabled": True,
            "settings": {"frequency": rule},
            "nodes": [
                {"id": "start", "type": "event.visit_created", "params": {}},
                {"id": "hook", "type": "action.webhook", "params": {"url": fake_receiver.url + "/h"}},
            ],
            "edges": [{"from": "start", "to": "hook"}],
        }
        return client.post("/api/v1/flows", json=doc).get_json()["id"]

    daily, ever = flow(DAY_RULE), flow({"per": "client", "limit": 1, "window_hours": None})
    gone = flow(DAY_RULE)
    now = datetime(2026, 12, 7, 10, 0)
    with app.app_context():
        claims = [
            (f"{f}-{c}", f, f"client:{c}", DAY_RULE) for f in (daily, ever, gone) for c in ("old", "new")
        ]
        assert frequency.claim(db.session, claims, now - timedelta(hours=30)) == set()
        db.session.commit()
        for slot in db.session.scalars(select(FrequencySlot).where(FrequencySlot.subject == "client:new")):
            slot.used_at = now - timedelta(hours=2)
        db.session.commit()
    assert client.delete(f"/api/v1/flows/{gone}").status_code == 204
    with app.app_context():
        retention.prune(db.session, retention.Policy(72, 30), now)
        kept = db.session.execute(select(FrequencySlot.flow_id, FrequencySlot.subject)).all()
    assert sorted(kept) == sorted([(daily, "client:new"), (ever, "client:old"), (ever, "client:new")])
