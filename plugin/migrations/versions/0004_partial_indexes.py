"""partial indexes: index only the rows each lookup can find, so most writes touch fewer indexes

- events: ``ix_events_pending (dispatched_at, created_at)`` and ``ix_events_undispatched
  (dispatched_at, id)`` become one ``ix_events_undispatched_id (id) WHERE dispatched_at IS NULL``
  (claims and the sweeper look for undispatched events only); ``uq_events_dedupe_key`` keeps
  only the keys set (N-day events) — ``ON CONFLICT`` then names it with ``WHERE dedupe_key IS NOT NULL``
- steps: ``ix_steps_run_id`` goes, ``uq_steps_run_node (run_id, node_id)`` serves its lookups
- runs: ``ix_runs_status_next (status, next_attempt_at)`` becomes ``ix_runs_status_created
  (status, created_at, id) WHERE status <> 'succeeded'``; ``ix_runs_order_id`` and
  ``ix_runs_client_id`` leave out NULLs

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _partial(name: str, table: str, columns: list[str], where: str, unique: bool = False) -> None:
    op.create_index(
        name, table, columns, unique=unique, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
    )


def upgrade():
    _partial("ix_events_undispatched_id", "events", ["id"], "dispatched_at IS NULL")
    op.drop_index("ix_events_pending", table_name="events")
    op.drop_index("ix_events_undispatched", table_name="events")
    op.drop_index("uq_events_dedupe_key", table_name="events")
    _partial("uq_events_dedupe_key", "events", ["dedupe_key"], "dedupe_key IS NOT NULL", unique=True)

    op.drop_index("ix_steps_run_id", table_name="steps")

    _partial("ix_runs_status_created", "runs", ["status", "created_at", "id"], "status <> 'succeeded'")
    op.drop_index("ix_runs_status_next", table_name="runs")
    op.drop_index("ix_runs_order_id", table_name="runs")
    _partial("ix_runs_order_id", "runs", ["order_id"], "order_id IS NOT NULL")
    op.drop_index("ix_runs_client_id", table_name="runs")
    _partial("ix_runs_client_id", "runs", ["client_id"], "client_id IS NOT NULL")


def downgrade():
    op.drop_index("ix_runs_client_id", table_name="runs")
    op.create_index("ix_runs_client_id", "runs", ["client_id"])
    op.drop_index("ix_runs_order_id", table_name="runs")
    op.create_index("ix_runs_order_id", "runs", ["order_id"])
    op.create_index("ix_runs_status_next", "runs", ["status", "next_attempt_at"])
    op.drop_index("ix_runs_status_created", table_name="runs")

    op.create_index("ix_steps_run_id", "steps", ["run_id"])

    op.drop_index("uq_events_dedupe_key", table_name="events")
    op.create_index("uq_events_dedupe_key", "events", ["dedupe_key"], unique=True)
    op.create_index("ix_events_undispatched", "events", ["dispatched_at", "id"])
    op.create_index("ix_events_pending", "events", ["dispatched_at", "created_at"])
    op.drop_index("ix_events_undispatched_id", table_name="events")
