"""A row-count check the database makes itself, so a command's writes and its COMMIT can be sent
together (PostgreSQL): a write that must change exactly N rows fails the transaction otherwise.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLSTATE DU409 (duban, like HTTP 409): engine.database turns it into a conflict with the message.
CHECK_FUNCTION = """
CREATE FUNCTION duban_expect_rows(actual bigint, expected integer, conflict text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF actual <> expected THEN
        RAISE EXCEPTION USING ERRCODE = 'DU409', MESSAGE = conflict;
    END IF;
    RETURN actual;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECK_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION duban_expect_rows(bigint, integer, text)")
