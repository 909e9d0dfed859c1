"""Revocations in PostgreSQL: logged-out access tokens and a user's "not before" time.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_revoked_access_tokens"),
    )
    op.create_index(
        "ix_revoked_access_tokens_expires_at", "revoked_access_tokens", ["expires_at"]
    )
    # WHY: the cache warm-up reads the families revoked within the access-token lifetime.
    op.create_index("ix_refresh_families_revoked_at", "refresh_families", ["revoked_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("tokens_not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("tokens_not_before")
    op.drop_index("ix_refresh_families_revoked_at", table_name="refresh_families")
    op.drop_index("ix_revoked_access_tokens_expires_at", table_name="revoked_access_tokens")
    op.drop_table("revoked_access_tokens")
