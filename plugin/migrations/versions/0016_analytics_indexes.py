"""conversions.age_days and covering indexes: the analytics read from indexes alone (issue #19)

Revision ID: 0016
Revises: 0015

``conversions.age_days`` (the days from the touch to the payment, rounded up) makes a window a
range: ``ix_conversions_age_paid`` (ages, then the payment) replaces ``ix_conversions_paid``, and
``ix_conversions_flow_paid`` carries what a scenario's conversions are read for. On PostgreSQL
``ix_runs_flow_created`` includes ``client_id``, ``branch`` and ``trigger``: a scenario's reach
counted without visiting its runs (90 days of a busy scenario: ~25,000 rows of a multi-GB table).
``ix_events_status_changes`` (the ``order_status_changed`` events only) gives a client's timeline
its deals' status changes; ``ix_orders_paid_updated`` the attribution's second cursor (paid orders
by ``updated_at``: a payment entered with an earlier date is attributed too).
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_DAY = timedelta(days=1)


def upgrade():
    with op.batch_alter_table("conversions") as batch:
        batch.add_column(sa.Column("age_days", sa.Integer(), nullable=False, server_default="0"))
    _backfill_ages()
    op.drop_index("ix_conversions_paid", table_name="conversions")
    op.drop_index("ix_conversions_flow_paid", table_name="conversions")
    op.create_index(
        "ix_conversions_flow_paid",
        "conversions",
        ["flow_id", "paid_at"],
        postgresql_include=["age_days", "branch", "revenue"],
    )
    op.create_index(
        "ix_conversions_age_paid",
        "conversions",
        ["age_days", "paid_at"],
        postgresql_include=["flow_id", "order_id", "revenue"],
    )
    paid = sa.text("paid_at IS NOT NULL")
    op.create_index(
        "ix_orders_paid_updated", "orders", ["updated_at"], postgresql_where=paid, sqlite_where=paid
    )
    where = sa.text("trigger = 'order_status_changed'")
    op.create_index(
        "ix_events_status_changes",
        "events",
        ["subject_id", "created_at"],
        postgresql_where=where,
        sqlite_where=where,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_runs_flow_created", table_name="runs")
        op.create_index(
            "ix_runs_flow_created",
            "runs",
            ["flow_id", "created_at"],
            postgresql_include=["client_id", "branch", "trigger"],
        )


def _backfill_ages():
    """Each stored row's age: PostgreSQL in SQL (``extract(epoch …)`` is exact numeric), SQLite in
    Python (its datetimes are text, and julianday a float)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE conversions SET age_days = "
            "GREATEST(0, CEIL(EXTRACT(EPOCH FROM (paid_at - touched_at)) / 86400))::integer"
        )
        return
    rows = bind.execute(sa.text("SELECT flow_id, order_id, touched_at, paid_at FROM conversions")).all()
    update = sa.text(
        "UPDATE conversions SET age_days = :age WHERE flow_id = :flow_id AND order_id = :order_id"
    )
    params = []
    for flow_id, order_id, touched_at, paid_at in rows:
        touched, paid = (
            v if isinstance(v, datetime) else datetime.fromisoformat(v) for v in (touched_at, paid_at)
        )
        params.append({"age": max(0, -((touched - paid) // _DAY)), "flow_id": flow_id, "order_id": order_id})
    if params:
        bind.execute(update, params)


def downgrade():
    op.drop_index("ix_events_status_changes", table_name="events")
    op.drop_index("ix_orders_paid_updated", table_name="orders")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_runs_flow_created", table_name="runs")
        op.create_index("ix_runs_flow_created", "runs", ["flow_id", "created_at"])
    op.drop_index("ix_conversions_age_paid", table_name="conversions")
    op.drop_index("ix_conversions_flow_paid", table_name="conversions")
    op.create_index("ix_conversions_flow_paid", "conversions", ["flow_id", "paid_at"])
    op.create_index("ix_conversions_paid", "conversions", ["paid_at"])
    with op.batch_alter_table("conversions") as batch:
        batch.drop_column("age_days")
