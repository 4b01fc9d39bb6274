"""The four supervision modes, urges, on-site inspections and the inbox, end to end through the API.

Time is the frozen clock of the fixtures (Wed 2026-11-25 09:00 Shanghai); BPMN timers fire only when
a test calls ``fire_due_timers`` after moving the clock, as the timer worker would.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.commands.timers import fire_due_timers
from tests.api.helpers import (
    API,
    actions,
    assert_error,
    claim,
    complete,
    create_case,
    events,
    get_case,
    notifications,
    open_names,
    open_task,
    referred_case,
    snapshot,
    task_list,
    work,
)
from tests.conftest import T0

# Three working days after Wed 25 Nov 09:00 end on Mon 30 Nov 18:00 in Shanghai.
THREE_WORKING_DAYS = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def at(value: str) -> datetime:
    """Parse an API timestamp."""
    return datetime.fromisoformat(value)


def task(client, auth, task_id, user="dispatcher"):  # type: ignore[no-untyped-def]
    """GET one task as user (asserts 200)."""
    response = client.get(f"{API}/tasks/{task_id}", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def open_tasks_named(case, name):  # type: ignore[no-untyped-def]
    """The case's open tasks with this BPMN id."""
    return [t for t in case["open_tasks"] if t["name"] == name]


def inbox(client, auth, user, kind=None):  # type: ignore[no-untyped-def]
    """User's notifications (of a kind, if given), newest first."""
    items = notifications(client, auth, user, per_page=200)["items"]
    return [n for n in items if kind is None or n["kind"] == kind]


def urge(client, auth, case_id, user="dispatcher", **body):  # type: ignore[no-untyped-def]
    """POST an urge as user."""
    return client.post(f"{API}/cases/{case_id}/urge", json=body, headers=auth(user))


def inspect(client, auth, case_id, user="supervisor", **body):  # type: ignore[no-untyped-def]
    """POST an inspection request as user."""
    return client.post(f"{API}/cases/{case_id}/inspections", json=body, headers=auth(user))


def post_case(client, auth, user, **fields):  # type: ignore[no-untyped-def]
    """POST a case as user and return the raw response."""
    body = {"title": "领导批示事项", "description": "请抓紧办理。", "taskforce": "optoelectronics"} | fields
    return client.post(f"{API}/cases", json=body, headers=auth(user))


def case_count(client, auth):  # type: ignore[no-untyped-def]
    """How many cases exist (as the dispatcher sees them)."""
    response = client.get(f"{API}/cases", headers=auth("dispatcher"))
    assert response.status_code == 200
    return response.get_json()["total"]


def no_problems():  # type: ignore[no-untyped-def]
    """A conduct_inspection form that found nothing."""
    return {"findings": "现场情况正常", "problems_found": False}


def problems(department, days=2):  # type: ignore[no-untyped-def]
    """A conduct_inspection form that found problems for department to rectify."""
    return {"findings": "消防通道堵塞", "problems_found": True,
            "rectification_department": department, "deadline_working_days": days}


# -- direct 直接专办 ----------------------------------------------------------------------------------

def test_supervisor_creates_a_direct_case_that_goes_straight_to_the_lead_department(client, auth):
    """Skip triage: handle_case opens at once in econ_it's worklist with its working-day deadline."""
    case = create_case(client, auth, "supervisor", mode="direct", lead_department="econ_it",
                       deadline_working_days=3, title="领导批示：企业用电保障")
    assert case["mode"] == "direct" and case["status"] == "open"
    assert case["created_by"] == "supervisor"
    assert case["lead_department"] == "econ_it"
    assert open_names(case) == ["handle_case"]
    handle = open_task(case, "handle_case", "econ_it")
    assert handle["state"] == "ready" and handle["role"] == "department"
    assert at(handle["due_at"]) == THREE_WORKING_DAYS
    assert at(case["due_at"]) == THREE_WORKING_DAYS
    worklist = task_list(client, auth, "econ_it", scope="department", case_id=case["id"])
    assert [(t["id"], t["name"], at(t["due_at"])) for t in worklist] == [
        (handle["id"], "handle_case", THREE_WORKING_DAYS)]
    assert [t["name"] for t in task_list(client, auth, "dispatcher", case_id=case["id"], state="all")] == [
        "handle_case"]
    assert "case_referred" not in actions(events(client, auth, case["id"]))


def test_taskforce_leader_creates_a_direct_case_for_the_lead_department(client, auth, engine):
    """Let automotive_leader give a leader's instruction: handle_case for econ_it, N working days."""
    case = create_case(client, auth, "automotive_leader", mode="direct", taskforce="automotive",
                       lead_department="econ_it", deadline_working_days=2)
    assert case["mode"] == "direct" and case["created_by"] == "automotive_leader"
    handle = open_task(case, "handle_case", "econ_it")
    assert open_names(case) == ["handle_case"]
    assert at(handle["due_at"]) == engine.calendar.deadline_after(T0, 2)
    assert get_case(client, auth, case["id"], user="automotive_leader")["id"] == case["id"]
    assert [t["id"] for t in task_list(client, auth, "econ_it", scope="department", case_id=case["id"])] == [
        handle["id"]]


