"""The supervision use cases: collect a case, claim, unclaim, assign and complete its tasks.

Each use case is one transaction: load the case (``FOR UPDATE`` on PostgreSQL), restore its
workflow, apply the command, run the engine, sync the task rows, write the audit events, save
the state and bump the case's version. If someone else saved the case in between, the version
check fails, everything rolls back, and the caller gets a conflict.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from sqlalchemy import String, bindparam, insert, literal, select, update
from sqlalchemy.orm import Session

from engine.storage import audit
from engine.notifications import outbox
from engine.org.access import (
    Actor,
    may_assign,
    may_create_in,
    may_see_task,
    may_work_on,
    visible_cases,
    visible_tasks,
    workable_slot_values,
    workable_slots,
)
from engine.bootstrap import Engine
from engine.catalogue import FormContext
from engine.storage.database import fetch, fetch_in
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.storage.models import Case, Deployment, Event, Task, Taskforce, User
from engine.org.accounts import actor_of
from engine.commands.sync import (
    OPEN_STATES,
    add_parties,
    case_facts,
    checkout_workflow,
    keep_workflow,
    lock_case,
    open_task_rows,
    ready_task,
    require_case,
    save_new_version,
    sync_case,
)

URGE_ROLES = frozenset({"supervisor", "dispatcher"})
INSPECTION_ROLES = frozenset({"supervisor"})
# Data a mode may take at creation beyond the common fields, and which modes take it.
MODE_OPTIONS = {"report_every_working_days": "effectiveness", "followup_working_days": "effectiveness"}


@dataclass(frozen=True)
class CaseDraft:
    """What 问题收集 records about a new case."""

    title: str
    description: str
    taskforce: str
    mode: str | None = None
    source: str | None = None
    lead_department: str | None = None
    co_departments: list[str] = field(default_factory=list)
    deadline_working_days: int | None = None
    report_every_working_days: int | None = None
    followup_working_days: int | None = None


@dataclass(frozen=True)
class CaseView:
    """A case with its open tasks."""

    case: Case
    open_tasks: list[Task]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.case, name)


@dataclass
class TaskDetail:
    """A task with its form, for a client that draws it."""

    task: Task
    form: list[dict[str, Any]]
    values: dict[str, Any]
    actions: list[str]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.task, name)


# -- creating ----------------------------------------------------------------------------------

def create_case(engine: Engine, actor: Actor, draft: CaseDraft) -> CaseView:
    """Record a new case (问题收集) and start its process."""
    catalogue = engine.catalogue
    mode_name = draft.mode or catalogue.default_mode
    mode = catalogue.modes.get(mode_name)
    if mode is None:
        raise InvalidInput("未知的督办方式", {"mode": [f"可选：{'、'.join(catalogue.modes)}"]})
    if not actor.roles & mode.creator_roles:
        raise Forbidden(f"当前角色不能创建“{mode.label}”事项")
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        session = uow.session
        _check_draft(session, draft, mode_name, mode.needs_lead_department, engine.directory.assignable())
        if not may_create_in(actor, draft.taskforce):
            raise Forbidden("只能在本人负责的专班内登记事项", {"taskforce": [f"无权在专班 {draft.taskforce} 登记事项"]})
        given = {
            "title": draft.title,
            "description": draft.description,
            "taskforce": draft.taskforce,
            "source": draft.source,
            "mode": mode_name,
            "lead_department": draft.lead_department,
            "co_departments": list(draft.co_departments),
            "deadline_working_days": draft.deadline_working_days,
            "created_by": actor.username,
        } | {name: getattr(draft, name) for name in MODE_OPTIONS if getattr(draft, name) is not None}
        data = dict(mode.defaults) | {k: v for k, v in given.items() if v is not None or k not in mode.defaults}
        with engine.runtime.recording() as calls:
            workflow = engine.runtime.start(engine.current_version, mode.process_id, data)
        case = Case(
            title=draft.title,
            description=draft.description,
            taskforce=draft.taskforce,
            source=draft.source,
            mode=mode_name,
            status="open",
            lead_department=draft.lead_department,
            co_departments=list(draft.co_departments),
            created_by=actor.username,
            created_at=now,
            updated_at=now,
            process_id=mode.process_id,
            process_version=engine.current_version,
            workflow_state=b"",
        )
        session.add(case)
        session.flush()
        case.number = f"DB{engine.calendar.local_date(now).year}-{case.id:06d}"
        if actor.department:
            add_parties(session, case.id, [actor.department])
        audit.record(
            session, case_id=case.id, actor=actor.username, action="case_created", at=now,
            label=f"问题收集（{mode.label}）：{draft.title}",
            data={k: v for k, v in data.items() if k != "created_by"},
        )
        open_tasks = sync_case(engine, session, case, workflow, actor.username, now, calls=calls,
                               known_parties=[actor.department] if actor.department else [])
        case.workflow_state = engine.runtime.save(case.process_version, workflow)
        uow.commit()
    keep_workflow(engine, case, workflow)
    return CaseView(case, open_tasks)


def _check_draft(session: Session, draft: CaseDraft, mode: str, needs_lead: bool,
                 known: Mapping[str, str]) -> None:
    errors: dict[str, list[str]] = {}
    for name, only_for in MODE_OPTIONS.items():
        if getattr(draft, name) is not None and mode != only_for:
            errors[name] = [f"仅适用于督办方式 {only_for}"]
    if session.get(Taskforce, draft.taskforce) is None:
        errors["taskforce"] = [f"未知的专班：{draft.taskforce}"]
    if needs_lead and not draft.lead_department:
        errors["lead_department"] = ["此督办方式必须指定牵头单位。"]
    if draft.lead_department and draft.lead_department not in known:
        errors["lead_department"] = [f"未知的单位：{draft.lead_department}"]
    unknown = [c for c in draft.co_departments if c not in known]
    if unknown:
        errors["co_departments"] = [f"未知的单位：{'、'.join(unknown)}"]
    elif draft.lead_department and draft.lead_department in draft.co_departments:
        errors["co_departments"] = ["牵头单位不能同时作为协办单位。"]
    if errors:
        raise InvalidInput("事项信息填写有误", errors)


# -- task commands -----------------------------------------------------------------------------

def claim_task(engine: Engine, actor: Actor, task_id: uuid.UUID) -> Task:
    """签收: the actor takes a ready task; a conflict if someone else holds it."""
    now = engine.clock.now()
    params = {"task_id": task_id, "actor": actor.username, "now": now} | workable_slot_values(actor)
    # The usual case is one statement: a ready task the actor may work on becomes theirs. On
    # PostgreSQL the same statement records the event, in one round trip.
    if engine.db.changes_tables_in_one_statement:
        with engine.db.single_statement() as connection:
            rows = fetch(connection, _CLAIM_AND_RECORD, params | {"label_prefix": _CLAIM_LABEL, "event_data": {}})
        claimed = Task(**dict(zip(_TASK_COLUMNS, rows[0]))) if rows else None
    else:
        with engine.db.unit_of_work() as uow:
            row = uow.session.execute(_CLAIM, params).one_or_none()
            claimed = None if row is None else Task(**row._mapping)
            if claimed is not None:
                audit.record(uow.session, case_id=claimed.case_id, task_id=claimed.id, actor=actor.username,
                             action="task_claimed", at=now, label=_CLAIM_LABEL + claimed.title)
                uow.commit()
    if claimed is not None:
        return claimed
    with engine.db.unit_of_work(write=False) as uow:  # nothing changed: say why
        task = _task_for_action(uow.session, actor, task_id)
    if not may_work_on(actor, task):
        raise Forbidden("无权签收此任务")
    if task.state == "claimed" and task.assignee == actor.username:
        return task
    _require_open(task)
    raise Conflict("任务已被他人签收", {"task": ["任务已由他人签收"]})


_TASKS = Task.__table__
_EVENTS = Event.__table__
_CLAIM_LABEL = "签收："
_CLAIM = (update(_TASKS).where(_TASKS.c.id == bindparam("task_id"), _TASKS.c.state == "ready", workable_slots())
          .values(state="claimed", assignee=bindparam("actor"), claimed_at=bindparam("now"))
          .returning(*_TASKS.c))
_claimed = _CLAIM.cte("claimed")
_CLAIM_AND_RECORD = select(_claimed).add_cte(insert(_EVENTS).from_select(
    ["case_id", "task_id", "actor", "action", "label", "at", "data"],
    select(_claimed.c.case_id, _claimed.c.id, bindparam("actor", type_=String()), literal("task_claimed"),
           bindparam("label_prefix", type_=String()) + _claimed.c.title,
           bindparam("now", type_=_EVENTS.c.at.type), bindparam("event_data", type_=_EVENTS.c.data.type)),
).cte("recorded"))


def unclaim_task(engine: Engine, actor: Actor, task_id: uuid.UUID) -> Task:
    """Give a claimed task back to the department's worklist."""
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        task = _lock_task(engine, uow.session, actor, task_id)
        if task.state != "claimed":
            raise Conflict("任务未被签收" if task.state == "ready" else "任务已结束")
        if task.assignee != actor.username and not may_assign(actor, task):
            raise Forbidden("只能取消自己签收的任务")
        previous = task.assignee
        released = _update_task(uow.session, task_id, (Task.state == "claimed") & (Task.assignee == previous),
                                state="ready", assignee=None, claimed_at=None)
        if released is None:
            raise Conflict("任务状态已变化，请刷新")
        audit.record(uow.session, case_id=task.case_id, task_id=task.id, actor=actor.username,
                     action="task_unclaimed", at=now, label=f"取消签收：{task.title}",
                     data={"previous_assignee": previous})
        uow.commit()
    return released


