"""steps: fillfactor 80 (PostgreSQL), so that a step's outcome is written in place (a HOT update)

Dispatch inserts each run's steps (the action ``running``) and then stores the action's outcome.
On pages packed full by the inserts that update had to go to another page, with a new entry in
both of the table's indexes; with a fifth of each page left free it stays on the page and no
index is touched. Pages written before this keep their fill; SQLite has no such setting.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE steps SET (fillfactor = 80)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE steps RESET (fillfactor)")