def test_direct_case_is_reviewed_by_the_supervisor_and_closes(client, auth, clock):
    """Send the result to review_feedback for a supervisor; the dispatcher may not claim it."""
    case = create_case(client, auth, "supervisor", mode="direct", lead_department="econ_it",
                       deadline_working_days=3)
    clock.advance(timedelta(hours=2))
    case = work(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "已落实领导批示"})
    assert open_names(case) == ["review_feedback"]
    review = open_task(case, "review_feedback")
    assert review["role"] == "supervisor"
    assert [t["id"] for t in task_list(client, auth, "supervisor", case_id=case["id"])] == [review["id"]]
    before = snapshot(client, auth, case["id"])
    assert_error(client.post(f"{API}/tasks/{review['id']}/claim", headers=auth("dispatcher")),
                 403, "forbidden")
    assert snapshot(client, auth, case["id"]) == before
    assert "claim" not in task(client, auth, review["id"], user="dispatcher")["actions"]
    clock.advance(timedelta(hours=1))
    case = work(client, auth, "supervisor", review["id"], {"accepted": True, "comment": "同意办结"})
    assert case["status"] == "closed" and case["resolution"] == "completed"
    assert at(case["closed_at"]) == clock.now()
    assert case["open_tasks"] == []
    assert actions(events(client, auth, case["id"]))[-2:] == ["feedback_accepted", "case_closed"]


def test_returned_direct_case_goes_to_the_supervisor_to_refer_again(client, auth, engine, clock):
    """Turn a return into refer_case for a supervisor, who re-refers it to another department."""
    case = create_case(client, auth, "supervisor", mode="direct", lead_department="econ_it",
                       deadline_working_days=3)
    case = work(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "return", "reason": "不属于本单位职责"})
    assert open_names(case) == ["refer_case"]
    assert case["return_count"] == 1 and case["status"] == "open"
    refer_task = open_task(case, "refer_case")
    assert refer_task["role"] == "supervisor"
    assert_error(client.post(f"{API}/tasks/{refer_task['id']}/claim", headers=auth("dispatcher")),
                 403, "forbidden")
    clock.advance(timedelta(days=1))  # Thursday 09:00
    case = work(client, auth, "supervisor", refer_task["id"], {
        "decision": "refer", "lead_department": "commerce", "deadline_working_days": 2,
        "instructions": "改由市商务局办理。"})
    handle = open_task(case, "handle_case")
    assert open_names(case) == ["handle_case"]
    assert handle["department"] == "commerce"
    due = engine.calendar.deadline_after(clock.now(), 2)
    assert at(handle["due_at"]) == due and at(case["due_at"]) == due
    assert case["lead_department"] == "commerce" and case["mode"] == "direct"
    assert [t["id"] for t in task_list(client, auth, "commerce", scope="department", case_id=case["id"])] == [
        handle["id"]]
    assert task_list(client, auth, "econ_it", scope="department", case_id=case["id"]) == []
    case = work(client, auth, "commerce", handle["id"], {"outcome": "done", "result": "已办理"})
    case = work(client, auth, "supervisor", open_task(case, "review_feedback")["id"], {"accepted": True})
    assert case["status"] == "closed" and case["resolution"] == "completed"


# -- reminder 提醒快办 --------------------------------------------------------------------------------

def test_reminder_notifies_the_lead_department_at_once(client, auth):
    """Put a 提醒快办 notice naming the case in the inbox of each hongshan user, and nobody else's."""
    case = create_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan")
    assert case["mode"] == "reminder" and case["lead_department"] == "hongshan"
    handle = open_task(case, "handle_case", "hongshan")
    assert open_names(case) == ["handle_case"]
    assert at(handle["due_at"]) == THREE_WORKING_DAYS and at(case["due_at"]) == THREE_WORKING_DAYS
    for user in ("hongshan", "hongshan_leader"):
        page = notifications(client, auth, user)
        assert page["unread"] == 1 and page["total"] == 1
        [notice] = page["items"]
        assert notice["kind"] == "reminder" and notice["case_id"] == case["id"]
        assert "提醒快办" in notice["title"] and case["number"] in notice["title"]
        assert case["number"] in notice["body"] and notice["read_at"] is None
        assert at(notice["created_at"]) == T0
    for user in ("econ_it", "supervisor", "dispatcher", "optoelectronics_leader"):
        assert notifications(client, auth, user)["items"] == []
    assert "notice_sent" in actions(events(client, auth, case["id"]))


def test_reminder_done_closes_without_review(client, auth, clock):
    """Close a reminder case as soon as the lead department reports done: no review task."""
    case = create_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan")
    clock.advance(timedelta(hours=3))
    case = work(client, auth, "hongshan", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "已当场解决"})
    assert case["status"] == "closed" and case["resolution"] == "completed"
    assert case["open_tasks"] == [] and case["mode"] == "reminder"
    timeline = events(client, auth, case["id"])
    assert actions(timeline)[-2:] == ["result_submitted", "case_closed"]
    created = [e for e in timeline if e["action"] == "task_created"]
    assert len(created) == 1
    assert task_list(client, auth, "dispatcher", name="review_feedback", case_id=case["id"],
                     state="all") == []


