"""The organisation as lists: departments and task forces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine.engine import Engine
from engine.storage.models import Department, Taskforce, TaskforceMember

KIND_ORDER = {"bureau": 0, "district": 1, "office": 2}


@dataclass(frozen=True)
class TaskforceInfo:
    """A task force (专班) with its leaders and its lead and member departments."""

    code: str
    name: str
    industry: str
    leader: str
    deputy_leaders: list[str]
    convenor_count: int
    lead_department: str
    member_note: str | None
    member_departments: list[str]


def list_departments(engine: Engine) -> list[Any]:
    """Every department, bureaus first, then districts, then the office."""
    with engine.db.unit_of_work(write=False) as uow:
        rows = uow.execute(select(Department.code, Department.name, Department.kind)).all()
    return sorted(rows, key=lambda d: (KIND_ORDER.get(d.kind, 9), d.code))


def list_taskforces(engine: Engine) -> list[TaskforceInfo]:
    """Every task force in the seed's order, with its members."""
    with engine.db.unit_of_work(write=False) as uow:
        members: dict[str, list[str]] = {}
        for code, department in uow.execute(select(TaskforceMember.taskforce_code, TaskforceMember.department_code)
                                            .order_by(TaskforceMember.taskforce_code, TaskforceMember.position)):
            members.setdefault(code, []).append(department)
        rows = uow.execute(select(Taskforce.code, Taskforce.name, Taskforce.industry, Taskforce.leader,
                                  Taskforce.deputy_leaders, Taskforce.convenor_count, Taskforce.lead_department,
                                  Taskforce.member_note).order_by(Taskforce.position)).all()
    return [TaskforceInfo(*row, member_departments=members.get(row.code, [])) for row in rows]
