"""The department directory, cached: every command names departments, the org rarely changes."""

from __future__ import annotations

import threading
import time
from types import MappingProxyType
from typing import Mapping

from sqlalchemy import select

from engine.database import Database
from engine.models import Department

CACHE_SECONDS = 60.0


class Directory:
    """Department codes, names and kinds, reloaded at most once a minute or when told."""

    def __init__(self, db: Database, ttl: float = CACHE_SECONDS) -> None:
        self._db = db
        self._ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = -float("inf")
        self._names: Mapping[str, str] = MappingProxyType({})
        self._assignable: Mapping[str, str] = MappingProxyType({})

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self._ttl:
            return
        with self._lock, self._db.unit_of_work(write=False) as uow:
            rows = uow.session.execute(
                select(Department.code, Department.name, Department.kind).order_by(Department.code)
            ).all()
            self._names = MappingProxyType({code: name for code, name, _ in rows})
            self._assignable = MappingProxyType({code: name for code, name, kind in rows if kind != "office"})
            self._loaded_at = time.monotonic()

    def name(self, code: str) -> str:
        """A department's name (its code if unknown)."""
        self._refresh()
        return self._names.get(code, code)

    def assignable(self) -> Mapping[str, str]:
        """The departments a case can be referred to (all units but the office), code → name."""
        self._refresh()
        return self._assignable

    def invalidate(self) -> None:
        """Forget the cache; the next read reloads."""
        self._loaded_at = -float("inf")
