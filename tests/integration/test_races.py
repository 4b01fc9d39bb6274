"""Every pair of commands that can touch one task or case at once, ten clients at once.

Where two commands conflict (the second would act on a state the first changed) one wins and the
others get 409; commands that commute (an urge beside a completion) all succeed. Never a 500, never
a deadlock: the transactions take their locks in one order (the case, then its tasks), so the
database never has to break a deadlock (the engine logs it when one does, and these tests fail).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from sqlalchemy import func, select, text

from engine.bootstrap import Engine
from engine.calendar.clock import FrozenClock
from engine.storage.models import Case, Event, Task
from engine.org.accounts import Account, save_accounts
from engine.commands.timers import fire_due_timers
from tests.api.helpers import API, claim, open_task, referred_case

CLIENTS = 10
MEMBERS = [f"econ_it_{i}" for i in range(CLIENTS)]
# Thursday 3 December 2026, 10:00 in Shanghai: the case referred at T0 with five working days is
# overdue (due Wednesday 18:00), and its handling task has waited more than a working day.
AFTER_DUE = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)
# The audit action each command writes when it succeeds.
ACTIONS = {"claim": "task_claimed", "unclaim": "task_unclaimed", "assign": "task_assigned",
           "complete": "result_submitted", "urge": "case_urged", "inspect": "inspection_requested"}
# Commands that save the case as a new version when they succeed.
VERSIONED = {"complete", "urge", "inspect", "timer"}


@dataclass
class Race:
    """The case and task a race runs on, and a client per thread."""

    case_id: int
    task_id: str
    clients: list[Any]
    headers: dict[str, dict[str, str]]


def _command(name: str, race: Race, index: int, engine: Engine) -> Callable[[], int]:
    """Command ``name`` as the index-th client sends it; returns the HTTP status (timer: 200 if it
    fired the case, 204 if nothing was due)."""
    client = race.clients[index]
    task = f"{API}/tasks/{race.task_id}"
    member = MEMBERS[index]
    if name == "claim":
        return lambda: client.post(f"{task}/claim", headers=race.headers[member]).status_code
    if name == "unclaim":
        return lambda: client.post(f"{task}/unclaim", headers=race.headers["econ_it_leader"]).status_code
    if name == "assign":
        return lambda: client.post(f"{task}/assign", json={"username": MEMBERS[-1]},
                                   headers=race.headers["econ_it_leader"]).status_code
    if name == "complete":
        return lambda: client.post(f"{task}/complete", json={"data": {"outcome": "done", "result": "已办结"}},
                                   headers=race.headers[MEMBERS[0]]).status_code
    if name == "urge":
        return lambda: client.post(f"{API}/cases/{race.case_id}/urge", json={"message": "请加快"},
                                   headers=race.headers["supervisor"]).status_code
    if name == "inspect":
        return lambda: client.post(f"{API}/cases/{race.case_id}/inspections", json={"note": "现场核查"},
                                   headers=race.headers["supervisor"]).status_code
    if name == "timer":
        return lambda: 200 if any(f.case_id == race.case_id for f in fire_due_timers(engine)) else 204
    raise ValueError(name)


def _run_at_once(works: list[Callable[[], int]]) -> list[Any]:
    barrier = threading.Barrier(len(works))
    results: list[Any] = [None] * len(works)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = works[index]()
        except Exception as exc:  # reported by the assertions below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a command never returned"
    return results


def _count(engine: Engine, query: Any) -> int:
    with engine.db.unit_of_work(write=False) as uow:
        return uow.scalar(query) or 0


def _events(engine: Engine, case_id: int) -> Counter[str]:
    with engine.db.unit_of_work(write=False) as uow:
        return Counter(uow.execute(select(Event.action).where(Event.case_id == case_id)).scalars())


# (state before the race, first command, second command). "ready": handle_case waits to be signed
# for; "claimed": econ_it_0 holds it.
PAIRS = [
    ("ready", "claim", "claim"), ("ready", "claim", "assign"), ("ready", "claim", "urge"),
    ("ready", "claim", "inspect"), ("ready", "claim", "timer"), ("ready", "assign", "timer"),
    ("claimed", "complete", "complete"), ("claimed", "complete", "unclaim"), ("claimed", "complete", "assign"),
    ("claimed", "complete", "urge"), ("claimed", "complete", "inspect"), ("claimed", "complete", "timer"),
    ("claimed", "complete", "claim"), ("claimed", "unclaim", "unclaim"), ("claimed", "unclaim", "assign"),
    ("claimed", "unclaim", "claim"), ("claimed", "unclaim", "urge"), ("claimed", "unclaim", "inspect"),
    ("claimed", "unclaim", "timer"), ("claimed", "assign", "assign"), ("claimed", "assign", "urge"),
    ("claimed", "assign", "inspect"), ("claimed", "assign", "timer"), ("claimed", "urge", "urge"),
    ("claimed", "urge", "inspect"), ("claimed", "urge", "timer"), ("claimed", "inspect", "inspect"),
    ("claimed", "inspect", "timer"), ("claimed", "timer", "timer"),
]


@pytest.fixture
def members(engine: Engine) -> list[str]:
    """Ten handlers of 市经信局."""
    save_accounts(engine, [Account(name, f"经信局经办人{i}", ("handler",), "econ_it")
                           for i, name in enumerate(MEMBERS)], "unused-hash")
    return MEMBERS


@pytest.mark.parametrize("state, first, second", PAIRS, ids=["-".join(p) for p in PAIRS])
def test_commands_at_once_never_fail_and_conflicts_have_one_winner(
    engine: Engine, app: Any, auth: Any, clock: FrozenClock, members: list[str], caplog: pytest.LogCaptureFixture,
    state: str, first: str, second: str,
) -> None:
    """Run five clients of each command at once: no 500, no deadlock; the outcome is one that the
    commands taken one after another could give."""
    setup = app.test_client()
    case = referred_case(setup, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    if state == "claimed":
        claim(setup, auth, MEMBERS[0], handle["id"])
    clock.set(AFTER_DUE)
    headers = {name: auth(name) for name in [*MEMBERS, "econ_it_leader", "supervisor"]}
    race = Race(case["id"], handle["id"], [app.test_client() for _ in range(CLIENTS)], headers)
    version = _count(engine, select(Case.version).where(Case.id == race.case_id))
    before = _events(engine, race.case_id)
    names = [first if i % 2 == 0 else second for i in range(CLIENTS)]

    with caplog.at_level(logging.WARNING):
        results = _run_at_once([_command(name, race, i, engine) for i, name in enumerate(names)])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert set(results) <= {200, 201, 204, 409}, list(zip(names, results))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(("duban", "api"))]
    wins = Counter(name for name, status in zip(names, results) if status in (200, 201))
    written = _events(engine, race.case_id) - before
    for name, action in ACTIONS.items():
        assert written[action] == wins[name], (name, wins, written)
    assert wins["timer"] <= 1
    assert _count(engine, select(Case.version).where(Case.id == race.case_id)) == \
        version + sum(wins[name] for name in VERSIONED)
    for commuting in ("urge", "inspect"):  # they commute with everything while the case is open
        assert wins[commuting] == names.count(commuting), (commuting, wins)
    if first == second and first in ("claim", "complete", "unclaim"):
        assert wins[first] == 1  # one acts on the state the others saw; they find it changed
    if state == "claimed" and "complete" in (first, second) and {first, second} & {"urge", "inspect", "timer"}:
        assert wins["complete"] == 1
    if {first, second} == {"complete", "unclaim"}:
        assert wins["complete"] + wins["unclaim"] == 1
    if {first, second} == {"complete", "assign"}:
        assert (wins["complete"], wins["assign"]) in ((1, 0), (0, CLIENTS // 2))
    open_handling = _count(engine, select(func.count()).select_from(Task).where(
        Task.case_id == race.case_id, Task.name == "handle_case", Task.state.in_(("ready", "claimed"))))
    assert open_handling == (0 if wins["complete"] else 1)


def test_a_completion_that_waited_for_an_inspection_sees_the_task_it_opened(
    engine: Engine, app: Any, auth: Any, clock: FrozenClock, members: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The completion's locking read waited for the inspection's commit: it must work on the tasks
    as the inspection left them (its new conduct_inspection task included), not as they were when
    the read began, or it would open that task a second time."""
    from engine.commands import cases, tasks
    from engine.org.accounts import actor_of, find_user
    from engine.storage.unit_of_work import UnitOfWork

    setup = app.test_client()
    case = referred_case(setup, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    claim(setup, auth, MEMBERS[0], handle["id"])
    supervisor, member = (actor_of(find_user(engine, name)) for name in ("supervisor", MEMBERS[0]))
    holding, release = threading.Event(), threading.Event()
    commit = UnitOfWork.commit

    def held_commit(self: UnitOfWork) -> None:
        if threading.current_thread().name == "inspection":
            holding.set()
            release.wait(30)
        commit(self)

    monkeypatch.setattr(UnitOfWork, "commit", held_commit)
    results: dict[str, Any] = {}

    def run(name: str, work: Callable[[], Any]) -> threading.Thread:
        def target() -> None:
            try:
                results[name] = work()
            except Exception as exc:  # reported below
                results[name] = exc
        thread = threading.Thread(target=target, name=name)
        thread.start()
        return thread

    inspecting = run("inspection", lambda: cases.act_on_case(engine, supervisor, case["id"], "inspect", "现场"))
    assert holding.wait(30)  # the inspection holds the case, its new task not yet written
    completing = run("completion", lambda: tasks.complete_task(
        engine, member, uuid.UUID(handle["id"]), {"outcome": "done", "result": "已办结"}))
    _wait_until_blocked(engine, completing)
    release.set()
    inspecting.join(30)
    completing.join(30)
    assert not isinstance(results["inspection"], Exception), results
    assert not isinstance(results["completion"], Exception), results
    names = sorted(t.name for t in results["completion"].open_tasks)
    assert names == ["conduct_inspection", "review_feedback"]


def _wait_until_blocked(engine: Engine, thread: threading.Thread) -> None:
    """Until the thread's command waits for the case lock (PostgreSQL), or for the database's write
    lock (SQLite, where it cannot even begin)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if engine.db.is_sqlite:
            time.sleep(0.2)  # nothing to ask SQLite; give the thread time to reach BEGIN IMMEDIATE
            return
        with engine.db.unit_of_work(write=False) as uow:
            waiting = uow.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND datname = current_database()"))
        if waiting:
            return
        assert thread.is_alive()
        time.sleep(0.01)  # polling a real process's state, not waiting for a timer
    raise AssertionError("the completion never waited for the case")
