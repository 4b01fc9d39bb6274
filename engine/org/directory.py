"""The department directory, cached: every command names departments, the org rarely changes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from sqlalchemy import select

from engine.storage.database import Database
from engine.storage.models import Department, User

CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Recipient:
    """An active user as notifications see them."""

    username: str
    department: str | None
    taskforce: str | None
    roles: frozenset[str]
    email: str | None


class Directory:
    """Department codes, names and kinds, reloaded at most once a minute or when told."""

    def __init__(self, db: Database, ttl: float = CACHE_SECONDS) -> None:
        self._db = db
        self._ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = -float("inf")
        self._names: Mapping[str, str] = MappingProxyType({})
        self._assignable: Mapping[str, str] = MappingProxyType({})
        self._users: tuple[Recipient, ...] = ()
        self._webhooks: Mapping[str, str] = MappingProxyType({})

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self._ttl:
            return
        with self._lock, self._db.unit_of_work(write=False) as uow:
            rows = uow.session.execute(
                select(Department.code, Department.name, Department.kind, Department.webhook_url)
                .order_by(Department.code)
            ).all()
            self._names = MappingProxyType({code: name for code, name, _, _ in rows})
            self._assignable = MappingProxyType({code: name for code, name, kind, _ in rows if kind != "office"})
            self._webhooks = MappingProxyType({code: url for code, _, _, url in rows if url})
            self._users = tuple(
                Recipient(username, department, taskforce, frozenset(roles), email)
                for username, department, taskforce, roles, email in uow.session.execute(
                    select(User.username, User.department_code, User.taskforce_code, User.roles, User.email)
                    .where(User.active.is_(True)).order_by(User.id)
                )
            )
            self._loaded_at = time.monotonic()

    def name(self, code: str) -> str:
        """A department's name (its code if unknown)."""
        self._refresh()
        return self._names.get(code, code)

    def assignable(self) -> Mapping[str, str]:
        """The departments a case can be referred to (all units but the office), code → name."""
        self._refresh()
        return self._assignable

    def webhook(self, code: str) -> str | None:
        """The URL a department's notifications are also posted to, if it has one."""
        self._refresh()
        return self._webhooks.get(code)

    def users(self) -> tuple["Recipient", ...]:
        """The active users who can receive notifications."""
        self._refresh()
        return self._users

    def invalidate(self) -> None:
        """Forget the cache; the next read reloads."""
        self._loaded_at = -float("inf")
