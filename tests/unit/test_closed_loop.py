"""Every branch of the closed loop on the real processes.bpmn, straight and through serialization."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.calendar.clock import FrozenClock
from tests.unit.loop_driver import LoopDriver

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)  # Wednesday 09:00 in Shanghai


@pytest.fixture(params=[False, True], ids=["straight", "roundtrip"])
def loop(request: pytest.FixtureRequest) -> LoopDriver:
    """A started standard case, run straight or with a serialize round-trip after every step."""
    return LoopDriver(FrozenClock(T0), roundtrip=request.param).start()


def test_new_case_waits_for_referral_by_the_office(loop: LoopDriver) -> None:
    """Start with one task: refer_case for the supervision office's dispatchers."""
    (task,) = loop.ready()
    assert (task.name, task.role, task.department) == ("refer_case", "dispatcher", "supervision_office")
    assert task.due_at is None


def test_rejection_at_triage_closes_the_case_as_rejected(loop: LoopDriver) -> None:
    """Close the case at end_rejected when the office rejects it."""
    loop.complete("refer_case", decision="reject", reason="不属于督办范围", lead_department=None,
                  co_departments=[], deadline_working_days=None, instructions=None)
    assert loop.ready() == []
    assert loop.resolution() == "end_rejected"


def test_referral_gives_the_lead_department_a_deadline_in_working_days(loop: LoopDriver) -> None:
    """Give handle_case to the lead department, due at 18:00 on the 5th working day."""
    loop.refer(lead="econ_it", days=5)
    task = loop.task("handle_case")
    assert (task.role, task.department, task.case_deadline) == ("department", "econ_it", True)
    # Wed 25 Nov + 5 working days = Wed 2 Dec, 18:00 Shanghai = 10:00 UTC.
    assert task.due_at == datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


def test_co_departments_assist_in_parallel_and_feedback_waits_for_all(loop: LoopDriver) -> None:
    """Open one assist_case per co-department beside handle_case; review only when all are in."""
    loop.refer(co=["hongshan", "jiangxia"])
    assert loop.ready_names() == [("assist_case", "hongshan"), ("assist_case", "jiangxia"),
                                  ("handle_case", "econ_it")]
    loop.handle("done", result="已解决")
    assert loop.ready_names() == [("assist_case", "hongshan"), ("assist_case", "jiangxia")]
    loop.complete("assist_case", "hongshan", result="配合完成")
    assert loop.ready_names() == [("assist_case", "jiangxia")]
    loop.complete("assist_case", "jiangxia", result="配合完成")
    assert loop.ready_names() == [("review_feedback", "supervision_office")]


def test_return_goes_back_to_referral_and_cancels_assists(loop: LoopDriver) -> None:
    """Send the case back to refer_case when the lead department returns it."""
    loop.refer(co=["hongshan"])
    loop.handle("return", reason="不属于本单位职责")
    assert loop.ready_names() == [("refer_case", "supervision_office")]
    loop.refer(lead="development_reform")
    assert loop.ready_names() == [("handle_case", "development_reform")]


def test_approved_extension_moves_the_deadline_by_working_days(loop: LoopDriver) -> None:
    """Move the deadline on by the requested working days when the office approves."""
    loop.refer(days=5)
    due = loop.task("handle_case").due_at
    loop.handle("extend", reason="需协调用地指标", extension_working_days=3)
    assert loop.ready_names() == [("approve_extension", "supervision_office")]
    loop.complete("approve_extension", approved=True, comment=None)
    # Wed 2 Dec + 3 working days = Mon 7 Dec.
    assert due == datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
    assert loop.task("handle_case").due_at == datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def test_refused_extension_keeps_the_deadline(loop: LoopDriver) -> None:
    """Return to handle_case with the same deadline when the office refuses."""
    loop.refer(days=5)
    due = loop.task("handle_case").due_at
    loop.handle("extend", reason="r", extension_working_days=3)
    loop.complete("approve_extension", approved=False, comment="理由不充分")
    assert loop.task("handle_case").due_at == due


def test_rejected_feedback_reopens_handling_without_new_assists(loop: LoopDriver) -> None:
    """Reopen handle_case (rework) when feedback is rejected; co-departments are not asked again."""
    loop.refer(co=["hongshan"])
    loop.handle("done", result="初步完成")
    loop.complete("assist_case", "hongshan", result="已配合")
    loop.complete("review_feedback", accepted=False, comment="材料不全")
    assert loop.ready_names() == [("handle_case", "econ_it")]


def test_accepted_feedback_closes_the_case(loop: LoopDriver) -> None:
    """End at end_closed when the office accepts the feedback."""
    loop.refer()
    loop.handle("done", result="已解决")
    loop.complete("review_feedback", accepted=True, comment="同意办结")
    assert loop.ready() == []
    assert loop.resolution() == "end_closed"


def test_assist_submissions_do_not_overwrite_the_lead_departments_data(loop: LoopDriver) -> None:
    """Keep each co-department's form in its own task, so the lead's result reaches review intact."""
    loop.refer(co=["hongshan", "jiangxia"])
    loop.complete("assist_case", "jiangxia", result="江夏已配合")
    loop.handle("done", result="牵头单位办理完毕")
    loop.complete("assist_case", "hongshan", result="洪山已配合")
    data = loop.task("review_feedback").data
    assert data["result"] == "牵头单位办理完毕"
    assert "assist_department" not in data and "assist_report" not in data


@pytest.mark.parametrize("roundtrip", [False, True], ids=["straight", "roundtrip"])
def test_a_case_returned_and_reworked_500_times_stays_flat_and_closes(roundtrip: bool) -> None:
    """Keep the task tree and the saved state flat over 500 returns, extensions and reworks."""
    loop = LoopDriver(FrozenClock(T0), roundtrip=roundtrip).start().refer(co=["hongshan"])
    sizes = []
    for round_ in range(500):
        loop.handle("extend", reason="r", extension_working_days=1)
        loop.complete("approve_extension", approved=round_ % 2 == 0, comment=None)
        loop.handle("return", reason="退回")
        loop.refer(co=["hongshan"] if round_ % 3 == 0 else [])
        if round_ % 3 == 0:
            loop.complete("assist_case", "hongshan", result="ok")
        loop.handle("done", result="ok")
        loop.complete("review_feedback", accepted=False, comment="返工")
        if round_ in (10, 499):
            sizes.append((loop.task_count(), loop.state_sizes[-1]))
    (tasks_at_10, size_at_10), (tasks_at_499, size_at_499) = sizes
    assert tasks_at_499 == tasks_at_10
    assert size_at_499 <= size_at_10 * 1.1
    loop.handle("done", result="最终完成")
    loop.complete("review_feedback", accepted=True, comment=None)
    assert loop.resolution() == "end_closed"