def assign_task(engine: Engine, actor: Actor, task_id: uuid.UUID, username: str) -> Task:
    """A department leader gives a task to a member of the department."""
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        session = uow.session
        task = _lock_task(engine, session, actor, task_id)
        if not may_assign(actor, task):
            raise Forbidden("只有本单位负责人可以指派任务")
        _require_open(task)
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None:
            raise InvalidInput("指派对象不存在", {"username": [f"未知的用户：{username}"]})
        assignee = actor_of(user)
        if not may_work_on(assignee, task):
            raise InvalidInput("指派对象不能办理此任务", {"username": [f"{username} 不属于办理单位"]})
        previous = task.assignee
        assigned = _update_task(session, task_id,
                                Task.state.in_(OPEN_STATES) & Task.assignee.is_not_distinct_from(previous),
                                state="claimed", assignee=username, claimed_at=now)
        if assigned is None:
            raise Conflict("任务状态已变化，请刷新")
        audit.record(session, case_id=task.case_id, task_id=task.id, actor=actor.username,
                     action="task_assigned", at=now, label=f"指派：{task.title} → {user.display_name}",
                     data={"assignee": username, "previous_assignee": previous})
        uow.commit()
    return assigned


def _update_task(session: Session, task_id: uuid.UUID, condition: Any, **values: Any) -> Task | None:
    """Change a task only if it is still as the caller saw it; return it changed (a detached
    copy of the row), or None."""
    table = Task.__table__
    row = session.execute(
        update(table).where(table.c.id == task_id, condition).values(**values).returning(*table.c)
    ).one_or_none()
    return None if row is None else Task(**row._mapping)


