"""The closed loop (supervision_loop, mode standard) driven end to end through the HTTP API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tests.api.helpers import (
    API,
    actions,
    assert_error,
    claim,
    complete,
    create_case,
    events,
    get_case,
    open_names,
    open_task,
    referred_case,
    snapshot,
    task_list,
    work,
)
from tests.conftest import T0

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def at(value: str) -> datetime:
    """Parse an API timestamp."""
    return datetime.fromisoformat(value)


def step(client, auth, user, task_id, data):  # type: ignore[no-untyped-def]
    """Claim and complete a task, asserting the case's version rises by exactly one."""
    task = claim(client, auth, user, task_id)
    before = get_case(client, auth, task["case_id"])["version"]
    after = complete(client, auth, user, task_id, data)
    assert after["version"] == before + 1
    assert after == get_case(client, auth, after["id"])
    return after


def test_case_runs_the_whole_closed_loop_through_the_api(client, auth, engine, clock):
    """Run a case through referral, extension, return, assist, rework and acceptance."""
    calendar = engine.calendar
    case = create_case(client, auth, title="汽车零部件企业融资难")
    case_id = case["id"]
    assert case["status"] == "open" and case["mode"] == "standard"
    assert case["closed_at"] is None and case["resolution"] is None
    assert open_names(case) == ["refer_case"]
    refer_task = open_task(case, "refer_case")
    assert refer_task["department"] == "supervision_office" and refer_task["state"] == "ready"

    # 转办: econ_it leads, hongshan assists, 5 working days.
    clock.advance(timedelta(hours=1))
    case = step(client, auth, "dispatcher", refer_task["id"], {
        "decision": "refer", "lead_department": "econ_it", "co_departments": ["hongshan"],
        "deadline_working_days": 5, "instructions": "请经信局牵头办理。"})
    due = calendar.deadline_after(clock.now(), 5)
    assert case["lead_department"] == "econ_it" and case["co_departments"] == ["hongshan"]
    assert at(case["due_at"]) == due
    assert open_names(case) == ["assist_case", "handle_case"]
    assist = open_task(case, "assist_case")
    assert assist["department"] == "hongshan"

    # The lead department sees 处置 in its department worklist.
    department_tasks = task_list(client, auth, "econ_it", scope="department")
    handle = open_task(case, "handle_case")
    assert handle["department"] == "econ_it" and at(handle["due_at"]) == due
    assert [(t["id"], t["state"]) for t in department_tasks if t["case_id"] == case_id] == [
        (handle["id"], "ready")]

    # 申请延期 2 working days; the dispatcher approves: the deadline moves on by 2 working days.
    clock.advance(timedelta(hours=1))
    case = step(client, auth, "econ_it", handle["id"], {
        "outcome": "extend", "reason": "需协调用地指标", "extension_working_days": 2})
    assert open_names(case) == ["approve_extension", "assist_case"]
    approve = open_task(case, "approve_extension")
    assert approve["department"] == "supervision_office"
    case = step(client, auth, "dispatcher", approve["id"], {"approved": True, "comment": "同意"})
    extended = calendar.extend_deadline(due, 2)
    assert extended > due
    assert at(case["due_at"]) == extended
    assert open_names(case) == ["assist_case", "handle_case"]
    assert open_task(case, "assist_case")["id"] == assist["id"]
    handle = open_task(case, "handle_case")
    assert at(handle["due_at"]) == extended

    # 退回: back to 转办, the assist task is cancelled.
    case = step(client, auth, "econ_it", handle["id"], {"outcome": "return", "reason": "不属于本单位职责"})
    assert open_names(case) == ["refer_case"]
    assert case["return_count"] == 1
    cancelled = task_list(client, auth, "hongshan", state="cancelled")
    assert [t["id"] for t in cancelled] == [assist["id"]]
    assert task_list(client, auth, "hongshan") == []

    # Re-refer; econ_it reports done, but review waits for the assisting department.
    clock.advance(timedelta(days=1))
    case = step(client, auth, "dispatcher", open_task(case, "refer_case")["id"], {
        "decision": "refer", "lead_department": "econ_it", "co_departments": ["hongshan"],
        "deadline_working_days": 5})
    assert at(case["due_at"]) == calendar.deadline_after(clock.now(), 5)
    assert open_names(case) == ["assist_case", "handle_case"]
    assist = open_task(case, "assist_case")
    case = step(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "已完成用地审批"})
    assert open_names(case) == ["assist_case"]
    assert task_list(client, auth, "dispatcher", name="review_feedback") == []
    case = step(client, auth, "hongshan", assist["id"], {"result": "已配合完成现场核查"})
    assert open_names(case) == ["review_feedback"]

    # 反馈审核 not accepted: handle_case again, without a new assist task.
    case = step(client, auth, "dispatcher", open_task(case, "review_feedback")["id"],
                {"accepted": False, "comment": "请补充佐证材料"})
    assert open_names(case) == ["handle_case"]
    assert case["rework_count"] == 1
    case = step(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "已补充佐证材料"})
    assert open_names(case) == ["review_feedback"]

    # Accepted: 办结.
    clock.advance(timedelta(hours=2))
    case = step(client, auth, "dispatcher", open_task(case, "review_feedback")["id"],
                {"accepted": True, "comment": "办结"})
    assert case["status"] == "closed"
    assert case["resolution"] == "completed"
    assert at(case["closed_at"]) == clock.now()
    assert case["open_tasks"] == []

    timeline = events(client, auth, case_id)
    assert actions(timeline) == [
        "case_created", "task_created",
        "task_claimed", "case_referred", "task_created", "task_created",
        "task_claimed", "extension_requested", "task_created",
        "task_claimed", "extension_approved", "task_created",
        "task_claimed", "case_returned", "task_cancelled", "task_created",
        "task_claimed", "case_referred", "task_created", "task_created",
        "task_claimed", "result_submitted",
        "task_claimed", "assist_submitted", "task_created",
        "task_claimed", "feedback_rejected", "task_created",
        "task_claimed", "result_submitted", "task_created",
        "task_claimed", "feedback_accepted", "case_closed",
    ]
    assert [e["id"] for e in timeline] == sorted(e["id"] for e in timeline)
    assert [at(e["at"]) for e in timeline] == sorted(at(e["at"]) for e in timeline)
    assert all(e["case_id"] == case_id and CHINESE.search(e["label"]) for e in timeline)
    assert all(e["at"].endswith("+00:00") for e in timeline)
    by_action = {}
    for event in timeline:
        by_action.setdefault(event["action"], []).append(event)

    created = by_action["case_created"][0]
    assert created["actor"] == "dispatcher" and created["data"]["title"] == "汽车零部件企业融资难"
    referred = by_action["case_referred"][0]
    assert referred["actor"] == "dispatcher" and referred["task_id"] == refer_task["id"]
    assert "市经信局" in referred["label"] and "洪山区" in referred["label"]
    assert referred["data"]["decision"] == "refer"
    assert referred["data"]["lead_department"] == "econ_it"
    assert referred["data"]["co_departments"] == ["hongshan"]
    assert referred["data"]["deadline_working_days"] == 5
    assert referred["data"]["instructions"] == "请经信局牵头办理。"
    requested = by_action["extension_requested"][0]
    assert requested["actor"] == "econ_it"
    assert requested["data"]["reason"] == "需协调用地指标"
    assert requested["data"]["extension_working_days"] == 2
    assert by_action["extension_approved"][0]["data"]["approved"] is True
    returned = by_action["case_returned"][0]
    assert returned["actor"] == "econ_it" and returned["data"]["reason"] == "不属于本单位职责"
    assert "不属于本单位职责" in returned["label"]
    cancel = by_action["task_cancelled"][0]
    assert cancel["actor"] == "system" and cancel["task_id"] != returned["task_id"]
    assist_event = by_action["assist_submitted"][0]
    assert assist_event["actor"] == "hongshan" and assist_event["data"]["result"] == "已配合完成现场核查"
    assert [e["data"]["result"] for e in by_action["result_submitted"]] == ["已完成用地审批", "已补充佐证材料"]
    rejected = by_action["feedback_rejected"][0]
    assert rejected["actor"] == "dispatcher"
    assert rejected["data"]["accepted"] is False and rejected["data"]["comment"] == "请补充佐证材料"
    assert by_action["feedback_accepted"][0]["data"]["accepted"] is True
    closed = by_action["case_closed"][0]
    assert closed["actor"] == "system" and closed["data"]["resolution"] == "completed"
    assert closed["label"] == "办结"
    claims = by_action["task_claimed"]
    assert [e["actor"] for e in claims][:3] == ["dispatcher", "econ_it", "dispatcher"]


