"""Shared fixtures: a controlled clock, an engine on each database, an API client.

Every engine-level and API test runs on SQLite and on PostgreSQL (``TEST_DATABASE_URL``). Each test
gets a fresh database: a copy of a prepared SQLite file, or a PostgreSQL schema emptied of cases.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from sqlalchemy import func, select, text

from engine.bootstrap import bootstrap
from engine.deployments import deploy
from engine.engine import Engine
from engine.calendar.clock import FrozenClock, install_clock
from engine.storage.database import Database
from engine.storage.models import OPEN_TASK, Task, WorklistCount
from engine.org.accounts import Account, actor_of, find_user, load_org, save_accounts
from engine.storage.schema import upgrade_schema
from engine.settings import Settings
from processes.catalogue import build_catalogue
from processes.org import demo_users, org_data

# Wednesday 25 November 2026, 09:00 in Shanghai.
T0 = datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"
CASE_TABLES = ("delivery", "notification", "event", "task", "case_party", "supervision_case", "worklist_count",
               "auth_session")


def demo_accounts() -> list[Account]:
    """The demo users as accounts."""
    return [Account(u.username, u.display_name, u.roles, u.department, u.taskforce,
                    email=f"{u.username}@duban.local", demo=True) for u in demo_users()]


def _postgres_url() -> str:
    return Settings.from_env().test_database_url


def postgres_reachable() -> bool:
    """Whether the test PostgreSQL answers."""
    try:
        with psycopg.connect(_postgres_url(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _seed(db_url: str) -> None:
    engine = bootstrap(Settings.from_env(database_url=db_url, secret_key=TEST_SECRET), build_catalogue())
    upgrade_schema(engine.db)
    deploy(engine)
    load_org(engine, org_data())
    from api.auth import hash_password

    save_accounts(engine, demo_accounts(), hash_password("demo"))
    engine.db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated and seeded SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "duban.sqlite3"
    _seed(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_prepared() -> Iterator[str]:
    """A schema of its own in the test PostgreSQL, migrated and seeded once per test session.

    Each session works in a fresh schema (via ``search_path``), so two test runs on one database
    never touch each other's tables; the schema is dropped at the end.
    """
    if not postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {_postgres_url()} in CI")
        pytest.skip(f"PostgreSQL is not reachable at {_postgres_url()}")
    base = _postgres_url()
    schema = f"duban_test_{uuid.uuid4().hex[:12]}"
    admin = Database(base)
    with admin.write_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    _seed(url)
    yield url
    with admin.write_engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database for one test, on each backend in turn."""
    return fresh_database(request, request.param, tmp_path)


def fresh_database(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> str:
    """A fresh database of a kind (sqlite, postgresql) for one test."""
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "duban.sqlite3"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_prepared")
    db = Database(url)
    with db.write_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(CASE_TABLES)} RESTART IDENTITY CASCADE"))
        # Accounts and org changes a test made go too: every test starts from the seeded data.
        demo = [account.username for account in demo_accounts()]
        conn.execute(text("DELETE FROM user_account WHERE NOT (username = ANY(:demo))"), {"demo": demo})
        conn.execute(text("UPDATE user_account SET active = true"))
        conn.execute(text("UPDATE department SET webhook_url = NULL"))
    db.dispose()
    return url


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """The process clock, frozen at T0 for the test (SpiffWorkflow's timers included)."""
    frozen = FrozenClock(T0)
    previous = install_clock(frozen)
    yield frozen
    install_clock(previous)


@pytest.fixture
def engine(database_url: str, clock: FrozenClock) -> Iterator[Engine]:
    """An engine on the test database, reading the frozen clock.

    On SQLite it keeps no restored workflows in memory, so every command there restores its case
    from the stored state; on PostgreSQL consecutive commands reuse them. Both paths run every test.
    """
    cache_size = 0 if database_url.startswith("sqlite") else Settings.instance_cache_size
    settings = Settings.from_env(database_url=database_url, secret_key=TEST_SECRET,
                                 instance_cache_size=cache_size)
    eng = bootstrap(settings, build_catalogue(), clock)
    deploy(eng)
    yield eng
    try:
        # Whatever the test did, the kept worklist counts still equal the task rows.
        assert worklist_counts(eng) == counted_open_tasks(eng)
    finally:
        eng.db.dispose()


def worklist_counts(engine: Engine) -> dict[tuple[str, str], int]:
    """The kept open-task counts per department and role (zeros left out)."""
    with engine.db.unit_of_work(write=False) as uow:
        rows = uow.execute(select(WorklistCount.department, WorklistCount.role, WorklistCount.open_tasks))
        return {(d, r): n for d, r, n in rows if n}


def counted_open_tasks(engine: Engine) -> dict[tuple[str, str], int]:
    """The open tasks per department and role, counted from the task rows."""
    with engine.db.unit_of_work(write=False) as uow:
        rows = uow.execute(select(Task.department, Task.role, func.count()).where(OPEN_TASK)
                           .group_by(Task.department, Task.role))
        return {(d, r): n for d, r, n in rows}


@pytest.fixture
def actor(engine: Engine):  # type: ignore[no-untyped-def]
    """Look up a demo user's actor by username."""

    def _actor(username: str):  # type: ignore[no-untyped-def]
        user = find_user(engine, username)
        assert user is not None, username
        return actor_of(user)

    return _actor


@pytest.fixture
def app(engine: Engine):  # type: ignore[no-untyped-def]
    """The Flask app around the test engine."""
    from api import create_app

    application = create_app(engine=engine)
    application.testing = True
    return application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def auth(app):  # type: ignore[no-untyped-def]
    """Authorization headers for a demo user (a token issued as /auth/token would)."""
    from api.auth import issue_token

    def _auth(username: str) -> dict[str, str]:
        with app.app_context():
            token, _ = issue_token(username)
        return {"Authorization": f"Bearer {token}"}

    return _auth


def later(clock: FrozenClock, **delta: float) -> datetime:
    """Advance the clock and return the new time."""
    clock.advance(timedelta(**delta))
    return clock.now()
