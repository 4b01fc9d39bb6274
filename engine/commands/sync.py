"""After every step: bring the case row, its task rows, parties and notifications in line with
the workflow. The worklist and the case list read only what this writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from engine.storage import audit, counts
from engine.notifications import outbox
from engine.bootstrap import Engine
from engine.storage.database import write
from engine.errors import Conflict, NotFound
from engine.storage.models import OPEN_TASK, Case, Task
from engine.workflow.runtime import ReadyTask, ServiceCall
from engine.calendar.lights import warning_level

OPEN_STATES = ("ready", "claimed")
SYSTEM = "system"


def ready_by_id(engine: Engine, workflow: Any) -> dict[uuid.UUID, ReadyTask]:
    """The workflow's ready user tasks by id."""
    return {t.id: t for t in engine.runtime.ready_tasks(workflow, engine.catalogue.office_department)}


def ready_task(engine: Engine, workflow: Any, task_id: uuid.UUID) -> ReadyTask | None:
    """One of the workflow's user tasks, if it is ready."""
    return engine.runtime.ready_task(workflow, task_id, engine.catalogue.office_department)


def checkout_workflow(engine: Engine, case: Case) -> Any:
    """The case's workflow for a command: the one this process saved last if the row still holds
    exactly that state, else restored from the row."""
    workflow = engine.instances.take(case.id, case.workflow_state)
    if workflow is None:
        workflow = engine.runtime.restore(case.process_version, case.workflow_state)
    return workflow


def keep_workflow(engine: Engine, case: Case, workflow: Any) -> None:
    """After the commit: keep the workflow in memory for the case's next command."""
    engine.instances.keep(case.id, case.workflow_state, workflow)


# The statements of the command path, built once so their compiled form is cached. Commands read
# rows into plain model objects and write them back with these (queued: engine.database.write),
# never through the ORM's flush.
_CASES = Case.__table__
_TASKS = Task.__table__
SELECT_CASE = select(*_CASES.c).where(_CASES.c.id == bindparam("case_id"))
# FOR NO KEY UPDATE: the weakest lock that keeps other commands off the case, and one that leaves
# the foreign-key checks of rows that point at it (events, tasks, parties: FOR KEY SHARE) unblocked.
# Every command locks its case first and only then changes tasks: one order, no deadlock.
SELECT_CASE_FOR_UPDATE = SELECT_CASE.with_for_update(key_share=True)
SELECT_OPEN_TASKS = select(*_TASKS.c).where(_TASKS.c.case_id.in_(bindparam("case_ids", expanding=True)),
                                            _TASKS.c.state.in_(OPEN_STATES))
# Every column of the case row but its key, written as the command left the object, only if the
# row still has the version the command loaded.
SAVE_CASE = (update(_CASES)
             .where(_CASES.c.id == bindparam("case_id"), _CASES.c.version == bindparam("loaded_version"))
             .values({c.name: bindparam(f"new_{c.name}") for c in _CASES.c if c.name != "id"}))
INSERT_TASK = insert(_TASKS)
COMPLETE_TASK = (update(_TASKS)
                 .where(_TASKS.c.id == bindparam("task_id"), _TASKS.c.state == "claimed",
                        _TASKS.c.assignee == bindparam("actor"))
                 .values(state="completed", completed_at=bindparam("now"), completed_by=bindparam("actor")))
CANCEL_TASK = (update(_TASKS).where(_TASKS.c.id == bindparam("task_id"))
               .values(state="cancelled", completed_at=bindparam("now")))
RAISE_TASK_LEVELS = (update(_TASKS).where(_TASKS.c.id == bindparam("task_id"))
                     .values(warning_level=bindparam("new_warning_level"),
                             escalation_level=bindparam("new_escalation_level")))
SET_OPEN_TASKS_MODE = (update(_TASKS).where(_TASKS.c.case_id == bindparam("of_case"), OPEN_TASK)
                       .values(mode=bindparam("new_mode")))
# Plain SQL that both databases speak; the dialects' own INSERT … ON CONFLICT constructs cannot be
# cached and would be compiled again on every command.
INSERT_PARTIES = text("INSERT INTO case_party (case_id, department_code) VALUES (:case_id, :department_code) "
                      "ON CONFLICT DO NOTHING")


