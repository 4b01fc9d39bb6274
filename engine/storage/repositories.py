"""The command SQL: case and task rows read into records and written back through a unit of work.

Locks are taken in one order by every command: the case row first (``FOR NO KEY UPDATE``, the
weakest lock that keeps other commands off the case and leaves the foreign-key checks of rows that
point at it unblocked), then its task rows by writing them. SQLite has no row locks: a writing
unit of work there holds the database's write lock from its first statement, and SQLAlchemy leaves
the locking clauses out.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import ColumnElement, String, bindparam, insert, select, text, true, update

from engine.storage.models import OPEN_TASK, Case, Event, Task
from engine.storage.records import CaseRecord, TaskRecord, columns, from_row, values
from engine.storage.unit_of_work import UnitOfWork

OPEN_STATES = ("ready", "claimed")
_ANY = true()
_CASES = Case.__table__
_TASKS = Task.__table__
_EVENTS = Event.__table__

_SELECT_CASE = select(*_CASES.c)
_LOCK_CASE = _SELECT_CASE.where(_CASES.c.id == bindparam("case_id")).with_for_update(key_share=True)
_LOCK_CASE_OF_TASK = _SELECT_CASE.where(
    _CASES.c.id == select(_TASKS.c.case_id).where(_TASKS.c.id == bindparam("task_id")).scalar_subquery()
).with_for_update(key_share=True)
_INSERT_CASE = insert(_CASES).returning(_CASES.c.id)
# The locking read of a case and its open tasks in one statement (``Cases.lock_of_task_with_open``):
# beside the locked row, the version the statement's snapshot saw.
_SEEN = _CASES.alias("seen")
_LOCK_CASE_OF_TASK_WITH_OPEN = (
    select(*_CASES.c, select(_SEEN.c.version).where(_SEEN.c.id == _CASES.c.id).scalar_subquery().label("seen"),
           *_TASKS.c)
    .select_from(_CASES.outerjoin(_TASKS, (_TASKS.c.case_id == _CASES.c.id) & OPEN_TASK))
    .where(_CASES.c.id == select(_TASKS.c.case_id).where(_TASKS.c.id == bindparam("task_id")).scalar_subquery())
    .with_for_update(of=_CASES, key_share=True)
)
# Every column but the key, written as the command left the record, only if the row still has the
# version the command loaded.
_SAVE_CASE = (update(_CASES)
              .where(_CASES.c.id == bindparam("case_id"), _CASES.c.version == bindparam("loaded_version"))
              .values({c.name: bindparam(f"new_{c.name}") for c in _CASES.c if c.name != "id"}))

_SELECT_OPEN_TASKS = select(*_TASKS.c).where(_TASKS.c.case_id.in_(bindparam("case_ids", expanding=True)),
                                             OPEN_TASK)
_INSERT_TASK = insert(_TASKS)
_COMPLETE_TASK = (update(_TASKS)
                  .where(_TASKS.c.id == bindparam("task_id"), _TASKS.c.state == "claimed",
                         _TASKS.c.assignee == bindparam("actor"))
                  .values(state="completed", completed_at=bindparam("now"), completed_by=bindparam("actor")))
_CANCEL_TASK = (update(_TASKS).where(_TASKS.c.id == bindparam("task_id"))
                .values(state="cancelled", completed_at=bindparam("now")))
_SET_TASK_LEVELS = (update(_TASKS).where(_TASKS.c.id == bindparam("task_id"))
                    .values(warning_level=bindparam("new_warning_level"),
                            escalation_level=bindparam("new_escalation_level")))
_SET_OPEN_TASKS_MODE = (update(_TASKS).where(_TASKS.c.case_id == bindparam("of_case"), OPEN_TASK)
                        .values(mode=bindparam("new_mode")))
# Plain SQL both databases speak (the dialects' INSERT … ON CONFLICT constructs are compiled again
# on every execution).
_INSERT_PARTIES = text("INSERT INTO case_party (case_id, department_code) VALUES (:case_id, :department_code) "
                       "ON CONFLICT DO NOTHING")

CASE_CONFLICT = "事项已被他人更新，请刷新后重试"
TASK_CONFLICT = "任务状态已变化，请刷新后重试"


class Cases:
    """Case rows."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def lock(self, case_id: int, condition: ColumnElement[bool] = _ANY) -> CaseRecord | None:
        """The case if it meets the condition (a visibility rule), locked for this unit of work."""
        query = _LOCK_CASE if condition is _ANY else _LOCK_CASE.where(condition)
        row = self.uow.execute(query, {"case_id": case_id}).one_or_none()
        return None if row is None else from_row(CaseRecord, row)

    def lock_of_task(self, task_id: uuid.UUID) -> CaseRecord | None:
        """The case a task belongs to, locked for this unit of work."""
        row = self.uow.execute(_LOCK_CASE_OF_TASK, {"task_id": task_id}).one_or_none()
        return None if row is None else from_row(CaseRecord, row)

    def lock_of_task_with_open(self, task_id: uuid.UUID
                               ) -> tuple[CaseRecord, dict[uuid.UUID, TaskRecord]] | None:
        """The case a task belongs to, locked, with its open tasks: one statement instead of two.

        A locking read that waited for another command's commit returns that command's version of
        the case row, but the task rows joined to it as the statement's snapshot saw them, before
        that commit. The statement also reads the case's version through that snapshot; when the
        two versions differ the open tasks are read again by a statement of their own. (Oracle:
        ``Cases.lock_of_task`` then ``Tasks.open_of``; tests/integration/test_races.py.)"""
        rows = self.uow.execute(_LOCK_CASE_OF_TASK_WITH_OPEN, {"task_id": task_id}).all()
        if not rows:
            return None
        width = len(_CASES.c)
        case = from_row(CaseRecord, rows[0][:width])
        if rows[0][width] != case.version:
            return case, Tasks(self.uow).open_of([case.id])[case.id]
        tasks = [from_row(TaskRecord, row[width + 1:]) for row in rows if row[width + 1] is not None]
        return case, {task.id: task for task in tasks}

    def lock_due(self, now: datetime, size: int, passed: Iterable[int]) -> list[CaseRecord]:
        """Up to size open cases with a timer due before now that no other unit of work holds
        (``SKIP LOCKED``), earliest first; not those in passed."""
        query = _SELECT_CASE.where(_CASES.c.status == "open", _CASES.c.next_wakeup_at < now)
        passed = list(passed)
        if passed:
            query = query.where(_CASES.c.id.not_in(passed))
        query = query.order_by(_CASES.c.next_wakeup_at).limit(size).with_for_update(skip_locked=True, key_share=True)
        return [from_row(CaseRecord, row) for row in self.uow.execute(query)]

    def lock_due_case(self, now: datetime, case_id: int) -> list[CaseRecord]:
        """The case, locked, if it is open with a timer due before now and no other unit of work
        holds it."""
        query = (_SELECT_CASE.where(_CASES.c.id == case_id, _CASES.c.status == "open", _CASES.c.next_wakeup_at < now)
                 .with_for_update(skip_locked=True, key_share=True))
        return [from_row(CaseRecord, row) for row in self.uow.execute(query)]

    def find(self, case_id: int, condition: ColumnElement[bool] = _ANY) -> CaseRecord | None:
        """The case if it meets the condition (a visibility rule), without locking it."""
        row = self.uow.execute(_SELECT_CASE.where(_CASES.c.id == case_id, condition)).one_or_none()
        return None if row is None else from_row(CaseRecord, row)

    def insert(self, record: CaseRecord) -> int:
        """Insert a new case now; its id."""
        row = values(record)
        del row["id"]
        return int(self.uow.execute(_INSERT_CASE, row).scalar_one())

    def save(self, record: CaseRecord) -> None:
        """Queue the case as its next version, only if nobody saved it since it was loaded:
        ``UPDATE … SET …, version = v + 1 WHERE id = … AND version = v``; zero rows means another
        command won, and the unit of work fails with a conflict."""
        params = {f"new_{name}": value for name, value in values(record).items() if name != "id"}
        params |= {"new_version": record.version + 1, "case_id": record.id, "loaded_version": record.version}
        self.uow.write(_SAVE_CASE, params, expect_rows=1, conflict=CASE_CONFLICT)
        record.version += 1


