"""Firing due BPMN timers.

Every command stores the earliest armed timer of its case in ``case.next_wakeup_at`` (indexed).
Firing takes the due cases a batch at a time in one transaction — ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so any number of workers share the work and never fire one timer twice; SQLite
serializes writers — and fires each case: restore, let SpiffWorkflow fire what is due, sync, save.
One commit makes a whole batch durable. A case that fails is rolled back alone (the batch is fired
again with a savepoint per case), logged, and left due for the next tick, without holding up the
others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.storage import audit
from engine.bootstrap import Engine
from engine.storage.models import Case, Task
from engine.commands.sync import (
    SYSTEM,
    checkout_workflow,
    keep_workflow,
    open_task_rows,
    save_new_version,
    sync_case,
)

log = logging.getLogger("duban.timers")

# Cases fired per transaction: one commit (a disk flush on PostgreSQL) serves them all, while on
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
        batch = _fire_batch(engine, now, size, passed)
        if batch is None:
            break
        fired.extend(batch)
    return fired


def _fire_batch(engine: Engine, now: datetime, size: int, passed: set[int]) -> list[Fired] | None:
    """Take up to ``size`` due cases no other worker holds and fire them in one transaction;
    None when none is left.

    The batch is first fired straight through. If a case fails, all of it is rolled back and fired
    again with a savepoint per case, so that the failing case is rolled back alone, logged and left
    due while the others commit. (Savepoints cost two round trips per case on PostgreSQL; a case
    rarely fails.)
    """
    try:
        return _fire_cases(engine, now, size, passed, isolate=False)
    except _CaseFailed:
        return _fire_cases(engine, now, size, passed, isolate=True)


class _CaseFailed(Exception):
    """A case of a batch fired straight through failed: the batch is fired again, case by case."""


def _fire_cases(engine: Engine, now: datetime, size: int, passed: set[int], isolate: bool) -> list[Fired] | None:
    still_due: set[int] = set()
    with engine.db.unit_of_work() as uow:
        session = uow.session
        # Strictly before now: SpiffWorkflow fires a timer once the clock has passed it.
        query = select(*Case.__table__.c).where(Case.status == "open", Case.next_wakeup_at < now)
        if passed:
            query = query.where(Case.id.not_in(passed))
        query = query.order_by(Case.next_wakeup_at).limit(size)
        if engine.db.locks_rows:
            query = query.with_for_update(skip_locked=True, key_share=True)  # as commands lock a case
        due = [Case(**row._mapping) for row in session.execute(query)]
        if not due:
            return None
        open_rows = open_task_rows(session, [case.id for case in due])
        done: list[tuple[Case, Any]] = []
        for case in due:
            try:
                if isolate:
                    with uow.savepoint():
                        workflow = _fire(engine, session, case, open_rows[case.id], now)
                else:
                    workflow = _fire(engine, session, case, open_rows[case.id], now)
            except Exception as exc:
                if not isolate:
                    raise _CaseFailed() from exc
                passed.add(case.id)
                log.exception("firing the timers of case %s failed; it stays due", case.number)
                continue
            done.append((case, workflow))
            if case.next_wakeup_at is not None and case.next_wakeup_at < now:
                still_due.add(case.id)
        uow.commit()
    passed.update(still_due)
    for case, workflow in done:
        keep_workflow(engine, case, workflow)
    return [Fired(case.id, case.number, case.next_wakeup_at) for case, _ in done]


def _fire(engine: Engine, session: Session, case: Case, open_rows: dict[Any, Task], now: datetime) -> Any:
    """Fire what is due in one case, sync its rows and save it; return its workflow."""
    workflow = checkout_workflow(engine, case)
    due = case.next_wakeup_at
    with engine.runtime.recording() as calls:
        engine.runtime.advance(workflow)
    fired = audit.record(session, case_id=case.id, actor=SYSTEM, action="timer_fired", at=now,
                         label="到期自动处理", data={"due_at": due.isoformat() if due else None})
    before = audit.recorded(session)
    sync_case(engine, session, case, workflow, SYSTEM, now, calls=calls, open_rows=open_rows)
    if audit.recorded(session) == before:
        # Nothing happened (a reminder for a task already signed for): the timeline stays quiet.
        audit.discard(session, fired)
    case.workflow_state = engine.runtime.save(case.process_version, workflow)
    save_new_version(session, case)
    return workflow
