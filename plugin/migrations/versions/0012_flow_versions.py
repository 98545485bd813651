"""flow_versions: every save of a scenario, restorable (SPEC §11 «Versions»)

Revision ID: 0012
Revises: 0011

Each existing flow gets its current state as its first stored version (its current number), so
the history of a flow saved before this migration starts where it is.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "flow_versions",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_flow_versions"),
    )
    op.create_index("uq_flow_versions_flow_number", "flow_versions", ["flow_id", "number"], unique=True)
    op.execute(
        "INSERT INTO flow_versions (id, flow_id, number, name, definition, author, author_name, action, "
        "summary, created_at) "
        "SELECT id || '-' || CAST(version AS VARCHAR(12)), id, version, name, definition, '', '', 'migrated', "
        "'{\"changes\": []}', updated_at FROM flows"
    )


def downgrade():
    op.drop_index("uq_flow_versions_flow_number", table_name="flow_versions")
    op.drop_table("flow_versions")
