"""The one command pipeline: every change to a case goes through here.

A verb (create, complete, an action on a case, firing timers, …) is its own checks plus one apply
function. The pipeline does the rest, the same way every time:

    lock the case (``FOR NO KEY UPDATE``) and load its open tasks   ┐
    apply: the verb's checks, then a step of the workflow            │ one unit of work:
    sync the task rows, parties, notices and the case row           │ nothing is kept
    save the workflow state and the case as its next version        │ unless it commits
    commit                                                          ┘
    keep the workflow in memory for the case's next command (only after the commit)

Commands on one task row alone (claim, unclaim, assign) change that row under a condition and lock
no case: they touch nothing the case's own commands lock first, so the order "the case, then its
tasks" holds for every command.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, TypeVar

from sqlalchemy import ColumnElement

from engine.catalogue import AuditEntry, Notice
from engine.commands.sync import sync_rows
from engine.engine import Engine
from engine.errors import NotFound
from engine.notifications import outbox
from engine.storage.records import CaseRecord, CaseView, TaskRecord
from engine.storage.repositories import OPEN_STATES, Cases, Parties, Tasks
from engine.storage.unit_of_work import UnitOfWork
from engine.workflow.runtime import StepResult

T = TypeVar("T")
SYSTEM = "system"  # the actor of what the engine does by itself


class CaseCommand:
    """One case within a unit of work: its locked row, its open tasks, its workflow."""

    def __init__(self, engine: Engine, uow: UnitOfWork, actor: str, case: CaseRecord,
                 open_tasks: dict[uuid.UUID, TaskRecord], now: datetime, workflow: Any = None) -> None:
        self.engine = engine
        self.uow = uow
        self.actor = actor
        self.case = case
        self.open_tasks = open_tasks
        self.now = now
        self.cases = Cases(uow)
        self.tasks = Tasks(uow)
        self._workflow = workflow
        self._results: list[StepResult] = []
        self._completed: uuid.UUID | None = None
        self._new = workflow is not None
        self._changed = self._new
        self.parties_added: set[str] = set()
        self._leading: list[tuple[dict[str, Any], int]] = []

    @property
    def workflow(self) -> Any:
        """The case's workflow: the one this process saved last if the row still holds exactly that
        state, else restored from the row. It belongs to this command until the commit."""
        if self._workflow is None:
            self._workflow = (self.engine.caches.workflows.take(self.case.id, self.case.workflow_state)
                              or self.engine.runtime.restore(self.case.process_version, self.case.workflow_state))
        return self._workflow

    def step(self, result: StepResult, completed: uuid.UUID | None = None) -> None:
        """Note a step the verb ran on the workflow (and the task it completed, if any)."""
        self._results.append(result)
        if completed is not None:
            self._completed = completed
        self._changed = True

    def add_parties(self, departments: list[str]) -> None:
        """Make departments parties to the case (they see it)."""
        Parties(self.uow).add(self.case.id, departments)
        self.parties_added.update(departments)

    def changed(self) -> None:
        """Note that the verb changed the case row itself (it is saved as a new version)."""
        self._changed = True

    def raise_counter(self, counter: str | None) -> None:
        """Raise one of the case's counters (a return, a rework, an urge)."""
        if counter:
            setattr(self.case, counter, getattr(self.case, counter) + 1)
            self._changed = True

    def record(self, entry: AuditEntry, data: dict[str, Any] | None = None, task_id: uuid.UUID | None = None,
               actor: str | None = None, only_if_followed: bool = False) -> None:
        """Note an event in the case's timeline (written at commit); with ``only_if_followed``, kept
        only if the command notes another event after it."""
        event = self.uow.record_event(case_id=self.case.id, task_id=task_id, actor=actor or self.actor,
                                      action=entry.action, label=entry.label, at=self.now, data=dict(data or {}))
        if only_if_followed:
            self._leading.append((event, self.uow.events_recorded))

    def word(self, kind: str, **facts: Any) -> AuditEntry:
        """One of the engine's own events as the catalogue words it."""
        return self.engine.catalogue.word(kind, **facts)

    def notify(self, notice: Notice, key: str) -> list[str]:
        """Write a notice to its recipients, once per key; the recipients."""
        return outbox.notify(self.uow, self.engine, case_id=self.case.id, notice=notice, key=key, now=self.now)

    def facts(self) -> dict[str, Any]:
        """What a notice may say about the case."""
        case, calendar = self.case, self.engine.calendar
        overdue = 0
        if case.status == "open" and case.due_at is not None and self.now > case.due_at:
            overdue = calendar.working_days_between(calendar.local_date(case.due_at), calendar.local_date(self.now))
        return {"id": case.id, "number": case.number, "title": case.title, "taskforce": case.taskforce,
                "lead_department": case.lead_department, "mode": case.mode,
                "due_text": self.local_text(case.due_at), "urge_count": case.urge_count,
                "overdue_working_days": overdue,
                "link": f"{self.engine.settings.base_url.rstrip('/')}/cases/{case.id}"}

    def local_text(self, moment: datetime | None) -> str | None:
        """A moment in the city's time, as the catalogue writes it."""
        local = None if moment is None else moment.astimezone(self.engine.calendar.zone)
        return self.engine.catalogue.format_moment(local)

    def finish(self) -> CaseView:
        """Bring the rows in line with what the verb did, save, and keep the workflow after commit."""
        if self._results or self._new:
            still_open = sync_rows(self, [call for result in self._results for call in result.calls],
                                   self._completed)
            version, workflow = self.case.process_version, self.workflow
            self.case.workflow_state = self.engine.runtime.save(version, workflow)
            self._keep_after_commit(self.case.id, self.case.workflow_state, workflow)
        else:
            still_open = sorted((t for t in self.open_tasks.values() if t.state in OPEN_STATES),
                                key=lambda t: (t.created_at, t.name, t.department))
        for event, count in self._leading:
            if self.uow.events_recorded == count:
                self.uow.discard_event(event)
        if self._changed:
            self.case.updated_at = self.now
            self.cases.save(self.case)
        return CaseView(self.case, still_open)

    def _keep_after_commit(self, case_id: int, state: bytes, workflow: Any) -> None:
        self.uow.after_commit(lambda: self.engine.caches.workflows.keep(case_id, state, workflow))


