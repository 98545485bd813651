"""flow_stats, stats_seen, stats_groups, conversions, stats_marks: scenario analytics (issue #19)

Revision ID: 0014
Revises: 0013

The runs on record are counted into ``flow_stats`` by the hour they were created in, so a
scenario's chart starts with its history, not empty. Runs get ``branch`` (filled for the ended
ones) and the index on ``flow_id`` becomes one on ``(flow_id, created_at)``: a scenario's runs of
a period, for its reach and its history, without reading all its runs.
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COUNTS = ("triggered", "succeeded", "failed", "suppressed", "not_triggered", "fired")
_LATENCY = ("sends", "le_100", "le_250", "le_500", "le_1000", "le_2500", "le_5000", "le_10000")


def _count_columns():
    return [
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (*_COUNTS, *_LATENCY)),
        sa.Column("send_ms", sa.BigInteger(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "flow_stats",
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        *_count_columns(),
        sa.PrimaryKeyConstraint("flow_id", "bucket", name="pk_flow_stats"),
    )
    op.create_index("ix_flow_stats_bucket", "flow_stats", ["bucket"])
    op.create_table(
        "flow_stats_days",
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *_count_columns(),
        sa.PrimaryKeyConstraint("flow_id", "day", name="pk_flow_stats_days"),
    )
    op.create_index("ix_flow_stats_days_day", "flow_stats_days", ["day"])
    op.create_table(
        "stats_seen",
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "bucket", name="pk_stats_seen"),
    )
    op.create_table(
        "stats_groups",
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "flow_id", name="pk_stats_groups"),
    )
    op.create_index("ix_stats_groups_flow", "stats_groups", ["flow_id", "group_id"])
    op.create_table(
        "conversions",
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("branch", sa.String(length=100), nullable=False),
        sa.Column("touched_at", sa.DateTime(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "order_id", name="pk_conversions"),
    )
    op.create_index("ix_conversions_flow_paid", "conversions", ["flow_id", "paid_at"])
    op.create_index("ix_conversions_paid", "conversions", ["paid_at"])
    op.create_table(
        "stats_marks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_stats_marks"),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("branch", sa.String(length=100), nullable=True))
        batch.drop_index("ix_runs_flow_id")
        batch.create_index("ix_runs_flow_created", ["flow_id", "created_at"])
    _backfill()


def _backfill():
    if op.get_bind().dialect.name == "postgresql":
        hour = "date_trunc('hour', created_at)"
    else:
        hour = "strftime('%Y-%m-%d %H:00:00.000000', created_at)"
    op.execute(_BACKFILL.replace("HOUR", hour))
    _backfill_days()
    op.execute(_BRANCHES)


_BACKFILL = (
    "INSERT INTO flow_stats (flow_id, bucket, triggered, succeeded, failed, suppressed, not_triggered, fired, "
    "sends, le_100, le_250, le_500, le_1000, le_2500, le_5000, le_10000, send_ms) "
    "SELECT flow_id, HOUR, "
    "SUM(CASE WHEN counted THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN counted AND status = 'succeeded' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN status = 'suppressed' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN status = 'not_triggered' OR (status = 'succeeded' AND NOT counted) THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN trigger = 'event' AND (counted OR status = 'suppressed') THEN 1 ELSE 0 END), "
    "0, 0, 0, 0, 0, 0, 0, 0, 0 "
    "FROM runs WHERE trigger <> 'test' AND flow_id IS NOT NULL GROUP BY flow_id, HOUR"
)


def _backfill_days():
    """The hours folded into the days of ``AUTOMATION_TIMEZONE`` (in Python: SQLite has no zones)."""
    import os
    from collections import defaultdict
    from datetime import UTC
    from zoneinfo import ZoneInfo

    zone = ZoneInfo((os.environ.get("AUTOMATION_TIMEZONE") or "Europe/Moscow").strip())
    bind = op.get_bind()
    days: dict = defaultdict(lambda: dict.fromkeys(_COUNTS, 0))
    columns = ", ".join(_COUNTS)
    for row in bind.execute(sa.text(f"SELECT flow_id, bucket, {columns} FROM flow_stats")):  # noqa: S608
        bucket = row.bucket if not isinstance(row.bucket, str) else datetime.fromisoformat(row.bucket)
        counts = days[row.flow_id, bucket.replace(tzinfo=UTC).astimezone(zone).date()]
        for name in _COUNTS:
            counts[name] += getattr(row, name) or 0
    names = (*_COUNTS, *_LATENCY, "send_ms")
    table = sa.table("flow_stats_days", sa.column("flow_id"), sa.column("day"), *map(sa.column, names))
    rows = [{"flow_id": f, "day": d, **dict.fromkeys(names, 0), **counts} for (f, d), counts in days.items()]
    for start in range(0, len(rows), 1000):
        op.bulk_insert(table, rows[start : start + 1000])


# each ended run's first succeeded action node (runs of a split get their variant from then on)
_BRANCHES = (
    "UPDATE runs SET branch = (SELECT s.node_id FROM steps s WHERE s.run_id = runs.id "
    "AND s.node_type LIKE 'action.%' AND s.status = 'succeeded' ORDER BY s.finished_at, s.id LIMIT 1) "
    "WHERE status IN ('succeeded', 'failed') AND counted"
)


def downgrade():
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_flow_created")
        batch.create_index("ix_runs_flow_id", ["flow_id"])
        batch.drop_column("branch")
    op.drop_table("stats_marks")
    op.drop_index("ix_conversions_paid", table_name="conversions")
    op.drop_index("ix_conversions_flow_paid", table_name="conversions")
    op.drop_table("conversions")
    op.drop_index("ix_stats_groups_flow", table_name="stats_groups")
    op.drop_table("stats_groups")
    op.drop_table("stats_seen")
    op.drop_index("ix_flow_stats_days_day", table_name="flow_stats_days")
    op.drop_table("flow_stats_days")
    op.drop_index("ix_flow_stats_bucket", table_name="flow_stats")
    op.drop_table("flow_stats")
