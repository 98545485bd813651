"""event dedupe keys: a date-relative (N-day) event is recorded once per (flow, order)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(length=200), nullable=True))
    # a unique index (not a constraint): NULLs never collide on SQLite or PostgreSQL, and
    # INSERT … ON CONFLICT (dedupe_key) DO NOTHING infers it on both
    op.create_index("uq_events_dedupe_key", "events", ["dedupe_key"], unique=True)


def downgrade():
    op.drop_index("uq_events_dedupe_key", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("dedupe_key")
