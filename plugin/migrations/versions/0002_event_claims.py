"""event claims for batched dispatch

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
    op.create_index("ix_events_undispatched", "events", ["dispatched_at", "id"])


def downgrade():
    op.drop_index("ix_events_undispatched", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("claimed_until")
