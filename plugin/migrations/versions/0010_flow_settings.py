"""flow settings: the frequency rule's slots (frequency_slots) and the flows' suppressed counter

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "frequency_slots",
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("flow_id", "subject", "slot", name="pk_frequency_slots"),
    )
    with op.batch_alter_table("flows") as batch:
        batch.add_column(sa.Column("suppressed_count", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("suppressed_count")
    op.drop_table("frequency_slots")
