"""Migration 0012 (flow versions): a flow saved before it gets its current state as its first
stored version, under its current number; the downgrade drops the table."""

from __future__ import annotations

import json

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from plugin.api.extensions import db
from plugin.storage.models import utcnow
from tests.migrations.test_migrations import _migrate, bare_app, empty_url  # noqa: F401 - fixtures

DEFINITION = {
    "nodes": [
        {"id": "start", "type": "event.order_created", "params": {}},
        {"id": "hook", "type": "action.webhook", "params": {"url": "https://example.com/h"}},
    ],
    "edges": [{"from": "start", "to": "hook"}],
}


def test_0012_gives_each_stored_flow_its_current_state_as_a_version_and_downgrades(bare_app):  # noqa: F811
    with bare_app.app_context():
        _migrate(upgrade, "0011")
        now = utcnow()
        db.session.execute(
            text(
                "INSERT INTO flows (id, name, enabled, version, event_type, definition, created_at, "
                "updated_at, triggered_count, failed_count, suppressed_count) VALUES "
                "('f1', 'Старый', true, 3, 'event.order_created', :d, :t, :t, 0, 0, 0)"
            ),
            {"d": json.dumps(DEFINITION), "t": now},
        )
        db.session.commit()
        _migrate(upgrade, "0012")
        row = db.session.execute(
            text("SELECT id, flow_id, number, name, definition, author, action FROM flow_versions")
        ).one()
        definition = row.definition if isinstance(row.definition, dict) else json.loads(row.definition)
        assert (row.id, row.flow_id, row.number, row.name, row.author, row.action) == (
            "f1-3",
            "f1",
            3,
            "Старый",
            "",
            "migrated",
        )
        assert definition == DEFINITION
        db.session.commit()
        _migrate(downgrade, "0011")
        with db.engine.connect() as conn:
            assert "flow_versions" not in inspect(conn).get_table_names()
