"""The pipeline's second half: after a step, bring the case row, its task rows, parties and notices
in line with the workflow. The worklist and the case list read only what this writes."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from engine.calendar.lights import warning_level
from engine.errors import Conflict
from engine.storage.records import TaskRecord
from engine.storage.repositories import OPEN_STATES, Parties
from engine.workflow.runtime import ReadyTask, ServiceCall

if TYPE_CHECKING:
    from engine.commands.pipeline import CaseCommand

SYSTEM = "system"
WARNING_ORDER = {"green": 0, "yellow": 1, "red": 2}


def sync_rows(command: CaseCommand, calls: list[ServiceCall], completed: uuid.UUID | None) -> list[TaskRecord]:
    """Sync the rows with the workflow after the command's steps; the case's open tasks after it."""
    engine, case = command.engine, command.case
    workflow = command.workflow
    ready = {t.id: t for t in engine.runtime.ready_tasks(workflow, engine.catalogue.office_department)}
    open_rows = command.open_tasks
    # Departments that are parties already: the lead and co-departments (made parties whenever they
    # change), the owners of open tasks (made parties when their tasks opened), and any the verb
    # made parties itself.
    known = {case.lead_department, *(case.co_departments or []), *(row.department for row in open_rows.values()),
             *command.parties_added}
    _close_finished_tasks(command, ready, completed)
    # Only the case's main work speaks for the case: an inspection running beside it (side work) has
    # its own rectification department and deadline, and while no main task is open (waiting for a
    # follow-up, or finished) the case keeps what it had.
    main = [t for t in ready.values() if not engine.catalogue.is_side_work(t.data)]
    data = main[0].data if main else {}
    if "lead_department" in data:
        case.lead_department = data.get("lead_department")
    if "co_departments" in data:
        case.co_departments = list(data.get("co_departments") or [])
    _follow_mode(command, data.get("mode"))
    deadlines = [t.due_at for t in main if t.case_deadline and t.due_at is not None]
    if deadlines:
        case.due_at = min(deadlines)
    still_open, parties = _open_new_tasks(command, ready)
    parties.update([case.lead_department, *(case.co_departments or [])])
    Parties(command.uow).add(case.id, parties.difference(known, [None]))
    _close_if_finished(command)
    rows = {row.id: row for row in still_open}
    for call in calls:
        _perform(command, call, rows)
    main_ids = {t.id for t in main}
    _aggregate_levels(command, [row for row in still_open if row.id in main_ids])
    case.next_wakeup_at = engine.runtime.next_wakeup(workflow) if case.status == "open" else None
    return sorted(still_open, key=lambda t: (t.created_at, t.name, t.department))


def _aggregate_levels(command: CaseCommand, main_rows: list[TaskRecord]) -> None:
    """The case shows the worst light and highest level of its open main work with a deadline.

    While the case waits on work without a deadline (an extension to approve, feedback to review, a
    re-referral) it keeps the light it had: asking for more time does not clear a red light; the
    approved extension's new task does. A closed case is green.
    """
    case = command.case
    if case.status != "open":
        case.warning_level = "green"
        return
    timed = [row for row in main_rows if row.due_at is not None]
    if not timed:
        return
    case.warning_level = max((row.warning_level for row in timed), key=WARNING_ORDER.__getitem__)
    case.escalation_level = max(row.escalation_level for row in timed)


def _close_finished_tasks(command: CaseCommand, ready: dict[uuid.UUID, ReadyTask],
                          completed: uuid.UUID | None) -> None:
    for task_id, row in command.open_tasks.items():
        if task_id in ready or row.state not in OPEN_STATES:
            continue
        command.uow.count((row.department, row.role), -1)
        if task_id == completed:
            command.tasks.complete(row, command.actor, command.now)
        else:
            command.tasks.cancel(row, command.now)
            command.record(command.word("task_cancelled", title=row.title), task_id=task_id, actor=SYSTEM)


def _follow_mode(command: CaseCommand, mode: Any) -> None:
    """Record a change of mode the process made (a reminder case upgraded to direct handling)."""
    case, modes = command.case, command.engine.catalogue.modes
    if not mode or mode == case.mode or mode not in modes:
        return
    previous = modes[case.mode].label if case.mode in modes else case.mode
    case.mode = mode
    command.tasks.set_mode(case.id, mode)
    for row in command.open_tasks.values():
        row.mode = mode
    command.record(command.word("mode_changed", previous_label=previous, label=modes[mode].label),
                   data={"mode": mode}, actor=SYSTEM)


def _open_new_tasks(command: CaseCommand, ready: dict[uuid.UUID, ReadyTask]) -> tuple[list[TaskRecord], set[str]]:
    engine, case, now = command.engine, command.case, command.now
    still_open: list[TaskRecord] = []
    created: list[TaskRecord] = []
    parties: set[str] = set()
    for task_id, item in ready.items():
        if item.department:
            parties.add(item.department)
        if task_id in command.open_tasks:
            still_open.append(command.open_tasks[task_id])
            continue
        row = TaskRecord(
            id=task_id, case_id=case.id, name=item.name, title=item.title, case_title=case.title,
            case_number=case.number, taskforce=case.taskforce, mode=case.mode, department=item.department,
            role=item.role, assignee=None, state="ready", created_at=now, claimed_at=None, completed_at=None,
            completed_by=None, due_at=item.due_at, warning_level=warning_level(engine.calendar, item.due_at, now),
            escalation_level=0,
        )
        created.append(row)
        command.uow.count((row.department, row.role), +1)
        still_open.append(row)
        where = engine.directory.name(item.department) if item.department else ""
        command.record(command.word("task_created", title=item.title, department_name=where), task_id=task_id,
                       data={"department": item.department, "due_at": item.due_at.isoformat() if item.due_at else None},
                       actor=SYSTEM)
    command.tasks.insert(created)
    return still_open, parties


def _close_if_finished(command: CaseCommand) -> None:
    case = command.case
    end = command.engine.runtime.resolution(command.workflow)
    if end is None or case.status != "open":
        return
    resolution, label = command.engine.catalogue.end_resolutions.get(end, (end, end))
    case.status, case.resolution, case.closed_at = "closed", resolution, command.now
    command.record(command.word("case_closed", resolution_label=label), data={"resolution": resolution},
                   actor=SYSTEM)


def _perform(command: CaseCommand, call: ServiceCall, rows: dict[uuid.UUID, TaskRecord]) -> None:
    """Carry out a service task's request within the command's transaction (``rows``: the case's
    open task rows as this sync left them). The engine offers two operations to a process:
    ``notify`` (a notice of the catalogue's, to the department the task names) and ``escalate``
    (a rung of the case's escalation ladder)."""
    if call.operation == "escalate":
        _escalate(command, call, rows)
        return
    if call.operation != "notify":
        raise Conflict(f"未知的服务任务：{call.operation}")
    engine, case = command.engine, command.case
    kind = str(call.params.get("kind"))
    facts = command.facts() | {"lead_department": call.params.get("department") or case.lead_department}
    notice = engine.catalogue.compose_notice(kind, facts, engine.directory.name)
    sent_to = command.notify(notice, key=f"{kind}:{case.id}:{call.task_id}")
    command.record(command.word("notice_sent", title=notice.title), data={"kind": kind, "recipients": sent_to},
                   actor=SYSTEM)


def _escalate(command: CaseCommand, call: ServiceCall, rows: dict[uuid.UUID, TaskRecord]) -> None:
    """A rung of the escalation ladder fired: raise the task's light and level, tell its people."""
    engine, case, now = command.engine, command.case, command.now
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
        command.tasks.save_levels(task)
    overdue = 0
    if task.due_at is not None and now > task.due_at:
        calendar = engine.calendar
        overdue = calendar.working_days_between(calendar.local_date(task.due_at), calendar.local_date(now))
    facts = command.facts() | {
        "lead_department": task.department, "assignee": task.assignee, "rung_label": rung.label,
        "overdue_working_days": overdue, "due_text": command.local_text(task.due_at),
    }
    notice = engine.catalogue.compose_notice(f"escalation_{rung.name}", facts, engine.directory.name)
    sent_to = command.notify(notice, key=f"escalation:{rung.name}:{task.id}:{call.task_id}")
    command.record(command.word("escalated", rung_label=rung.label, title=task.title,
                                department_name=engine.directory.name(task.department)), task_id=task.id,
                   data={"rung": rung.name, "warning_level": task.warning_level,
                         "escalation_level": task.escalation_level, "overdue_working_days": overdue,
                         "recipients": sent_to}, actor=SYSTEM)
