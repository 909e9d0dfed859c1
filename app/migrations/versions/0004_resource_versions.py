"""A version per project and task, incremented by each change: their ETag.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("projects", "tasks"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("version", sa.Integer(), nullable=False, server_default="1")
            )


def downgrade() -> None:
    for table in ("tasks", "projects"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
