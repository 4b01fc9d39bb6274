"""Who may see and do what. Each rule is written once, as data about the actor (``scope``,
``workable_pairs``, ``assignable_pairs``), and read two ways: as a SQL condition, so queries return
only what the actor may see, and as a check of a row already loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true

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


@dataclass(frozen=True)
class Scope:
    """What an actor sees: everything, or the cases of some task forces and of the departments it
    is a party to (and those departments' tasks)."""

    everything: bool
    taskforces: frozenset[str]
    departments: frozenset[str]


def scope(actor: Actor) -> Scope:
    """The actor's scope."""
    taskforces = frozenset([actor.taskforce]) if actor.has("taskforce_leader") and actor.taskforce else frozenset()
    departments = (frozenset([actor.department]) if actor.department and actor.roles & DEPARTMENT_ROLES
                   else frozenset())
    return Scope(actor.sees_everything, taskforces, departments)


def visible_cases(actor: Actor) -> ColumnElement[bool]:
    """A condition on ``Case`` matching the cases the actor may see."""
    seen = scope(actor)
    if seen.everything:
        return true()
    conditions = [Case.taskforce == code for code in sorted(seen.taskforces)]
    conditions += [exists(select(CaseParty.case_id).where(CaseParty.case_id == Case.id,
                                                          CaseParty.department_code == code))
                   for code in sorted(seen.departments)]
    return any_of(conditions)


def visible_tasks(actor: Actor) -> ColumnElement[bool]:
    """A condition on ``Task`` matching the tasks the actor may see."""
    seen = scope(actor)
    if seen.everything:
        return true()
    return any_of([Task.taskforce == code for code in sorted(seen.taskforces)]
                  + [Task.department == code for code in sorted(seen.departments)])


def may_see_task(actor: Actor, task: Any) -> bool:
    """Whether the actor may see a loaded task (the rule of ``visible_tasks``)."""
    seen = scope(actor)
    return seen.everything or task.taskforce in seen.taskforces or task.department in seen.departments


def may_create_in(actor: Actor, taskforce: str) -> bool:
    """Whether the actor may record a case in a task force: only where they will see it (a member of
    a department sees its own cases: the department becomes a party)."""
    seen = scope(actor)
    return seen.everything or bool(seen.departments) or taskforce in seen.taskforces


def workable_pairs(actor: Actor) -> list[tuple[str | None, str]]:
    """The (department, candidate role) pairs of the tasks the actor may claim and complete; None:
    any department. Every such task is also visible to the actor, so these pairs are its
    department worklist."""
    pairs: list[tuple[str | None, str]] = []
    if actor.department and actor.roles & DEPARTMENT_ROLES:
        pairs.append((actor.department, "department"))
    if actor.department and actor.has("dispatcher"):
        pairs.append((actor.department, "dispatcher"))
    if actor.has("supervisor"):
        pairs.append((None, "supervisor"))
    return pairs


def workable_tasks(actor: Actor, department: Any = Task.department, role: Any = Task.role) -> ColumnElement[bool]:
    """A condition matching the tasks the actor may claim; by default on ``Task``, or on other
    department and role columns (the kept worklist counts)."""
    return any_of([(role == candidate) & (department == where) if where else role == candidate
                   for where, candidate in workable_pairs(actor)])


def may_work_on(actor: Actor, task: Any) -> bool:
    """Whether the actor may claim and complete a loaded task (the rule of ``workable_tasks``)."""
    return _matches(workable_pairs(actor), task)


def assignable_pairs(actor: Actor) -> list[tuple[str | None, str]]:
    """The (department, candidate role) pairs of the tasks the actor may give to someone: a
    department's leader its department's tasks, a dispatcher the office's own."""
    pairs: list[tuple[str | None, str]] = []
    if actor.department and actor.has("dept_leader"):
        pairs.append((actor.department, "department"))
    if actor.department and actor.has("dispatcher"):
        pairs.append((actor.department, "dispatcher"))
    return pairs


def may_assign(actor: Actor, task: Any) -> bool:
    """Whether the actor may give a loaded task to someone."""
    return _matches(assignable_pairs(actor), task)


def _matches(pairs: list[tuple[str | None, str]], task: Any) -> bool:
    return any(task.role == role and (where is None or task.department == where) for where, role in pairs)


def any_of(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """OR the conditions; nothing matches when there are none."""
    return or_(*conditions) if conditions else false()
