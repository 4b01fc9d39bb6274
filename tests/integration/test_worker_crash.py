"""Crash safety with real worker processes on PostgreSQL.

A thousand cases fall due together; four ``duban worker`` processes share them; one is killed with
SIGKILL in the middle. Every escalation must still happen, and happen exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import func, select, text

from engine.commands import cases
from engine.bootstrap import Engine, bootstrap
from engine.calendar.clock import FrozenClock
from engine.storage.models import Case, Event, Notification
from engine.org.accounts import actor_of, find_user
from engine.settings import Settings
from processes.catalogue import build_catalogue
from tests.conftest import CASE_TABLES, TEST_SECRET

CASES = 1000
WORKERS = 4
DUBAN = str(Path(sys.executable).parent / "duban")
DEADLINE_S = 120


@pytest.fixture
def pg_engine(postgres_prepared: str) -> Iterator[Engine]:
    """An engine on the test PostgreSQL (this test is about PostgreSQL's row locks), emptied of cases."""
    # The workers run on the real clock. Cases are created two working days before it: their first
    # rung ("not signed for", a working day later) is past, and their next one (a working day
    # before the deadline of five) is still ahead, so exactly one escalation per case is due.
    clock = FrozenClock(datetime.now(timezone.utc))
    eng = bootstrap(Settings.from_env(database_url=postgres_prepared, secret_key=TEST_SECRET),
                    build_catalogue(), clock)
    clock.set(eng.calendar.shift(datetime.now(timezone.utc), -2))
    with eng.db.write_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(CASE_TABLES)} RESTART IDENTITY CASCADE"))
    yield eng
    eng.db.dispose()


def _count(engine: Engine, query) -> int:  # type: ignore[no-untyped-def]
    with engine.db.unit_of_work(write=False) as uow:
        return uow.scalar(query) or 0


def test_four_workers_one_killed_fire_every_timer_exactly_once(pg_engine: Engine, tmp_path: Path) -> None:
    """Fire each of 1,000 due escalations exactly once although a worker dies mid-batch."""
    supervisor = actor_of(find_user(pg_engine, "supervisor"))  # type: ignore[arg-type]
    for i in range(CASES):
        cases.create_case(pg_engine, supervisor, cases.CaseDraft(
            f"批量事项{i}", "d", "automotive", mode="direct", lead_department="econ_it", deadline_working_days=5))
    now = datetime.now(timezone.utc)
    due = select(func.count()).select_from(Case).where(Case.next_wakeup_at < now)
    assert _count(pg_engine, due) == CASES

    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env["DUBAN_DATABASE_URL"] = pg_engine.settings.database_url
    workers = [subprocess.Popen([DUBAN, "worker"], env=env, cwd=tmp_path,
                                stdout=open(tmp_path / f"worker{i}.log", "w"), stderr=subprocess.STDOUT)
               for i in range(WORKERS)]
    fired = select(func.count()).select_from(Event).where(Event.action == "escalated")
    try:
        started = time.monotonic()
        while _count(pg_engine, fired) < CASES // 10 and time.monotonic() - started < DEADLINE_S:
            time.sleep(0.05)  # waiting on real processes, not on a timer
        progress_at_kill = _count(pg_engine, fired)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        while _count(pg_engine, due) > 0 and time.monotonic() - started < DEADLINE_S:
            time.sleep(0.1)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)

    assert 0 < progress_at_kill < CASES, "the kill must land mid-batch"
    assert workers[0].returncode == -signal.SIGKILL
    assert _count(pg_engine, due) == 0, "every due case fired"
    with pg_engine.db.unit_of_work(write=False) as uow:
        per_case = dict(uow.execute(
            select(Event.case_id, func.count()).where(Event.action == "escalated").group_by(Event.case_id)).all())
        notices = uow.scalar(select(func.count()).select_from(Notification).where(
            Notification.username == "econ_it_leader", Notification.kind == "escalation_unclaimed"))
    assert len(per_case) == CASES and set(per_case.values()) == {1}, "each escalation exactly once"
    assert notices == CASES
