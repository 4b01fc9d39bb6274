"""The long-running worker picks up due timers by itself (the embedded worker of ``duban serve``)."""

from __future__ import annotations

import time
from datetime import timedelta

from engine.commands import cases
from engine.queries.cases import case_events, get_case
from engine.bootstrap import Engine
from engine.calendar.clock import FrozenClock
from tests.support import ActorOf
from workers.timer_worker import run_in_background


def test_the_background_worker_upgrades_an_overdue_reminder_case(
    engine: Engine, actor: ActorOf, clock: FrozenClock
) -> None:
    """Fire a due timer within moments of starting, with no call from the test."""
    case = cases.create_case(engine, actor("dispatcher"), cases.CaseDraft(
        "提醒快办", "d", "automotive", mode="reminder", lead_department="hongshan"))
    clock.set(case.case.due_at + timedelta(seconds=1))
    worker = run_in_background(engine)
    try:
        deadline = time.monotonic() + 20
        while get_case(engine, actor("dispatcher"), case.case.id).case.mode != "direct":
            assert time.monotonic() < deadline, "the worker did not fire the due timer"
            time.sleep(0.05)  # waiting on the worker's thread, not on a timer
    finally:
        worker.stop()
    actions = [event.action for event in case_events(engine, actor("dispatcher"), case.case.id)]
    assert actions.count("mode_changed") == 1 and actions.count("timer_fired") == 1
