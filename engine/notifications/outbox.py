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

from engine.catalogue import Notice
from engine.engine import Engine
from engine.errors import NotFound
from engine.org.access import DEPARTMENT_ROLES, Actor
from engine.org.directory import Recipient
from engine.storage.models import Delivery, Notification
from engine.storage.unit_of_work import UnitOfWork


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


def notify(uow: UnitOfWork, engine: Engine, *, case_id: int | None, notice: Notice, key: str,
           now: datetime) -> list[str]:
    """Write a notice to each recipient's inbox and queue its email and webhook deliveries, all
    once per key; return the recipients."""
    users = recipients(engine.directory.users(), notice.audience)
    if not users:
        return []
    rows = [{"username": user.username, "case_id": case_id, "kind": notice.kind, "title": notice.title,
             "body": notice.body, "created_at": now, "dedupe_key": f"{key}:{user.username}"} for user in users]
    # One statement whatever the number of rows (executemany), compiled once.
    uow.write(_INSERT_NOTIFICATIONS, rows)
    deliveries = _deliveries(engine, case_id, notice, key, users, now)
    if deliveries:
        uow.write(_INSERT_DELIVERIES, deliveries)
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

    items: list[Any]
    total: int
    unread: int
    page: int
    per_page: int


_NOTIFICATIONS = Notification.__table__


def list_inbox(engine: Engine, actor: Actor, unread_only: bool, page: int, per_page: int) -> Inbox:
    """A page of the actor's notifications, newest first."""
    mine = _NOTIFICATIONS.c.username == actor.username
    unread = mine & _NOTIFICATIONS.c.read_at.is_(None)
    condition = unread if unread_only else mine
    with engine.db.unit_of_work(write=False) as uow:
        total = uow.scalar(select(func.count()).select_from(_NOTIFICATIONS).where(condition)) or 0
        unread_count = uow.scalar(select(func.count()).select_from(_NOTIFICATIONS).where(unread)) or 0
        items = uow.execute(select(*_NOTIFICATIONS.c).where(condition).order_by(_NOTIFICATIONS.c.id.desc())
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return Inbox(items, total, unread_count, page, per_page)


def read_notification(engine: Engine, actor: Actor, notification_id: int) -> Any:
    """Mark one of the actor's notifications read (idempotent); the notification."""
    mine = (_NOTIFICATIONS.c.id == notification_id) & (_NOTIFICATIONS.c.username == actor.username)
    now = engine.clock.now()
    with engine.db.unit_of_work() as uow:
        uow.write(update(_NOTIFICATIONS).where(mine, _NOTIFICATIONS.c.read_at.is_(None)).values(read_at=now), {})
        found = uow.execute(select(*_NOTIFICATIONS.c).where(mine)).one_or_none()
        if found is None:
            raise NotFound("通知不存在")
        uow.commit()
    return found
