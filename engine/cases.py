"""The supervision use cases: collect a case, claim, unclaim, assign and complete its tasks.

Each use case is one transaction: load the case (``FOR UPDATE`` on PostgreSQL), restore its
workflow, apply the command, run the engine, sync the task rows, write the audit events, save
the state and bump the case's version. If someone else saved the case in between, the version
check fails, everything rolls back, and the caller gets a conflict.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine.access import Actor, may_assign, may_work_on, visible_cases, visible_tasks
from engine.bootstrap import Engine
from engine.catalogue import FormContext
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import Case, CaseParty, Event, Task, Taskforce, User
from engine.org import actor_of
from engine.runtime import ReadyTask
from engine.warnings import warning_level

OPEN_STATES = ("ready", "claimed")


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
        _check_draft(session, draft, mode.needs_lead_department, engine.directory.assignable())
        data = {
            "title": draft.title,
            "description": draft.description,
            "taskforce": draft.taskforce,
            "source": draft.source,
            "mode": mode_name,
            "lead_department": draft.lead_department,
            "co_departments": list(draft.co_departments),
            "deadline_working_days": draft.deadline_working_days,
            "created_by": actor.username,
        }
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
            _add_parties(session, case.id, [actor.department])
        audit.record(
            session, case_id=case.id, actor=actor.username, action="case_created", at=now,
            label=f"问题收集：{draft.title}",
            data={k: v for k, v in data.items() if k != "created_by"},
        )
        open_tasks = _sync(engine, session, case, workflow, actor, now, completed=None)
        case.workflow_state = engine.runtime.save(case.process_version, workflow)
        uow.commit()
    return CaseView(case, open_tasks)


def _check_draft(session: Session, draft: CaseDraft, needs_lead: bool, known: Mapping[str, str]) -> None:
    errors: dict[str, list[str]] = {}
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
    with engine.db.unit_of_work() as uow:
        task = _task_for_action(uow.session, actor, task_id)
        if not may_work_on(actor, task):
            raise Forbidden("无权签收此任务")
        if task.state == "claimed" and task.assignee == actor.username:
            return task
        _require_open(task)
        claimed = _update_task(uow.session, task_id, Task.state == "ready",
                               state="claimed", assignee=actor.username, claimed_at=now)
        if claimed is None:
            raise Conflict("任务已被他人签收", {"task": ["任务已由他人签收"]})
        audit.record(uow.session, case_id=task.case_id, task_id=task.id, actor=actor.username,
                     action="task_claimed", at=now, label=f"签收：{task.title}")
        uow.commit()
    return claimed


def unclaim_task(engine: Engine, actor: Actor, task_id: uuid.UUID) -> Task:
    """Give a claimed task back to the department's worklist."""
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        task = _task_for_action(uow.session, actor, task_id)
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
        task = _task_for_action(session, actor, task_id)
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
    """Change a task only if it is still as the caller saw it; return it changed, or None."""
    return session.scalars(
        update(Task).where(Task.id == task_id, condition).values(**values).returning(Task),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).one_or_none()


def complete_task(engine: Engine, actor: Actor, task_id: uuid.UUID, data: Mapping[str, Any]) -> CaseView:
    """Complete a claimed task with its form data and move the case on."""
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        session = uow.session
        case = _lock_case_of_task(engine, session, task_id)
        task = _task_for_action(session, actor, task_id)
        if not may_work_on(actor, task):
            raise Forbidden("无权办理此任务")
        if task.state == "ready":
            raise Conflict("请先签收任务", {"task": ["任务尚未签收"]})
        _require_open(task)
        if task.assignee != actor.username:
            raise Conflict("任务已由他人签收", {"task": [f"已由 {task.assignee} 签收"]})
        form = engine.catalogue.forms[task.name]
        workflow = engine.runtime.restore(case.process_version, case.workflow_state)
        ready = _ready_by_id(engine, workflow).get(task.id)
        if ready is None:
            raise Conflict("任务已不在待办状态")
        cleaned = form.load(data, FormContext(engine.directory.assignable(), ready.data))
        engine.runtime.complete(workflow, task.id, cleaned, ready.result_variable)
        entry = engine.catalogue.describe_completion(task.name, cleaned, engine.directory.name)
        audit.record(session, case_id=case.id, task_id=task.id, actor=actor.username,
                     action=entry.action, at=now, label=entry.label,
                     data=cleaned)
        _count_loops(case, entry.action)
        open_tasks = _sync(engine, session, case, workflow, actor, now, completed=task.id)
        case.workflow_state = engine.runtime.save(case.process_version, workflow)
        _save_new_version(session, case)
        uow.commit()
    return CaseView(case, open_tasks)


def _save_new_version(session: Session, case: Case) -> None:
    """Save the case as its next version, only if nobody saved it since it was loaded.

    The mapper's version column turns this into ``UPDATE … SET …, version = v + 1 WHERE id = …
    AND version = v``; zero rows updated means another command won.
    """
    case.version = case.version + 1
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict("事项已被他人更新，请刷新后重试") from exc


def _count_loops(case: Case, action: str) -> None:
    if action == "case_returned":
        case.return_count += 1
    elif action == "feedback_rejected":
        case.rework_count += 1


