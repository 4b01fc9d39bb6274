"""Who may see and do what. Scoping is applied in the queries, not after them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, String, bindparam, exists, false, or_, select, true

from engine.storage.models import Case, CaseParty, Task

ROLES = ("dispatcher", "supervisor", "handler", "dept_leader", "taskforce_leader", "admin")
DEPARTMENT_ROLES = frozenset({"handler", "dept_leader"})
OVERSIGHT_ROLES = frozenset({"dispatcher", "supervisor", "admin"})


@dataclass(frozen=True)
class Actor:
    """The person making a request."""

    username: str
    roles: frozenset[str]
    department: str | None = None
    taskforce: str | None = None
    display_name: str = ""

    @property
    def sees_everything(self) -> bool:
        """Dispatchers, supervisors and admins see every case and task."""
        return bool(self.roles & OVERSIGHT_ROLES)

    def has(self, role: str) -> bool:
        """Whether the actor holds a role."""
        return role in self.roles


def visible_cases(actor: Actor) -> ColumnElement[bool]:
    """A condition on ``Case`` matching the cases the actor may see."""
    if actor.sees_everything:
        return true()
    conditions = []
    if actor.has("taskforce_leader") and actor.taskforce:
        conditions.append(Case.taskforce == actor.taskforce)
    if actor.department and actor.roles & DEPARTMENT_ROLES:
        conditions.append(
            exists(
                select(CaseParty.case_id).where(
                    CaseParty.case_id == Case.id, CaseParty.department_code == actor.department
                )
            )
        )
    return any_of(conditions)


def visible_tasks(actor: Actor) -> ColumnElement[bool]:
    """A condition on ``Task`` matching the tasks the actor may see."""
    if actor.sees_everything:
        return true()
    conditions = []
    if actor.has("taskforce_leader") and actor.taskforce:
        conditions.append(Task.taskforce == actor.taskforce)
    if actor.department and actor.roles & DEPARTMENT_ROLES:
        conditions.append(Task.department == actor.department)
    return any_of(conditions)


def may_see_task(actor: Actor, task: Task) -> bool:
    """Whether the actor may see the task (the same rule as visible_tasks)."""
    if actor.sees_everything:
        return True
    if actor.has("taskforce_leader") and actor.taskforce and task.taskforce == actor.taskforce:
        return True
    return bool(actor.department and actor.roles & DEPARTMENT_ROLES and task.department == actor.department)


def workable_pairs(actor: Actor) -> list[tuple[str | None, str]]:
    """The (department, candidate role) pairs of the tasks the actor may claim; None: any department.

    Every such task is also visible to the actor (dispatchers and supervisors see everything,
    department members their department's tasks), so these pairs are the department worklist.
    """
    pairs: list[tuple[str | None, str]] = []
    if actor.department and actor.roles & DEPARTMENT_ROLES:
        pairs.append((actor.department, "department"))
    if actor.department and actor.has("dispatcher"):
        pairs.append((actor.department, "dispatcher"))
    if actor.has("supervisor"):
        pairs.append((None, "supervisor"))
    return pairs


def workable_tasks(actor: Actor, department: Any = Task.department, role: Any = Task.role) -> ColumnElement[bool]:
    """A condition matching the tasks the actor may claim (the same rule as may_work_on); by
    default on ``Task``, or on other department and role columns."""
    return any_of([(role == candidate) & (department == where) if where else role == candidate
                   for where, candidate in workable_pairs(actor)])


# The claimable tasks (workable_pairs) as a condition of one fixed shape whoever asks, so a statement
# using it is built and compiled once: a slot per pair, (role, department or any department); an
# unused slot is bound to NULL and matches nothing.
WORKABLE_SLOTS = 3


def workable_slots(department: Any = Task.department, role: Any = Task.role) -> ColumnElement[bool]:
    """The condition of workable_slot_values(actor), by default on ``Task``."""
    return or_(*(
        (role == bindparam(f"workable_role_{i}", type_=String()))
        & ((department == bindparam(f"workable_department_{i}", type_=String()))
           | bindparam(f"workable_anywhere_{i}", type_=Boolean()))
        for i in range(WORKABLE_SLOTS)))


def workable_slot_values(actor: Actor) -> dict[str, Any]:
    """The parameters of workable_slots for the actor."""
    pairs = workable_pairs(actor)
    if len(pairs) > WORKABLE_SLOTS:
        raise ValueError(f"more than {WORKABLE_SLOTS} kinds of claimable tasks")
    values: dict[str, Any] = {}
    for i in range(WORKABLE_SLOTS):
        where, candidate = pairs[i] if i < len(pairs) else (None, None)
        values[f"workable_role_{i}"] = candidate
        values[f"workable_department_{i}"] = where
        values[f"workable_anywhere_{i}"] = candidate is not None and where is None
    return values


def any_of(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """OR the conditions; nothing matches when there are none."""
    return or_(*conditions) if conditions else false()


def may_create_in(actor: Actor, taskforce: str) -> bool:
    """Whether the actor may record a case in a task force: only where they will see it. Oversight
    roles see every case and a department's member sees its own (the department becomes a party);
    a task-force leader sees only their task force's cases."""
    if actor.sees_everything or (actor.department and actor.roles & DEPARTMENT_ROLES):
        return True
    return actor.has("taskforce_leader") and actor.taskforce == taskforce


def may_work_on(actor: Actor, task: Task) -> bool:
    """Whether the actor may claim and complete the task."""
    if task.role == "department":
        return actor.department == task.department and bool(actor.roles & DEPARTMENT_ROLES)
    if task.role == "dispatcher":
        return actor.has("dispatcher") and actor.department == task.department
    return actor.has(task.role)


def may_assign(actor: Actor, task: Task) -> bool:
    """Whether the actor may give the task to someone: the department's leader, or a dispatcher
    for the office's own tasks."""
    if task.role == "department":
        return actor.has("dept_leader") and actor.department == task.department
    return actor.has("dispatcher") and actor.department == task.department
