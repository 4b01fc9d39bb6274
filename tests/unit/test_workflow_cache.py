"""The in-memory cache of restored workflows: used only for exactly the state it was saved as, and
what it drops is taken apart at once."""

from __future__ import annotations

import gc
import weakref
from datetime import datetime, timezone
from typing import Any

from engine.caches import WorkflowCache
from engine.calendar.clock import FrozenClock
from tests.unit.loop_driver import LoopDriver


class Workflow:
    """Stands for a restored workflow: tasks, subprocesses."""

    def __init__(self) -> None:
        self.tasks: dict[int, Any] = {1: "task"}
        self.subprocesses: dict[int, Any] = {}


def test_take_returns_the_workflow_saved_as_the_given_state_once() -> None:
    cache = WorkflowCache(4)
    workflow = Workflow()
    cache.keep(7, b"state-1", workflow)
    assert cache.take(7, b"state-1") is workflow
    assert cache.take(7, b"state-1") is None  # taken: a second command cannot share it
    assert (cache.hits, cache.misses) == (1, 1)
    assert workflow.tasks == {1: "task"}  # given back whole


def test_a_different_stored_state_is_a_miss_and_takes_the_stale_workflow_apart() -> None:
    cache = WorkflowCache(4)
    stale = Workflow()
    cache.keep(7, b"state-1", stale)
    assert cache.take(7, b"state-2") is None  # another process saved the case since
    assert len(cache) == 0 and not vars(stale)


def test_least_recently_saved_cases_are_dropped_beyond_the_size_and_taken_apart() -> None:
    cache = WorkflowCache(2)
    kept = {case_id: Workflow() for case_id in (1, 2, 3)}
    for case_id, workflow in kept.items():
        cache.keep(case_id, b"s", workflow)
    cache.keep(2, b"s2", Workflow())
    assert cache.take(1, b"s") is None and not vars(kept[1])
    assert cache.take(3, b"s") is kept[3]
    assert cache.take(2, b"s2") is not None


def test_size_zero_keeps_nothing() -> None:
    cache = WorkflowCache(0)
    cache.keep(1, b"s", Workflow())
    assert len(cache) == 0 and cache.take(1, b"s") is None


def test_a_dropped_workflow_is_freed_without_the_cyclic_collector() -> None:
    """A real workflow and its tasks refer to each other; taken apart, they are freed at once."""
    loop = LoopDriver(FrozenClock(datetime(2026, 11, 25, 1, tzinfo=timezone.utc)), roundtrip=True)
    workflow = loop.start().refer(days=5, co=["hongshan"]).workflow
    loop.workflow = None
    task = weakref.ref(next(iter(workflow.tasks.values())))
    subprocess = weakref.ref(next(iter(workflow.subprocesses.values())))
    cache = WorkflowCache(1)
    gc.collect()
    gc.disable()
    try:
        cache.keep(1, b"s", workflow)
        del workflow
        cache.keep(2, b"s", Workflow())  # no room: case 1's workflow is dropped
        assert task() is None and subprocess() is None
    finally:
        gc.enable()
