"""Worklists and case lists: queries over the task and case rows, never over workflows.

Each query is scoped by the caller's visibility and served by a composite index
(department + state + due time, assignee + state + due time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar

from sqlalchemy import ColumnElement, LargeBinary, and_, func, literal, select, true

from engine.org.access import Actor, visible_cases, visible_tasks, workable_tasks
from engine.engine import Engine
from engine.storage.models import OPEN_TASK, Case, CaseParty, Task, WorklistCount
from engine.storage.records import CaseRecord, TaskRecord

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


def list_tasks(engine: Engine, actor: Actor, query: TaskQuery) -> Page[TaskRecord]:
    """A page of the tasks the actor may see, filtered and sorted."""
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
    opening = query == TaskQuery(scope="department", sort=query.sort, page=query.page, per_page=query.per_page)
    if opening and engine.settings.kept_worklist_counts:
        # The department worklist as it opens: its total is kept per department and role.
        count = select(func.coalesce(func.sum(WorklistCount.open_tasks), 0)).where(
            workable_tasks(actor, WorklistCount.department, WorklistCount.role))
    with engine.db.unit_of_work(write=False) as uow:
        total = uow.scalar(count) or 0
        rows = uow.execute(select(*Task.__table__.columns).where(condition).order_by(*order)
                           .limit(query.per_page).offset((query.page - 1) * query.per_page))
        items = [TaskRecord(*row) for row in rows]
    return Page(items, total, query.page, query.per_page)


def _scope(actor: Actor, scope: str) -> ColumnElement[bool]:
    if scope == "mine":
        return Task.assignee == actor.username
    if scope == "department":
        return workable_tasks(actor)
    return true()


# A case list leaves each case's workflow state out (it reads as empty).
_LISTED_CASE = [literal(b"", LargeBinary).label(c.key) if c.key == "workflow_state" else c
                for c in Case.__table__.columns]


def list_cases(engine: Engine, actor: Actor, query: CaseQuery) -> Page[CaseRecord]:
    """A page of the cases the actor may see, filtered and sorted."""
    condition = visible_cases(actor)
    for column, value in ((Case.status, query.status), (Case.mode, query.mode),
                          (Case.taskforce, query.taskforce), (Case.warning_level, query.warning)):
        if value is not None:
            condition = and_(condition, column == value)
    if query.department is not None:
        condition = and_(condition, Case.id.in_(
            select(CaseParty.case_id).where(CaseParty.department_code == query.department)))
    order = CASE_SORTS[query.sort]
    with engine.db.unit_of_work(write=False) as uow:
        total = uow.scalar(select(func.count()).select_from(Case).where(condition)) or 0
        rows = uow.execute(select(*_LISTED_CASE).where(condition).order_by(*order)
                           .limit(query.per_page).offset((query.page - 1) * query.per_page))
        items = [CaseRecord(*row) for row in rows]
    return Page(items, total, query.page, query.per_page)