def test_dispatcher_rejects_a_case_at_triage(client, auth, clock):
    """Close a case as rejected when the dispatcher decides not to accept it."""
    case = create_case(client, auth)
    clock.advance(timedelta(minutes=30))
    task = open_task(case, "refer_case")
    claim(client, auth, "dispatcher", task["id"])
    closed = complete(client, auth, "dispatcher", task["id"],
                      {"decision": "reject", "reason": "不属于督办范围"})
    assert closed["status"] == "closed"
    assert closed["resolution"] == "rejected"
    assert at(closed["closed_at"]) == clock.now()
    assert closed["open_tasks"] == []
    assert closed["version"] == case["version"] + 1
    timeline = events(client, auth, case["id"])
    assert actions(timeline) == [
        "case_created", "task_created", "task_claimed", "case_rejected", "case_closed"]
    assert timeline[3]["data"]["reason"] == "不属于督办范围" and "不属于督办范围" in timeline[3]["label"]
    assert timeline[4]["data"] == {"resolution": "rejected"}
    assert task_list(client, auth, "dispatcher", case_id=case["id"]) == []


def test_refused_extension_keeps_the_deadline(client, auth, clock):
    """Send the case back to handling with the same due date when the extension is refused."""
    case = referred_case(client, auth)
    due = case["due_at"]
    case = work(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "extend", "reason": "材料未齐", "extension_working_days": 3})
    clock.advance(timedelta(hours=3))
    case = work(client, auth, "dispatcher", open_task(case, "approve_extension")["id"],
                {"approved": False, "comment": "请按期完成"})
    assert open_names(case) == ["handle_case"]
    assert case["due_at"] == due
    handle = open_task(case, "handle_case")
    assert handle["due_at"] == due and handle["state"] == "ready" and handle["assignee"] is None
    refused = [e for e in events(client, auth, case["id"]) if e["action"] == "extension_refused"]
    assert len(refused) == 1 and refused[0]["data"]["approved"] is False
    assert refused[0]["data"]["comment"] == "请按期完成"


