"""The open-task counts per department and role behind a department worklist's total.

A command that opens or closes tasks notes the changes here; they are written together just before
it commits, in one statement, in the order of their keys. Two commands that both change counts
therefore take the count rows' locks in the same order (no deadlock), and only for the last moment
of their transactions. A unit of work that does not commit writes nothing.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.models import WorklistCount

_PENDING = "worklist_count_changes"


def change(session: Session, department: str, role: str, delta: int) -> None:
    """Note that the department's open tasks for a role went up or down by delta."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = Counter()
        session.info.setdefault("before_commit", []).append(_write_pending)
    pending[(department, role)] += delta


def mark(session: Session) -> Counter[tuple[str, str]]:
    """The changes noted so far (to go back to if a savepoint rolls back)."""
    return Counter(session.info.get(_PENDING, ()))


def back_to(session: Session, marked: Counter[tuple[str, str]]) -> None:
    """Forget the changes noted since ``mark``."""
    if _PENDING in session.info:
        session.info[_PENDING] = Counter(marked)


def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    rows = [{"department": d, "role": r, "open_tasks": n} for (d, r), n in sorted((pending or {}).items()) if n]
    if not rows:
        return
    table = WorklistCount.__table__
    upsert = (sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert)(table)
    session.execute(upsert.on_conflict_do_update(
        index_elements=[table.c.department, table.c.role],
        set_={"open_tasks": table.c.open_tasks + upsert.excluded.open_tasks}), rows)


# Rebuild every count from the task rows (plain SQL, for loaders that write task rows directly).
RECOUNT = (
    "DELETE FROM worklist_count",
    "INSERT INTO worklist_count (department, role, open_tasks) SELECT department, role, count(*) FROM task "
    "WHERE state IN ('ready', 'claimed') GROUP BY department, role",
)


def recount(session: Session) -> None:
    """Rebuild every count from the task rows."""
    for statement in RECOUNT:
        session.execute(text(statement))
