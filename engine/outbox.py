"""Notifications, written in the same transaction as the event that caused them.

Each notice is expanded to its recipients (a department's members, everyone with a role, a task
force's leader) and stored once per recipient under a dedupe key, so a retried or replayed command
never notifies twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.access import DEPARTMENT_ROLES, Actor
from engine.bootstrap import Engine
from engine.catalogue import Notice
from engine.errors import NotFound
from engine.models import Notification, User


def recipients(session: Session, audience: Iterable[tuple[str, str]]) -> list[str]:
    """The active users an audience names, each once, in a stable order."""
    users = session.execute(
        select(User.username, User.department_code, User.taskforce_code, User.roles).where(User.active.is_(True))
    ).all()
    chosen: dict[str, None] = {}
    for kind, value in audience:
        for username, department, taskforce, roles in users:
            if kind == "department" and department == value and set(roles) & DEPARTMENT_ROLES:
                chosen[username] = None
            elif kind == "department_leader" and department == value and "dept_leader" in roles:
                chosen[username] = None
            elif kind == "role" and value in roles:
                chosen[username] = None
            elif kind == "taskforce_leader" and taskforce == value and "taskforce_leader" in roles:
                chosen[username] = None
            elif kind == "user" and username == value:
                chosen[username] = None
    return list(chosen)


def notify(session: Session, *, case_id: int | None, notice: Notice, key: str, now: datetime) -> list[str]:
    """Write a notice to each recipient's inbox (once per key); return the recipients."""
    names = recipients(session, notice.audience)
    if not names:
        return []
    rows = [{"username": name, "case_id": case_id, "kind": notice.kind, "title": notice.title,
             "body": notice.body, "created_at": now, "dedupe_key": f"{key}:{name}"} for name in names]
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    session.execute(insert(Notification).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return names


@dataclass(frozen=True)
class Inbox:
    """A page of someone's notifications, the total it was cut from, and their unread count."""

    items: list[Notification]
    total: int
    unread: int
    page: int
    per_page: int


def list_inbox(engine: Engine, actor: Actor, unread_only: bool, page: int, per_page: int) -> Inbox:
    """A page of the actor's notifications, newest first."""
    with engine.db.unit_of_work(write=False) as uow:
        items, total, unread = _inbox(uow.session, actor.username, unread_only, page, per_page)
    return Inbox(items, total, unread, page, per_page)


def read_notification(engine: Engine, actor: Actor, notification_id: int) -> Notification:
    """Mark one of the actor's notifications read (idempotent)."""
    with engine.db.unit_of_work() as uow:
        found = _mark_read(uow.session, actor.username, notification_id, engine.clock.now())
        uow.commit()
    return found


def _inbox(session: Session, username: str, unread_only: bool, page: int, per_page: int
           ) -> tuple[list[Notification], int, int]:
    condition = Notification.username == username
    if unread_only:
        condition = condition & Notification.read_at.is_(None)
    total = session.scalar(select(func.count()).select_from(Notification).where(condition)) or 0
    unread = session.scalar(select(func.count()).select_from(Notification).where(
        Notification.username == username, Notification.read_at.is_(None))) or 0
    items = list(session.scalars(select(Notification).where(condition).order_by(Notification.id.desc())
                                 .limit(per_page).offset((page - 1) * per_page)))
    return items, total, unread


def _mark_read(session: Session, username: str, notification_id: int, now: datetime) -> Notification:
    found = session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.username == username))
    if found is None:
        raise NotFound("通知不存在")
    if found.read_at is None:
        session.execute(update(Notification).where(Notification.id == notification_id)
                        .values(read_at=now).execution_options(synchronize_session=False))
        found.read_at = now
    return found