def test_overdue_reminder_is_upgraded_to_direct_and_goes_on_as_direct(client, auth, engine, clock):
    """At the deadline switch to direct, notify department, supervisor and task-force leader, reissue."""
    case = create_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan")
    case_id = case["id"]
    first = open_task(case, "handle_case")
    due = at(first["due_at"])

    clock.set(due - timedelta(minutes=1))
    fire_due_timers(engine)  # the reminder ladder's own rungs (not signed for, due soon) may fire
    before = get_case(client, auth, case_id)
    assert before["mode"] == "reminder" and open_task(before, "handle_case")["id"] == first["id"]

    clock.set(due + timedelta(seconds=1))
    fired = fire_due_timers(engine)
    assert [f.case_id for f in fired] == [case_id]
    case = get_case(client, auth, case_id)
    assert case["mode"] == "direct" and case["status"] == "open"
    assert open_names(case) == ["handle_case"]
    second = open_task(case, "handle_case", "hongshan")
    assert second["id"] != first["id"]
    new_due = engine.calendar.deadline_after(clock.now(), 5)
    assert at(second["due_at"]) == new_due and at(case["due_at"]) == new_due
    assert task(client, auth, first["id"])["state"] == "cancelled"
    timeline = events(client, auth, case_id)
    [changed] = [e for e in timeline if e["action"] == "mode_changed"]
    assert changed["data"]["mode"] == "direct" and changed["actor"] == "system"
    assert "直接专办" in changed["label"]
    assert [c["id"] for c in client.get(f"{API}/cases", query_string={"mode": "direct"},
                                        headers=auth("dispatcher")).get_json()["items"]] == [case_id]

    upgraded = {}
    for user in ("hongshan", "hongshan_leader", "supervisor", "optoelectronics_leader"):
        notices = inbox(client, auth, user, "upgraded")
        assert len(notices) == 1, (user, notices)
        assert notices[0]["case_id"] == case_id and case["number"] in notices[0]["title"]
        assert "直接专办" in notices[0]["title"]
        upgraded[user] = notices
    for user in ("dispatcher", "econ_it", "automotive_leader"):
        assert inbox(client, auth, user, "upgraded") == []

    # Firing again at the same time does nothing.
    version = case["version"]
    counts = {user: len(inbox(client, auth, user)) for user in upgraded}
    assert fire_due_timers(engine) == []
    again = get_case(client, auth, case_id)
    assert again["version"] == version and again["open_tasks"] == case["open_tasks"]
    assert {user: len(inbox(client, auth, user)) for user in upgraded} == counts
    assert len(events(client, auth, case_id)) == len(timeline)

    # It goes on as direct: the supervisor reviews.
    case = work(client, auth, "hongshan", second["id"], {"outcome": "done", "result": "升级后已办结"})
    review = open_task(case, "review_feedback")
    assert open_names(case) == ["review_feedback"] and review["role"] == "supervisor"
    assert_error(client.post(f"{API}/tasks/{review['id']}/claim", headers=auth("dispatcher")),
                 403, "forbidden")
    case = work(client, auth, "supervisor", review["id"], {"accepted": True, "comment": "同意"})
    assert case["status"] == "closed" and case["resolution"] == "completed" and case["mode"] == "direct"


# -- effectiveness 问效督办 --------------------------------------------------------------------------

