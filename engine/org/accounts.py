"""The organisation's data (departments, task forces) and the accounts of the people who sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from sqlalchemy import delete, insert, select, update

from engine.engine import Engine
from engine.errors import InvalidInput, NotFound
from engine.org.access import Actor
from engine.org.directory import org_changes
from engine.org.sessions import revoke_sessions_of
from engine.settings import StartRefused
from engine.storage.models import Department, Taskforce, TaskforceMember, User
from engine.storage.records import UserRecord, from_row

_DEPARTMENTS = Department.__table__
_TASKFORCES = Taskforce.__table__
_MEMBERS = TaskforceMember.__table__
_USERS = User.__table__


@dataclass(frozen=True)
class Account:
    """A user account to create."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    department: str | None = None
    taskforce: str | None = None
    email: str | None = None
    demo: bool = False  # made by ``duban seed-demo``


def load_org(engine: Engine, org: Mapping[str, Any]) -> None:
    """Create or update departments and task forces from org data; idempotent."""
    with org_changes(engine.db, engine.directory) as uow:
        known = set(uow.execute(select(_DEPARTMENTS.c.code)).scalars())
        for dept in org["departments"]:
            values = {"name": dept["name"], "kind": dept["kind"]}
            if dept["code"] in known:
                uow.write(update(_DEPARTMENTS).where(_DEPARTMENTS.c.code == dept["code"]).values(**values), {})
            else:
                uow.write(insert(_DEPARTMENTS), {"code": dept["code"], **values})
        known = set(uow.execute(select(_TASKFORCES.c.code)).scalars())
        for position, tf in enumerate(org["taskforces"]):
            values = {"name": tf["name"], "industry": tf["industry"], "leader": tf["leader"],
                      "deputy_leaders": list(tf["deputy_leaders"]), "convenor_count": tf["convenor_count"],
                      "lead_department": tf["lead_department"], "member_note": tf.get("member_note"),
                      "position": position}
            if tf["code"] in known:
                uow.write(update(_TASKFORCES).where(_TASKFORCES.c.code == tf["code"]).values(**values), {})
            else:
                uow.write(insert(_TASKFORCES), {"code": tf["code"], **values})
            uow.write(delete(_MEMBERS).where(_MEMBERS.c.taskforce_code == tf["code"]), {})
            members = [{"taskforce_code": tf["code"], "department_code": code, "position": i}
                       for i, code in enumerate(tf["member_departments"])]
            if members:
                uow.write(insert(_MEMBERS), members)


def save_accounts(engine: Engine, accounts: Iterable[Account], password_hash: str) -> int:
    """Create accounts that do not exist yet (existing ones are left as they are); return how many."""
    with org_changes(engine.db, engine.directory) as uow:
        existing = set(uow.execute(select(_USERS.c.username)).scalars())
        rows = [{"username": a.username, "display_name": a.display_name, "password_hash": password_hash,
                 "department_code": a.department, "taskforce_code": a.taskforce, "roles": list(a.roles),
                 "email": a.email, "active": True, "demo": a.demo}
                for a in accounts if a.username not in existing]
        if rows:
            uow.write(insert(_USERS), rows)
    return len(rows)


def find_user(engine: Engine, username: str) -> UserRecord | None:
    """The active user with this username."""
    with engine.db.unit_of_work(write=False) as uow:
        row = uow.execute(select(*_USERS.c).where(_USERS.c.username == username, _USERS.c.active.is_(True))
                          ).one_or_none()
    return None if row is None else from_row(UserRecord, row)


def actor_of(user: UserRecord) -> Actor:
    """The actor a signed-in user acts as."""
    return Actor(user.username, frozenset(user.roles), user.department_code, user.taskforce_code,
                 user.display_name)


def set_department_webhook(engine: Engine, code: str, url: str | None) -> None:
    """Set (or clear, with None) the URL a department's notifications are also posted to."""
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInput("网址必须以 http:// 或 https:// 开头", {"url": [url]})
    with org_changes(engine.db, engine.directory) as uow:
        if uow.scalar(select(_DEPARTMENTS.c.code).where(_DEPARTMENTS.c.code == code)) is None:
            raise NotFound(f"未知的单位：{code}")
        uow.write(update(_DEPARTMENTS).where(_DEPARTMENTS.c.code == code).values(webhook_url=url), {})


def active_demo_accounts(engine: Engine) -> list[str]:
    """The usernames of the demo accounts that are still active."""
    with engine.db.unit_of_work(write=False) as uow:
        return list(uow.execute(select(_USERS.c.username).where(_USERS.c.demo.is_(True), _USERS.c.active.is_(True))
                                .order_by(_USERS.c.id)).scalars())


def refuse_production_start(engine: Engine) -> None:
    """In production mode, refuse to start while any demo account is active, naming them."""
    engine.settings.check_production()
    if not engine.settings.production:
        return
    names = active_demo_accounts(engine)
    if names:
        shown = "、".join(names[:20]) + (f" 等 {len(names)} 个" if len(names) > 20 else "")
        raise StartRefused(f"生产模式下不能启动：仍有启用的演示账号 {shown}（密码均为 demo）。"
                           f"请先停用：duban user disable USERNAME")


def set_active(engine: Engine, username: str, active: bool) -> None:
    """Enable or disable an account; a disabled account's sessions end at once."""
    with org_changes(engine.db, engine.directory) as uow:
        if uow.scalar(select(_USERS.c.id).where(_USERS.c.username == username)) is None:
            raise NotFound(f"未知的用户：{username}")
        uow.write(update(_USERS).where(_USERS.c.username == username).values(active=active), {})
    if not active:
        revoke_sessions_of(engine, username, engine.clock.now())


def list_accounts(engine: Engine) -> list[UserRecord]:
    """Every account, in the order they were created."""
    with engine.db.unit_of_work(write=False) as uow:
        return [from_row(UserRecord, row) for row in uow.execute(select(*_USERS.c).order_by(_USERS.c.id))]
