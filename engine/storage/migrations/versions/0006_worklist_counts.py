"""Open tasks per department and role, so a department worklist's total is one row, not a count.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worklist_count",
        sa.Column("department", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("open_tasks", sa.Integer, nullable=False, server_default="0"),
    )
    op.execute("INSERT INTO worklist_count (department, role, open_tasks) "
               "SELECT department, role, count(*) FROM task WHERE state IN ('ready', 'claimed') "
               "GROUP BY department, role")


def downgrade() -> None:
    op.drop_table("worklist_count")
