"""Malformed and invalid requests: 400 / 422 with the offending fields named, and nothing changed."""

from __future__ import annotations

import pytest

from tests.api.helpers import (
    API,
    assert_error,
    claim,
    create_case,
    open_task,
    referred_case,
    snapshot,
    work,
)

REFER = {"decision": "refer", "lead_department": "econ_it", "co_departments": ["hongshan"],
         "deadline_working_days": 5}
NEW_CASE = {"title": "开发区道路积水", "description": "暴雨后道路积水影响企业通勤。", "taskforce": "optoelectronics"}


def claimed_refer_task(client, auth):  # type: ignore[no-untyped-def]
    """A new case whose refer_case the dispatcher has claimed: (case id, task id)."""
    case = create_case(client, auth)
    task = open_task(case, "refer_case")
    claim(client, auth, "dispatcher", task["id"])
    return case["id"], task["id"]


def claimed_handle_task(client, auth):  # type: ignore[no-untyped-def]
    """A referred case whose handle_case econ_it has claimed: (case id, task id)."""
    case = referred_case(client, auth, lead="econ_it")
    task = open_task(case, "handle_case")
    claim(client, auth, "econ_it", task["id"])
    return case["id"], task["id"]


def claimed_review_task(client, auth):  # type: ignore[no-untyped-def]
    """A case at 反馈审核 with review_feedback claimed by the dispatcher: (case id, task id)."""
    case = referred_case(client, auth, lead="econ_it")
    case = work(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "done", "result": "完成"})
    task = open_task(case, "review_feedback")
    claim(client, auth, "dispatcher", task["id"])
    return case["id"], task["id"]


def refused_complete(client, auth, user, case_id, task_id, body,  # type: ignore[no-untyped-def]
                     status, code, *fields):
    """POST a complete that must be refused; assert the error and that the case is unchanged."""
    before = snapshot(client, auth, case_id)
    response = client.post(f"{API}/tasks/{task_id}/complete", json=body, headers=auth(user))
    error = assert_error(response, status, code, *fields)
    assert snapshot(client, auth, case_id) == before
    return error


def case_count(client, auth):  # type: ignore[no-untyped-def]
    """How many cases the dispatcher sees."""
    return client.get(f"{API}/cases", headers=auth("dispatcher")).get_json()["total"]


def refused_create(client, auth, body, *fields):  # type: ignore[no-untyped-def]
    """POST a case that must be refused with 422 naming fields; assert no case was created."""
    before = case_count(client, auth)
    response = client.post(f"{API}/cases", json=body, headers=auth("dispatcher"))
    error = assert_error(response, 422, "validation_error", *fields)
    assert case_count(client, auth) == before
    return error


def test_malformed_json_on_complete_is_a_bad_request(client, auth):
    """Answer a complete whose body is not JSON with 400 bad_request."""
    case_id, task_id = claimed_refer_task(client, auth)
    before = snapshot(client, auth, case_id)
    response = client.post(f"{API}/tasks/{task_id}/complete", data='{"data": {"decision": ',
                           content_type="application/json", headers=auth("dispatcher"))
    assert_error(response, 400, "bad_request")
    assert snapshot(client, auth, case_id) == before


def test_malformed_json_on_create_is_a_bad_request(client, auth):
    """Answer a case creation whose body is not JSON with 400 bad_request and create nothing."""
    before = case_count(client, auth)
    response = client.post(f"{API}/cases", data="{title: 'x'}", content_type="application/json",
                           headers=auth("dispatcher"))
    assert_error(response, 400, "bad_request")
    assert case_count(client, auth) == before


def test_unknown_top_level_field_is_named(client, auth):
    """Refuse a complete body with a field besides data, naming it."""
    case_id, task_id = claimed_refer_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id, {"data": REFER, "urgent": True},
                     422, "validation_error", "urgent")


def test_missing_data_is_named(client, auth):
    """Refuse a complete body without data, naming data."""
    case_id, task_id = claimed_refer_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id, {}, 422, "validation_error", "data")


def test_unknown_form_field_is_named(client, auth):
    """Refuse form data with a field the form does not have, naming it."""
    case_id, task_id = claimed_refer_task(client, auth)
    error = refused_complete(client, auth, "dispatcher", case_id, task_id,
                             {"data": REFER | {"priority": "high"}}, 422, "validation_error", "priority")
    assert set(error["errors"]) == {"priority"}


@pytest.mark.parametrize("field, value", [
    ("deadline_working_days", "5"),
    ("deadline_working_days", 0),
    ("deadline_working_days", 2.5),
    ("decision", 3),
    ("decision", "forward"),
    ("co_departments", "hongshan"),
    ("lead_department", 7),
])
def test_wrong_type_in_refer_form_is_named(client, auth, field, value):
    """Refuse a refer_case field of the wrong type or out of range, naming it."""
    case_id, task_id = claimed_refer_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id, {"data": REFER | {field: value}},
                     422, "validation_error", field)


@pytest.mark.parametrize("value", ["yes", 1, "true", None])
def test_non_boolean_accepted_is_named(client, auth, value):
    """Refuse review_feedback's accepted unless it is JSON true or false."""
    case_id, task_id = claimed_review_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id,
                     {"data": {"accepted": value}}, 422, "validation_error", "accepted")


