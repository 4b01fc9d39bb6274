"""The unit of work: one transaction, and the one path by which a command writes.

    with engine.db.unit_of_work() as uow:
        case = Cases(uow).lock(case_id)          # statements run at once: reads, and writes whose
        ...                                      # result the command needs (RETURNING)
        uow.write(statement, params)             # every other write is queued, in order
        uow.record_event(...)                    # the audit trail of the unit
        uow.count(("econ_it", "department"), +1) # worklist counts
        uow.commit()                             # nothing is kept unless the command commits

A unit of work that is not committed rolls back and writes nothing. Queued writes are sent by the
database's sender (``engine/storage/senders.py``), in the order queued, before the next statement
that runs at once and at commit; at commit they are followed by the unit's audit events (one
statement) and its worklist counts (one statement, rows in key order, so two commands that both
change counts lock those rows in the same order). A write queued with ``expect_rows`` fails the
unit with a conflict unless it changes exactly that many rows (a state or version check). Callbacks
registered with ``after_commit`` run once the commit has succeeded (keeping a workflow in memory,
for one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Sequence

from sqlalchemy import Connection, CursorResult, Executable, insert, text
from sqlalchemy import Engine as SqlEngine

from engine.storage.models import Event

DEFAULT_CONFLICT = "数据已被他人更新，请刷新后重试"


@dataclass(frozen=True)
class Write:
    """One queued INSERT, UPDATE or DELETE: a statement with one parameter set, or several rows."""

    statement: Executable
    params: dict[str, Any] | list[dict[str, Any]]
    expect_rows: int | None = None
    conflict: str = DEFAULT_CONFLICT


class UnitOfWork:
    """One transaction over one connection (see the module docstring)."""

    def __init__(self, engine: SqlEngine, sender: Any, on_error: Callable[[BaseException], BaseException | None],
                 autocommit: bool = False) -> None:
        self._engine = engine
        self._sender = sender
        self.autocommit = autocommit  # every statement commits itself (PostgreSQL, one-statement writes)
        self._on_error = on_error
        self.connection: Connection
        self._writes: list[Write] = []
        self._events: list[dict[str, Any]] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._after_commit: list[Callable[[], None]] = []
        self._committed = False

    def __enter__(self) -> "UnitOfWork":
        self.connection = self._engine.connect()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if not self._committed and self.connection.in_transaction():
                self.connection.rollback()
        finally:
            self.connection.close()
        if exc is not None:
            replacement = self._on_error(exc)
            if replacement is not None:
                raise replacement from exc

    # -- statements that run at once ----------------------------------------------------------

    def execute(self, statement: Executable, params: dict[str, Any] | Sequence[dict[str, Any]] | None = None
                ) -> CursorResult[Any]:
        """Run a statement now (after the writes queued before it) and return its result."""
        self._send_queued()
        return self.connection.execute(statement, params)  # type: ignore[arg-type]

    def scalar(self, statement: Executable, params: dict[str, Any] | None = None) -> Any:
        """Run a query now and return the first column of its first row (or None)."""
        return self.execute(statement, params).scalar()

    # -- queued writes ------------------------------------------------------------------------

    def write(self, statement: Executable, params: dict[str, Any] | list[dict[str, Any]], *,
              expect_rows: int | None = None, conflict: str = DEFAULT_CONFLICT) -> None:
        """Queue a write whose result the command does not read (see the module docstring)."""
        if self._sender is None:
            raise RuntimeError("a reading (or autocommitting) unit of work queues no writes")
        if expect_rows is not None and isinstance(params, list):
            raise ValueError("a checked write has one parameter set")
        self._writes.append(Write(statement, params, expect_rows, conflict))

    def record_event(self, **event: Any) -> dict[str, Any]:
        """Note an audit event (columns of ``event``); written at commit, in the order noted."""
        if self._sender is None:
            raise RuntimeError("a reading (or autocommitting) unit of work records no events")
        self._events.append(event)
        return event

    def discard_event(self, event: dict[str, Any]) -> None:
        """Take back an event noted in this unit."""
        self._events.remove(event)

    @property
    def events_recorded(self) -> int:
        """How many audit events this unit has noted so far."""
        return len(self._events)

    def count(self, key: tuple[str, str], delta: int) -> None:
        """Note that the open tasks of a (department, candidate role) went up or down by delta."""
        self._counts[key] += delta

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run callback once this unit has committed (never if it does not)."""
        self._after_commit.append(callback)

    def commit(self) -> None:
        """Send every queued write, the audit events and the counts, and commit."""
        writes = self._writes
        self._writes = []
        if self._events:
            writes.append(Write(_INSERT_EVENT, self._events))
            self._events = []
        counts = [{"department": d, "role": r, "open_tasks": n} for (d, r), n in sorted(self._counts.items()) if n]
        if counts:
            writes.append(Write(_UPSERT_COUNT, counts))
        self._counts.clear()
        if self._sender is None:
            self.connection.commit()
        else:
            self._sender.commit(self.connection, writes)
        self._committed = True
        for callback in self._after_commit:
            callback()

    def _send_queued(self) -> None:
        if self._writes:
            writes, self._writes = self._writes, []
            self._sender.send(self.connection, writes)


_INSERT_EVENT = insert(Event.__table__)
# Plain SQL both databases speak (the dialects' INSERT … ON CONFLICT constructs are compiled again on
# every execution; this one is compiled once).
_UPSERT_COUNT = text(
    "INSERT INTO worklist_count (department, role, open_tasks) VALUES (:department, :role, :open_tasks) "
    "ON CONFLICT (department, role) DO UPDATE SET open_tasks = worklist_count.open_tasks + excluded.open_tasks"
)
