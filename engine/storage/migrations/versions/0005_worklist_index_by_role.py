"""The department worklist asks for the tasks a user may claim: department and role.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN_TASK = sa.text("state IN ('ready', 'claimed')")


def upgrade() -> None:
    op.drop_index("ix_task_open_department_due", table_name="task")
    op.create_index("ix_task_open_department_role_due", "task", ["department", "role", "due_at", "created_at"],
                    sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK)


def downgrade() -> None:
    op.drop_index("ix_task_open_department_role_due", table_name="task")
    op.create_index("ix_task_open_department_due", "task", ["department", "due_at", "created_at"],
                    sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK)
