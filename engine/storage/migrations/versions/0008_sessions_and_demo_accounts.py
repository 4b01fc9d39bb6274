"""Signed-in sessions (checked on every request, so a logout ends a session everywhere at once)
and demo accounts marked as such (a production start refuses while one is active).

Accounts ``duban seed-demo`` made before this revision are recognised by their e-mail address
(``<username>@duban.local``, which it always gave them).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()))
    op.execute("UPDATE user_account SET demo = true WHERE email LIKE '%@duban.local'")
    op.create_table(
        "auth_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_auth_session_user", "auth_session", ["user_id"])
    op.create_index("ix_auth_session_expires", "auth_session", ["expires_at"])


def downgrade() -> None:
    op.drop_table("auth_session")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("demo")
