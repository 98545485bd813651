"""events.error: why an event could not be dispatched (a poison event is recorded, never retried for ever)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    op.create_index(
        "ix_events_failed_id",
        "events",
        ["id"],
        postgresql_where=sa.text("error IS NOT NULL"),
        sqlite_where=sa.text("error IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_events_failed_id", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("error")
