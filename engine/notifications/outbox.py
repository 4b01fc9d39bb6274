"""Notifications, written in the same transaction as the event that caused them.

Each notice is expanded to its recipients (a department's members, everyone with a role, a task
force's leader) and stored once per recipient under a dedupe key, so a retried or replayed command
never notifies twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import TextClause, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from engine.org.access import DEPARTMENT_ROLES, Actor
from engine.bootstrap import Engine
from engine.catalogue import Notice
from engine.storage.database import write
from engine.errors import NotFound
from engine.org.directory import Recipient
from engine.storage.models import Delivery, Notification


def recipients(users: Iterable[Recipient], audience: Iterable[tuple[str, str]]) -> list[Recipient]:
    """The users an audience names, each once, in a stable order."""
    chosen: dict[str, Recipient] = {}
    for kind, value in audience:
        for user in users:
            if (
                (kind == "department" and user.department == value and user.roles & DEPARTMENT_ROLES)
                or (kind == "department_leader" and user.department == value and "dept_leader" in user.roles)
                or (kind == "role" and value in user.roles)
                or (kind == "taskforce_leader" and user.taskforce == value and "taskforce_leader" in user.roles)
                or (kind == "user" and user.username == value)
            ):
                chosen[user.username] = user
    return list(chosen.values())


def notify(session: Session, engine: Engine, *, case_id: int | None, notice: Notice, key: str,
           now: datetime) -> list[str]:
    """Write a notice to each recipient's inbox and queue its email and webhook deliveries, all
    once per key; return the recipients."""
    users = recipients(engine.directory.users(), notice.audience)
    if not users:
        return []
    rows = [{"username": user.username, "case_id": case_id, "kind": notice.kind, "title": notice.title,
             "body": notice.body, "created_at": now, "dedupe_key": f"{key}:{user.username}"} for user in users]
    # One statement whatever the number of rows (executemany), compiled once.
    write(session, _INSERT_NOTIFICATIONS, rows)
    deliveries = _deliveries(engine, case_id, notice, key, users, now)
    if deliveries:
        write(session, _INSERT_DELIVERIES, deliveries)
    return [user.username for user in users]


def _insert_once(table: Any, columns: tuple[str, ...]) -> TextClause:
    """``INSERT … ON CONFLICT (dedupe_key) DO NOTHING`` as plain SQL both databases speak, with the
    columns' types for the parameters (the dialects' own constructs cannot be cached)."""
    statement = text(f"INSERT INTO {table.name} ({', '.join(columns)}) "
                     f"VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT (dedupe_key) DO NOTHING")
    return statement.bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))


_INSERT_NOTIFICATIONS = _insert_once(Notification.__table__, (
    "username", "case_id", "kind", "title", "body", "created_at", "dedupe_key"))
_INSERT_DELIVERIES = _insert_once(Delivery.__table__, (
    "case_id", "channel", "target", "subject", "payload", "dedupe_key", "state", "attempts",
    "next_attempt_at", "created_at"))


def _deliveries(engine: Engine, case_id: int | None, notice: Notice, key: str, users: list[Recipient],
                now: datetime) -> list[dict[str, Any]]:
    """Email for each recipient with an address (when SMTP is set up); a signed webhook to the
    global URL and to each named department's URL."""
    settings = engine.settings
    base = {"case_id": case_id, "subject": notice.title, "state": "pending", "attempts": 0,
            "next_attempt_at": now, "created_at": now}
    rows = []
    if settings.smtp_host:
        for user in users:
            if user.email:
                rows.append(base | {"channel": "email", "target": user.email, "payload": notice.body,
                                    "dedupe_key": f"{key}:email:{user.username}"})
    urls = [settings.webhook_url] if settings.webhook_url else []
    urls += [engine.directory.webhook(code) or "" for kind, code in notice.audience
             if kind in ("department", "department_leader")]
    event = {"event": notice.kind, "key": key, "case_id": case_id, "title": notice.title, "body": notice.body,
             "recipients": [user.username for user in users], "created_at": now.isoformat()}
    for url in dict.fromkeys(u for u in urls if u):
        rows.append(base | {"channel": "webhook", "target": url, "dedupe_key": f"{key}:webhook:{url}"[:240],
                            "payload": json.dumps(event, ensure_ascii=False)})
    return rows


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