def test_non_boolean_approved_is_named(client, auth):
    """Refuse approve_extension's approved given as a string."""
    case_id, task_id = claimed_handle_task(client, auth)
    case = work(client, auth, "econ_it", task_id,
                {"outcome": "extend", "reason": "需要时间", "extension_working_days": 2})
    approve = open_task(case, "approve_extension")
    claim(client, auth, "dispatcher", approve["id"])
    refused_complete(client, auth, "dispatcher", case_id, approve["id"],
                     {"data": {"approved": "yes"}}, 422, "validation_error", "approved")


def test_data_that_is_not_an_object_is_named(client, auth):
    """Refuse data given as a list, naming data."""
    case_id, task_id = claimed_refer_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id, {"data": ["refer"]},
                     422, "validation_error", "data")


@pytest.mark.parametrize("data, missing", [
    ({"outcome": "done"}, ["result"]),
    ({"outcome": "done", "result": "   "}, ["result"]),
    ({"outcome": "return"}, ["reason"]),
    ({"outcome": "extend", "reason": "需协调"}, ["extension_working_days"]),
    ({"outcome": "extend", "extension_working_days": 2}, ["reason"]),
    ({"outcome": "extend"}, ["reason", "extension_working_days"]),
    ({"result": "完成"}, ["outcome"]),
])
def test_missing_conditional_handle_fields_are_named(client, auth, data, missing):
    """Refuse handle_case data lacking the fields its outcome requires, naming each."""
    case_id, task_id = claimed_handle_task(client, auth)
    refused_complete(client, auth, "econ_it", case_id, task_id, {"data": data},
                     422, "validation_error", *missing)


@pytest.mark.parametrize("data, missing", [
    ({"decision": "refer"}, ["lead_department", "deadline_working_days"]),
    ({"decision": "refer", "lead_department": "econ_it"}, ["deadline_working_days"]),
    ({"decision": "refer", "deadline_working_days": 5}, ["lead_department"]),
    ({"decision": "reject"}, ["reason"]),
    ({"decision": "reject", "reason": ""}, ["reason"]),
    ({}, ["decision"]),
])
def test_missing_conditional_refer_fields_are_named(client, auth, data, missing):
    """Refuse refer_case data lacking the fields its decision requires, naming each."""
    case_id, task_id = claimed_refer_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id, {"data": data},
                     422, "validation_error", *missing)


@pytest.mark.parametrize("lead", ["nowhere", "supervision_office", ""])
def test_unknown_lead_department_is_refused(client, auth, lead):
    """Refuse referral to a department code that cannot lead a case, naming lead_department."""
    case_id, task_id = claimed_refer_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id,
                     {"data": REFER | {"lead_department": lead}}, 422, "validation_error", "lead_department")


def test_unknown_co_department_is_refused(client, auth):
    """Refuse a co-department code that does not exist, naming co_departments."""
    case_id, task_id = claimed_refer_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id,
                     {"data": REFER | {"co_departments": ["hongshan", "atlantis"]}},
                     422, "validation_error", "co_departments")


def test_lead_department_also_among_co_departments_is_refused(client, auth):
    """Refuse a referral naming the lead department as a co-department too."""
    case_id, task_id = claimed_refer_task(client, auth)
    refused_complete(client, auth, "dispatcher", case_id, task_id,
                     {"data": REFER | {"co_departments": ["hongshan", "econ_it"]}},
                     422, "validation_error", "co_departments")


def test_create_case_with_unknown_taskforce_is_named(client, auth):
    """Refuse a case for a task force that does not exist, naming taskforce."""
    refused_create(client, auth, NEW_CASE | {"taskforce": "space_industry"}, "taskforce")


def test_create_case_without_title_is_named(client, auth):
    """Refuse a case without a title, naming title."""
    body = dict(NEW_CASE)
    del body["title"]
    refused_create(client, auth, body, "title")
    refused_create(client, auth, NEW_CASE | {"title": ""}, "title")


def test_create_case_with_unknown_field_is_named(client, auth):
    """Refuse a case with a field the contract does not know, naming it."""
    refused_create(client, auth, NEW_CASE | {"priority": "high"}, "priority")


def test_create_case_with_string_deadline_is_named(client, auth):
    """Refuse deadline_working_days given as a string when creating a case."""
    refused_create(client, auth, NEW_CASE | {"deadline_working_days": "5"}, "deadline_working_days")


def test_create_case_with_unknown_lead_or_co_department_is_named(client, auth):
    """Refuse unknown departments and a lead that is also a co-department when creating a case."""
    refused_create(client, auth, NEW_CASE | {"lead_department": "nowhere"}, "lead_department")
    refused_create(client, auth, NEW_CASE | {"co_departments": ["atlantis"]}, "co_departments")
    refused_create(client, auth, NEW_CASE | {"lead_department": "econ_it", "co_departments": ["econ_it"]},
                   "co_departments")


def test_create_case_with_unknown_mode_is_named(client, auth):
    """Refuse a case in a mode that does not exist, naming mode."""
    refused_create(client, auth, NEW_CASE | {"mode": "teleport"}, "mode")


def test_assign_to_unknown_or_foreign_user_is_refused(client, auth):
    """Refuse assigning to an unknown user or one outside the task's department, naming username."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    for username in ("nobody", "hongshan"):
        before = snapshot(client, auth, case["id"])
        response = client.post(f"{API}/tasks/{handle['id']}/assign", json={"username": username},
                               headers=auth("econ_it_leader"))
        assert_error(response, 422, "validation_error", "username")
        assert snapshot(client, auth, case["id"]) == before
