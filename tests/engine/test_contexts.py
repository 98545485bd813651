"""One context builder: the context a run gets at dispatch is the one a dry run of the same stored
event shows (context.contexts_for, whether fed with a batch or with one event).

Runs on SQLite and PostgreSQL (the ``app`` fixture is parametrised over both).
"""

from __future__ import annotations

from sqlalchemy import select

from plugin.api.extensions import db
from plugin.storage.models import Event, Run
from tests.engine.test_ingest_and_runs import _flow, drain


def test_a_run_and_the_dry_run_of_its_event_see_the_same_context(app, client, fake_receiver):
    for event in ("event.order_created", "event.visit_created", "event.custom"):
        assert (
            client.post("/api/v1/flows", json=_flow(fake_receiver.url + "/h", event=event)).status_code == 201
        )
    assert client.put("/api/v1/clients/c1", json={"name": "Анна", "phone": "+79990000000"}).status_code == 202
    client.post("/api/v1/visits", json={"id": "v1", "city": "Москва", "client_id": "c1"})
    client.put("/api/v1/orders/o1", json={"price": 100, "client_id": "c1", "visit_id": "v1"})
    client.put("/api/v1/orders/o2", json={"price": 200, "client_id": "c1"})
    client.put("/api/v1/orders/o3", json={"price": 300, "client_id": "c9"})  # a client without a record
    client.post("/api/v1/events", json={"id": "e1", "name": "go", "visit_id": "v1"})
    drain(app)
    with app.app_context():
        runs = {(r.event_id, r.flow_id): r.context for r in db.session.scalars(select(Run))}
        events = {e.id: e.subject_id for e in db.session.scalars(select(Event))}
    assert len(runs) == 5  # three orders, the visit, the custom event
    for (event_id, flow_id), context in runs.items():
        shown = client.post(f"/api/v1/flows/{flow_id}/test", json={"event_id": event_id}).get_json()[
            "context"
        ]
        assert shown == context, events[event_id]
    by_subject = {events[e]: c for (e, _f), c in runs.items()}
    assert by_subject["o1"]["client"]["name"] == "Анна" and by_subject["o1"]["visit"]["id"] == "v1"
    assert by_subject["o1"]["client_orders_count"] == by_subject["o2"]["client_orders_count"] == 2
    assert by_subject["o3"]["client"] is None and by_subject["o3"]["client_orders_count"] == 0
    assert by_subject["v1"]["order"]["id"] in ("o1", "o2") and by_subject["v1"]["client_orders_count"] == 2
    assert by_subject["e1"]["event"]["name"] == "go" and by_subject["e1"]["visit"]["id"] == "v1"
