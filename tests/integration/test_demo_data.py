"""The demo cases of ``duban seed-demo --with-cases``: a living mix, each open case waiting on someone.

The demo histories end at the real now (not at the fixtures' frozen T0): that is what a newcomer's
server sees, and what its timer worker goes on from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from engine.bootstrap import Engine
from engine.calendar.clock import FrozenClock
from engine.storage.models import Case, Event, Notification, Task
from engine.commands.timers import fire_due_timers
from engine.queries.worklist import TaskQuery, list_tasks
from processes.catalogue import MODES
from processes.demo import DemoLoad, load_demo_cases
from processes.org import demo_users, org_data
from tests.support import ActorOf

LIGHTS = {("green", 0), ("yellow", 0), ("red", 1), ("red", 2), ("red", 3)}


def _load(engine: Engine) -> tuple[DemoLoad, datetime]:
    now = datetime.now(timezone.utc)
    return load_demo_cases(engine.settings, now, db=engine.db), now


def _cases(engine: Engine) -> list[Case]:
    with engine.db.unit_of_work(write=False) as uow:
        return list(uow.execute(select(Case).order_by(Case.id)))


def _open_tasks(engine: Engine, case_id: int) -> list[Task]:
    with engine.db.unit_of_work(write=False) as uow:
        return list(uow.execute(select(Task).where(Task.case_id == case_id, Task.state.in_(("ready", "claimed")))))


def _count(engine: Engine, model: type) -> int:
    with engine.db.unit_of_work(write=False) as uow:
        return uow.scalar(select(func.count()).select_from(model)) or 0


def _worker_of(task: Task) -> str:
    """The demo user whose worklist should show the task."""
    return task.department if task.role == "department" else task.role


def test_demo_cases_cover_every_task_force_mode_and_warning_light(engine: Engine) -> None:
    """Load 25–35 cases in all task forces and modes, open and closed, every light and level, with histories."""
    loaded, now = _load(engine)
    everything = _cases(engine)
    assert 25 <= loaded.created == len(everything) <= 35
    assert {c.taskforce for c in everything} == {tf["code"] for tf in org_data()["taskforces"]}
    assert {c.mode for c in everything} == set(MODES)
    resolutions = Counter(c.resolution for c in everything if c.status == "closed")
    assert resolutions["completed"] and resolutions["rejected"]
    open_cases = [c for c in everything if c.status == "open"]
    assert LIGHTS <= {(c.warning_level, c.escalation_level) for c in open_cases}
    assert any(c.urge_count for c in open_cases) and any(c.return_count for c in everything)
    assert any(c.rework_count for c in everything)

    roles = {u.username: u.roles for u in demo_users()}
    with engine.db.unit_of_work(write=False) as uow:
        events = list(uow.execute(select(Event)))
        notified = set(uow.execute(select(Notification.kind)).scalars())
    assert max(e.at for e in events) <= now
    people = {e.actor for e in events} - {"system"}
    assert people <= set(roles)
    assert {role for name in people for role in roles[name]} == {
        "dispatcher", "supervisor", "handler", "dept_leader", "taskforce_leader"}
    by_case = Counter(e.case_id for e in events if e.actor != "system")
    assert all(by_case[c.id] >= 1 for c in everything)
    assert all(by_case[c.id] >= 3 for c in everything if c.status == "closed" and c.resolution == "completed")
    actions = {e.action for e in events}
    assert {"case_referred", "case_rejected", "case_returned", "extension_requested", "extension_approved",
            "assist_submitted", "feedback_rejected", "feedback_accepted", "progress_reported", "effect_rejected",
            "effect_confirmed", "inspection_found_problems", "inspection_clear", "inspection_requested",
            "case_urged", "mode_changed", "escalated", "case_closed"} <= actions
    assert {"escalation_unclaimed", "escalation_due_soon", "escalation_overdue", "escalation_supervised",
            "escalation_listed", "reminder", "upgraded", "urged"} <= notified


def test_every_open_case_waits_on_a_task_in_the_right_worklist(engine: Engine, actor: ActorOf) -> None:
    """Show each open case's open tasks in the worklist of the department or role that must act."""
    _load(engine)
    open_cases = [c for c in _cases(engine) if c.status == "open"]
    assert open_cases
    for case in open_cases:
        tasks = _open_tasks(engine, case.id)
        assert tasks, case.title
        for task in tasks:
            listed = list_tasks(engine, actor(_worker_of(task)), TaskQuery(scope="department", case_id=case.id)).items
            assert task.id in {row.id for row in listed}, (case.title, task.name, task.department)
            if task.state == "claimed":
                mine = list_tasks(engine, actor(task.assignee), TaskQuery(scope="mine", case_id=case.id)).items
                assert task.id in {row.id for row in mine}, (case.title, task.name)


def test_a_second_load_adds_nothing_and_the_worker_goes_on_from_the_real_now(
    engine: Engine, clock: FrozenClock
) -> None:
    """Leave a loaded database alone; then fire timers at the real now and weeks later without a hitch."""
    _load(engine)
    counts = (_count(engine, Case), _count(engine, Event), _count(engine, Notification))
    again, _ = _load(engine)
    assert again.already_loaded and again.cases == ()
    assert (_count(engine, Case), _count(engine, Event), _count(engine, Notification)) == counts

    clock.set(datetime.now(timezone.utc))
    fire_due_timers(engine)
    open_cases = [c for c in _cases(engine) if c.status == "open"]
    assert all(c.next_wakeup_at is None or c.next_wakeup_at >= clock.now() for c in open_cases)
    assert all(_open_tasks(engine, c.id) for c in open_cases)
    red_before = sum(c.warning_level == "red" for c in open_cases)

    clock.advance(timedelta(days=21))
    assert fire_due_timers(engine)
    later = [c for c in _cases(engine) if c.status == "open"]
    assert len(later) == len(open_cases)
    assert all(_open_tasks(engine, c.id) for c in later)
    assert sum(c.warning_level == "red" for c in later) > red_before


def test_seed_demo_loads_cases_only_when_asked(tmp_path: Path) -> None:
    """Create users only with plain ``seed-demo``; load the cases with ``--with-cases``, once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env["DUBAN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'duban.sqlite3'}"

    def seed(*flags: str) -> str:
        result = subprocess.run([str(Path(sys.executable).parent / "duban"), "seed-demo", *flags], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "演示事项" not in seed()
    first = seed("--with-cases")
    assert "个演示事项" in first and "挂牌督办" in first
    assert "演示事项已加载" in seed("--with-cases")
