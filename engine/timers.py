"""Firing due BPMN timers.

Every command stores the earliest armed timer of its case in ``case.next_wakeup_at`` (indexed).
Firing claims the due cases one at a time — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number
of workers share the work and never fire one timer twice; SQLite serializes writers — restores
each, lets SpiffWorkflow fire what is due, syncs, and saves, each case in its own transaction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from engine import audit
from engine.bootstrap import Engine
from engine.models import Case
from engine.sync import SYSTEM, checkout_workflow, keep_workflow, lock_case, save_new_version, sync_case

BATCH = 100


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
    seen: set[int] = set()
    while limit is None or len(fired) < limit:
        with engine.db.unit_of_work(write=False) as uow:
            # Strictly before now: SpiffWorkflow fires a timer once the clock has passed it.
            due = [case_id for case_id in uow.session.scalars(
                select(Case.id).where(Case.status == "open", Case.next_wakeup_at < now)
                .order_by(Case.next_wakeup_at).limit(BATCH + len(seen))
            ) if case_id not in seen]
        if not due:
            break
        batch = due[:BATCH]
        # Workers that read the same due list would otherwise queue on the same rows in the same order.
        random.shuffle(batch)
        for case_id in batch:
            seen.add(case_id)
            result = fire_case(engine, case_id, now)
            if result is not None:
                fired.append(result)
    return fired


def fire_case(engine: Engine, case_id: int, now: datetime) -> Fired | None:
    """Fire one case's due timers in one transaction; None if another worker has it or it is not due."""
    with engine.db.unit_of_work() as uow:
        session = uow.session
        # Only a case that is still due, and that no other worker holds, is loaded.
        case = lock_case(engine, session, case_id, skip_locked=True,
                         still_due=(Case.status == "open") & (Case.next_wakeup_at < now))
        if case is None:
            return None
        workflow = checkout_workflow(engine, case)
        due = case.next_wakeup_at
        with engine.runtime.recording() as calls:
            engine.runtime.advance(workflow)
        fired = audit.record(session, case_id=case.id, actor=SYSTEM, action="timer_fired", at=now,
                             label="到期自动处理", data={"due_at": due.isoformat()})
        before = audit.recorded(session)
        sync_case(engine, session, case, workflow, SYSTEM, now, calls=calls)
        if audit.recorded(session) == before:
            # Nothing happened (a reminder for a task already signed for): the timeline stays quiet.
            audit.discard(session, fired)
        case.workflow_state = engine.runtime.save(case.process_version, workflow)
        save_new_version(session, case)
        uow.commit()
    keep_workflow(engine, case, workflow)
    return Fired(case.id, case.number, case.next_wakeup_at)