def complete_task(engine: Engine, actor: Actor, task_id: uuid.UUID, data: Mapping[str, Any]) -> CaseView:
    """Complete a claimed task with its form data and move the case on."""
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        session = uow.session
        case, open_rows = _lock_case_of_task(engine, session, task_id)
        task = open_rows.get(task_id)
        if task is None or not may_see_task(actor, task):
            task = _task_for_action(session, actor, task_id)  # not found, or not open: say which
        if not may_work_on(actor, task):
            raise Forbidden("无权办理此任务")
        if task.state == "ready":
            raise Conflict("请先签收任务", {"task": ["任务尚未签收"]})
        _require_open(task)
        if case is None:
            raise NotFound("任务不存在")
        if task.assignee != actor.username:
            raise Conflict("任务已由他人签收", {"task": [f"已由 {task.assignee} 签收"]})
        form = engine.catalogue.forms[task.name]
        workflow = checkout_workflow(engine, case)
        ready = ready_task(engine, workflow, task.id)
        if ready is None:
            raise Conflict("任务已不在待办状态")
        cleaned = form.load(data, FormContext(engine.directory.assignable(), ready.data))
        with engine.runtime.recording() as calls:
            engine.runtime.complete(workflow, task.id, cleaned, ready.result_variable)
        entry = engine.catalogue.describe_completion(task.name, cleaned, engine.directory.name)
        audit.record(session, case_id=case.id, task_id=task.id, actor=actor.username,
                     action=entry.action, at=now, label=entry.label,
                     data=cleaned)
        _count_loops(case, entry.action)
        open_tasks = sync_case(engine, session, case, workflow, actor.username, now, completed=task.id, calls=calls,
                               open_rows=open_rows)
        case.workflow_state = engine.runtime.save(case.process_version, workflow)
        save_new_version(session, case)
        uow.commit()
    keep_workflow(engine, case, workflow)
    return CaseView(case, open_tasks)


# -- supervisors' actions ------------------------------------------------------------------------

