"""Case and task rows as plain records: what repositories read and write, what queries return.

A record is a copy of a row, nothing more: changing one changes nothing until a repository queues
the write that says so. (The models in ``models.py`` define the tables; no ORM session exists.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from functools import cache
from datetime import datetime
from typing import Any, Sequence, TypeVar

R = TypeVar("R")


@dataclass(slots=True)
class CaseRecord:
    """A row of ``supervision_case``: a supervised matter and its process instance."""

    id: int
    number: str | None
    title: str
    description: str
    taskforce: str
    source: str | None
    mode: str
    status: str  # open | closed | cancelled
    resolution: str | None
    lead_department: str | None
    co_departments: list[str]
    due_at: datetime | None
    warning_level: str
    escalation_level: int
    urge_count: int
    return_count: int
    rework_count: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    process_id: str
    process_version: str
    workflow_state: bytes
    next_wakeup_at: datetime | None
    version: int


@dataclass(slots=True)
class TaskRecord:
    """A row of ``task``: a user task that became ready, denormalized for the worklist."""

    id: uuid.UUID
    case_id: int
    name: str
    title: str
    case_title: str
    case_number: str | None
    taskforce: str
    mode: str
    department: str
    role: str
    assignee: str | None
    state: str  # ready | claimed | completed | cancelled
    created_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    due_at: datetime | None
    warning_level: str
    escalation_level: int


@dataclass(slots=True)
class DeliveryRecord:
    """A row of ``delivery``: a notification on its way out, by one channel to one target."""

    id: int
    case_id: int | None
    channel: str
    target: str
    subject: str
    payload: str
    dedupe_key: str
    state: str  # pending | sent | dead
    attempts: int
    next_attempt_at: datetime
    leased_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(slots=True)
class UserRecord:
    """A row of ``user_account``: a person who signs in."""

    id: int
    username: str
    display_name: str
    password_hash: str
    department_code: str | None
    taskforce_code: str | None
    roles: list[str]
    email: str | None
    active: bool
    demo: bool


@dataclass(frozen=True)
class CaseView:
    """A case with its open tasks, as a command leaves it or a query finds it."""

    case: CaseRecord
    open_tasks: list[TaskRecord]


@cache
def columns(record_type: type) -> tuple[str, ...]:
    """The column names of a record type, in its order."""
    return tuple(f.name for f in fields(record_type))


def from_row(record_type: type[R], row: Sequence[Any]) -> R:
    """A record from a result row of exactly the record's columns, in the table's order (the record
    types follow their tables' column order: tests/unit/test_records.py)."""
    return record_type(*row)


def values(record: Any) -> dict[str, Any]:
    """A record's columns and values."""
    return {name: getattr(record, name) for name in columns(type(record))}
