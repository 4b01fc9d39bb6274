"""The open-task counts per department and role behind a department worklist's total.

A command that opens or closes tasks notes the changes here; they are written together just before
it commits, in one statement, in the order of their keys. Two commands that both change counts
therefore take the count rows' locks in the same order (no deadlock), and only for the last moment
of their transactions. A unit of work that does not commit writes nothing.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.storage.database import deferred, write

# Plain SQL both databases speak: the dialects' INSERT … ON CONFLICT constructs cannot be cached and
# would be compiled again on every command.
_UPSERT = text(
    "INSERT INTO worklist_count (department, role, open_tasks) VALUES (:department, :role, :open_tasks) "
    "ON CONFLICT (department, role) DO UPDATE SET open_tasks = worklist_count.open_tasks + excluded.open_tasks"
)


def change(session: Session, department: str, role: str, delta: int) -> None:
    """Note that the department's open tasks for a role went up or down by delta."""
    deferred(session, "worklist_counts", Counter, _write)[(department, role)] += delta


def _write(session: Session, changes: Counter[tuple[str, str]]) -> None:
    rows = [{"department": d, "role": r, "open_tasks": n} for (d, r), n in sorted(changes.items()) if n]
    if not rows:
        return
    write(session, _UPSERT, rows)


# Rebuild every count from the task rows (plain SQL, for loaders that write task rows directly).
RECOUNT = (
    "DELETE FROM worklist_count",
    "INSERT INTO worklist_count (department, role, open_tasks) SELECT department, role, count(*) FROM task "
    "WHERE state IN ('ready', 'claimed') GROUP BY department, role",
)
