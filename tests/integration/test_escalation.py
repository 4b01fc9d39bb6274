"""An overdue case climbs the escalation ladder by itself: lights, levels, notices, exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import func, select

from engine.commands import cases, tasks
from engine.queries.cases import get_case
from engine.bootstrap import Engine
from engine.calendar.clock import FrozenClock
from engine.storage.models import Event, Notification
from engine.commands.timers import fire_due_timers
from engine.queries.worklist import TaskQuery, list_tasks
from tests.support import ActorOf

SECOND = timedelta(seconds=1)


def _at(day: int, month: int = 12, hour_utc: int = 10) -> datetime:
    return datetime(2026, month, day, hour_utc, 0, tzinfo=timezone.utc)


def _referred(engine: Engine, actor: ActorOf, days: int = 5) -> int:
    dispatcher = actor("dispatcher")
    case = cases.create_case(engine, dispatcher, cases.CaseDraft("园区用电报装缓慢", "d", "optoelectronics"))
    (refer,) = case.open_tasks
    tasks.claim_task(engine, dispatcher, refer.id)
    tasks.complete_task(engine, dispatcher, refer.id,
                        {"decision": "refer", "lead_department": "econ_it", "deadline_working_days": days})
    return case.case.id


def _inbox(engine: Engine, username: str) -> list[str]:
    with engine.db.unit_of_work(write=False) as uow:
        return list(uow.execute(select(Notification.kind).where(Notification.username == username)
                                .order_by(Notification.id)).scalars())


def _count(engine: Engine, model: type, **where: object) -> int:
    with engine.db.unit_of_work(write=False) as uow:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return uow.scalar(query) or 0


def _advance(engine: Engine, clock: FrozenClock, moment: datetime) -> None:
    clock.set(moment)
    fire_due_timers(engine)


def test_an_overdue_case_climbs_the_ladder_by_itself(engine: Engine, actor: ActorOf, clock: FrozenClock) -> None:
    """Remind, turn yellow, turn red and escalate to the office, the supervisor and the task force leader."""
    case_id = _referred(engine, actor)  # due Wed 2 Dec 18:00 Shanghai
    dispatcher = actor("dispatcher")

    _advance(engine, clock, _at(26, 11, 1) + SECOND)  # one working day, not signed for
    assert _inbox(engine, "econ_it_leader") == ["escalation_unclaimed"]
    assert _inbox(engine, "econ_it") == []
    (task,) = list_tasks(engine, actor("econ_it"), TaskQuery(scope="department")).items
    tasks.claim_task(engine, actor("econ_it"), task.id)

    _advance(engine, clock, _at(1) + SECOND)  # 临期
    case = get_case(engine, dispatcher, case_id)
    assert (case.case.warning_level, case.case.escalation_level) == ("yellow", 0)
    assert case.open_tasks[0].warning_level == "yellow"
    assert _inbox(engine, "econ_it")[-1] == "escalation_due_soon"

    _advance(engine, clock, _at(2) + SECOND)  # 超期
    case = get_case(engine, dispatcher, case_id)
    assert (case.case.warning_level, case.case.escalation_level) == ("red", 1)
    assert _inbox(engine, "dispatcher") == ["escalation_overdue"]

    _advance(engine, clock, _at(7) + SECOND)  # +3 working days: 督办
    assert get_case(engine, dispatcher, case_id).case.escalation_level == 2
    assert _inbox(engine, "supervisor") == ["escalation_supervised"]

    _advance(engine, clock, _at(9) + SECOND)  # +5 working days: 挂牌督办
    case = get_case(engine, dispatcher, case_id)
    assert case.case.escalation_level == 3
    assert _inbox(engine, "optoelectronics_leader") == ["escalation_listed"]
    assert _count(engine, Event, case_id=case_id, action="escalated") == 5
    red = list_tasks(engine, dispatcher, TaskQuery(warning="red")).items
    assert [t.id for t in red] == [case.open_tasks[0].id]


def test_firing_again_notifies_nobody_twice(engine: Engine, actor: ActorOf, clock: FrozenClock) -> None:
    """Leave notifications and versions alone when the same time is fired again."""
    case_id = _referred(engine, actor)
    _advance(engine, clock, _at(9) + SECOND)
    notices = _count(engine, Notification)
    version = get_case(engine, actor("dispatcher"), case_id).case.version
    assert fire_due_timers(engine) == []
    assert _count(engine, Notification) == notices
    assert get_case(engine, actor("dispatcher"), case_id).case.version == version


def test_a_claimed_task_gets_no_unclaimed_reminder(engine: Engine, actor: ActorOf, clock: FrozenClock) -> None:
    """Skip the not-signed-for reminder when the department has already signed for the task."""
    _referred(engine, actor)
    (task,) = list_tasks(engine, actor("econ_it"), TaskQuery(scope="department")).items
    tasks.claim_task(engine, actor("econ_it"), task.id)
    _advance(engine, clock, _at(26, 11, 1) + SECOND)
    assert _inbox(engine, "econ_it_leader") == []


def test_direct_handling_goes_to_the_task_force_leader_at_the_deadline(
    engine: Engine, actor: ActorOf, clock: FrozenClock
) -> None:
    """Escalate a direct case to level 3 and its task force's leader as soon as it is overdue."""
    case = cases.create_case(engine, actor("supervisor"), cases.CaseDraft(
        "领导批示：加快新能源车企落地", "d", "automotive", mode="direct", lead_department="econ_it",
        deadline_working_days=2))
    _advance(engine, clock, case.case.due_at + SECOND)
    after = get_case(engine, actor("supervisor"), case.case.id)
    assert (after.case.warning_level, after.case.escalation_level) == ("red", 3)
    assert _inbox(engine, "automotive_leader") == ["escalation_overdue"]
    _advance(engine, clock, case.case.due_at + timedelta(days=14))
    assert _inbox(engine, "automotive_leader") == ["escalation_overdue"]