def urge_case(engine: Engine, actor: Actor, case_id: int, message: str | None) -> CaseView:
    """催办: record the urge, raise the case's urge count and notify the lead department."""
    if not actor.roles & URGE_ROLES:
        raise Forbidden("只有督查室和督查人员可以催办")
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        session = uow.session
        case = _visible_open_case(engine, session, actor, case_id)
        case.urge_count += 1
        case.updated_at = now
        facts = case_facts(engine, case) | {"message": message}
        notice = engine.catalogue.compose_notice("urged", facts, engine.directory.name)
        holders = session.scalars(select(Task.assignee).where(
            Task.case_id == case.id, Task.state == "claimed", Task.assignee.is_not(None))).all()
        notice = replace(notice, audience=notice.audience + tuple(("user", h) for h in holders))
        sent_to = outbox.notify(session, engine, case_id=case.id, notice=notice,
                                key=f"urged:{case.id}:{case.urge_count}", now=now)
        audit.record(session, case_id=case.id, actor=actor.username, action="case_urged", at=now,
                     label=f"催办（第{case.urge_count}次）" + (f"：{message}" if message else ""),
                     data={"message": message, "urge_count": case.urge_count, "recipients": sent_to})
        save_new_version(session, case)
        open_tasks = _open_tasks(session, case.id)
        uow.commit()
    return CaseView(case, open_tasks)


def request_inspection(engine: Engine, actor: Actor, case_id: int, note: str | None) -> CaseView:
    """实地查办 on a running case: an inspection starts beside the open work (any number of times)."""
    if not actor.roles & INSPECTION_ROLES:
        raise Forbidden("只有督查人员可以发起实地查办")
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        session = uow.session
        case = _visible_open_case(engine, session, actor, case_id)
        workflow = checkout_workflow(engine, case)
        payload = {"note": note, "requested_by": actor.username, "requested_at": now.isoformat()}
        with engine.runtime.recording() as calls:
            engine.runtime.send_message(workflow, engine.catalogue.messages["inspection"], payload)
        audit.record(session, case_id=case.id, actor=actor.username, action="inspection_requested", at=now,
                     label="发起实地查办" + (f"：{note}" if note else ""), data={"note": note})
        open_tasks = sync_case(engine, session, case, workflow, actor.username, now, calls=calls)
        case.workflow_state = engine.runtime.save(case.process_version, workflow)
        save_new_version(session, case)
        uow.commit()
    keep_workflow(engine, case, workflow)
    return CaseView(case, open_tasks)


def _visible_open_case(engine: Engine, session: Session, actor: Actor, case_id: int) -> Case:
    visible = session.scalar(select(Case.id).where(Case.id == case_id, visible_cases(actor)))
    if visible is None:
        raise NotFound("事项不存在")
    case = require_case(engine, session, case_id)
    if case.status != "open":
        raise Conflict("事项已办结", {"case": [f"事项状态：{case.status}"]})
    return case


def _open_tasks(session: Session, case_id: int) -> list[Task]:
    return list(session.scalars(
        select(Task).where(Task.case_id == case_id, Task.state.in_(OPEN_STATES))
        .order_by(Task.created_at, Task.name, Task.department)
    ))


def _count_loops(case: Case, action: str) -> None:
    if action == "case_returned":
        case.return_count += 1
    elif action == "feedback_rejected":
        case.rework_count += 1


def _lock_case_of_task(engine: Engine, session: Session,
                       task_id: uuid.UUID) -> tuple[Case | None, dict[uuid.UUID, Task]]:
    """Lock the case a task belongs to, then load its open tasks, as plain objects; (None, {})
    unless the task is open.

    Two statements, not one: a locking read that waited for another command's commit sees that
    command's case row, but a join in the same statement would still read the task rows as they
    were before it (PostgreSQL re-checks only the locked row), missing a task it opened."""
    query = _CASE_OF_TASK_FOR_UPDATE if engine.db.locks_rows else _CASE_OF_TASK
    rows = fetch_in(session, query, {"task_id": task_id})
    if not rows:
        return None, {}
    case = Case(**dict(zip(_CASE_COLUMNS, rows[0])))
    open_rows = open_task_rows(session, [case.id])[case.id]
    if task_id not in open_rows:
        return None, {}
    return case, open_rows


_CASE_COLUMNS = tuple(c.key for c in Case.__table__.c)
_TASK_COLUMNS = tuple(c.key for c in _TASKS.c)
_CASE_OF_TASK = select(*Case.__table__.c).where(
    Case.__table__.c.id == select(_TASKS.c.case_id).where(_TASKS.c.id == bindparam("task_id")).scalar_subquery())
