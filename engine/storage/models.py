"""The database schema: typed SQLAlchemy 2 models.

A case row holds the serialized workflow and a version for optimistic locking. Human tasks are
rows of their own, denormalized for the worklist, so a worklist never loads a workflow. History
lives in the append-only ``event`` table.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from datetime import timezone


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# The condition of the partial worklist indexes; queries repeat it literally (see worklist.py).
OPEN_TASK = text("state IN ('ready', 'claimed')")

# BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Base of every model."""

    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Department(Base):
    """A unit: a municipal bureau, a district, or the supervision office."""

    __tablename__ = "department"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # bureau | district | office
    webhook_url: Mapped[str | None] = mapped_column(String(512))


class Taskforce(Base):
    """A key-industry task force (专班) of the leading group."""

    __tablename__ = "taskforce"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    industry: Mapped[str] = mapped_column(String(64))
    leader: Mapped[str] = mapped_column(String(64))
    deputy_leaders: Mapped[list[str]] = mapped_column(JSON, default=list)
    convenor_count: Mapped[int] = mapped_column(Integer)
    lead_department: Mapped[str] = mapped_column(ForeignKey("department.code"))
    member_note: Mapped[str | None] = mapped_column(String(256))
    position: Mapped[int] = mapped_column(Integer, default=0)
    members: Mapped[list["TaskforceMember"]] = relationship(
        order_by="TaskforceMember.position", cascade="all, delete-orphan"
    )


class TaskforceMember(Base):
    """A member unit of a task force; the lead unit (牵头) is a member too."""

    __tablename__ = "taskforce_member"

    taskforce_code: Mapped[str] = mapped_column(ForeignKey("taskforce.code"), primary_key=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    """A person who signs in: a department member, a dispatcher, a supervisor or a leader."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"), index=True)
    taskforce_code: Mapped[str | None] = mapped_column(ForeignKey("taskforce.code"))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    email: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    # Created by ``duban seed-demo`` (password ``demo``): a production start refuses while one is active.
    demo: Mapped[bool] = mapped_column(default=False)


class OrgVersion(Base):
    """The organisation's version: one row, raised by every change to departments, task forces and
    accounts (``engine.org.directory.org_changes``), read with every request's session, so every
    process knows when its directory is out of date."""

    __tablename__ = "org_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class AuthSession(Base):
    """A signed-in session: every access token names one (its ``jti``). Checked on every request,
    so a logout (revoked) or a disabled account takes effect at once in every process."""

    __tablename__ = "auth_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_auth_session_user", "user_id"), Index("ix_auth_session_expires", "expires_at"))


class Deployment(Base):
    """One deployed content of processes.bpmn; running cases keep the version they started on."""

    __tablename__ = "deployment"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str | None] = mapped_column(String(64))


class Case(Base):
    """A supervised matter (督办事项): one process instance."""

    __tablename__ = "supervision_case"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    taskforce: Mapped[str] = mapped_column(ForeignKey("taskforce.code"))
    source: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # open | closed | cancelled
    resolution: Mapped[str | None] = mapped_column(String(32))  # completed | rejected | ...
    lead_department: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    co_departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime | None]
    warning_level: Mapped[str] = mapped_column(String(8), default="green")
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    process_id: Mapped[str] = mapped_column(String(64))
    process_version: Mapped[str] = mapped_column(ForeignKey("deployment.version"))
    workflow_state: Mapped[bytes] = mapped_column(LargeBinary)
    next_wakeup_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_case_status_due", "status", "due_at"),
        Index("ix_case_taskforce_status", "taskforce", "status"),
        Index("ix_case_next_wakeup", "next_wakeup_at"),
        Index("ix_case_lead_status", "lead_department", "status"),
    )
    # Every UPDATE says WHERE version = <loaded>; the use case sets the next version itself.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class CaseParty(Base):
    """A department involved in a case (creator, lead, co-department, any task's owner).

    Department users see exactly the cases their department is a party to.
    """

    __tablename__ = "case_party"

    case_id: Mapped[int] = mapped_column(ForeignKey("supervision_case.id", ondelete="CASCADE"), primary_key=True)
    department_code: Mapped[str] = mapped_column(
        ForeignKey("department.code"), primary_key=True
    )

    __table_args__ = (Index("ix_case_party_department", "department_code", "case_id"),)


class Task(Base):
    """A human task (user task), one row per workflow task that became ready."""

    __tablename__ = "task"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("supervision_case.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))  # BPMN id
    title: Mapped[str] = mapped_column(String(64))
    case_title: Mapped[str] = mapped_column(String(200))
    case_number: Mapped[str | None] = mapped_column(String(32))
    taskforce: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(ForeignKey("department.code"))
    role: Mapped[str] = mapped_column(String(16))  # dispatcher | supervisor | department
    assignee: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # ready | claimed | completed | cancelled
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    warning_level: Mapped[str] = mapped_column(String(8), default="green")
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_task_department_state_due", "department", "state", "due_at"),
        Index("ix_task_assignee_state_due", "assignee", "state", "due_at"),
        Index("ix_task_case_state", "case_id", "state"),
        Index("ix_task_state_due", "state", "due_at"),
        # The worklists: open tasks by due time, served in order straight from the index.
        Index("ix_task_open_department_role_due", "department", "role", "due_at", "created_at",
              sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK),
        Index("ix_task_open_assignee_due", "assignee", "due_at", "created_at",
              sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK),
        Index("ix_task_open_due", "due_at", "created_at",
              sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK),
    )


class WorklistCount(Base):
    """How many open tasks each department holds per candidate role: the exact total of a
    department worklist without counting its rows. Kept by the commands that open and close
    tasks (engine/counts.py), in their own transaction."""

    __tablename__ = "worklist_count"

    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    open_tasks: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """An audit event: who did what to which case, when, with which data and reason. Append-only."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("supervision_case.id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    label: Mapped[str] = mapped_column(String(256))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_event_case", "case_id", "id"),)


class Notification(Base):
    """An in-app notification for one user (通知). Written in the transaction of the event that
    caused it; the dedupe key makes writing it twice a no-op."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_case.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)

    __table_args__ = (Index("ix_notification_user", "username", "read_at", "id"),)


class Delivery(Base):
    """A notification to deliver outside the app (email, webhook): retried with backoff until it is
    sent or, after the last attempt, dead for an operator to look at."""

    __tablename__ = "delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_case.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    target: Mapped[str] = mapped_column(String(512))  # an email address or a URL
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(240), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    leased_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_delivery_state_next", "state", "next_attempt_at"),)