def test_effectiveness_case_reports_progress_then_is_evaluated_reopened_and_closed(
        client, auth, engine, clock):
    """Ask for progress every 2 working days, evaluate after 20; reopen if ineffective, close if effective."""
    calendar = engine.calendar
    case = create_case(client, auth, "dispatcher", mode="effectiveness", report_every_working_days=2)
    assert case["mode"] == "effectiveness" and open_names(case) == ["refer_case"]
    case_id = case["id"]
    case = work(client, auth, "dispatcher", open_task(case, "refer_case")["id"], {
        "decision": "refer", "lead_department": "econ_it", "deadline_working_days": 10})
    assert open_names(case) == ["handle_case"]
    handle = open_task(case, "handle_case", "econ_it")
    assert at(handle["due_at"]) == calendar.deadline_after(T0, 10)

    # The first report falls due two working days on: Fri 27 Nov 18:00.
    report_due = calendar.deadline_after(T0, 2)
    clock.set(report_due - timedelta(minutes=1))
    fire_due_timers(engine)  # only the escalation ladder's "not signed for" rung is due by now
    assert open_names(get_case(client, auth, case_id)) == ["handle_case"]
    clock.set(report_due + timedelta(seconds=1))
    assert [f.case_id for f in fire_due_timers(engine)] == [case_id]
    case = get_case(client, auth, case_id)
    assert open_names(case) == ["handle_case", "report_progress"]
    report = open_task(case, "report_progress", "econ_it")
    assert report["role"] == "department"
    assert report["id"] in [t["id"] for t in task_list(client, auth, "econ_it", scope="department")]
    assert open_task(case, "handle_case")["id"] == handle["id"]

    case = work(client, auth, "econ_it", report["id"], {"progress": "已完成现场核查", "percent_complete": 40})
    assert open_names(case) == ["handle_case"]
    assert task(client, auth, report["id"])["state"] == "completed"
    [reported] = [e for e in events(client, auth, case_id) if e["action"] == "progress_reported"]
    assert "已完成现场核查" in reported["label"]

    # Re-armed: the next report falls due two working days after the last one was filed.
    next_due = calendar.deadline_after(clock.now(), 2)
    clock.set(next_due - timedelta(minutes=1))
    fire_due_timers(engine)
    assert open_names(get_case(client, auth, case_id)) == ["handle_case"]
    clock.set(next_due + timedelta(seconds=1))
    assert [f.case_id for f in fire_due_timers(engine)] == [case_id]
    case = get_case(client, auth, case_id)
    second_report = open_task(case, "report_progress", "econ_it")
    assert second_report["id"] != report["id"]

    # Handling done and accepted: the unfiled report is withdrawn, the case waits for the follow-up.
    case = work(client, auth, "econ_it", handle["id"], {"outcome": "done", "result": "已解决"})
    assert open_names(case) == ["report_progress", "review_feedback"]  # reporting lasts until accepted
    case = work(client, auth, "dispatcher", open_task(case, "review_feedback")["id"], {"accepted": True})
    handled_at = clock.now()
    assert case["status"] == "open" and case["open_tasks"] == []
    assert task(client, auth, second_report["id"])["state"] == "cancelled"

    follow_up = calendar.deadline_after(handled_at, 20)
    clock.set(follow_up - timedelta(minutes=1))
    assert fire_due_timers(engine) == []
    assert get_case(client, auth, case_id)["open_tasks"] == []
    clock.set(follow_up + timedelta(seconds=1))
    assert [f.case_id for f in fire_due_timers(engine)] == [case_id]
    case = get_case(client, auth, case_id)
    assert open_names(case) == ["evaluate_effect"]
    evaluate = open_task(case, "evaluate_effect")
    assert evaluate["role"] == "supervisor"
    assert_error(client.post(f"{API}/tasks/{evaluate['id']}/claim", headers=auth("dispatcher")),
                 403, "forbidden")

    # Satisfaction out of 1-5 is refused and changes nothing.
    claim(client, auth, "supervisor", evaluate["id"])
    before = snapshot(client, auth, case_id)
    response = client.post(f"{API}/tasks/{evaluate['id']}/complete", headers=auth("supervisor"),
                           json={"data": {"effective": True, "satisfaction": 6}})
    assert_error(response, 422, "validation_error", "satisfaction")
    assert snapshot(client, auth, case_id) == before

    # Not effective: handling reopens with a new deadline.
    case = complete(client, auth, "supervisor", evaluate["id"],
                    {"effective": False, "satisfaction": 2, "comment": "问题反弹"})
    assert case["status"] == "open" and open_names(case) == ["handle_case"]
    reopened = open_task(case, "handle_case", "econ_it")
    assert reopened["id"] != handle["id"]
    new_due = calendar.deadline_after(clock.now(), 10)
    assert at(reopened["due_at"]) == new_due and at(case["due_at"]) == new_due
    assert "effect_rejected" in actions(events(client, auth, case_id))

    case = work(client, auth, "econ_it", reopened["id"], {"outcome": "done", "result": "再次整改到位"})
    case = work(client, auth, "dispatcher", open_task(case, "review_feedback")["id"], {"accepted": True})
    assert case["status"] == "open" and case["open_tasks"] == []
    clock.set(calendar.deadline_after(clock.now(), 20) + timedelta(seconds=1))
    fire_due_timers(engine)
    case = get_case(client, auth, case_id)
    assert open_names(case) == ["evaluate_effect"]
    case = work(client, auth, "supervisor", open_task(case, "evaluate_effect")["id"],
                {"effective": True, "satisfaction": 5, "comment": "群众满意"})
    assert case["status"] == "closed" and case["resolution"] == "completed"
    assert case["open_tasks"] == []
    assert actions(events(client, auth, case_id))[-2:] == ["effect_confirmed", "case_closed"]


def test_supervisor_may_create_an_effectiveness_case_with_default_report_interval(
        client, auth, engine, clock):
    """Create an effectiveness case as supervisor; progress reports default to every 5 working days."""
    case = create_case(client, auth, "supervisor", mode="effectiveness")
    assert case["mode"] == "effectiveness" and case["created_by"] == "supervisor"
    refer_task = open_task(case, "refer_case")
    assert refer_task["role"] == "dispatcher"
    case = work(client, auth, "dispatcher", refer_task["id"], {
        "decision": "refer", "lead_department": "econ_it", "deadline_working_days": 20})
    clock.set(engine.calendar.deadline_after(T0, 5) - timedelta(minutes=1))
    fire_due_timers(engine)
    assert open_names(get_case(client, auth, case["id"])) == ["handle_case"]
    clock.set(engine.calendar.deadline_after(T0, 5) + timedelta(seconds=1))
    fire_due_timers(engine)
    assert open_names(get_case(client, auth, case["id"])) == ["handle_case", "report_progress"]