def on_case(engine: Engine, actor: str, case_id: int, apply: Callable[[CaseCommand], None],
            visible: ColumnElement[bool] | None = None) -> CaseView:
    """Run a verb on a case the condition lets the actor see (else not found)."""
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        case = Cases(uow).lock(case_id) if visible is None else Cases(uow).lock(case_id, visible)
        if case is None:
            raise NotFound("事项不存在")
        command = CaseCommand(engine, uow, actor, case, Tasks(uow).open_of([case.id])[case.id], now)
        apply(command)
        view = command.finish()
        uow.commit()
    return view


def on_case_of_task(engine: Engine, actor: str, task_id: uuid.UUID,
                    apply: Callable[[CaseCommand], None]) -> CaseView:
    """Run a verb on the case a task belongs to (the verb checks the task)."""
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        if engine.settings.joined_case_reads:
            found = Cases(uow).lock_of_task_with_open(task_id)
        else:
            locked = Cases(uow).lock_of_task(task_id)
            found = None if locked is None else (locked, Tasks(uow).open_of([locked.id])[locked.id])
        if found is None:
            raise NotFound("任务不存在")
        command = CaseCommand(engine, uow, actor, *found, now)
        apply(command)
        view = command.finish()
        uow.commit()
    return view


def start_case(engine: Engine, actor: str, case: CaseRecord, data: dict[str, Any],
               apply: Callable[[CaseCommand], None]) -> CaseView:
    """Record a new case and start its process with its data; apply adds what the verb records."""
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        case.id = Cases(uow).insert(case)
        workflow, started = engine.runtime.start(case.process_version, case.process_id, data)
        command = CaseCommand(engine, uow, actor, case, {}, now, workflow=workflow)
        apply(command)
        command.step(started)
        view = command.finish()
        uow.commit()
    return view


def on_cases(engine: Engine, uow: UnitOfWork, cases: list[CaseRecord], now: datetime,
             apply: Callable[[CaseCommand], None]) -> list[CaseView]:
    """Run a verb on several cases the caller locked in its unit of work (timers, a batch at a time);
    the caller commits."""
    open_tasks = Tasks(uow).open_of([case.id for case in cases])
    views = []
    for case in cases:
        command = CaseCommand(engine, uow, SYSTEM, case, open_tasks[case.id], now)
        apply(command)
        views.append(command.finish())
    return views


class TaskCommand:
    """A change to one task row, in a unit of work of its own."""

    def __init__(self, engine: Engine, uow: UnitOfWork, actor: str, now: datetime) -> None:
        self.engine = engine
        self.uow = uow
        self.actor = actor
        self.now = now
        self.tasks = Tasks(uow)

    def record(self, task: TaskRecord, entry: AuditEntry, data: dict[str, Any] | None = None) -> None:
        """Note an event in the task's case timeline (written at commit)."""
        self.uow.record_event(case_id=task.case_id, task_id=task.id, actor=self.actor, action=entry.action,
                              label=entry.label, at=self.now, data=dict(data or {}))


def on_task(engine: Engine, actor: str, apply: Callable[[TaskCommand], T], one_statement: bool = False) -> T:
    """Run a verb that changes one task row (its own conditions are its lock); commit if it returns.
    ``one_statement``: the verb's change is one statement in itself (``UnitOfWork.autocommit``)."""
    with engine.db.unit_of_work(one_statement=one_statement) as uow:
        result = apply(TaskCommand(engine, uow, actor, engine.clock.now()))
        uow.commit()
    return result