def test_department_leader_assigns_a_task_to_a_member(client, auth):
    """Let econ_it_leader give the handling task to econ_it, who can then complete it."""
    case = referred_case(client, auth)
    handle = open_task(case, "handle_case")
    detail = client.get(f"{API}/tasks/{handle['id']}", headers=auth("econ_it_leader")).get_json()
    assert "assign" in detail["actions"]
    response = client.post(f"{API}/tasks/{handle['id']}/assign", json={"username": "econ_it"},
                           headers=auth("econ_it_leader"))
    assert response.status_code == 200, response.get_json()
    assigned = response.get_json()
    assert assigned["assignee"] == "econ_it" and assigned["state"] == "claimed"
    assert [t["id"] for t in task_list(client, auth, "econ_it", scope="mine")] == [handle["id"]]
    last = events(client, auth, case["id"])[-1]
    assert last["action"] == "task_assigned" and last["actor"] == "econ_it_leader"
    assert last["data"]["assignee"] == "econ_it"
    after = complete(client, auth, "econ_it", handle["id"], {"outcome": "done", "result": "已办结"})
    assert open_names(after) == ["review_feedback"]


def test_handler_cannot_assign_a_task(client, auth):
    """Refuse assignment by a plain handler with 403 and change nothing."""
    case = referred_case(client, auth)
    handle = open_task(case, "handle_case")
    before = snapshot(client, auth, case["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/assign", json={"username": "econ_it"},
                           headers=auth("econ_it"))
    assert_error(response, 403, "forbidden")
    assert snapshot(client, auth, case["id"]) == before


def test_unclaim_returns_the_task_to_ready(client, auth):
    """Give a claimed task back so another member of the department can claim it."""
    case = referred_case(client, auth)
    handle = open_task(case, "handle_case")
    claim(client, auth, "econ_it", handle["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/unclaim", headers=auth("econ_it"))
    assert response.status_code == 200, response.get_json()
    released = response.get_json()
    assert released["state"] == "ready" and released["assignee"] is None
    assert open_task(get_case(client, auth, case["id"]), "handle_case")["state"] == "ready"
    assert task_list(client, auth, "econ_it", scope="mine") == []
    last = events(client, auth, case["id"])[-1]
    assert last["action"] == "task_unclaimed" and last["actor"] == "econ_it"
    assert claim(client, auth, "econ_it_leader", handle["id"])["assignee"] == "econ_it_leader"


def test_unclaim_event_records_the_previous_assignee(client, auth):
    """Record who held the task in the task_unclaimed event."""
    case = referred_case(client, auth)
    handle = open_task(case, "handle_case")
    claim(client, auth, "econ_it", handle["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/unclaim", headers=auth("econ_it_leader"))
    assert response.status_code == 200, response.get_json()
    last = events(client, auth, case["id"])[-1]
    assert last["action"] == "task_unclaimed" and last["actor"] == "econ_it_leader"
    assert last["data"] == {"previous_assignee": "econ_it"}


def test_assign_event_records_the_previous_assignee(client, auth):
    """Record the new and the previous assignee in the task_assigned event."""
    case = referred_case(client, auth)
    handle = open_task(case, "handle_case")
    claim(client, auth, "econ_it_leader", handle["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/assign", json={"username": "econ_it"},
                           headers=auth("econ_it_leader"))
    assert response.status_code == 200, response.get_json()
    last = events(client, auth, case["id"])[-1]
    assert last["action"] == "task_assigned"
    assert last["data"] == {"assignee": "econ_it", "previous_assignee": "econ_it_leader"}


def test_refer_task_shows_its_form_with_choices_and_prefilled_values(client, auth):
    """Describe refer_case's fields with choices and prefill the task force's lead department."""
    case = create_case(client, auth, taskforce="health_biotech")
    task = open_task(case, "refer_case")
    response = client.get(f"{API}/tasks/{task['id']}", headers=auth("dispatcher"))
    assert response.status_code == 200, response.get_json()
    detail = response.get_json()
    assert detail["id"] == task["id"] and detail["name"] == "refer_case" and detail["state"] == "ready"
    form = {f["name"]: f for f in detail["form"]}
    assert set(form) == {"decision", "lead_department", "co_departments", "deadline_working_days",
                         "instructions", "reason"}
    assert form["decision"]["required"] is True
    assert [c["value"] for c in form["decision"]["choices"]] == ["refer", "reject"]
    assert {c["label"] for c in form["decision"]["choices"]} == {"转办", "不予受理"}
    departments = {c["value"]: c["label"] for c in form["lead_department"]["choices"]}
    assert departments["econ_it"] == "市经信局" and departments["hongshan"] == "洪山区"
    assert "supervision_office" not in departments
    assert form["lead_department"]["required_when"] == {"decision": ["refer"]}
    assert form["reason"]["required_when"] == {"decision": ["reject"]}
    assert form["deadline_working_days"]["type"] == "integer"
    assert detail["values"] == {"lead_department": "development_reform", "co_departments": []}
    assert detail["actions"] == ["claim", "assign"]


def test_refer_task_prefills_what_the_case_was_created_with(client, auth):
    """Start the refer form from the lead, co-departments and deadline given at creation."""
    case = create_case(client, auth, lead_department="hongshan", co_departments=["qingshan"],
                       deadline_working_days=3)
    task = open_task(case, "refer_case")
    detail = client.get(f"{API}/tasks/{task['id']}", headers=auth("dispatcher")).get_json()
    assert detail["values"] == {"lead_department": "hongshan", "co_departments": ["qingshan"],
                                "deadline_working_days": 3}


def test_handle_task_shows_its_outcome_choices(client, auth):
    """Describe handle_case's outcome choices and conditional fields."""
    case = referred_case(client, auth)
    handle = open_task(case, "handle_case")
    detail = client.get(f"{API}/tasks/{handle['id']}", headers=auth("econ_it")).get_json()
    form = {f["name"]: f for f in detail["form"]}
    assert [c["value"] for c in form["outcome"]["choices"]] == ["done", "return", "extend"]
    assert form["result"]["required_when"] == {"outcome": ["done"]}
    assert form["extension_working_days"]["required_when"] == {"outcome": ["extend"]}
    assert detail["actions"] == ["claim"]


def test_complete_answers_the_case_after_the_step(client, auth):
    """Answer complete with the case as it stands after the step, open tasks included."""
    case = create_case(client, auth)
    task = open_task(case, "refer_case")
    claim(client, auth, "dispatcher", task["id"])
    response = client.post(f"{API}/tasks/{task['id']}/complete", headers=auth("dispatcher"), json={
        "data": {"decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5}})
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == case["id"]
    assert body["version"] == case["version"] + 1
    assert open_names(body) == ["handle_case"]
    assert body["open_tasks"][0]["department"] == "econ_it"
    assert body == get_case(client, auth, case["id"])


def test_case_version_rises_by_one_per_completed_step(client, auth):
    """Bump the case version by exactly one for each completed task, and not on claim."""
    case = create_case(client, auth)
    versions = [case["version"]]
    task = open_task(case, "refer_case")
    claim(client, auth, "dispatcher", task["id"])
    assert get_case(client, auth, case["id"])["version"] == versions[-1]
    case = complete(client, auth, "dispatcher", task["id"], {
        "decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5})
    versions.append(case["version"])
    case = work(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "完成"})
    versions.append(case["version"])
    case = work(client, auth, "dispatcher", open_task(case, "review_feedback")["id"], {"accepted": True})
    versions.append(case["version"])
    assert versions == [versions[0] + i for i in range(4)]
    assert case["status"] == "closed"


def test_created_case_starts_at_refer_case(client, auth):
    """Create a case as 问题收集: 201, open, with refer_case ready for the office."""
    response = client.post(f"{API}/cases", headers=auth("econ_it"), json={
        "title": "园区供电不稳", "description": "企业反映频繁停电。", "taskforce": "optoelectronics",
        "source": "12345热线"})
    assert response.status_code == 201, response.get_json()
    case = response.get_json()
    assert case["created_by"] == "econ_it" and case["source"] == "12345热线"
    assert at(case["created_at"]) == T0
    assert case["number"].startswith("DB2026-")
    assert open_names(case) == ["refer_case"]
    assert case["open_tasks"][0]["role"] == "dispatcher"
    assert actions(events(client, auth, case["id"])) == ["case_created", "task_created"]


def test_the_diagram_shows_where_the_case_stands(client, auth) -> None:  # type: ignore[no-untyped-def]
    """Answer the BPMN document, the open call activity in the mode's process, the open task in its own."""
    case = referred_case(client, auth)
    response = client.get(f"{API}/cases/{case['id']}/diagram", headers=auth("econ_it"))
    assert response.status_code == 200
    diagram = response.get_json()
    assert diagram["process_id"] == "supervision_loop"
    assert '<bpmn:process id="supervision_loop"' in diagram["bpmn_xml"]
    assert diagram["elements"]["supervision_loop"]["current"] == ["handling"]
    assert "refer_case" in diagram["elements"]["case_referral"]["completed"]
    assert "handle_case" in diagram["elements"]["case_handling"]["current"]
    hidden = client.get(f"{API}/cases/{case['id']}/diagram", headers=auth("hongshan"))
    assert hidden.status_code == 404