def lock_case(engine: Engine, session: Session, case_id: int) -> Case | None:
    """Load a case for a command (locking its row on PostgreSQL), as a plain object that only
    ``save_new_version`` writes back."""
    query = SELECT_CASE_FOR_UPDATE if engine.db.locks_rows else SELECT_CASE
    row = session.execute(query, {"case_id": case_id}).one_or_none()
    return None if row is None else Case(**row._mapping)


def require_case(engine: Engine, session: Session, case_id: int) -> Case:
    """Load and lock a case, or fail with not-found."""
    case = lock_case(engine, session, case_id)
    if case is None:
        raise NotFound("事项不存在")
    return case


def open_task_rows(session: Session, case_ids: Iterable[int]) -> dict[int, dict[uuid.UUID, Task]]:
    """The open task rows of each case by id, as plain objects, in one query."""
    rows: dict[int, dict[uuid.UUID, Task]] = {case_id: {} for case_id in case_ids}
    for row in session.execute(SELECT_OPEN_TASKS, {"case_ids": list(rows)}):
        rows[row.case_id][row.id] = Task(**row._mapping)
    return rows


def save_new_version(session: Session, case: Case) -> None:
    """Save the case as its next version, only if nobody saved it since it was loaded:
    ``UPDATE … SET …, version = v + 1 WHERE id = … AND version = v``; zero rows updated means
    another command won, and the caller's transaction must roll back.
    """
    values = {f"new_{c.name}": getattr(case, c.key) for c in _CASES.c if c.name != "id"}
    values["new_version"] = case.version + 1
    write(session, SAVE_CASE, values | {"case_id": case.id, "loaded_version": case.version},
          expect_rows=1, conflict="事项已被他人更新，请刷新后重试")
    case.version += 1


def sync_case(engine: Engine, session: Session, case: Case, workflow: Any, actor: str, now: datetime,
              completed: uuid.UUID | None = None, calls: Iterable[ServiceCall] = (),
              open_rows: dict[uuid.UUID, Task] | None = None, known_parties: Iterable[str] | None = None
              ) -> list[Task]:
    """Sync rows with the workflow after a step; return the case's open tasks (``open_rows``: the
    open task rows, when the caller loaded them with the locked case; ``known_parties``: the
    departments already parties to a new case)."""
    ready = ready_by_id(engine, workflow)
    if open_rows is None:
        open_rows = open_task_rows(session, [case.id])[case.id]
    # Departments that are parties already: the lead and co-departments (made parties whenever
    # they change) and the owners of open tasks (made parties when their tasks opened).
    if known_parties is None:
        known_parties = {case.lead_department, *(case.co_departments or []),
                         *(row.department for row in open_rows.values())}
    _close_finished_tasks(session, case, ready, open_rows, actor, now, completed)
    # Only the case's main work speaks for the case: an inspection running beside it (side work)
    # has its own rectification department and deadline, and while no main task is open (waiting
    # for a follow-up, or finished) the case keeps what it had.
    main = [t for t in ready.values() if not engine.catalogue.is_side_work(t.data)]
    data = main[0].data if main else {}
    if "lead_department" in data:
        case.lead_department = data.get("lead_department")
    if "co_departments" in data:
        case.co_departments = list(data.get("co_departments") or [])
    _follow_mode(engine, session, case, data.get("mode"), open_rows.values(), now)
    deadlines = [t.due_at for t in main if t.case_deadline and t.due_at is not None]
    if deadlines:
        case.due_at = min(deadlines)
    still_open, parties = _open_new_tasks(engine, session, case, ready, open_rows, now)
    parties.update([case.lead_department, *(case.co_departments or [])])
    add_parties(session, case.id, parties.difference(known_parties, [None]))
    _close_if_finished(engine, session, case, workflow, now)
    rows = {row.id: row for row in still_open}
    for call in calls:
        _perform(engine, session, case, call, rows, now)
    main_rows = [row for row in still_open if row.id in {t.id for t in main}]
    _aggregate_levels(case, main_rows)
    case.next_wakeup_at = engine.runtime.next_wakeup(workflow) if case.status == "open" else None
    case.updated_at = now
    return sorted(still_open, key=lambda t: (t.created_at, t.name, t.department))


WARNING_ORDER = {"green": 0, "yellow": 1, "red": 2}


