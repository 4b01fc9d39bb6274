"""Races on one task, run with real threads against each database: exactly one command wins."""

from __future__ import annotations

import threading
from typing import Any, Callable

import pytest
from sqlalchemy import func, select, update

from engine.commands import cases, tasks
from engine.queries.cases import get_case
from engine.storage.records import CaseView, TaskRecord
from engine.bootstrap import Engine
from engine.errors import Conflict
from engine.storage.models import Case, Event, Task
from engine.org.accounts import Account, save_accounts
from engine.storage.repositories import Cases
from tests.support import ActorOf

ROUNDS = 8


def _race(workers: list[Callable[[], Any]]) -> list[Any]:
    """Start every worker at once (a barrier) and collect each result or exception."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(index: int, work: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as exc:  # the race's loser answers with an exception
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def _new_refer_task(engine: Engine, actor: ActorOf) -> Task:
    case = cases.create_case(engine, actor("dispatcher"),
                             cases.CaseDraft("并发测试", "d", "optoelectronics"))
    (task,) = get_case(engine, actor("dispatcher"), case.case.id).open_tasks
    return task


def _count(engine: Engine, query) -> int:  # type: ignore[no-untyped-def]
    with engine.db.unit_of_work(write=False) as uow:
        return uow.scalar(query) or 0


def test_two_concurrent_completions_of_one_task_exactly_one_wins(engine: Engine, actor: ActorOf) -> None:
    """Let one of two simultaneous completions through and refuse the other with a conflict."""
    dispatcher = actor("dispatcher")
    for _ in range(ROUNDS):
        task = _new_refer_task(engine, actor)
        tasks.claim_task(engine, dispatcher, task.id)
        forms = [{"decision": "refer", "lead_department": lead, "deadline_working_days": 5}
                 for lead in ("econ_it", "commerce")]
        results = _race([lambda f=f: tasks.complete_task(engine, dispatcher, task.id, f) for f in forms])
        winners = [r for r in results if isinstance(r, CaseView)]
        losers = [r for r in results if isinstance(r, Conflict)]
        assert (len(winners), len(losers)) == (1, 1), results
        case_id = task.case_id
        assert _count(engine, select(func.count()).select_from(Event).where(
            Event.case_id == case_id, Event.action == "case_referred")) == 1
        open_handling = _count(engine, select(func.count()).select_from(Task).where(
            Task.case_id == case_id, Task.name == "handle_case", Task.state == "ready"))
        assert open_handling == 1
        case = get_case(engine, dispatcher, case_id)
        assert case.case.version == 2
        assert case.case.lead_department == winners[0].case.lead_department


def test_concurrent_claims_by_a_whole_department_give_the_task_to_one(engine: Engine, actor: ActorOf) -> None:
    """Give the task to exactly one of eight members claiming at once; the rest get conflicts."""
    save_accounts(engine, [Account(f"econ_it_{i}", f"经信局经办人{i}", ("handler",), "econ_it")
                           for i in range(8)], "unused-hash")
    members = [actor(f"econ_it_{i}") for i in range(8)]
    dispatcher = actor("dispatcher")
    task = _new_refer_task(engine, actor)
    tasks.claim_task(engine, dispatcher, task.id)
    case = tasks.complete_task(engine, dispatcher, task.id,
                               {"decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5})
    (handle,) = get_case(engine, dispatcher, case.case.id).open_tasks
    results = _race([lambda m=m: tasks.claim_task(engine, m, handle.id) for m in members])
    winners = [r for r in results if isinstance(r, TaskRecord)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, TaskRecord))
    assert _count(engine, select(func.count()).select_from(Event).where(
        Event.task_id == handle.id, Event.action == "task_claimed")) == 1


def test_a_save_over_a_newer_version_is_refused(engine: Engine, actor: ActorOf) -> None:
    """Refuse to save a case whose version moved since it was loaded (optimistic versioning)."""
    task = _new_refer_task(engine, actor)
    with engine.db.unit_of_work() as uow:
        case = Cases(uow).lock(task.case_id)
        assert case is not None
        uow.execute(update(Case).where(Case.id == case.id).values(version=Case.version + 1))  # another writer
        case.title = "changed"
        Cases(uow).save(case)
        with pytest.raises(Conflict):
            uow.commit()  # the version check fails before anything is committed
    with engine.db.unit_of_work(write=False) as uow:
        assert uow.scalar(select(Case.title).where(Case.id == task.case_id)) != "changed"


def test_a_process_never_reuses_a_workflow_another_process_moved_on(engine: Engine, actor: ActorOf) -> None:
    """Two engines on one database stand for two server processes, each with its own cache of
    restored workflows: each step must start from the stored state, whoever saved it."""
    from engine.bootstrap import bootstrap
    from engine.settings import Settings
    from processes.catalogue import build_catalogue

    settings = Settings.from_env(database_url=engine.settings.database_url,
                                 secret_key=engine.settings.secret_key, instance_cache_size=100)
    first = bootstrap(settings, build_catalogue(), engine.clock)
    second = bootstrap(settings, build_catalogue(), engine.clock)
    try:
        dispatcher, department = actor("dispatcher"), actor("econ_it")
        case = cases.create_case(first, dispatcher, cases.CaseDraft("两个进程", "d", "optoelectronics"))
        (refer,) = case.open_tasks
        tasks.claim_task(first, dispatcher, refer.id)
        view = tasks.complete_task(first, dispatcher, refer.id, {
            "decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5})
        (handle,) = view.open_tasks
        assert len(first.caches.workflows) == 1 and first.caches.workflows.hits == 1  # kept after create, used by refer
        # The second process asks for an extension; the first process's kept workflow is now stale.
        tasks.claim_task(second, department, handle.id)
        view = tasks.complete_task(second, department, handle.id, {
            "outcome": "extend", "reason": "需要协调", "extension_working_days": 2})
        (approve,) = view.open_tasks
        assert approve.name == "approve_extension"
        tasks.claim_task(first, dispatcher, approve.id)
        view = tasks.complete_task(first, dispatcher, approve.id, {"approved": True})
        assert first.caches.workflows.hits == 1 and first.caches.workflows.misses == 1  # its copy was stale
        (handle_again,) = view.open_tasks
        assert handle_again.name == "handle_case"
        # And the other way round: the second process's copy is stale after the first one's step.
        tasks.claim_task(second, department, handle_again.id)
        view = tasks.complete_task(second, department, handle_again.id, {"outcome": "done", "result": "已解决"})
        assert [t.name for t in view.open_tasks] == ["review_feedback"]
        assert second.caches.workflows.hits == 0 and second.caches.workflows.misses == 2
    finally:
        first.db.dispose()
        second.db.dispose()


def test_a_failed_step_leaves_no_half_applied_workflow_behind(engine: Engine, actor: ActorOf) -> None:
    """A command that fails after taking the case's workflow gives nothing back to the cache: the
    next command restores the stored state."""
    from engine.errors import InvalidInput

    dispatcher = actor("dispatcher")
    task = _new_refer_task(engine, actor)
    tasks.claim_task(engine, dispatcher, task.id)
    with pytest.raises(InvalidInput):
        tasks.complete_task(engine, dispatcher, task.id, {"decision": "refer"})  # no lead department
    assert len(engine.caches.workflows) == 0
    view = tasks.complete_task(engine, dispatcher, task.id, {
        "decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5})
    assert [t.name for t in view.open_tasks] == ["handle_case"]
