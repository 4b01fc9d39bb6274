"""Signed-in sessions: opened at sign-in, checked on every request, revoked at sign-out.

Every access token names its session. A request is let through only while the session is open
(not revoked, not expired) and its account is active, read from the database on each request, so
a logout, a disabled account or a changed role takes effect at once in every process.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update

from engine.org.access import Actor
from engine.engine import Engine
from engine.org.directory import CURRENT_VERSION
from engine.storage.models import AuthSession, User

_SESSIONS = AuthSession.__table__
_USERS = User.__table__
# The check every request makes: one row by primary key, or none.
_SIGNED_IN = (
    select(_USERS.c.username, _USERS.c.display_name, _USERS.c.department_code, _USERS.c.taskforce_code,
           _USERS.c.roles, CURRENT_VERSION.label("org_version"))
    .join_from(_SESSIONS, _USERS, _USERS.c.id == _SESSIONS.c.user_id)
    .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.revoked_at.is_(None),
           _SESSIONS.c.expires_at > bindparam("now", type_=_SESSIONS.c.expires_at.type),
           _USERS.c.active.is_(True), _USERS.c.username == bindparam("username"))
)


def open_session(engine: Engine, username: str, now: datetime) -> tuple[str, datetime]:
    """Open a session for an active account; its id and when it expires."""
    session_id = secrets.token_hex(16)
    expires_at = now + timedelta(seconds=engine.settings.token_ttl_seconds)
    with engine.db.unit_of_work() as uow:
        user_id = uow.scalar(select(User.id).where(User.username == username, User.active.is_(True)))
        if user_id is None:
            raise LookupError(username)
        uow.write(insert(_SESSIONS), {"id": session_id, "user_id": user_id, "created_at": now,
                                      "expires_at": expires_at})
        uow.commit()
    return session_id, expires_at


def signed_in(engine: Engine, session_id: str, username: str, now: datetime) -> Actor | None:
    """The actor of an open session of an active account, or None. The organisation's version is
    read with it and observed by the directory (one query, on every request)."""
    with engine.db.unit_of_work(write=False) as uow:
        row = uow.execute(_SIGNED_IN, {"session_id": session_id, "now": now, "username": username}).one_or_none()
    if row is None:
        return None
    engine.directory.observe(row.org_version)
    return Actor(row.username, frozenset(row.roles or ()), row.department_code, row.taskforce_code,
                 row.display_name)


def revoke_session(engine: Engine, session_id: str, now: datetime) -> None:
    """End a session (idempotent)."""
    with engine.db.unit_of_work() as uow:
        uow.write(update(_SESSIONS).where(_SESSIONS.c.id == session_id, _SESSIONS.c.revoked_at.is_(None))
                  .values(revoked_at=now), {})
        uow.commit()


def revoke_sessions_of(engine: Engine, username: str, now: datetime) -> int:
    """End every open session of an account; how many were open."""
    with engine.db.unit_of_work() as uow:
        user_id = select(User.id).where(User.username == username).scalar_subquery()
        result = uow.execute(update(_SESSIONS).where(_SESSIONS.c.user_id == user_id, _SESSIONS.c.revoked_at.is_(None))
                             .values(revoked_at=now))
        uow.commit()
    return result.rowcount or 0
