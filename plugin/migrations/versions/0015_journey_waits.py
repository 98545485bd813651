"""journeys: the waits of flow.wait_event, run-mode locks and deferred cancellations (issue #20)

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _partial(name: str, table: str, columns: list[str], where: str) -> None:
    op.create_index(name, table, columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade():
    op.create_table(
        "journey_waits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("timeout_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_journey_waits"),
    )
    op.create_index("uq_journey_waits_run_node", "journey_waits", ["run_id", "node_id"], unique=True)
    _partial("ix_journey_waits_subject", "journey_waits", ["kind", "subject"], "state = 'waiting'")
    _partial("ix_journey_waits_timeout", "journey_waits", ["timeout_at"], "state = 'waiting'")
    op.create_table(
        "run_locks",
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "subject", name="pk_run_locks"),
    )
    op.create_table(
        "run_cancels",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_cancels"),
    )


def downgrade():
    op.drop_table("run_cancels")
    op.drop_table("run_locks")
    op.drop_index("ix_journey_waits_timeout", table_name="journey_waits")
    op.drop_index("ix_journey_waits_subject", table_name="journey_waits")
    op.drop_index("uq_journey_waits_run_node", table_name="journey_waits")
    op.drop_table("journey_waits")
