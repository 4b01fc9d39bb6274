"""Restored workflows kept in memory between the commands of a case.

Restoring a workflow from its saved state is a third of a step's cost, and a case's commands come
in runs (a department signs for a task and completes it; a timer fires on a case just saved). After
a command commits, its workflow is kept here with the exact bytes it was saved as. The next command
on the case in this process takes it back only if the row it locked still holds those same bytes;
any other outcome (another process saved the case, the database was restored, the command before
failed) finds a mismatch or nothing, and the state is restored from the row as usual.

A taken workflow belongs to one command: it is removed on take and returned only after a commit,
so a failed or concurrent command can never see a half-applied step.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class InstanceCache:
    """At most ``size`` workflows by case id, least recently saved dropped first (0: keep none)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[int, tuple[bytes, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, case_id: int, state: bytes) -> Any | None:
        """The workflow saved as ``state`` for the case, removed from the cache; None if not here."""
        with self._lock:
            item = self._items.pop(case_id, None)
            if item is not None and item[0] == state:
                self.hits += 1
                return item[1]
            self.misses += 1
            return None

    def keep(self, case_id: int, state: bytes, workflow: Any) -> None:
        """Remember a workflow just committed as ``state``."""
        if self.size <= 0:
            return
        with self._lock:
            self._items[case_id] = (state, workflow)
            self._items.move_to_end(case_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
