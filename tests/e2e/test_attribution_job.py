"""Attribution on the real path: an order → the worker's webhook reaches its client → the order is
paid, sent back to work and paid again through the API → the scheduler's attribution job stores
one conversion with the order's price."""

from __future__ import annotations

import time

from sqlalchemy import select

from plugin.api.extensions import db
from plugin.storage.stats_models import Conversion
from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow


def _conversions(app) -> list[tuple]:
    with app.app_context():
        c = Conversion.__table__.c
        rows = db.session.execute(select(c.flow_id, c.order_id, c.client_id, c.branch, c.revenue)).all()
        db.session.remove()
        return [tuple(r) for r in rows]


def test_the_scheduled_pass_attributes_a_paid_order_once(app, live, procs, fake_receiver):
    procs.env["AUTOMATION_ATTRIBUTION_INTERVAL"] = "1"
    procs.start("worker")
    procs.start("scheduler")
    api = Api(live.url)
    wait_for(lambda: api.get("/api/v1/health").json()["workers"] >= 1, timeout=30, message="a worker")
    created = api.post("/api/v1/flows", json=webhook_flow(fake_receiver.url + "/h", name="Новый заказ"))
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    assert api.put("/api/v1/clients/k1", json={"name": "Иван"}).status_code == 202
    assert (
        api.put("/api/v1/orders/z1", json={"client_id": "k1", "status": "Новый", "price": 1500}).status_code
        == 202
    )
    wait_for(lambda: fake_receiver.deliveries, timeout=30, message="the webhook\n" + procs.logs())
    # the run's end is committed right after the send the receiver saw
    wait_for(
        lambda: api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"][0]["status"] == "succeeded",
        message="the run's end",
    )
    for status in ("Оплачен", "В работе", "Оплачен"):
        assert api.put("/api/v1/orders/z1", json={"status": status}).status_code == 202
    wait_for(lambda: _conversions(app), timeout=30, message="the conversion\n" + procs.logs())
    time.sleep(2)  # two more passes: still one row
    assert _conversions(app) == [(flow_id, "z1", "k1", "hook", 1500.0)]
