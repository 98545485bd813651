"""Requests racing each other on one row: a PATCH whose flow is deleted by another request
before it answers (schemathesis' 10-minute run with two workers found a 500 there)."""

from __future__ import annotations

from sqlalchemy import event, text

from plugin.api.extensions import db

FLOW = {
    "format": "automation-flow/1",
    "name": "race",
    "nodes": [
        {"id": "start", "type": "event.order_created", "params": {}},
        {"id": "hook", "type": "action.webhook", "params": {"url": "https://example.com/h"}},
    ],
    "edges": [{"from": "start", "to": "hook"}],
}


def test_a_patch_whose_flow_is_deleted_meanwhile_is_a_404_not_a_500(app, client):
    flow_id = client.post("/api/v1/flows", json=FLOW).get_json()["id"]
    deleted = []

    def delete_from_another_connection(session):
        # the other request's DELETE lands between this PATCH's commit and its answer
        if not deleted:
            deleted.append(flow_id)
            with db.engine.begin() as other:
                other.execute(text("DELETE FROM flows WHERE id = :id"), {"id": flow_id})

    with app.app_context():
        event.listen(db.session, "after_commit", delete_from_another_connection)
        try:
            response = client.patch(f"/api/v1/flows/{flow_id}", json={"name": "renamed"})
        finally:
            event.remove(db.session, "after_commit", delete_from_another_connection)
    assert deleted == [flow_id]
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert "deleted by another request" in response.get_json()["detail"]
    assert client.get(f"/api/v1/flows/{flow_id}").status_code == 404
