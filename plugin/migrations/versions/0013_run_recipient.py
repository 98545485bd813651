"""runs.recipient: who a run's first action writes to, for the history's filter (issue #19)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # a nullable column without a default: PostgreSQL adds it without rewriting the table
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("recipient", sa.String(length=320), nullable=True))
    op.create_index(
        "ix_runs_recipient",
        "runs",
        ["recipient"],
        postgresql_ops={"recipient": "varchar_pattern_ops"},
        postgresql_where=sa.text("recipient IS NOT NULL"),
        sqlite_where=sa.text("recipient IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_runs_recipient", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("recipient")