def test_mode_options_are_refused_for_other_modes(client, auth):
    """Refuse report_every_working_days and followup_working_days outside effectiveness, naming them."""
    before = case_count(client, auth)
    assert_error(post_case(client, auth, "dispatcher", mode="standard", report_every_working_days=2),
                 422, "validation_error", "report_every_working_days")
    assert_error(post_case(client, auth, "dispatcher", report_every_working_days=2),
                 422, "validation_error", "report_every_working_days")
    assert_error(post_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan",
                           followup_working_days=10), 422, "validation_error", "followup_working_days")
    assert case_count(client, auth) == before == 0


def test_department_cannot_create_an_effectiveness_case(client, auth):
    """Answer 403 to econ_it creating an effectiveness case."""
    assert_error(post_case(client, auth, "econ_it", mode="effectiveness"), 403, "forbidden")
    assert case_count(client, auth) == 0


# -- onsite 实地查办 ----------------------------------------------------------------------------------

def test_onsite_plan_with_no_problems_closes(client, auth, clock):
    """Give the supervisor conduct_inspection; no problems found closes the case."""
    case = create_case(client, auth, "supervisor", mode="onsite", title="实地查办：园区消防")
    assert case["mode"] == "onsite" and open_names(case) == ["conduct_inspection"]
    inspection = open_task(case, "conduct_inspection")
    assert inspection["role"] == "supervisor"
    assert_error(client.post(f"{API}/tasks/{inspection['id']}/claim", headers=auth("dispatcher")),
                 403, "forbidden")
    clock.advance(timedelta(hours=4))
    case = work(client, auth, "supervisor", inspection["id"], no_problems())
    assert case["status"] == "closed" and case["resolution"] == "completed"
    assert at(case["closed_at"]) == clock.now() and case["open_tasks"] == []
    assert actions(events(client, auth, case["id"]))[-2:] == ["inspection_clear", "case_closed"]


def test_onsite_problems_are_rectified_and_a_failed_reinspection_rectifies_again(client, auth, engine, clock):
    """Send problems to qingshan, reinspect without feedback review; fail once, then pass and close."""
    calendar = engine.calendar
    case = create_case(client, auth, "supervisor", mode="onsite")
    case_id = case["id"]
    case = work(client, auth, "supervisor", open_task(case, "conduct_inspection")["id"], problems("qingshan"))
    assert open_names(case) == ["handle_case"]
    handle = open_task(case, "handle_case", "qingshan")
    due = calendar.deadline_after(T0, 2)
    assert at(handle["due_at"]) == due
    assert case["lead_department"] == "qingshan" and at(case["due_at"]) == due
    assert [t["id"] for t in task_list(client, auth, "qingshan", scope="department")] == [handle["id"]]
    assert get_case(client, auth, case_id, user="qingshan")["id"] == case_id

    clock.advance(timedelta(days=1))
    case = work(client, auth, "qingshan", handle["id"], {"outcome": "done", "result": "已清理通道"})
    assert open_names(case) == ["reinspect"]  # no review_feedback in between
    reinspect = open_task(case, "reinspect")
    assert reinspect["role"] == "supervisor"
    case = work(client, auth, "supervisor", reinspect["id"], {"passed": False, "comment": "仍有杂物堆放"})
    assert open_names(case) == ["handle_case"]
    again = open_task(case, "handle_case", "qingshan")
    assert again["id"] != handle["id"]
    assert at(again["due_at"]) == calendar.deadline_after(clock.now(), 2)
    assert "reinspection_failed" in actions(events(client, auth, case_id))

    case = work(client, auth, "qingshan", again["id"], {"outcome": "done", "result": "彻底清理"})
    assert open_names(case) == ["reinspect"]
    case = work(client, auth, "supervisor", open_task(case, "reinspect")["id"], {"passed": True})
    assert case["status"] == "closed" and case["resolution"] == "completed"
    timeline = actions(events(client, auth, case_id))
    assert "review_feedback" not in [t["name"] for t in task_list(
        client, auth, "supervisor", case_id=case_id, state="all")]
    assert timeline[-2:] == ["reinspection_passed", "case_closed"]


def test_problems_found_without_rectification_department_is_refused(client, auth):
    """Answer 422 naming rectification_department (and its deadline) and change nothing."""
    case = create_case(client, auth, "supervisor", mode="onsite")
    inspection = open_task(case, "conduct_inspection")
    claim(client, auth, "supervisor", inspection["id"])
    before = snapshot(client, auth, case["id"])
    response = client.post(f"{API}/tasks/{inspection['id']}/complete", headers=auth("supervisor"),
                           json={"data": {"findings": "发现问题", "problems_found": True}})
    assert_error(response, 422, "validation_error", "rectification_department", "deadline_working_days")
    response = client.post(f"{API}/tasks/{inspection['id']}/complete", headers=auth("supervisor"),
                           json={"data": {"findings": "发现问题", "problems_found": True,
                                          "deadline_working_days": 2}})
    assert_error(response, 422, "validation_error", "rectification_department")
    assert snapshot(client, auth, case["id"]) == before


