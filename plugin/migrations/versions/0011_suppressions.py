"""suppressions: the do-not-contact list that e-mail and SMS steps honour (SPEC §11)

Revision ID: 0011
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "suppressions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
    )
    op.create_index("uq_suppressions_address_channel", "suppressions", ["address", "channel"], unique=True)
    op.create_index("ix_suppressions_created", "suppressions", ["created_at", "id"])


def downgrade():
    op.drop_index("ix_suppressions_created", table_name="suppressions")
    op.drop_index("uq_suppressions_address_channel", table_name="suppressions")
    op.drop_table("suppressions")
