"""The directory: departments, task forces and active users, as every command needs them.

Every change to the organisation or to an account goes through ``org_changes``, which raises the
organisation's version (one row) in the same transaction. Each process keeps one snapshot of the
directory for the version it last saw, and a process learns of a newer version on the next request
it serves (the per-request session check reads the version with the session) or on the next tick of
a worker, so a change reaches every process within a second.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterator, Mapping, MutableMapping

from sqlalchemy import select, update

from engine.storage.models import Department, OrgVersion, Taskforce, User
from engine.storage.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from engine.storage.database import Database

_ORG_VERSION = OrgVersion.__table__
CURRENT_VERSION = select(_ORG_VERSION.c.version).where(_ORG_VERSION.c.id == 1).scalar_subquery()


@dataclass(frozen=True)
class Recipient:
    """An active user as notifications see them."""

    username: str
    department: str | None
    taskforce: str | None
    roles: frozenset[str]
    email: str | None


@dataclass(frozen=True)
class Snapshot:
    """The directory as of one version of the organisation."""

    version: int
    names: Mapping[str, str]
    assignable: Mapping[str, str]
    webhooks: Mapping[str, str]
    taskforces: Mapping[str, Mapping[str, Any]]
    users: tuple[Recipient, ...]


class Directory:
    """The directory of the organisation's version this process last saw."""

    def __init__(self, db: Database, cache: MutableMapping[int | None, Snapshot]) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._cache = cache  # one snapshot, under the version last seen (None: none seen yet)
        self._seen: int | None = None

    def observe(self, version: int) -> None:
        """Note the organisation's current version (read with a request's session, or by a worker's
        tick); a snapshot of an older one is no longer used."""
        self._seen = version

    def refresh(self) -> None:
        """Read the organisation's version and observe it."""
        with self._db.unit_of_work(write=False) as uow:
            self.observe(int(uow.scalar(select(CURRENT_VERSION)) or 0))

    def invalidate(self) -> None:
        """Forget the snapshot; the next read loads the directory again."""
        with self._lock:
            self._cache.clear()

    def snapshot(self) -> Snapshot:
        """The current snapshot, loaded if this process has none for the version it saw."""
        seen = self._seen
        with self._lock:
            snapshot = self._cache.get(seen)
            if snapshot is None:
                snapshot = self._cache[seen] = self._load()
        return snapshot

    def name(self, code: str) -> str:
        """A department's name (its code if unknown)."""
        return self.snapshot().names.get(code, code)

    def assignable(self) -> Mapping[str, str]:
        """The departments a case can be referred to (all units but the office), code → name."""
        return self.snapshot().assignable

    def webhook(self, code: str) -> str | None:
        """The URL a department's notifications are also posted to, if it has one."""
        return self.snapshot().webhooks.get(code)

    def has_taskforce(self, code: str) -> bool:
        """Whether a task force of this code exists."""
        return code in self.snapshot().taskforces

    def taskforce(self, code: str) -> Mapping[str, Any]:
        """A task force's code, name and lead department (empty if unknown)."""
        return self.snapshot().taskforces.get(code, MappingProxyType({}))

    def users(self) -> tuple[Recipient, ...]:
        """The active users who can receive notifications."""
        return self.snapshot().users

    def _load(self) -> Snapshot:
        with self._db.unit_of_work(write=False) as uow:
            version = int(uow.scalar(select(CURRENT_VERSION)) or 0)
            departments = uow.execute(select(Department.code, Department.name, Department.kind, Department.webhook_url)
                                      .order_by(Department.code)).all()
            taskforces = MappingProxyType({
                code: MappingProxyType({"code": code, "name": name, "lead_department": lead})
                for code, name, lead in uow.execute(select(Taskforce.code, Taskforce.name, Taskforce.lead_department))})
            users = tuple(
                Recipient(username, department, taskforce, frozenset(roles or ()), email)
                for username, department, taskforce, roles, email in uow.execute(
                    select(User.username, User.department_code, User.taskforce_code, User.roles, User.email)
                    .where(User.active.is_(True)).order_by(User.id)))
        return Snapshot(
            version=version,
            names=MappingProxyType({code: name for code, name, _, _ in departments}),
            assignable=MappingProxyType({code: name for code, name, kind, _ in departments if kind != "office"}),
            webhooks=MappingProxyType({code: url for code, _, _, url in departments if url}),
            taskforces=taskforces,
            users=users,
        )


@contextlib.contextmanager
def org_changes(db: Database, directory: Directory) -> Iterator[UnitOfWork]:
    """A unit of work that changes the organisation or accounts: the organisation's version goes up
    with it, so every process drops its directory; this one at once."""
    with db.unit_of_work() as uow:
        yield uow
        uow.write(update(_ORG_VERSION).where(_ORG_VERSION.c.id == 1).values(version=_ORG_VERSION.c.version + 1), {})
        uow.commit()
    directory.invalidate()
