"""Firing due BPMN timers.

Every command stores the earliest armed timer of its case in ``case.next_wakeup_at`` (indexed).
Firing takes the due cases a batch at a time in one unit of work — ``FOR NO KEY UPDATE SKIP
LOCKED`` on PostgreSQL, so any number of workers share the work and never fire one timer twice;
SQLite serializes writers — and fires each case through the command pipeline. One commit makes a
whole batch durable. If a case fails, the batch is rolled back and its cases are fired again one
unit of work each, so the failing case alone is logged and left due for the next tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from engine.commands.pipeline import CaseCommand, on_cases
from engine.engine import Engine
from engine.storage.repositories import Cases

log = logging.getLogger("duban.timers")

# Cases fired per unit of work: one commit (a disk flush on PostgreSQL) serves them all, while on
# SQLite the write lock is held for a batch only (a few tens of milliseconds).
BATCH = 20


@dataclass(frozen=True)
class Fired:
    """A case whose due timers were fired."""

    case_id: int
    number: str | None
    next_wakeup_at: datetime | None


def fire_due_timers(engine: Engine, now: datetime | None = None, limit: int | None = None) -> list[Fired]:
    """Fire every timer due by now (default: the clock's now); return the cases touched."""
    now = now or engine.clock.now()
    fired: list[Fired] = []
    passed: set[int] = set()  # failed, or still due after firing: not taken again in this call
    while limit is None or len(fired) < limit:
        size = BATCH if limit is None else min(BATCH, limit - len(fired))
        try:
            batch = _fire_batch(engine, now, size, passed, only=None)
        except _CaseFailed as failed:
            batch = []
            for case_id in failed.batch:
                try:
                    batch += _fire_batch(engine, now, 1, passed, only=case_id) or []
                except _CaseFailed:
                    passed.add(case_id)
                    log.exception("firing the timers of case %s failed; it stays due", case_id)
        if batch is None:
            break
        fired.extend(batch)
    return fired


class _CaseFailed(Exception):
    """A case of a batch failed: the batch is fired again, case by case."""

    def __init__(self, batch: list[int]) -> None:
        super().__init__(batch)
        self.batch = batch


def _fire_batch(engine: Engine, now: datetime, size: int, passed: set[int], only: int | None) -> list[Fired] | None:
    """Take up to ``size`` due cases no other worker holds (or the one case ``only``) and fire them
    in one unit of work; None when none is left."""
    with engine.db.unit_of_work() as uow:
        due = Cases(uow).lock_due(now, size, passed) if only is None else Cases(uow).lock_due_case(now, only)
        if not due:
            return None if only is None else []
        try:
            views = on_cases(engine, uow, due, now, _fire)
            uow.commit()
        except Exception as exc:
            if only is not None or len(due) == 1:
                log.debug("firing failed", exc_info=exc)
            raise _CaseFailed([case.id for case in due]) from exc
    for view in views:
        if view.case.next_wakeup_at is not None and view.case.next_wakeup_at < now:
            passed.add(view.case.id)
    return [Fired(view.case.id, view.case.number, view.case.next_wakeup_at) for view in views]


def _fire(command: CaseCommand) -> None:
    """Fire what is due in one case. If nothing comes of it (a reminder for a task already signed
    for), the timeline stays quiet."""
    due = command.case.next_wakeup_at
    command.record(command.word("timer_fired"), data={"due_at": due.isoformat() if due else None},
                   only_if_followed=True)
    command.step(command.engine.runtime.advance(command.workflow))