def test_an_approved_extension_re_arms_the_ladder(engine: Engine, actor: ActorOf, clock: FrozenClock) -> None:
    """Clear the red light with an approved extension and escalate again only after the new deadline."""
    case_id = _referred(engine, actor, days=2)  # due Fri 27 Nov 18:00
    lead, dispatcher = actor("econ_it"), actor("dispatcher")
    (task,) = list_tasks(engine, lead, TaskQuery(scope="department")).items
    tasks.claim_task(engine, lead, task.id)
    _advance(engine, clock, _at(27, 11) + SECOND)
    assert get_case(engine, dispatcher, case_id).case.warning_level == "red"
    extension = {"outcome": "extend", "reason": "等待审批", "extension_working_days": 3}
    waiting = tasks.complete_task(engine, lead, task.id, extension)
    assert (waiting.case.warning_level, waiting.case.escalation_level) == ("red", 1)  # asking does not clear it
    (approval,) = list_tasks(engine, dispatcher, TaskQuery(scope="department")).items
    tasks.claim_task(engine, dispatcher, approval.id)
    case = tasks.complete_task(engine, dispatcher, approval.id, {"approved": True})
    assert case.case.due_at == _at(2)  # Wed 2 Dec 18:00
    assert (case.case.warning_level, case.case.escalation_level) == ("green", 0)
    overdue_before = _inbox(engine, "dispatcher").count("escalation_overdue")
    _advance(engine, clock, _at(2) + SECOND)
    assert _inbox(engine, "dispatcher").count("escalation_overdue") == overdue_before + 1


def test_closing_the_task_disarms_the_ladder(engine: Engine, actor: ActorOf, clock: FrozenClock) -> None:
    """Fire nothing for a task completed before its deadline."""
    case_id = _referred(engine, actor)
    lead = actor("econ_it")
    (task,) = list_tasks(engine, lead, TaskQuery(scope="department")).items
    tasks.claim_task(engine, lead, task.id)
    case = tasks.complete_task(engine, lead, task.id, {"outcome": "done", "result": "已解决"})
    assert case.case.next_wakeup_at is None
    _advance(engine, clock, _at(20))
    assert _count(engine, Event, case_id=case_id, action="escalated") == 0


def test_a_timer_that_changes_nothing_leaves_no_trace(engine: Engine, actor: ActorOf, clock: FrozenClock) -> None:
    """Record no timeline entry when the not-signed-for reminder fires for a task already signed for."""
    case_id = _referred(engine, actor)
    (task,) = list_tasks(engine, actor("econ_it"), TaskQuery(scope="department")).items
    tasks.claim_task(engine, actor("econ_it"), task.id)
    events_before = _count(engine, Event, case_id=case_id)
    _advance(engine, clock, _at(26, 11, 1) + SECOND)
    assert _count(engine, Event, case_id=case_id) == events_before


def _commits_while(engine: Engine, action: Callable[[], object]) -> int:
    """How many transactions the engine commits while action runs."""
    from sqlalchemy import event

    committed: list[object] = []

    def note(connection):  # type: ignore[no-untyped-def]
        committed.append(connection)

    event.listen(engine.db.write_engine, "commit", note)
    try:
        action()
    finally:
        event.remove(engine.db.write_engine, "commit", note)
    return len(committed)


def test_a_batch_of_healthy_cases_fires_in_one_transaction(engine: Engine, actor: ActorOf, clock: FrozenClock) -> None:
    """A batch is one unit of work, straight through: a unit per case only for a batch in which a
    case fails."""
    ids = [_referred(engine, actor) for _ in range(3)]
    clock.set(_at(26, 11, 1) + SECOND)
    assert _commits_while(engine, lambda: fire_due_timers(engine)) == 1
    assert all(_count(engine, Event, case_id=i, action="timer_fired") == 1 for i in ids)


def test_a_case_that_cannot_be_fired_does_not_hold_up_the_others(
        engine: Engine, actor: ActorOf, clock: FrozenClock) -> None:
    """A batch in which a case fails is fired again case by case: the broken case is rolled back and
    stays due, with none of its events; the rest of its batch fires and commits."""
    from sqlalchemy import update

    from engine.storage.models import Case

    ids = [_referred(engine, actor) for _ in range(3)]
    broken = ids[1]
    with engine.db.unit_of_work() as uow:  # a stored state nothing can restore
        uow.execute(update(Case).where(Case.id == broken).values(workflow_state=b"not a workflow"))
        uow.commit()
    engine.caches.workflows.clear()
    clock.set(_at(26, 11, 1) + SECOND)  # the "not signed for" rung of all three is due
    fired: list = []
    # Fired again case by case: a unit of work for each, and the two healthy ones commit.
    assert _commits_while(engine, lambda: fired.extend(fire_due_timers(engine))) == 2
    assert sorted(f.case_id for f in fired) == [ids[0], ids[2]]
    assert _count(engine, Event, case_id=broken, action="timer_fired") == 0
    assert _count(engine, Event, case_id=ids[0], action="timer_fired") == 1
    with engine.db.unit_of_work(write=False) as uow:
        still_due = uow.scalar(select(Case.next_wakeup_at).where(Case.id == broken))
    assert still_due < clock.now()  # retried next tick
    assert fire_due_timers(engine) == []  # the others are done; the broken one fails again, quietly
