"""Each supervision mode's process on the real processes.bpmn, straight and through serialization."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.calendar.clock import FrozenClock
from tests.unit.loop_driver import LoopDriver

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)  # Wednesday 09:00 in Shanghai


@pytest.fixture(params=[False, True], ids=["straight", "roundtrip"])
def roundtrip(request: pytest.FixtureRequest) -> bool:
    """Run each scenario straight and with a serialize round-trip after every step."""
    return request.param


def _driver(mode: str, roundtrip: bool, **data: object) -> tuple[LoopDriver, FrozenClock]:
    clock = FrozenClock(T0)
    return LoopDriver(clock, roundtrip=roundtrip, mode=mode).start(**data), clock


def test_direct_case_goes_straight_to_the_lead_department_and_the_supervisor_reviews(roundtrip: bool) -> None:
    """Skip triage: handle_case at once for the given department; review_feedback by a supervisor."""
    loop, _ = _driver("direct", roundtrip, lead_department="econ_it", deadline_working_days=3)
    task = loop.task("handle_case")
    assert task.department == "econ_it"
    assert task.due_at == datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)  # Mon 30 Nov 18:00
    loop.handle("done", result="已落实领导批示")
    review = loop.task("review_feedback")
    assert review.role == "supervisor"
    loop.complete("review_feedback", accepted=True, comment=None)
    assert loop.resolution() == "end_direct_closed"


def test_direct_case_returned_goes_to_the_supervisor_to_refer_again(roundtrip: bool) -> None:
    """Send a returned direct case to refer_case for a supervisor, then on to the new department."""
    loop, _ = _driver("direct", roundtrip, lead_department="econ_it", deadline_working_days=3)
    loop.handle("return", reason="不属于本单位职责")
    refer = loop.task("refer_case")
    assert refer.role == "supervisor"
    loop.refer(lead="commerce", days=2)
    assert loop.ready_names() == [("handle_case", "commerce")]


def test_reminder_sends_a_notice_at_once_and_closes_without_review(roundtrip: bool) -> None:
    """Notify the lead department on creation; done closes the case with no review."""
    loop, _ = _driver("reminder", roundtrip, lead_department="hongshan")
    assert [(c.params["kind"], c.params["department"]) for c in loop.service_calls if c.operation == "notify"] == [
        ("reminder", "hongshan")]
    task = loop.task("handle_case")
    assert task.due_at == datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)  # 3 working days
    loop.handle("done", result="已办理")
    assert loop.resolution() == "end_reminder_closed"


def test_overdue_reminder_is_upgraded_to_direct_handling(roundtrip: bool) -> None:
    """At the deadline, cancel quick handling, switch to direct, notify, and hand it out again."""
    loop, clock = _driver("reminder", roundtrip, lead_department="hongshan")
    first = loop.task("handle_case")
    assert loop.armed()["timer_reminder_overdue"] == first.due_at
    assert "timer_overdue" not in loop.armed()  # the reminder ladder leaves the deadline to the upgrade
    clock.set(first.due_at - timedelta(minutes=1))
    loop.fire_timers()
    assert loop.task("handle_case").id == first.id
    clock.set(first.due_at + timedelta(seconds=1))
    loop.fire_timers()
    second = loop.task("handle_case")
    assert second.id != first.id
    assert second.data["mode"] == "direct" and second.data["reviewer_role"] == "supervisor"
    notices = [c.params["kind"] for c in loop.service_calls if c.operation == "notify"]
    assert notices == ["reminder", "upgraded"]
    assert loop.armed()["timer_overdue"] == second.due_at  # now on the direct ladder
    loop.handle("done", result="升级后办结")
    assert loop.task("review_feedback").role == "supervisor"
    loop.complete("review_feedback", accepted=True, comment=None)
    assert loop.resolution() == "end_upgraded_closed"


def test_effectiveness_asks_for_progress_reports_while_handling(roundtrip: bool) -> None:
    """Open report_progress for the lead department every N working days until handling is done."""
    loop, clock = _driver("effectiveness", roundtrip, report_every_working_days=2)
    loop.refer(days=10)
    assert loop.ready_names() == [("handle_case", "econ_it")]
    wake = loop.armed()["timer_progress_due"]
    assert wake == datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)  # Fri 27 Nov 18:00
    clock.set(wake + timedelta(seconds=1))
    loop.fire_timers()
    assert loop.ready_names() == [("handle_case", "econ_it"), ("report_progress", "econ_it")]
    loop.complete("report_progress", progress="已完成现场核查", percent_complete=40, difficulties=None)
    assert loop.ready_names() == [("handle_case", "econ_it")]
    assert loop.armed()["timer_progress_due"] > clock.now()
    loop.handle("done", result="已解决")
    loop.complete("review_feedback", accepted=True, comment=None)
    assert loop.ready() == []  # waiting for the follow-up; progress reports have stopped


def test_effectiveness_follow_up_reopens_when_not_effective_and_closes_when_effective(roundtrip: bool) -> None:
    """After the follow-up delay ask the supervisor; not effective reopens handling with a new deadline."""
    loop, clock = _driver("effectiveness", roundtrip, followup_working_days=20)
    loop.refer(days=5)
    loop.handle("done", result="已解决")
    loop.complete("review_feedback", accepted=True, comment=None)
    follow_up = loop.next_wakeup()
    assert loop.armed() == {"timer_followup_due": follow_up}
    assert follow_up == datetime(2026, 12, 23, 10, 0, tzinfo=timezone.utc)  # 20 working days on
    clock.set(follow_up + timedelta(seconds=1))
    loop.fire_timers()
    assert loop.ready_names() == [("evaluate_effect", "supervision_office")]
    loop.complete("evaluate_effect", effective=False, satisfaction=2, comment="问题反弹")
    reopened = loop.task("handle_case")
    assert reopened.due_at == datetime(2026, 12, 30, 10, 0, tzinfo=timezone.utc)  # 5 working days after
    loop.handle("done", result="再次整改")
    loop.complete("review_feedback", accepted=True, comment=None)
    clock.advance(timedelta(days=40))
    loop.fire_timers()
    loop.complete("evaluate_effect", effective=True, satisfaction=5, comment=None)
    assert loop.resolution() == "end_effect_closed"


def test_effectiveness_return_goes_back_to_referral(roundtrip: bool) -> None:
    """Leave the reporting window and go back to refer_case when the lead department returns it."""
    loop, _ = _driver("effectiveness", roundtrip)
    loop.refer()
    loop.handle("return", reason="非本单位职责")
    assert loop.ready_names() == [("refer_case", "supervision_office")]
    assert loop.next_wakeup() is None


def test_onsite_plan_with_no_problems_closes(roundtrip: bool) -> None:
    """Close an inspection plan when the supervisor finds nothing."""
    loop, _ = _driver("onsite", roundtrip)
    assert loop.ready_names() == [("conduct_inspection", "supervision_office")]
    loop.complete("conduct_inspection", findings="现场正常", problems_found=False,
                  rectification_department=None, deadline_working_days=None)
    assert loop.resolution() == "end_onsite_closed"


def test_onsite_problems_are_rectified_and_a_failed_reinspection_rectifies_again(roundtrip: bool) -> None:
    """Send problems to the rectification department; failed reinspection → rectify again → pass."""
    loop, _ = _driver("onsite", roundtrip)
    loop.complete("conduct_inspection", findings="消防通道堵塞", problems_found=True,
                  rectification_department="qingshan", deadline_working_days=2)
    task = loop.task("handle_case")
    assert task.department == "qingshan"
    loop.handle("done", result="已清理")
    assert loop.ready_names() == [("reinspect", "supervision_office")]  # no feedback review in between
    loop.complete("reinspect", passed=False, comment="仍有堆放")
    assert loop.ready_names() == [("handle_case", "qingshan")]
    loop.handle("done", result="彻底清理")
    loop.complete("reinspect", passed=True, comment=None)
    assert loop.resolution() == "end_onsite_closed"


@pytest.mark.parametrize("mode", ["standard", "direct", "effectiveness", "reminder"])
def test_inspections_run_beside_open_work_any_number_of_times(mode: str, roundtrip: bool) -> None:
    """Start an inspection beside handle_case each time one is requested; the main work goes on."""
    loop, _ = _driver(mode, roundtrip, lead_department="econ_it", deadline_working_days=5)
    if mode in ("standard", "effectiveness"):
        loop.refer()
    loop.send("inspection_requested", note="第一次")
    loop.send("inspection_requested", note="第二次")
    names = loop.ready_names()
    assert names.count(("conduct_inspection", "supervision_office")) == 2
    assert ("handle_case", "econ_it") in names
    first, second = [t for t in loop.ready() if t.name == "conduct_inspection"]
    loop.complete_by_id(first.id, findings="发现问题", problems_found=True,
                        rectification_department="caidian", deadline_working_days=2)
    loop.complete_by_id(second.id, findings="未见异常", problems_found=False,
                        rectification_department=None, deadline_working_days=None)
    rectification = [t for t in loop.ready() if t.name == "handle_case" and t.department == "caidian"]
    assert len(rectification) == 1 and rectification[0].data.get("ad_hoc_inspection")
    main = [t for t in loop.ready() if t.name == "handle_case" and t.department == "econ_it"]
    assert len(main) == 1 and not main[0].data.get("ad_hoc_inspection")
