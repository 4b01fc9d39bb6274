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

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, MutableMapping, TypeVar

from cachetools import LRUCache

from engine.settings import Settings
from engine.workflow.runtime import compile_expression

K = TypeVar("K")
V = TypeVar("V")


class WorkflowCache:
    """Restored workflows by case id, each with the exact state it was saved as, the least recently
    kept dropped first (size 0: none kept). A workflow belongs to one command at a time: ``take``
    removes it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: LRUCache[int, tuple[bytes, Any]] | None = LRUCache(maxsize=size) if size > 0 else None
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
        self.expressions = LRUCache(maxsize=self.settings.expression_cache_size)
        self.org = LRUCache(maxsize=1)
        self.calendar_pages = LRUCache(maxsize=2)
        self._lock = threading.Lock()

    def compiled(self, source: str, mode: str) -> Any:
        """A BPMN expression or script, compiled once."""
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