def _lock_case_of_task(engine: Engine, session: Session, task_id: uuid.UUID) -> Case:
    """Load (and on PostgreSQL lock) the case a task belongs to, before reading the task itself."""
    query = select(Case).where(Case.id == select(Task.case_id).where(Task.id == task_id).scalar_subquery())
    if engine.db.locks_rows:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise NotFound("任务不存在")
    return case


def _task_for_action(session: Session, actor: Actor, task_id: uuid.UUID) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, visible_tasks(actor)))
    if task is None:
        raise NotFound("任务不存在")
    return task


def _require_open(task: Task) -> None:
    if task.state not in OPEN_STATES:
        raise Conflict("任务已办结" if task.state == "completed" else "任务已撤销",
                       {"task": [f"任务状态：{task.state}"]})


def _ready_by_id(engine: Engine, workflow: Any) -> dict[uuid.UUID, ReadyTask]:
    return {t.id: t for t in engine.runtime.ready_tasks(workflow, engine.catalogue.office_department)}


# -- syncing rows with the workflow --------------------------------------------------------------

def _sync(engine: Engine, session: Session, case: Case, workflow: Any, actor: Actor,
          now: datetime, completed: uuid.UUID | None) -> list[Task]:
    """Bring the case row, its task rows and parties in line with the workflow; return the open tasks."""
    ready = _ready_by_id(engine, workflow)
    open_rows = {
        t.id: t for t in session.scalars(
            select(Task).where(Task.case_id == case.id, Task.state.in_(OPEN_STATES))
        )
    }
    for task_id, row in open_rows.items():
        if task_id in ready:
            continue
        if task_id == completed:
            done = session.execute(
                update(Task)
                .where(Task.id == task_id, Task.state == "claimed", Task.assignee == actor.username)
                .values(state="completed", completed_at=now, completed_by=actor.username)
            ).rowcount
            if done != 1:
                raise Conflict("任务状态已变化，请刷新后重试")
        else:
            row.state = "cancelled"
            row.completed_at = now
            audit.record(session, case_id=case.id, task_id=task_id, actor="system",
                         action="task_cancelled", at=now, label=f"待办撤销：{row.title}")
    data = engine.runtime.current_data(workflow)
    involved = (case.lead_department, list(case.co_departments or []))
    if "lead_department" in data:
        case.lead_department = data.get("lead_department")
    if "co_departments" in data:
        case.co_departments = list(data.get("co_departments") or [])
    namer = engine.directory.name
    parties = set()
    still_open = []
    created = False
    for task_id, item in ready.items():
        if item.case_deadline and item.due_at is not None:
            case.due_at = item.due_at
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
            warning_level=warning_level(engine.calendar, item.due_at, now),
        )
        session.add(row)
        still_open.append(row)
        created = True
        audit.record(session, case_id=case.id, task_id=task_id, actor="system",
                     action="task_created", at=now,
                     label=f"生成待办：{item.title}（{namer(item.department) if item.department else ''}）",
                     data={"department": item.department,
                           "due_at": item.due_at.isoformat() if item.due_at else None})
    if created or involved != (case.lead_department, case.co_departments):
        if case.lead_department:
            parties.add(case.lead_department)
        parties.update(case.co_departments or [])
        _add_parties(session, case.id, parties)
    end = engine.runtime.resolution(workflow)
    if end is not None and case.status == "open":
        case.status = "closed"
        case.resolution = engine.catalogue.end_resolutions.get(end, end)
        case.closed_at = now
        audit.record(session, case_id=case.id, actor="system", action="case_closed", at=now,
                     label="办结" if case.resolution == "completed" else "事项关闭：不予受理",
                     data={"resolution": case.resolution})
    case.warning_level = "green" if case.status != "open" else warning_level(engine.calendar, case.due_at, now)
    case.next_wakeup_at = engine.runtime.next_wakeup(workflow)
    case.updated_at = now
    return sorted(still_open, key=lambda t: (t.created_at, t.name, t.department))


def _add_parties(session: Session, case_id: int, departments: Any) -> None:
    """Make departments parties to a case (idempotent, one statement)."""
    rows = [{"case_id": case_id, "department_code": code} for code in sorted(set(departments))]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    session.execute(insert(CaseParty).values(rows).on_conflict_do_nothing())


# -- reading -----------------------------------------------------------------------------------

def get_case(engine: Engine, actor: Actor, case_id: int) -> CaseView:
    """A case the actor may see, with its open tasks."""
    with engine.db.unit_of_work(write=False) as uow:
        case = uow.session.scalar(select(Case).where(Case.id == case_id, visible_cases(actor)))
        if case is None:
            raise NotFound("事项不存在")
        tasks = list(uow.session.scalars(
            select(Task).where(Task.case_id == case_id, Task.state.in_(OPEN_STATES))
            .order_by(Task.created_at, Task.name, Task.department)
        ))
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
            ready = _ready_by_id(engine, workflow).get(task.id)
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


def case_events(engine: Engine, actor: Actor, case_id: int) -> list[Event]:
    """The audit timeline of a case the actor may see, oldest first."""
    with engine.db.unit_of_work(write=False) as uow:
        visible = uow.session.scalar(select(Case.id).where(Case.id == case_id, visible_cases(actor)))
        if visible is None:
            raise NotFound("事项不存在")
        return list(uow.session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.id)))
