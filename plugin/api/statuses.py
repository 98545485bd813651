"""``GET /api/v1/statuses`` (SPEC §11): the order statuses seen, with their group and how many orders
have each, plus the statuses ``AUTOMATION_STATUS_GROUPS`` configures (0 orders until one comes).
What the editor's «Статус сделки» fields offer, and what they warn about when a name is not here."""

from __future__ import annotations

from flask import current_app, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from plugin.api.auth import READ, requires_scope
from plugin.api.extensions import db
from plugin.ingest.store import configured_statuses
from plugin.storage.models import Order

blp = Blueprint("statuses", __name__, url_prefix="/api/v1/statuses", description="Order statuses")

STATUS = {
    "type": "object",
    "required": ["name", "group", "orders"],
    "properties": {
        "name": {"type": "string"},
        "group": {"enum": ["in_work", "paid", "cancelled"]},
        "orders": {"type": "integer", "minimum": 0},
    },
}
ANSWER = {
    "200": {
        "description": "Most used first",
        "content": {"application/json": {"schema": {"type": "array", "items": STATUS}}},
    }
}


def statuses(session, config_value: str) -> list[dict]:
    """Each status name once: its orders counted, its group the one most of them are in."""
    query = (
        select(Order.status, Order.status_group, func.count())
        .where(Order.status.is_not(None))
        .group_by(Order.status, Order.status_group)
    )
    found: dict[str, dict] = {}
    for name, group, count in session.execute(query):
        entry = found.setdefault(name, {"name": name, "group": group, "orders": 0, "_top": 0})
        entry["orders"] += count
        if count > entry["_top"]:
            entry["group"], entry["_top"] = group, count
    for name, group in configured_statuses(config_value).items():
        found.setdefault(name, {"name": name, "group": group, "orders": 0, "_top": 0})
    out = [{k: v for k, v in e.items() if k != "_top"} for e in found.values()]
    return sorted(out, key=lambda e: (-e["orders"], e["name"].casefold()))


@blp.route("")
class Statuses(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="Order statuses seen (with counts) and configured", responses=ANSWER)
    def get(self):
        return jsonify(statuses(db.session, current_app.config.get("STATUS_GROUPS", "")))
