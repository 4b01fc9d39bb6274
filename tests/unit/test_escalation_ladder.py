"""The escalation ladder's timers on handle_case, per mode: armed, re-armed and disarmed."""

from __future__ import annotations

from datetime import datetime, timezone

from engine.calendar.clock import FrozenClock
from tests.unit.loop_driver import LoopDriver

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)  # Wednesday 09:00 in Shanghai
LADDER = ["timer_unclaimed", "timer_due_soon", "timer_overdue", "timer_supervised", "timer_listed"]


def _at(day: int, month: int = 12, hour_utc: int = 10) -> datetime:
    return datetime(2026, month, day, hour_utc, 0, tzinfo=timezone.utc)


def test_a_referred_case_arms_the_whole_ladder_in_working_days() -> None:
    """Arm unclaimed (+1 wd), due soon (−1 wd), overdue, supervised (+3 wd) and listed (+5 wd)."""
    loop = LoopDriver(FrozenClock(T0), roundtrip=True).start().refer(days=5)  # due Wed 2 Dec 18:00
    armed = loop.armed()
    assert {name: armed[name] for name in LADDER} == {
        "timer_unclaimed": _at(26, 11, 1),  # Thu 26 Nov 09:00
        "timer_due_soon": _at(1),  # Tue 1 Dec 18:00
        "timer_overdue": _at(2),
        "timer_supervised": _at(7),  # Mon 7 Dec
        "timer_listed": _at(9),  # Wed 9 Dec
    }


def test_direct_handling_escalates_at_the_deadline_and_uses_no_later_rungs() -> None:
    """Leave supervised and listed unarmed for direct cases: overdue goes straight to the leader."""
    loop = LoopDriver(FrozenClock(T0), roundtrip=True, mode="direct").start(
        lead_department="econ_it", deadline_working_days=5)
    assert set(loop.armed()) == {"timer_unclaimed", "timer_due_soon", "timer_overdue"}


def test_each_rung_fires_once_as_time_passes() -> None:
    """Fire each rung's escalate service task once, in order, as the clock passes it."""
    clock = FrozenClock(T0)
    loop = LoopDriver(clock, roundtrip=True).start().refer(days=5)
    fired = []
    for moment in (_at(26, 11, 2), _at(1, 12, 11), _at(2, 12, 11), _at(7, 12, 11), _at(9, 12, 11), _at(20, 12)):
        clock.set(moment)
        loop.fire_timers()
        fired.append([c.params["rung"] for c in loop.service_calls if c.operation == "escalate"])
    assert fired[-1] == ["unclaimed", "due_soon", "overdue", "supervised", "listed"]
    assert [len(f) for f in fired] == [1, 2, 3, 4, 5, 5]
    handle = loop.task("handle_case")
    assert all(c.attached_to == handle.id for c in loop.service_calls if c.operation == "escalate")


def test_an_approved_extension_re_arms_the_ladder_from_the_new_deadline() -> None:
    """Arm a fresh ladder on the new handle_case after an extension moves the deadline."""
    loop = LoopDriver(FrozenClock(T0), roundtrip=True).start().refer(days=5)
    loop.handle("extend", reason="需要协调", extension_working_days=3)
    assert not set(LADDER) & set(loop.armed())  # waiting for approval: the old ladder is gone
    loop.complete("approve_extension", approved=True, comment=None)
    assert loop.armed()["timer_overdue"] == _at(7)  # Mon 7 Dec
    assert loop.armed()["timer_listed"] == _at(14)


def test_completing_the_task_disarms_the_ladder() -> None:
    """Leave no ladder timer armed once handle_case is done."""
    loop = LoopDriver(FrozenClock(T0), roundtrip=True).start().refer(days=5)
    loop.handle("done", result="已解决")
    assert not set(LADDER) & set(loop.armed())
    assert loop.next_wakeup() is None
    loop.fire_timers()
    assert [c for c in loop.service_calls if c.operation == "escalate"] == []