def _aggregate_levels(case: Case, main_rows: list[Task]) -> None:
    """The case shows the worst light and highest level of its open main work with a deadline.

    While the case waits on work without a deadline (an extension to approve, feedback to review, a
    re-referral) it keeps the light it had: asking for more time does not clear a red light; the
    approved extension's new task does. A closed case is green.
    """
    if case.status != "open":
        case.warning_level = "green"
        return
    timed = [row for row in main_rows if row.due_at is not None]
    if not timed:
        return
    case.warning_level = max((row.warning_level for row in timed), key=WARNING_ORDER.__getitem__)
    case.escalation_level = max(row.escalation_level for row in timed)


def _close_finished_tasks(session: Session, case: Case, ready: dict[uuid.UUID, ReadyTask],
                          open_rows: dict[uuid.UUID, Task], actor: str, now: datetime,
                          completed: uuid.UUID | None) -> None:
    for task_id, row in open_rows.items():
        if task_id in ready:
            continue
        counts.change(session, row.department, row.role, -1)
        if task_id == completed:
            write(session, COMPLETE_TASK, {"task_id": task_id, "actor": actor, "now": now},
                  expect_rows=1, conflict="任务状态已变化，请刷新后重试")
        else:
            write(session, CANCEL_TASK, {"task_id": task_id, "now": now})
            row.state = "cancelled"
            row.completed_at = now
            audit.record(session, case_id=case.id, task_id=task_id, actor=SYSTEM,
                         action="task_cancelled", at=now, label=f"待办撤销：{row.title}")


def _follow_mode(engine: Engine, session: Session, case: Case, mode: Any, open_rows: Iterable[Task],
                 now: datetime) -> None:
    """Record a change of mode the process made (a reminder case upgraded to direct handling)."""
    if not mode or mode == case.mode or mode not in engine.catalogue.modes:
        return
    previous = engine.catalogue.modes[case.mode].label if case.mode in engine.catalogue.modes else case.mode
    case.mode = mode
    write(session, SET_OPEN_TASKS_MODE, {"of_case": case.id, "new_mode": mode})
    for row in open_rows:
        row.mode = mode
    audit.record(session, case_id=case.id, actor=SYSTEM, action="mode_changed", at=now,
                 label=f"{previous}转为{engine.catalogue.modes[mode].label}", data={"mode": mode})


def _open_new_tasks(engine: Engine, session: Session, case: Case, ready: dict[uuid.UUID, ReadyTask],
                    open_rows: dict[uuid.UUID, Task], now: datetime) -> tuple[list[Task], set[str]]:
    still_open: list[Task] = []
    created: list[Task] = []
    parties: set[str] = set()
    for task_id, item in ready.items():
        if item.department:
            parties.add(item.department)
        if task_id in open_rows:
            still_open.append(open_rows[task_id])
            continue
        row = Task(
            id=task_id, case_id=case.id, name=item.name, title=item.title,
            case_title=case.title, case_number=case.number, taskforce=case.taskforce,
            mode=case.mode, department=item.department, role=item.role, state="ready",
            created_at=now, due_at=item.due_at,
            warning_level=warning_level(engine.calendar, item.due_at, now), escalation_level=0,
        )
        created.append(row)
        counts.change(session, row.department, row.role, +1)
        still_open.append(row)
        where = engine.directory.name(item.department) if item.department else ""
        audit.record(session, case_id=case.id, task_id=task_id, actor=SYSTEM, action="task_created", at=now,
                     label=f"生成待办：{item.title}（{where}）",
                     data={"department": item.department, "due_at": item.due_at.isoformat() if item.due_at else None})
    if created:
        write(session, INSERT_TASK, [{c.key: getattr(row, c.key) for c in _TASKS.c} for row in created])
    return still_open, parties


def _close_if_finished(engine: Engine, session: Session, case: Case, workflow: Any, now: datetime) -> None:
    end = engine.runtime.resolution(workflow)
    if end is None or case.status != "open":
        return
    case.status = "closed"
    case.resolution = engine.catalogue.end_resolutions.get(end, end)
    case.closed_at = now
    audit.record(session, case_id=case.id, actor=SYSTEM, action="case_closed", at=now,
                 label="办结" if case.resolution == "completed" else "事项关闭：不予受理",
                 data={"resolution": case.resolution})


