"""The abandoned-cart journey on the real path (HTTP ingest → Redis → RQ worker and scheduler →
a local receiver): order created → wait up to 3 days for it to be paid → a thank-you if it was,
a reminder if not. Three days pass for the stored rows as in the ``flow.delay`` restart test:
their stored times are moved back. A worker SIGKILLed while runs wait loses none of them, and a
payment racing the timeout takes exactly one branch."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

from sqlalchemy import select, update

from tests.conftest import wait_for
from tests.e2e.helpers import Api
from tests.engine.test_waits import cart_flow


def _sent(receiver) -> list[tuple[str, str]]:
    return sorted((d.request.path, d.payload["order"]["id"]) for d in receiver.deliveries)


def _waiting(app, count: int):
    from plugin.api.extensions import db
    from plugin.storage.journey_models import Wait

    def found():
        with app.app_context():
            db.session.expire_all()
            return len(db.session.scalars(select(Wait.id).where(Wait.state == "waiting")).all()) >= count

    return found


def _pass_time(app, orders: list[str], until) -> None:
    """The stored waits of these orders' runs (their steps, their runs' next attempts) time out at ``until``."""
    from plugin.api.extensions import db
    from plugin.storage.journey_models import Wait
    from plugin.storage.models import Run, Step

    with app.app_context():
        runs = list(db.session.scalars(select(Run.id).where(Run.order_id.in_(orders))))
        db.session.execute(update(Wait).where(Wait.run_id.in_(runs)).values(timeout_at=until))
        db.session.execute(
            update(Step).where(Step.run_id.in_(runs), Step.node_id == "wait").values(resume_at=until)
        )
        db.session.execute(update(Run).where(Run.id.in_(runs)).values(next_attempt_at=until))
        db.session.commit()


def _orders(api: Api, ids: list[str]) -> None:
    items = [
        {"type": "order", "data": {"id": i, "status": "Новая", "price": 990, "client_id": "c" + i}}
        for i in ids
    ]
    assert api.post("/api/v1/batch", json={"items": items}).status_code == 202


def _pay(api: Api, ids: list[str]) -> None:
    items = [{"type": "order", "data": {"id": i, "status": "Оплачен"}} for i in ids]
    assert api.post("/api/v1/batch", json={"items": items}).status_code == 202


def test_abandoned_cart_thanks_the_payer_and_reminds_the_others_across_a_sigkill(
    app, live, procs, fake_receiver
):
    from plugin.storage.models import utcnow

    api = Api(live.url)
    assert api.post("/api/v1/flows", json=cart_flow(fake_receiver.url)).status_code == 201
    worker = procs.start("worker")
    procs.start("scheduler")
    orders = [f"o{i}" for i in range(1, 21)]
    _orders(api, orders)
    wait_for(_waiting(app, 20), timeout=30, message="20 runs waiting\n" + procs.logs())
    worker.send_signal(signal.SIGKILL)  # every run is waiting: nothing of them is only in memory
    worker.wait()
    paid, unpaid = orders[:10], orders[10:]
    _pay(api, paid)  # «a day later»: stored while no worker runs
    time.sleep(1)
    assert fake_receiver.deliveries == []
    procs.start("worker")
    wait_for(
        lambda: len(fake_receiver.deliveries) == 10, timeout=30, message="the thank-yous\n" + procs.logs()
    )
    assert _sent(fake_receiver) == sorted(("/thanks", o) for o in paid)
    time.sleep(2)  # the reminders wait for their timeout: nothing more yet
    assert len(fake_receiver.deliveries) == 10
    _pass_time(app, unpaid, utcnow() - timedelta(seconds=1))  # three days pass
    wait_for(
        lambda: len(fake_receiver.deliveries) == 20, timeout=30, message="the reminders\n" + procs.logs()
    )
    assert _sent(fake_receiver) == sorted([("/thanks", o) for o in paid] + [("/remind", o) for o in unpaid])
    wait_for(
        lambda: {r["status"] for r in api.get("/api/v1/runs?limit=100").json()["runs"]} == {"succeeded"},
        timeout=15,
        message="every run to succeed",
    )
    time.sleep(1.5)  # the sweeper runs every second: nothing is sent twice
    assert len(fake_receiver.deliveries) == 20


def test_a_payment_racing_the_timeout_takes_exactly_one_branch(app, live, procs, fake_receiver):
    """The payments are stored within the wait while no worker runs; the timeout passes; then two
    workers dispatching them, the sweeper's timeout pass and the runs' own wake-ups go at once.
    (Which party wins depends on the machine; tests/engine/test_waits.py plays both orders of the
    race deterministically, each party's UPDATE waiting for the other's transaction.)"""
    from plugin.storage.models import utcnow

    api = Api(live.url)
    assert api.post("/api/v1/flows", json=cart_flow(fake_receiver.url)).status_code == 201
    worker = procs.start("worker")
    orders = [f"r{i}" for i in range(1, 31)]
    _orders(api, orders)
    wait_for(_waiting(app, 30), timeout=30, message="30 runs waiting\n" + procs.logs())
    worker.send_signal(signal.SIGTERM)  # stopped cleanly: the payments below queue a dispatch job
    worker.wait()
    _pay(api, orders)  # stored before the timeout ...
    _pass_time(app, orders, utcnow() + timedelta(milliseconds=200))
    time.sleep(0.5)  # ... dispatched after it: the dispatch job and the sweeper's first pass start together
    procs.start("scheduler")
    procs.start("worker")
    procs.start("worker")
    wait_for(
        lambda: len(fake_receiver.deliveries) >= 30,
        timeout=40,
        message="one message per order\n" + procs.logs(),
    )
    time.sleep(2)
    sent = _sent(fake_receiver)
    assert sorted(o for _p, o in sent) == sorted(orders), sent  # exactly one message per order
    from plugin.api.extensions import db
    from plugin.storage.journey_models import Wait
    from plugin.storage.models import Run

    with app.app_context():
        state = dict(
            db.session.execute(select(Run.order_id, Wait.state).join(Wait, Wait.run_id == Run.id)).all()
        )
    assert sorted(sent) == sorted(("/thanks" if state[o] == "came" else "/remind", o) for o in orders)
