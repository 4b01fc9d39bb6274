"""The in-memory cache of restored workflows: used only for exactly the state it was saved as."""

from __future__ import annotations

from engine.caches import WorkflowCache


def test_take_returns_the_workflow_saved_as_the_given_state_once() -> None:
    cache = WorkflowCache(4)
    workflow = object()
    cache.keep(7, b"state-1", workflow)
    assert cache.take(7, b"state-1") is workflow
    assert cache.take(7, b"state-1") is None  # taken: a second command cannot share it
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_different_stored_state_is_a_miss_and_drops_the_entry() -> None:
    cache = WorkflowCache(4)
    cache.keep(7, b"state-1", object())
    assert cache.take(7, b"state-2") is None  # another process saved the case since
    assert len(cache) == 0


def test_least_recently_saved_cases_are_dropped_beyond_the_size() -> None:
    cache = WorkflowCache(2)
    for case_id in (1, 2, 3):
        cache.keep(case_id, b"s", object())
    cache.keep(2, b"s2", object())
    assert cache.take(1, b"s") is None
    assert cache.take(3, b"s") is not None
    assert cache.take(2, b"s2") is not None


def test_size_zero_keeps_nothing() -> None:
    cache = WorkflowCache(0)
    cache.keep(1, b"s", object())
    assert len(cache) == 0 and cache.take(1, b"s") is None
