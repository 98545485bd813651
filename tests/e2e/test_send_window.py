"""A send window on the real path: an order at 03:00 (local time of the window's zone) to a
09:00–21:00 SMS scenario waits, durably, through a worker killed and started again, and its SMS
goes out once the window has opened — not before. Time passes for the stored rows as in the
``flow.delay`` restart test: their stored times are moved back by the hours that pass."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta

from sqlalchemy import select

from tests.conftest import wait_for
from tests.e2e.helpers import Api


def _zone_where_it_is_night_now() -> tuple[str, datetime]:
    """An IANA zone (Etc/GMT±N) whose local time is 03:MM now — 02:MM in the last two minutes of
    an hour, so that it is still night, well before the window, when the hour turns during the
    test — and that moment's local time."""
    now = datetime.utcnow()  # noqa: DTZ003 - naive UTC, as the engine stores it
    offset = (2 if now.minute >= 58 else 3) - now.hour
    if offset < -12:
        offset += 24
    if offset > 14:
        offset -= 24
    name = f"Etc/GMT{-offset:+d}"  # the Etc zones count the other way round: Etc/GMT-3 is UTC+3
    return name, now + timedelta(hours=offset)


def test_an_order_at_three_is_sent_when_the_window_opens_across_a_worker_restart(
    app, live, procs, fake_smsru
):
    from plugin.api.extensions import db
    from plugin.storage.models import Run, Step, utcnow

    zone, local = _zone_where_it_is_night_now()
    api = Api(live.url)
    window = {"from": "09:00", "to": "21:00", "timezone": zone}
    flow = {
        "name": "Брошенная корзина",
        "enabled": True,
        "settings": {"send_window": window},
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "sms",
                "type": "action.sms",
                "params": {
                    "provider": "smsru",
                    "api_id": "SMSRU-API-ID",
                    "text": "Вы забыли корзину",
                    "base_url": fake_smsru.url,
                },
            },
        ],
        "edges": [{"from": "start", "to": "sms"}],
    }
    assert api.post("/api/v1/flows", json=flow).status_code == 201
    worker = procs.start("worker")
    procs.start("scheduler")
    api.put("/api/v1/clients/c1", json={"phone": "+79123456789"})
    assert api.put("/api/v1/orders/o1", json={"client_id": "c1", "price": 990}).status_code == 202

    def waiting_step():
        with app.app_context():
            db.session.expire_all()
            return db.session.scalars(select(Step).filter_by(node_id="sms", status="waiting")).first()

    step = wait_for(waiting_step, timeout=20, message="the SMS step to wait for the window\n" + procs.logs())
    opens = local.replace(hour=9, minute=0, second=0, microsecond=0)
    expected = utcnow() + (opens - local)
    assert abs(step.resume_at - expected) < timedelta(seconds=30)
    assert step.error.startswith("ждёт окна отправки до 09:00")
    # the step may be stored a moment before its run (the batch's steps and runs: two commits)
    (run,) = wait_for(
        lambda: [r for r in api.get("/api/v1/runs").json()["runs"] if r["status"] == "waiting"],
        timeout=10,
        message="the run to wait",
    )
    assert run["next_attempt_at"] is not None
    assert run["steps"][-1]["resume_at"] is not None

    worker.send_signal(signal.SIGKILL)
    worker.wait()
    procs.start("worker")
    time.sleep(3)
    assert not fake_smsru.sent, "a restart must not send before the window opens"
    assert waiting_step().resume_at == step.resume_at

    # six hours pass for the stored rows: the wait, the run's next attempt and the window waited for
    delta = step.resume_at - utcnow() + timedelta(seconds=1)
    with app.app_context():
        stored = db.session.get(Step, step.id)
        held = dict(stored.state["send_window"])
        state = {
            **stored.state,
            "send_window": {k: (datetime.fromisoformat(v) - delta).isoformat() for k, v in held.items()},
        }
        stored.resume_at -= delta
        stored.state = state
        for run_row in db.session.scalars(select(Run)):  # computed here: SQLite has no date arithmetic
            run_row.next_attempt_at -= delta
        db.session.commit()
    wait_for(lambda: fake_smsru.sent, timeout=20, message="the SMS once the window opened\n" + procs.logs())
    assert [m["msg"] for m in fake_smsru.sent] == ["Вы забыли корзину"]
    wait_for(
        lambda: api.get("/api/v1/runs").json()["runs"][0]["status"] == "succeeded",
        timeout=10,
        message="the run to succeed",
    )