@pytest.mark.parametrize("user", ["dispatcher", "econ_it", "econ_it_leader", "optoelectronics_leader"])
def test_only_a_supervisor_may_create_an_onsite_case(client, auth, user):
    """Answer 403 to anyone but a supervisor creating an onsite case; create nothing."""
    assert_error(post_case(client, auth, user, mode="onsite"), 403, "forbidden")
    assert case_count(client, auth) == 0


# -- inspections on a running case ---------------------------------------------------------------

def test_repeated_inspections_run_beside_the_open_work_of_a_standard_case(client, auth, engine, clock):
    """Run two inspections beside handle_case; rectification goes to caidian; the case keeps its own lead."""
    case = referred_case(client, auth, lead="econ_it", deadline=5)
    case_id = case["id"]
    handle = open_task(case, "handle_case", "econ_it")
    lead, due = case["lead_department"], case["due_at"]
    leads = []  # the case's lead department after each step, checked at the end

    clock.advance(timedelta(hours=1))
    response = inspect(client, auth, case_id, note="第一次实地查办")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id"] == case_id and body["status"] == "open"
    assert open_names(body) == ["conduct_inspection", "handle_case"]
    assert body["due_at"] == due
    leads.append(body["lead_department"])
    assert open_task(body, "handle_case")["id"] == handle["id"]
    [requested] = [e for e in events(client, auth, case_id) if e["action"] == "inspection_requested"]
    assert requested["actor"] == "supervisor" and requested["data"]["note"] == "第一次实地查办"

    response = inspect(client, auth, case_id)
    assert response.status_code == 201, response.get_json()
    case = get_case(client, auth, case_id)
    first, second = open_tasks_named(case, "conduct_inspection")
    assert open_names(case) == ["conduct_inspection", "conduct_inspection", "handle_case"]
    assert {first["role"], second["role"]} == {"supervisor"}
    assert len([e for e in events(client, auth, case_id) if e["action"] == "inspection_requested"]) == 2

    # The first finds problems for caidian to rectify; the second finds nothing.
    case = work(client, auth, "supervisor", first["id"], problems("caidian", days=2))
    leads.append(case["lead_department"])
    rectify = open_task(case, "handle_case", "caidian")
    assert at(rectify["due_at"]) == engine.calendar.deadline_after(clock.now(), 2)
    assert [t["id"] for t in task_list(client, auth, "caidian", scope="department")] == [rectify["id"]]
    case = work(client, auth, "supervisor", second["id"], no_problems())
    assert sorted((t["name"], t["department"]) for t in case["open_tasks"]) == [
        ("handle_case", "caidian"), ("handle_case", "econ_it")]
    case = get_case(client, auth, case_id)
    leads.append(case["lead_department"])
    assert case["due_at"] == due and case["status"] == "open"

    # The main work goes on as usual: econ_it handles, the dispatcher reviews (still reviewed).
    case = work(client, auth, "econ_it", handle["id"], {"outcome": "done", "result": "已办结"})
    assert sorted((t["name"], t["department"]) for t in case["open_tasks"]) == [
        ("handle_case", "caidian"), ("review_feedback", "supervision_office")]
    assert case["due_at"] == due
    leads.append(case["lead_department"])
    case = work(client, auth, "dispatcher", open_task(case, "review_feedback")["id"], {"accepted": True})

    # The case may not close while the rectification and its reinspection are still open.
    assert case["status"] == "open", "case closed while an inspection's rectification was still open"
    assert [(t["name"], t["department"]) for t in case["open_tasks"]] == [("handle_case", "caidian")]
    leads.append(case["lead_department"])
    case = work(client, auth, "caidian", rectify["id"], {"outcome": "done", "result": "已整改"})
    assert open_names(case) == ["reinspect"] and case["status"] == "open"
    leads.append(case["lead_department"])
    case = work(client, auth, "supervisor", open_task(case, "reinspect")["id"], {"passed": True})
    assert case["status"] == "closed" and case["resolution"] == "completed"
    leads.append(case["lead_department"])
    # An inspection's rectification department never becomes the case's lead department.
    assert leads == [lead] * len(leads), leads


def test_inspection_beside_open_work_does_not_skip_the_main_feedback_review(client, auth):
    """Keep review_feedback for the main handling after an inspection that found nothing has finished."""
    case = referred_case(client, auth, lead="econ_it")
    response = inspect(client, auth, case["id"])
    assert response.status_code == 201, response.get_json()
    case = work(client, auth, "supervisor", open_task(response.get_json(), "conduct_inspection")["id"],
                no_problems())
    assert open_names(case) == ["handle_case"] and case["status"] == "open"
    case = work(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "已办结"})
    assert open_names(case) == ["review_feedback"] and case["status"] == "open"


@pytest.mark.parametrize("user", ["dispatcher", "econ_it", "econ_it_leader"])
def test_only_a_supervisor_may_request_an_inspection(client, auth, user):
    """Answer 403 to the dispatcher and to the lead department's users; change nothing."""
    case = referred_case(client, auth, lead="econ_it")
    before = snapshot(client, auth, case["id"])
    assert_error(inspect(client, auth, case["id"], user=user), 403, "forbidden")
    assert snapshot(client, auth, case["id"]) == before


