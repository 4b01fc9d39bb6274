"""Every cache of an engine, declared here, with its size in ``Settings``.

None of them can serve something stale:

- ``workflows``: restored workflows between a case's commands. A command takes one out and uses it
  only if the case row it locked still holds exactly the bytes it was saved as; it is put back only
  after the command's commit (``engine/commands/pipeline.py``).
- ``expressions``: BPMN expressions and scripts compiled once (their text is the key).
- ``org``: the directory (departments, task forces, active users) of the organisation's version
  this process last saw; a newer version, seen with any request's session or a worker's tick,
  drops it (``engine/org/directory.py``).
- ``calendar_pages``: the working-day exceptions around a date that the web page's script counts
  with (keyed by that date).
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, MutableMapping, TypeVar

from cachetools import LRUCache

from engine.settings import Settings
from engine.workflow.runtime import compile_expression, dismantle

K = TypeVar("K")
V = TypeVar("V")


class _Dropping(LRUCache):  # type: ignore[type-arg]
    """An LRU cache that hands what it drops for lack of room to a function."""

    def __init__(self, maxsize: int, dropped: Callable[[Any], None]) -> None:
        super().__init__(maxsize=maxsize)
        self._dropped = dropped

    def popitem(self) -> tuple[Any, Any]:
        key, value = super().popitem()
        self._dropped(value)
        return key, value


class WorkflowCache:
    """Restored workflows by case id, each with the exact state it was saved as, the least recently
    kept dropped first (size 0: none kept). A workflow belongs to one command at a time: ``take``
    removes it. A workflow the cache drops, or finds out of date, is taken apart at once
    (``dismantle``) rather than left to the cyclic garbage collector."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: _Dropping | None = _Dropping(size, lambda item: dismantle(item[1])) if size > 0 else None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, case_id: int, state: bytes) -> Any | None:
        """The workflow saved as ``state`` for the case, removed from the cache; None if not here."""
        with self._lock:
            item = self._items.pop(case_id, None) if self._items is not None else None
            if item is not None and item[0] == state:
                self.hits += 1
                return item[1]
            self.misses += 1
        if item is not None:
            dismantle(item[1])  # another process moved the case on: this copy is of no use
        return None

    def keep(self, case_id: int, state: bytes, workflow: Any) -> None:
        """Remember a workflow just committed as ``state``."""
        if self._items is None:
            return
        with self._lock:
            self._items[case_id] = (state, workflow)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            if self._items is not None:
                self._items.clear()

    def __len__(self) -> int:
        return 0 if self._items is None else len(self._items)


# The cyclic garbage collector, for a process that serves (an HTTP worker, a timer worker): its
# third threshold raised from 10, so full collections (which walk every long-lived object, the
# kept workflows included) come a hundred times more rarely; the young generations are collected
# as usual.
COLLECTOR_THRESHOLDS = (700, 10, 1000)


def tune_garbage_collector() -> None:
    """Freeze what the process has built by now (parsed specs, modules, the app) out of the cyclic
    garbage collector's sight, and make its full collections rare. Objects made later are collected
    as usual; kept workflows are taken apart when dropped, so they need no collector to be freed.
    (docs/performance.md: a full collection took 80-190 ms in an HTTP worker.)"""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


@dataclass
class Caches:
    """The caches of one engine."""

    settings: Settings
    workflows: WorkflowCache = field(init=False)
    expressions: LRUCache[tuple[str, str], Any] = field(init=False)
    org: LRUCache[int | None, Any] = field(init=False)
    calendar_pages: LRUCache[Any, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.workflows = WorkflowCache(self.settings.instance_cache_size)
        self.expressions = LRUCache(maxsize=max(1, self.settings.expression_cache_size))
        self.org = LRUCache(maxsize=1)
        self.calendar_pages = LRUCache(maxsize=2)
        self._lock = threading.Lock()

    def compiled(self, source: str, mode: str) -> Any:
        """A BPMN expression or script, compiled once (or every time, with a cache of size 0)."""
        if self.settings.expression_cache_size <= 0:
            return compile_expression(source, mode)
        return self.remember(self.expressions, (source, mode), lambda: compile_expression(source, mode))

    def remember(self, cache: MutableMapping[K, V], key: K, compute: Callable[[], V]) -> V:
        """The value cached under key, computed (outside the lock) and kept if absent. cachetools'
        caches are not safe to share between threads; this lock makes them so."""
        with self._lock:
            found = cache.get(key)
        if found is None:
            found = compute()
            with self._lock:
                cache[key] = found
        return found
