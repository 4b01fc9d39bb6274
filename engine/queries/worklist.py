"""Worklists and case lists: queries over the task and case rows, never over workflows.

Each query is scoped by the caller's visibility and served by a composite index
(department + state + due time, assignee + state + due time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Sequence, TypeVar

from sqlalchemy import ColumnElement, Row, Select, and_, func, select, true

from engine.org.access import Actor, visible_cases, visible_tasks, workable_tasks
from engine.bootstrap import Engine
from engine.storage.models import OPEN_TASK, Case, CaseParty, Department, Task, Taskforce, WorklistCount

T = TypeVar("T")
TASK_STATES = ("ready", "claimed", "completed", "cancelled")
OPEN_STATES = ("ready", "claimed")
TASK_SORTS = {
    "due_at": (Task.due_at.asc().nulls_last(), Task.created_at.asc()),
    "-due_at": (Task.due_at.desc().nulls_last(), Task.created_at.desc()),
    "created_at": (Task.created_at.asc(),),
    "-created_at": (Task.created_at.desc(),),
}
CASE_SORTS = {
    "-created_at": (Case.created_at.desc(), Case.id.desc()),
    "created_at": (Case.created_at.asc(), Case.id.asc()),
    "due_at": (Case.due_at.asc().nulls_last(), Case.id.asc()),
    "-escalation_level": (Case.escalation_level.desc(), Case.due_at.asc().nulls_last()),
}


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the total it was cut from."""

    items: Sequence[T]
    total: int
    page: int
    per_page: int


@dataclass(frozen=True)
class TaskQuery:
    """A worklist request."""

    scope: str = "all"  # mine | department | all
    states: tuple[str, ...] = ("ready", "claimed")
    case_id: int | None = None
    name: str | None = None
    warning: str | None = None
    mode: str | None = None
    taskforce: str | None = None
    sort: str = "due_at"
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class CaseQuery:
    """A case list request."""

    status: str | None = None
    mode: str | None = None
    taskforce: str | None = None
    department: str | None = None
    warning: str | None = None
    sort: str = "-created_at"
    page: int = 1
    per_page: int = 50


def list_tasks(engine: Engine, actor: Actor, query: TaskQuery) -> Page[Row[Any]]:
    """A page of the tasks the actor may see, filtered and sorted, as rows of the task table."""
    condition = and_(visible_tasks(actor), _scope(actor, query.scope))
    if set(query.states) == set(OPEN_STATES):
        # Written out literally so both databases match it to the partial worklist indexes.
        condition = and_(condition, OPEN_TASK)
    elif query.states:
        condition = and_(condition, Task.state.in_(query.states))
    for column, value in ((Task.case_id, query.case_id), (Task.name, query.name),
                          (Task.warning_level, query.warning), (Task.mode, query.mode),
                          (Task.taskforce, query.taskforce)):
        if value is not None:
            condition = and_(condition, column == value)
    order = TASK_SORTS[query.sort]
    count = select(func.count()).select_from(Task).where(condition)
    if query == TaskQuery(scope="department", sort=query.sort, page=query.page, per_page=query.per_page):
        # The department worklist as it opens: its total is kept per department and role.
        count = select(func.coalesce(func.sum(WorklistCount.open_tasks), 0)).where(
            workable_tasks(actor, WorklistCount.department, WorklistCount.role))
    return _page(engine, select(*Task.__table__.columns).where(condition).order_by(*order),
                 count, query.page, query.per_page)


def _scope(actor: Actor, scope: str) -> ColumnElement[bool]:
    if scope == "mine":
        return Task.assignee == actor.username
    if scope == "department":
        return workable_tasks(actor)
    return true()


def list_cases(engine: Engine, actor: Actor, query: CaseQuery) -> Page[Row[Any]]:
    """A page of the cases the actor may see, filtered and sorted, as rows (without workflow state)."""
    condition = visible_cases(actor)
    for column, value in ((Case.status, query.status), (Case.mode, query.mode),
                          (Case.taskforce, query.taskforce), (Case.warning_level, query.warning)):
        if value is not None:
            condition = and_(condition, column == value)
    if query.department is not None:
        condition = and_(condition, Case.id.in_(
            select(CaseParty.case_id).where(CaseParty.department_code == query.department)))
    order = CASE_SORTS[query.sort]
    listed = [c for c in Case.__table__.columns if c.key != "workflow_state"]
    return _page(engine, select(*listed).where(condition).order_by(*order),
                 select(func.count()).select_from(Case).where(condition), query.page, query.per_page)


def _page(engine: Engine, rows: Select, count: Select, page: int, per_page: int) -> Page:  # type: ignore[type-arg]
    """Run a list query and its count; rows come back as plain named tuples, not ORM objects."""
    with engine.db.unit_of_work(write=False) as uow:
        connection = uow.session.connection()
        total = connection.execute(count).scalar() or 0
        items = list(connection.execute(rows.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total, page, per_page)


def list_departments(engine: Engine) -> list[Department]:
    """Every department, bureaus first, then districts, then the office."""
    order = {"bureau": 0, "district": 1, "office": 2}
    with engine.db.unit_of_work(write=False) as uow:
        departments = list(uow.session.scalars(select(Department)))
    return sorted(departments, key=lambda d: (order.get(d.kind, 9), d.code))


def list_taskforces(engine: Engine) -> list[Taskforce]:
    """Every task force in the seed's order, with its members."""
    with engine.db.unit_of_work(write=False) as uow:
        taskforces = list(uow.session.scalars(select(Taskforce).order_by(Taskforce.position)))
        for taskforce in taskforces:
            _ = taskforce.members  # load before the session closes
    return taskforces