def test_inspection_on_a_closed_case_is_a_conflict(client, auth):
    """Answer 409 to an inspection request on a closed case."""
    case = create_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan")
    case = work(client, auth, "hongshan", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "已办结"})
    assert case["status"] == "closed"
    before = snapshot(client, auth, case["id"])
    assert_error(inspect(client, auth, case["id"]), 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before


def test_inspection_request_with_unknown_field_is_refused(client, auth):
    """Answer 422 naming an unknown field of an inspection request."""
    case = referred_case(client, auth)
    before = snapshot(client, auth, case["id"])
    assert_error(inspect(client, auth, case["id"], urgent=True), 422, "validation_error", "urgent")
    assert snapshot(client, auth, case["id"]) == before


# -- urge 催办 ---------------------------------------------------------------------------------------

def test_urges_are_counted_recorded_and_notified(client, auth, clock):
    """Let dispatcher and supervisor urge three times: count 3, three case_urged events, notices each time."""
    case = referred_case(client, auth, lead="econ_it")
    case_id = case["id"]
    claim(client, auth, "econ_it", open_task(case, "handle_case")["id"])
    version = get_case(client, auth, case_id)["version"]
    urgers = [("dispatcher", "请本周内办结"), ("supervisor", "领导高度关注"), ("dispatcher", None)]
    for count, (user, message) in enumerate(urgers, start=1):
        clock.advance(timedelta(hours=1))
        response = urge(client, auth, case_id, user=user, **({"message": message} if message else {}))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["urge_count"] == count and body["version"] == version + count
        assert open_names(body) == ["handle_case"]
    case = get_case(client, auth, case_id)
    assert case["urge_count"] == 3 and case["status"] == "open"
    urged = [e for e in events(client, auth, case_id) if e["action"] == "case_urged"]
    assert [(e["actor"], e["data"]["message"], e["data"]["urge_count"]) for e in urged] == [
        ("dispatcher", "请本周内办结", 1), ("supervisor", "领导高度关注", 2), ("dispatcher", None, 3)]
    assert "请本周内办结" in urged[0]["label"]
    for user in ("econ_it", "econ_it_leader"):
        notices = inbox(client, auth, user, "urged")
        assert len(notices) == 3, user
        assert all(n["case_id"] == case_id and case["number"] in n["title"] for n in notices)
        assert "领导高度关注" in notices[1]["body"] and "第2次" in notices[1]["body"]
    for user in ("hongshan", "commerce_leader"):
        assert inbox(client, auth, user, "urged") == []


def test_urge_also_notifies_whoever_holds_an_open_task(client, auth):
    """Notify the current assignee of an open task besides the lead department's users."""
    case = referred_case(client, auth, lead="econ_it")
    response = inspect(client, auth, case["id"])
    assert response.status_code == 201
    claim(client, auth, "supervisor", open_task(response.get_json(), "conduct_inspection")["id"])
    assert urge(client, auth, case["id"], message="请尽快").status_code == 200
    [notice] = inbox(client, auth, "supervisor", "urged")
    assert notice["case_id"] == case["id"] and "请尽快" in notice["body"]
    assert inbox(client, auth, "dispatcher", "urged") == []
    assert len(inbox(client, auth, "econ_it", "urged")) == 1


@pytest.mark.parametrize("user", ["econ_it", "econ_it_leader", "optoelectronics_leader"])
def test_only_dispatcher_and_supervisor_may_urge(client, auth, user):
    """Answer 403 to a department user or task-force leader urging; nothing changes, nobody is told."""
    case = referred_case(client, auth, lead="econ_it")
    before = snapshot(client, auth, case["id"])
    assert_error(urge(client, auth, case["id"], user=user, message="越权催办"), 403, "forbidden")
    assert snapshot(client, auth, case["id"]) == before
    assert get_case(client, auth, case["id"])["urge_count"] == 0
    assert inbox(client, auth, "econ_it", "urged") == []


def test_urging_a_closed_case_is_a_conflict(client, auth):
    """Answer 409 to urging a closed case; its urge count stays."""
    case = create_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan")
    case = work(client, auth, "hongshan", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "已办结"})
    before = snapshot(client, auth, case["id"])
    assert_error(urge(client, auth, case["id"], user="supervisor"), 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before
    assert get_case(client, auth, case["id"])["urge_count"] == 0


def test_urge_with_unknown_field_is_refused(client, auth):
    """Answer 422 naming an unknown field of an urge; nothing changes."""
    case = referred_case(client, auth, lead="econ_it")
    before = snapshot(client, auth, case["id"])
    assert_error(urge(client, auth, case["id"], message="请办理", priority="high"),
                 422, "validation_error", "priority")
    assert snapshot(client, auth, case["id"]) == before
    assert inbox(client, auth, "econ_it") == []


# -- notifications -------------------------------------------------------------------------------

def test_reading_a_notification_marks_it_read_and_drops_the_unread_count(client, auth, clock):
    """List unread only with the unread count; mark one read; it leaves the unread list."""
    case = create_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan")
    assert urge(client, auth, case["id"], message="请尽快签收").status_code == 200
    page = notifications(client, auth, "hongshan", unread="true")
    assert page["unread"] == 2 and page["total"] == 2
    assert [n["kind"] for n in page["items"]] == ["urged", "reminder"]  # newest first
    reminder = page["items"][1]

    clock.advance(timedelta(minutes=30))
    response = client.post(f"{API}/notifications/{reminder['id']}/read", headers=auth("hongshan"))
    assert response.status_code == 200, response.get_json()
    read = response.get_json()
    assert read["id"] == reminder["id"] and at(read["read_at"]) == clock.now()

    unread = notifications(client, auth, "hongshan", unread="true")
    assert unread["unread"] == 1 and unread["total"] == 1
    assert [n["kind"] for n in unread["items"]] == ["urged"]
    everything = notifications(client, auth, "hongshan")
    assert everything["total"] == 2 and everything["unread"] == 1
    assert {n["id"]: n["read_at"] is not None for n in everything["items"]} == {
        reminder["id"]: True, unread["items"][0]["id"]: False}

    # Reading it again changes nothing; the leader's copy of the same notice is still unread.
    clock.advance(timedelta(minutes=30))
    again = client.post(f"{API}/notifications/{reminder['id']}/read", headers=auth("hongshan")).get_json()
    assert again["read_at"] == read["read_at"]
    assert notifications(client, auth, "hongshan_leader", unread="true")["unread"] == 2


def test_another_users_notification_cannot_be_read(client, auth):
    """Answer 404 to marking another user's notification read, and leave it unread."""
    create_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan")
    [notice] = inbox(client, auth, "hongshan")
    for user in ("hongshan_leader", "econ_it", "supervisor", "dispatcher"):
        assert_error(client.post(f"{API}/notifications/{notice['id']}/read", headers=auth(user)),
                     404, "not_found")
    assert_error(client.post(f"{API}/notifications/999999/read", headers=auth("hongshan")), 404, "not_found")
    assert inbox(client, auth, "hongshan")[0]["read_at"] is None
    assert notifications(client, auth, "hongshan", unread="true")["unread"] == 1


def test_users_only_ever_see_their_own_notifications(client, auth):
    """Keep each inbox to its owner: ids never overlap between users."""
    first = create_case(client, auth, "dispatcher", mode="reminder", lead_department="hongshan")
    create_case(client, auth, "dispatcher", mode="reminder", lead_department="qingshan")
    assert urge(client, auth, first["id"]).status_code == 200
    seen = {user: {n["id"] for n in inbox(client, auth, user)}
            for user in ("hongshan", "hongshan_leader", "qingshan", "qingshan_leader", "econ_it")}
    assert len(seen["hongshan"]) == 2 and len(seen["qingshan"]) == 1 and seen["econ_it"] == set()
    users = list(seen)
    for i, user in enumerate(users):
        for other in users[i + 1:]:
            assert not seen[user] & seen[other], (user, other)
    assert {n["case_id"] for n in inbox(client, auth, "qingshan")} != {first["id"]}


def test_notifications_need_a_token(client):
    """Answer 401 without a token."""
    assert_error(client.get(f"{API}/notifications"), 401, "unauthorized")


# -- who may create which mode ---------------------------------------------------------------------

@pytest.mark.parametrize("user", ["econ_it", "econ_it_leader", "dispatcher"])
def test_only_supervisor_or_taskforce_leader_may_create_a_direct_case(client, auth, user):
    """Answer 403 to a department user or the dispatcher creating a direct case; create nothing."""
    response = post_case(client, auth, user, mode="direct", lead_department="econ_it",
                         deadline_working_days=3)
    assert_error(response, 403, "forbidden")
    assert case_count(client, auth) == 0


@pytest.mark.parametrize("user", ["supervisor", "econ_it", "optoelectronics_leader"])
def test_only_the_dispatcher_may_create_a_reminder_case(client, auth, user):
    """Answer 403 to anyone but the dispatcher creating a reminder case."""
    assert_error(post_case(client, auth, user, mode="reminder", lead_department="hongshan"), 403, "forbidden")
    assert case_count(client, auth) == 0
    assert inbox(client, auth, "hongshan") == []


@pytest.mark.parametrize("mode, user", [("reminder", "dispatcher"), ("direct", "supervisor")])
def test_modes_that_skip_triage_need_a_lead_department(client, auth, mode, user):
    """Answer 422 naming lead_department when a reminder or direct case has none."""
    assert_error(post_case(client, auth, user, mode=mode), 422, "validation_error", "lead_department")
    assert_error(post_case(client, auth, user, mode=mode, lead_department="nowhere"),
                 422, "validation_error", "lead_department")
    assert case_count(client, auth) == 0


def test_unknown_mode_is_named(client, auth):
    """Answer 422 naming mode for a mode that does not exist."""
    assert_error(post_case(client, auth, "supervisor", mode="express"), 422, "validation_error", "mode")
    assert case_count(client, auth) == 0