_CASE_OF_TASK_FOR_UPDATE = _CASE_OF_TASK.with_for_update(key_share=True)


def _task_for_action(session: Session, actor: Actor, task_id: uuid.UUID) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, visible_tasks(actor)))
    if task is None:
        raise NotFound("任务不存在")
    return task


def _lock_task(engine: Engine, session: Session, actor: Actor, task_id: uuid.UUID) -> Task:
    """A task the actor may see, read again after its case is locked: the case before its tasks,
    as every command takes them."""
    task = _task_for_action(session, actor, task_id)
    lock_case(engine, session, task.case_id)
    fresh = session.scalar(select(Task).where(Task.id == task_id).execution_options(populate_existing=True))
    if fresh is None:
        raise NotFound("任务不存在")
    return fresh


def _require_open(task: Task) -> None:
    if task.state not in OPEN_STATES:
        raise Conflict("任务已办结" if task.state == "completed" else "任务已撤销",
                       {"task": [f"任务状态：{task.state}"]})


# -- reading -----------------------------------------------------------------------------------

def get_case(engine: Engine, actor: Actor, case_id: int) -> CaseView:
    """A case the actor may see, with its open tasks."""
    with engine.db.unit_of_work(write=False) as uow:
        case = uow.session.scalar(select(Case).where(Case.id == case_id, visible_cases(actor)))
        if case is None:
            raise NotFound("事项不存在")
        tasks = _open_tasks(uow.session, case_id)
    return CaseView(case, tasks)


def get_task(engine: Engine, actor: Actor, task_id: uuid.UUID) -> TaskDetail:
    """A task the actor may see, with its form fields and the values to start from."""
    with engine.db.unit_of_work(write=False) as uow:
        session = uow.session
        task = session.scalar(select(Task).where(Task.id == task_id, visible_tasks(actor)))
        if task is None:
            raise NotFound("任务不存在")
        form = engine.catalogue.forms.get(task.name)
        described = form.describe(FormContext(engine.directory.assignable())) if form else []
        values: dict[str, Any] = {}
        case = session.get(Case, task.case_id)
        if task.state in OPEN_STATES and case is not None:
            workflow = engine.runtime.restore(case.process_version, case.workflow_state)
            ready = ready_task(engine, workflow, task.id)
            if ready is not None:
                values = {f["name"]: ready.data[f["name"]] for f in described
                          if f.get("prefill") and ready.data.get(f["name"]) is not None}
                if any(f["name"] == "lead_department" and f.get("prefill") for f in described):
                    values.setdefault("lead_department", session.scalar(
                        select(Taskforce.lead_department).where(Taskforce.code == case.taskforce)))
    actions = _allowed_actions(actor, task)
    return TaskDetail(task, described, values, actions)


def _allowed_actions(actor: Actor, task: Task) -> list[str]:
    if task.state not in OPEN_STATES:
        return []
    actions = []
    if may_work_on(actor, task):
        if task.state == "ready":
            actions.append("claim")
        elif task.assignee == actor.username:
            actions += ["complete", "unclaim"]
    if may_assign(actor, task):
        actions.append("assign")
        if task.state == "claimed" and "unclaim" not in actions:
            actions.append("unclaim")
    return actions


@dataclass(frozen=True)
class Diagram:
    """What a BPMN viewer needs to show a case: the process document and where the case stands."""

    process_id: str
    version: str
    bpmn_xml: str
    elements: dict[str, dict[str, list[str]]]


def case_diagram(engine: Engine, actor: Actor, case_id: int) -> Diagram:
    """The case's process diagram with its open and completed elements, per process."""
    with engine.db.unit_of_work(write=False) as uow:
        case = uow.session.scalar(select(Case).where(Case.id == case_id, visible_cases(actor)))
        if case is None:
            raise NotFound("事项不存在")
        xml = uow.session.scalar(select(Deployment.bpmn_xml).where(Deployment.version == case.process_version))
    workflow = engine.runtime.restore(case.process_version, case.workflow_state)
    process_ids = set(engine.specs.get(case.process_version).processes)
    return Diagram(case.process_id, case.process_version, xml or "",
                   engine.runtime.element_states(workflow, process_ids))


def case_events(engine: Engine, actor: Actor, case_id: int) -> list[Event]:
    """The audit timeline of a case the actor may see, oldest first."""
    with engine.db.unit_of_work(write=False) as uow:
        visible = uow.session.scalar(select(Case.id).where(Case.id == case_id, visible_cases(actor)))
        if visible is None:
            raise NotFound("事项不存在")
        return list(uow.session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.id)))
