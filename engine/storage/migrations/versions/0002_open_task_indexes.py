"""Partial indexes for the worklists: open tasks by due time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN_TASK = sa.text("state IN ('ready', 'claimed')")
INDEXES = {
    "ix_task_open_department_due": ["department", "due_at", "created_at"],
    "ix_task_open_assignee_due": ["assignee", "due_at", "created_at"],
    "ix_task_open_due": ["due_at", "created_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "task", columns, sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="task")
