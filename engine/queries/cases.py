"""A case page: the case with its open tasks, a task with its form, the timeline, the diagram."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine.catalogue import FormContext
from engine.deployments import deployed_xml
from engine.engine import Engine
from engine.errors import NotFound
from engine.org.access import Actor, may_assign, may_work_on, visible_cases, visible_tasks
from engine.storage.models import Event
from engine.storage.records import CaseView, TaskRecord
from engine.storage.repositories import OPEN_STATES, Cases, Tasks


@dataclass(frozen=True)
class TaskDetail:
    """A task with its form, for a client that draws it: the fields, the values to start from and
    what the caller may do now."""

    task: TaskRecord
    form: list[dict[str, Any]]
    values: dict[str, Any]
    actions: list[str]


@dataclass(frozen=True)
class Diagram:
    """What a BPMN viewer needs to show a case: the process document and where the case stands."""

    process_id: str
    version: str
    bpmn_xml: str
    elements: dict[str, dict[str, list[str]]]


def get_case(engine: Engine, actor: Actor, case_id: int) -> CaseView:
    """A case the actor may see, with its open tasks."""
    with engine.db.unit_of_work(write=False) as uow:
        case = Cases(uow).find(case_id, visible_cases(actor))
        if case is None:
            raise NotFound("事项不存在")
        tasks = Tasks(uow).open_of([case_id])[case_id]
    return CaseView(case, sorted(tasks.values(), key=lambda t: (t.created_at, t.name, t.department)))


def get_task(engine: Engine, actor: Actor, task_id: uuid.UUID) -> TaskDetail:
    """A task the actor may see, with its form fields and the values to start from."""
    with engine.db.unit_of_work(write=False) as uow:
        task = Tasks(uow).find(task_id, visible_tasks(actor))
        if task is None:
            raise NotFound("任务不存在")
        case = Cases(uow).find(task.case_id) if task.state in OPEN_STATES else None
    form = engine.catalogue.forms.get(task.name)
    context = FormContext(engine.directory.assignable())
    described = form.describe(context) if form else []
    values: dict[str, Any] = {}
    if form is not None and case is not None:
        workflow = engine.runtime.restore(case.process_version, case.workflow_state)
        ready = engine.runtime.ready_task(workflow, task.id, engine.catalogue.office_department)
        if ready is not None:
            values = form.initial(FormContext(context.departments, ready.data,
                                              engine.directory.taskforce(case.taskforce)))
    return TaskDetail(task, described, values, _allowed_actions(actor, task))


def _allowed_actions(actor: Actor, task: TaskRecord) -> list[str]:
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


def case_diagram(engine: Engine, actor: Actor, case_id: int) -> Diagram:
    """The case's process diagram with its open and completed elements, per process."""
    with engine.db.unit_of_work(write=False) as uow:
        case = Cases(uow).find(case_id, visible_cases(actor))
    if case is None:
        raise NotFound("事项不存在")
    workflow = engine.runtime.restore(case.process_version, case.workflow_state)
    process_ids = set(engine.specs.get(case.process_version).processes)
    return Diagram(case.process_id, case.process_version, deployed_xml(engine, case.process_version),
                   engine.runtime.element_states(workflow, process_ids))


def case_events(engine: Engine, actor: Actor, case_id: int) -> list[Any]:
    """The audit timeline of a case the actor may see, oldest first."""
    events = Event.__table__
    with engine.db.unit_of_work(write=False) as uow:
        if Cases(uow).find(case_id, visible_cases(actor)) is None:
            raise NotFound("事项不存在")
        return uow.execute(select(*events.c).where(events.c.case_id == case_id).order_by(events.c.id)).all()