def _perform(engine: Engine, session: Session, case: Case, call: ServiceCall, rows: dict[uuid.UUID, Task],
             now: datetime) -> None:
    """Carry out a service task's request within the command's transaction (``rows``: the case's
    open task rows as this sync left them)."""
    if call.operation == "escalate":
        _escalate(engine, session, case, call, rows, now)
        return
    if call.operation != "notify":
        raise Conflict(f"未知的服务任务：{call.operation}")
    kind = str(call.params.get("kind"))
    facts = case_facts(engine, case) | {"lead_department": call.params.get("department") or case.lead_department}
    notice = engine.catalogue.compose_notice(kind, facts, engine.directory.name)
    sent_to = outbox.notify(session, engine, case_id=case.id, notice=notice,
                            key=f"{kind}:{case.id}:{call.task_id}", now=now)
    audit.record(session, case_id=case.id, actor=SYSTEM, action="notice_sent", at=now,
                 label=f"发送通知：{notice.title}", data={"kind": kind, "recipients": sent_to})


def _escalate(engine: Engine, session: Session, case: Case, call: ServiceCall, rows: dict[uuid.UUID, Task],
              now: datetime) -> None:
    """A rung of the escalation ladder fired: raise the task's light and level, tell its people."""
    rung = engine.catalogue.escalation_rung(case.mode, str(call.params.get("rung")))
    task = rows.get(call.attached_to) if call.attached_to else None
    if rung is None or task is None or task.state not in OPEN_STATES:
        return
    if rung.only_unclaimed and task.state != "ready":
        return
    levels = (task.warning_level, task.escalation_level)
    if rung.warning and WARNING_ORDER[rung.warning] > WARNING_ORDER[task.warning_level]:
        task.warning_level = rung.warning
    task.escalation_level = max(task.escalation_level, rung.level)
    if (task.warning_level, task.escalation_level) != levels:
        write(session, RAISE_TASK_LEVELS, {"task_id": task.id, "new_warning_level": task.warning_level,
                                           "new_escalation_level": task.escalation_level})
    lead = task.department
    audience = []
    for kind, value in rung.audience:
        if kind == "lead_department":
            audience.append(("department", lead))
        elif kind == "lead_department_leader":
            audience.append(("department_leader", lead))
        elif kind == "taskforce_leader":
            audience.append(("taskforce_leader", case.taskforce))
        else:
            audience.append((kind, value))
    if task.assignee and any(kind in ("lead_department", "lead_department_leader") for kind, _ in rung.audience):
        audience.append(("user", task.assignee))
    overdue = 0
    if task.due_at is not None and now > task.due_at:
        overdue = engine.calendar.working_days_between(engine.calendar.local_date(task.due_at),
                                                       engine.calendar.local_date(now))
    facts = case_facts(engine, case) | {
        "lead_department": lead, "audience": audience, "rung_label": rung.label,
        "overdue_working_days": overdue,
        "due_text": _local_text(engine, task.due_at),
    }
    notice = engine.catalogue.compose_notice(f"escalation_{rung.name}", facts, engine.directory.name)
    sent_to = outbox.notify(session, engine, case_id=case.id, notice=notice,
                            key=f"escalation:{rung.name}:{task.id}:{call.task_id}", now=now)
    audit.record(session, case_id=case.id, task_id=task.id, actor=SYSTEM, action="escalated", at=now,
                 label=f"{rung.label}：{task.title}（{engine.directory.name(lead)}）",
                 data={"rung": rung.name, "warning_level": task.warning_level,
                       "escalation_level": task.escalation_level, "overdue_working_days": overdue,
                       "recipients": sent_to})


def _local_text(engine: Engine, moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(engine.calendar.zone).strftime("%Y年%m月%d日 %H:%M")


def case_facts(engine: Engine, case: Case) -> dict[str, Any]:
    """What a notice may say about a case."""
    now = engine.clock.now()
    overdue = 0
    if case.status == "open" and case.due_at is not None and now > case.due_at:
        overdue = engine.calendar.working_days_between(engine.calendar.local_date(case.due_at),
                                                       engine.calendar.local_date(now))
    return {"id": case.id, "number": case.number, "title": case.title, "taskforce": case.taskforce,
            "lead_department": case.lead_department, "mode": case.mode,
            "due_text": _local_text(engine, case.due_at), "urge_count": case.urge_count,
            "overdue_working_days": overdue,
            "link": f"{engine.settings.base_url.rstrip('/')}/cases/{case.id}"}


def add_parties(session: Session, case_id: int, departments: Iterable[str]) -> None:
    """Make departments parties to a case (idempotent, one statement)."""
    rows = [{"case_id": case_id, "department_code": code} for code in sorted(set(departments))]
    if rows:
        write(session, INSERT_PARTIES, rows)
