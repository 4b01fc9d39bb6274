"""Loading the organisation (departments, task forces) and user accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from sqlalchemy import select

from engine.org.access import Actor
from engine.bootstrap import Engine
from engine.errors import InvalidInput, NotFound
from engine.storage.models import Department, Taskforce, TaskforceMember, User
from engine.org.sessions import revoke_sessions_of
from engine.settings import StartRefused


@dataclass(frozen=True)
class Account:
    """A user account to create or update."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    department: str | None = None
    taskforce: str | None = None
    email: str | None = None
    demo: bool = False  # made by ``duban seed-demo``


def load_org(engine: Engine, org: Mapping[str, Any]) -> None:
    """Create or update departments and task forces from org data; idempotent."""
    with engine.db.unit_of_work() as uow:
        session = uow.session
        for dept in org["departments"]:
            row = session.get(Department, dept["code"]) or Department(code=dept["code"])
            row.name, row.kind = dept["name"], dept["kind"]
            session.add(row)
        session.flush()
        for position, tf in enumerate(org["taskforces"]):
            row = session.get(Taskforce, tf["code"]) or Taskforce(code=tf["code"])
            row.name, row.industry, row.leader = tf["name"], tf["industry"], tf["leader"]
            row.deputy_leaders = list(tf["deputy_leaders"])
            row.convenor_count = tf["convenor_count"]
            row.lead_department = tf["lead_department"]
            row.member_note = tf.get("member_note")
            row.position = position
            row.members = [
                TaskforceMember(taskforce_code=tf["code"], department_code=code, position=i)
                for i, code in enumerate(tf["member_departments"])
            ]
            session.add(row)
        uow.commit()
    engine.directory.invalidate()


def save_accounts(engine: Engine, accounts: Iterable[Account], password_hash: str) -> int:
    """Create accounts that do not exist yet (existing ones keep their password); return how many."""
    created = 0
    with engine.db.unit_of_work() as uow:
        session = uow.session
        existing = set(session.scalars(select(User.username)))
        for account in accounts:
            if account.username in existing:
                continue
            session.add(User(
                username=account.username, display_name=account.display_name,
                password_hash=password_hash, department_code=account.department,
                taskforce_code=account.taskforce, roles=list(account.roles),
                email=account.email, active=True, demo=account.demo,
            ))
            created += 1
        uow.commit()
    engine.directory.invalidate()
    return created


def find_user(engine: Engine, username: str) -> User | None:
    """The active user with this username."""
    with engine.db.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(User).where(User.username == username, User.active.is_(True)))


def actor_of(user: User) -> Actor:
    """The actor a signed-in user acts as."""
    return Actor(user.username, frozenset(user.roles), user.department_code, user.taskforce_code,
                 user.display_name)


def set_department_webhook(engine: Engine, code: str, url: str | None) -> None:
    """Set (or clear, with None) the URL a department's notifications are also posted to."""
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInput("网址必须以 http:// 或 https:// 开头", {"url": [url]})
    with engine.db.unit_of_work() as uow:
        department = uow.session.get(Department, code)
        if department is None:
            raise NotFound(f"未知的单位：{code}")
        department.webhook_url = url
        uow.commit()
    engine.directory.invalidate()


def active_demo_accounts(engine: Engine) -> list[str]:
    """The usernames of the demo accounts that are still active."""
    with engine.db.unit_of_work(write=False) as uow:
        return list(uow.session.scalars(select(User.username).where(User.demo.is_(True), User.active.is_(True))
                                        .order_by(User.id)))


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


def set_active(engine: Engine, username: str, active: bool) -> User:
    """Enable or disable an account; a disabled account's sessions end at once."""
    with engine.db.unit_of_work() as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"未知的用户：{username}")
        user.active = active
        uow.commit()
    if not active:
        revoke_sessions_of(engine, username, engine.clock.now())
    engine.directory.invalidate()
    return user


def list_accounts(engine: Engine) -> list[User]:
    """Every account, in the order they were created."""
    with engine.db.unit_of_work(write=False) as uow:
        return list(uow.session.scalars(select(User).order_by(User.id)))
