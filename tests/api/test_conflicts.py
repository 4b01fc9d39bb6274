"""Refused task commands answer 409 conflict and leave the case exactly as it was."""

from __future__ import annotations

from tests.api.helpers import (
    API,
    assert_error,
    claim,
    complete,
    create_case,
    get_case,
    open_task,
    referred_case,
    snapshot,
)

DONE = {"outcome": "done", "result": "已办结"}


def post_complete(client, auth, user, task_id, data):  # type: ignore[no-untyped-def]
    """POST /tasks/{id}/complete and return the raw response."""
    return client.post(f"{API}/tasks/{task_id}/complete", json={"data": data}, headers=auth(user))


def test_second_claim_by_another_member_of_the_department_is_a_conflict(client, auth):
    """Answer 409 conflict to econ_it_leader claiming a task econ_it already holds."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    assert claim(client, auth, "econ_it", handle["id"])["assignee"] == "econ_it"
    before = snapshot(client, auth, case["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/claim", headers=auth("econ_it_leader"))
    assert_error(response, 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before
    task = open_task(get_case(client, auth, case["id"]), "handle_case")
    assert (task["state"], task["assignee"]) == ("claimed", "econ_it")


def test_claiming_a_task_i_already_hold_changes_nothing(client, auth):
    """Answer 200 to a repeated claim by the holder without a second claim event."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    claim(client, auth, "econ_it", handle["id"])
    before = snapshot(client, auth, case["id"])
    assert claim(client, auth, "econ_it", handle["id"])["assignee"] == "econ_it"
    assert snapshot(client, auth, case["id"]) == before


def test_completing_an_unclaimed_task_is_a_conflict(client, auth):
    """Answer 409 conflict to completing a ready task that nobody has claimed."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    before = snapshot(client, auth, case["id"])
    assert_error(post_complete(client, auth, "econ_it", handle["id"], DONE), 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before


def test_completing_a_completed_task_is_a_conflict(client, auth):
    """Answer 409 conflict to completing refer_case a second time."""
    case = create_case(client, auth)
    refer_task = open_task(case, "refer_case")
    claim(client, auth, "dispatcher", refer_task["id"])
    data = {"decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5}
    complete(client, auth, "dispatcher", refer_task["id"], data)
    before = snapshot(client, auth, case["id"])
    assert_error(post_complete(client, auth, "dispatcher", refer_task["id"], data), 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before
    assert_error(client.post(f"{API}/tasks/{refer_task['id']}/claim", headers=auth("dispatcher")),
                 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before


def test_completing_a_task_claimed_by_someone_else_is_a_conflict(client, auth):
    """Answer 409 conflict to econ_it_leader completing the task econ_it holds."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    claim(client, auth, "econ_it", handle["id"])
    before = snapshot(client, auth, case["id"])
    assert_error(post_complete(client, auth, "econ_it_leader", handle["id"], DONE), 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before
    after = complete(client, auth, "econ_it", handle["id"], DONE)
    assert after["version"] == before["version"] + 1


def test_completing_a_cancelled_task_is_a_conflict(client, auth):
    """Answer 409 conflict to the assisting department completing its task after the case was returned."""
    case = referred_case(client, auth, lead="econ_it", co=["hongshan"])
    assist = open_task(case, "assist_case")
    claim(client, auth, "hongshan", assist["id"])
    handle = open_task(case, "handle_case")
    claim(client, auth, "econ_it", handle["id"])
    complete(client, auth, "econ_it", handle["id"], {"outcome": "return", "reason": "非本单位职责"})
    before = snapshot(client, auth, case["id"])
    response = post_complete(client, auth, "hongshan", assist["id"], {"result": "已协办"})
    assert_error(response, 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before


def test_unclaiming_a_ready_task_is_a_conflict(client, auth):
    """Answer 409 conflict to unclaiming a task nobody holds."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    before = snapshot(client, auth, case["id"])
    assert_error(client.post(f"{API}/tasks/{handle['id']}/unclaim", headers=auth("econ_it")), 409, "conflict")
    assert snapshot(client, auth, case["id"]) == before


def test_unclaiming_someone_elses_task_is_forbidden(client, auth):
    """Refuse with 403 a handler releasing a task another handler holds."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    claim(client, auth, "econ_it_leader", handle["id"])
    before = snapshot(client, auth, case["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/unclaim", headers=auth("econ_it"))
    assert_error(response, 403, "forbidden")
    assert snapshot(client, auth, case["id"]) == before
