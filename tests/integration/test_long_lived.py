"""A case that goes round the loop 500 times stays operable and its saved state stays flat."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.commands import cases, tasks
from engine.storage.records import CaseView
from engine.org.access import Actor
from engine.bootstrap import Engine
from engine.storage.models import Event
from engine.queries.worklist import TaskQuery, list_tasks
from tests.support import ActorOf

LOOPS = 500


def _step(engine: Engine, actor: Actor, name: str, data: dict[str, object]) -> CaseView:
    """Claim and complete the case's one open task of this name as actor."""
    (task,) = list_tasks(engine, actor, TaskQuery(scope="department", name=name)).items
    tasks.claim_task(engine, actor, task.id)
    return tasks.complete_task(engine, actor, task.id, data)


def test_a_case_returned_and_reworked_500_times_still_works(engine: Engine, actor: ActorOf) -> None:
    """Go round return and rework 500 times; the state stays the same size and the case closes."""
    dispatcher, lead = actor("dispatcher"), actor("econ_it")
    refer = {"decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5}
    case = cases.create_case(engine, dispatcher, cases.CaseDraft("长期事项", "d", "optoelectronics"))
    _step(engine, dispatcher, "refer_case", refer)
    sizes = {}
    for loop in range(LOOPS):
        if loop % 2 == 0:
            _step(engine, lead, "handle_case", {"outcome": "return", "reason": f"第{loop}次退回"})
            case = _step(engine, dispatcher, "refer_case", refer)
        else:
            _step(engine, lead, "handle_case", {"outcome": "done", "result": f"第{loop}次办理"})
            case = _step(engine, dispatcher, "review_feedback", {"accepted": False, "comment": "返工"})
        if loop in (20, LOOPS - 1):
            sizes[loop] = len(case.case.workflow_state)
    assert sizes[LOOPS - 1] <= sizes[20] * 1.1
    assert (case.case.return_count, case.case.rework_count) == (LOOPS // 2, LOOPS // 2)
    _step(engine, lead, "handle_case", {"outcome": "done", "result": "最终办结"})
    case = _step(engine, dispatcher, "review_feedback", {"accepted": True})
    assert (case.case.status, case.case.resolution) == ("closed", "completed")
    with engine.db.unit_of_work(write=False) as uow:
        returns = uow.scalar(select(func.count()).select_from(Event).where(
            Event.case_id == case.case.id, Event.action == "case_returned"))
    assert returns == LOOPS // 2  # the history the tree no longer holds is in the audit table