class Tasks:
    """Task rows."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def open_of(self, case_ids: Iterable[int]) -> dict[int, dict[uuid.UUID, TaskRecord]]:
        """The open tasks of each case by id, in one query."""
        found: dict[int, dict[uuid.UUID, TaskRecord]] = {case_id: {} for case_id in case_ids}
        for row in self.uow.execute(_SELECT_OPEN_TASKS, {"case_ids": list(found)}):
            found[row.case_id][row.id] = from_row(TaskRecord, row)
        return found

    def find(self, task_id: uuid.UUID, condition: ColumnElement[bool] = _ANY) -> TaskRecord | None:
        """The task if it meets the condition (a visibility rule)."""
        row = self.uow.execute(select(*_TASKS.c).where(_TASKS.c.id == task_id, condition)).one_or_none()
        return None if row is None else from_row(TaskRecord, row)

    def insert(self, records: list[TaskRecord]) -> None:
        """Queue new task rows."""
        if records:
            self.uow.write(_INSERT_TASK, [values(record) for record in records])

    def complete(self, task: TaskRecord, actor: str, now: datetime) -> None:
        """Queue the completion of a task the actor holds (a conflict if it changed meanwhile)."""
        self.uow.write(_COMPLETE_TASK, {"task_id": task.id, "actor": actor, "now": now},
                       expect_rows=1, conflict=TASK_CONFLICT)
        task.state, task.completed_at, task.completed_by = "completed", now, actor

    def cancel(self, task: TaskRecord, now: datetime) -> None:
        """Queue the cancellation of a task the process no longer waits for."""
        self.uow.write(_CANCEL_TASK, {"task_id": task.id, "now": now})
        task.state, task.completed_at = "cancelled", now

    def save_levels(self, task: TaskRecord) -> None:
        """Queue a task's light and escalation level."""
        self.uow.write(_SET_TASK_LEVELS, {"task_id": task.id, "new_warning_level": task.warning_level,
                                          "new_escalation_level": task.escalation_level})

    def set_mode(self, case_id: int, mode: str) -> None:
        """Queue a case's mode onto its open tasks."""
        self.uow.write(_SET_OPEN_TASKS_MODE, {"of_case": case_id, "new_mode": mode})

    def claim(self, task_id: uuid.UUID, condition: ColumnElement[bool], actor: str, now: datetime,
              action: str, label_around: tuple[str, str]) -> TaskRecord | None:
        """Sign a task for the actor now, only if it is ready and meets the condition, with its event
        (labelled with the task's title between ``label_around``); the task as claimed, or None.

        In an autocommitting unit of work (PostgreSQL) the change and its event are one statement,
        ``WITH claimed AS (UPDATE … RETURNING *), recorded AS (INSERT INTO event … FROM claimed)
        SELECT * FROM claimed``: one round trip where a transaction takes three. (Oracle: the
        same through ``change_if`` and a queued event; tests/integration/test_claims.py.)"""
        changes = {"state": "claimed", "assignee": actor, "claimed_at": now}
        ready = (_TASKS.c.state == "ready") & condition
        if not self.uow.autocommit:
            claimed = self.change_if(task_id, ready, **changes)
            if claimed is not None:
                self.uow.record_event(case_id=claimed.case_id, task_id=claimed.id, actor=actor, action=action,
                                      label=label_around[0] + claimed.title + label_around[1], at=now, data={})
            return claimed
        changed = (update(_TASKS).where(_TASKS.c.id == task_id, ready).values(**changes)
                   .returning(*_TASKS.c).cte("claimed"))
        recorded = insert(_EVENTS).from_select(
            ["case_id", "task_id", "actor", "action", "label", "at", "data"],
            select(changed.c.case_id, changed.c.id, bindparam("actor", actor, type_=String()),
                   bindparam("action", action, type_=String()),
                   bindparam("before", label_around[0], type_=String()) + changed.c.title
                   + bindparam("after", label_around[1], type_=String()),
                   bindparam("at", now, type_=_EVENTS.c.at.type), bindparam("data", {}, type_=_EVENTS.c.data.type)),
        ).cte("recorded")
        row = self.uow.execute(select(changed).add_cte(recorded)).one_or_none()
        return None if row is None else from_row(TaskRecord, row)

    def change_if(self, task_id: uuid.UUID, condition: ColumnElement[bool], **changes: Any) -> TaskRecord | None:
        """Change a task now, only if it still meets the condition; the task as changed, or None."""
        row = self.uow.execute(update(_TASKS).where(_TASKS.c.id == task_id, condition).values(**changes)
                               .returning(*_TASKS.c)).one_or_none()
        return None if row is None else from_row(TaskRecord, row)


class Parties:
    """The departments a case involves (who may see it)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def add(self, case_id: int, departments: Iterable[str]) -> None:
        """Queue departments as parties to a case (idempotent)."""
        rows = [{"case_id": case_id, "department_code": code} for code in sorted(set(departments))]
        if rows:
            self.uow.write(_INSERT_PARTIES, rows)


TASK_COLUMNS = columns(TaskRecord)
