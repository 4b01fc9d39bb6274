"""Who sees what: departments, the supervisor, task force leaders, and the worklist scopes."""

from __future__ import annotations

from tests.api.helpers import (
    API,
    assert_error,
    claim,
    complete,
    create_case,
    get_case,
    open_task,
    refer,
    referred_case,
    snapshot,
    task_list,
    work,
)


def case_ids(client, auth, user, **query):  # type: ignore[no-untyped-def]
    """The ids of the cases user sees in GET /cases."""
    response = client.get(f"{API}/cases", query_string=query, headers=auth(user))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["items"])
    return sorted(c["id"] for c in body["items"])


def task_ids(client, auth, user, **query):  # type: ignore[no-untyped-def]
    """The ids of the tasks user sees in GET /tasks."""
    return sorted(t["id"] for t in task_list(client, auth, user, **query))


def test_department_cannot_see_another_departments_case(client, auth):
    """Answer 404 to hongshan for a case referred only to econ_it, timeline included."""
    case = referred_case(client, auth, lead="econ_it")
    for user in ("hongshan", "hongshan_leader"):
        assert_error(client.get(f"{API}/cases/{case['id']}", headers=auth(user)), 404, "not_found")
        assert_error(client.get(f"{API}/cases/{case['id']}/events", headers=auth(user)), 404, "not_found")
    assert get_case(client, auth, case["id"], user="econ_it")["id"] == case["id"]


def test_department_cannot_see_claim_or_complete_another_departments_task(client, auth):
    """Answer 404 to hongshan for econ_it's handle_case on show, claim and complete."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    before = snapshot(client, auth, case["id"])
    assert_error(client.get(f"{API}/tasks/{handle['id']}", headers=auth("hongshan")), 404, "not_found")
    assert_error(client.post(f"{API}/tasks/{handle['id']}/claim", headers=auth("hongshan")), 404, "not_found")
    assert_error(client.post(f"{API}/tasks/{handle['id']}/unclaim", headers=auth("hongshan")),
                 404, "not_found")
    assert_error(client.post(f"{API}/tasks/{handle['id']}/assign", json={"username": "hongshan"},
                             headers=auth("hongshan_leader")), 404, "not_found")
    claim(client, auth, "econ_it", handle["id"])
    before = snapshot(client, auth, case["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/complete", headers=auth("hongshan"),
                           json={"data": {"outcome": "done", "result": "越权办理"}})
    assert_error(response, 404, "not_found")
    assert snapshot(client, auth, case["id"]) == before


def test_department_task_lists_never_include_other_departments_tasks(client, auth):
    """Show hongshan only hongshan's tasks in every scope and state."""
    shared = referred_case(client, auth, lead="econ_it", co=["hongshan"])
    referred_case(client, auth, lead="econ_it")
    referred_case(client, auth, lead="qingshan", co=["econ_it"])
    create_case(client, auth)
    assist = open_task(shared, "assist_case", "hongshan")
    claim(client, auth, "hongshan", assist["id"])
    for user in ("hongshan", "hongshan_leader"):
        for scope in ("mine", "department", "all"):
            for state in ("open", "all"):
                items = task_list(client, auth, user, scope=scope, state=state)
                assert {t["department"] for t in items} <= {"hongshan"}, (user, scope, state)
        assert task_ids(client, auth, user, scope="all") == [assist["id"]]
    assert task_ids(client, auth, "hongshan", scope="mine") == [assist["id"]]
    assert task_ids(client, auth, "hongshan_leader", scope="mine") == []


def test_department_case_list_only_includes_cases_it_is_party_to(client, auth):
    """List for a department only the cases it leads or assists."""
    as_lead = referred_case(client, auth, lead="hongshan")
    as_co = referred_case(client, auth, lead="econ_it", co=["hongshan"])
    referred_case(client, auth, lead="econ_it")
    not_referred = create_case(client, auth)
    assert case_ids(client, auth, "hongshan") == sorted([as_lead["id"], as_co["id"]])
    assert case_ids(client, auth, "hongshan_leader") == sorted([as_lead["id"], as_co["id"]])
    assert case_ids(client, auth, "qingshan") == []
    assert not_referred["id"] not in case_ids(client, auth, "econ_it")
    assert get_case(client, auth, as_co["id"], user="hongshan")["co_departments"] == ["hongshan"]


def test_every_department_that_takes_part_becomes_a_party_once(client, auth, engine):
    """Make the collecting department, the office, each lead (also one referred to after a 退回) and
    each co-department a party to the case, once each; nobody else."""
    from sqlalchemy import select

    from engine.storage.models import CaseParty

    case = refer(client, auth, create_case(client, auth, user="hongshan"), lead="econ_it", co=["qingshan"])
    case = work(client, auth, "econ_it", open_task(case, "handle_case")["id"],
                {"outcome": "return", "reason": "不属于本单位职责"})
    case = refer(client, auth, case, lead="wuchang")
    with engine.db.unit_of_work(write=False) as uow:
        parties = uow.execute(select(CaseParty.department_code).where(CaseParty.case_id == case["id"])).scalars().all()
    assert sorted(parties) == ["econ_it", "hongshan", "qingshan", "supervision_office", "wuchang"]
    for department in parties:
        assert case["id"] in case_ids(client, auth, "supervisor", department=department)
    assert case["id"] not in case_ids(client, auth, "supervisor", department="hanyang")


def test_department_keeps_seeing_the_case_it_created(client, auth):
    """Let the department that collected a case see it before it is referred."""
    own = create_case(client, auth, user="hongshan")
    assert case_ids(client, auth, "hongshan") == [own["id"]]
    assert get_case(client, auth, own["id"], user="hongshan")["created_by"] == "hongshan"
    assert case_ids(client, auth, "qingshan") == []


def test_supervisor_sees_every_case_and_task(client, auth):
    """Show the supervisor every case and every open task."""
    first = referred_case(client, auth, lead="econ_it", co=["hongshan"])
    second = referred_case(client, auth, lead="qingshan")
    third = create_case(client, auth, taskforce="automotive")
    assert case_ids(client, auth, "supervisor") == sorted([first["id"], second["id"], third["id"]])
    expected = sorted(t["id"] for c in (first, second, third) for t in c["open_tasks"])
    assert len(expected) == 4
    assert task_ids(client, auth, "supervisor", scope="all") == expected
    for task_id in expected:
        response = client.get(f"{API}/tasks/{task_id}", headers=auth("supervisor"))
        assert response.status_code == 200
        assert response.get_json()["actions"] == []
    assert get_case(client, auth, second["id"], user="supervisor")["lead_department"] == "qingshan"


def test_supervisor_cannot_claim_a_department_task(client, auth):
    """Refuse the supervisor's claim of econ_it's task with 403 and change nothing."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    before = snapshot(client, auth, case["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/claim", headers=auth("supervisor"))
    assert_error(response, 403, "forbidden")
    assert snapshot(client, auth, case["id"]) == before
    assert open_task(get_case(client, auth, case["id"]), "handle_case")["state"] == "ready"


def test_department_user_cannot_claim_the_dispatchers_refer_task(client, auth):
    """Answer 404 when a department user claims refer_case: it is not visible to them."""
    case = create_case(client, auth, user="econ_it")
    refer_task = open_task(case, "refer_case")
    before = snapshot(client, auth, case["id"])
    for user in ("econ_it", "econ_it_leader"):
        response = client.post(f"{API}/tasks/{refer_task['id']}/claim", headers=auth(user))
        assert_error(response, 404, "not_found")
        assert_error(client.get(f"{API}/tasks/{refer_task['id']}", headers=auth(user)), 404, "not_found")
        assert refer_task["id"] not in task_ids(client, auth, user, scope="all")
    assert snapshot(client, auth, case["id"]) == before


def test_taskforce_leader_sees_only_its_task_forces_cases(client, auth):
    """Show automotive_leader the automotive cases and tasks, nothing of other task forces."""
    automotive = referred_case(client, auth, lead="econ_it", taskforce="automotive")
    automotive_new = create_case(client, auth, taskforce="automotive")
    optoelectronics = referred_case(client, auth, lead="econ_it", taskforce="optoelectronics")
    assert case_ids(client, auth, "automotive_leader") == sorted([automotive["id"], automotive_new["id"]])
    assert get_case(client, auth, automotive["id"], user="automotive_leader")["taskforce"] == "automotive"
    assert_error(client.get(f"{API}/cases/{optoelectronics['id']}", headers=auth("automotive_leader")),
                 404, "not_found")
    items = task_list(client, auth, "automotive_leader", scope="all")
    assert {t["taskforce"] for t in items} == {"automotive"}
    assert sorted(t["id"] for t in items) == sorted(
        [open_task(automotive, "handle_case")["id"], open_task(automotive_new, "refer_case")["id"]])
    other = open_task(optoelectronics, "handle_case")
    response = client.get(f"{API}/tasks/{other['id']}", headers=auth("automotive_leader"))
    assert_error(response, 404, "not_found")
    assert case_ids(client, auth, "optoelectronics_leader") == [optoelectronics["id"]]


def test_mine_scope_lists_only_tasks_assigned_to_me(client, auth):
    """List under scope=mine only the tasks the caller holds."""
    first = referred_case(client, auth, lead="econ_it")
    second = referred_case(client, auth, lead="econ_it")
    mine = open_task(first, "handle_case")
    claim(client, auth, "econ_it", mine["id"])
    items = task_list(client, auth, "econ_it", scope="mine")
    assert [(t["id"], t["assignee"], t["state"]) for t in items] == [(mine["id"], "econ_it", "claimed")]
    assert task_list(client, auth, "econ_it_leader", scope="mine") == []
    assert open_task(second, "handle_case")["id"] not in task_ids(client, auth, "econ_it", scope="mine")


def test_department_scope_lists_my_departments_tasks_whoever_holds_them(client, auth):
    """List under scope=department every open task of the caller's department."""
    first = referred_case(client, auth, lead="econ_it")
    second = referred_case(client, auth, lead="econ_it", co=["hongshan"])
    claim(client, auth, "econ_it", open_task(first, "handle_case")["id"])
    expected = sorted([open_task(first, "handle_case")["id"], open_task(second, "handle_case")["id"]])
    assert task_ids(client, auth, "econ_it_leader", scope="department") == expected
    assert task_ids(client, auth, "econ_it", scope="department") == expected
    assert task_ids(client, auth, "hongshan", scope="department") == [open_task(second, "assist_case")["id"]]
    dispatcher_tasks = task_list(client, auth, "dispatcher", scope="department")
    assert dispatcher_tasks == []
    pending = create_case(client, auth)
    refer_task = open_task(pending, "refer_case")
    assert task_ids(client, auth, "dispatcher", scope="department") == [refer_task["id"]]


def test_all_scope_is_never_an_error(client, auth):
    """Answer scope=all (and the default) with 200 for every kind of user, with or without a department."""
    case = referred_case(client, auth, lead="econ_it", taskforce="automotive")
    handle = open_task(case, "handle_case")
    for user in ("dispatcher", "supervisor", "econ_it", "econ_it_leader", "hongshan", "automotive_leader",
                 "health_biotech_leader"):
        response = client.get(f"{API}/tasks", query_string={"scope": "all"}, headers=auth(user))
        assert response.status_code == 200, (user, response.get_json())
        body = response.get_json()
        assert body["page"] == 1 and body["per_page"] == 50 and body["total"] == len(body["items"])
        default = client.get(f"{API}/tasks", headers=auth(user)).get_json()
        assert default["items"] == body["items"]
    assert task_ids(client, auth, "automotive_leader", scope="all") == [handle["id"]]
    assert task_ids(client, auth, "health_biotech_leader", scope="all") == []
    assert task_ids(client, auth, "hongshan", scope="all") == []


def test_user_without_department_gets_empty_mine_and_department_scopes(client, auth):
    """Answer a task force leader's scope=mine and scope=department with empty lists, not errors."""
    referred_case(client, auth, lead="econ_it", taskforce="automotive")
    assert client.get(f"{API}/me", headers=auth("automotive_leader")).get_json()["department"] is None
    assert task_list(client, auth, "automotive_leader", scope="department") == []
    assert task_list(client, auth, "automotive_leader", scope="mine") == []


def test_unknown_scope_is_a_validation_error(client, auth):
    """Refuse a scope other than mine, department and all with 422 naming scope."""
    response = client.get(f"{API}/tasks", query_string={"scope": "everything"}, headers=auth("econ_it"))
    assert_error(response, 422, "validation_error", "scope")


def test_case_list_pages_through_what_the_caller_may_see(client, auth):
    """Page the case list with page and per_page while total counts every visible case."""
    ids = sorted(referred_case(client, auth, lead="econ_it")["id"] for _ in range(3))
    referred_case(client, auth, lead="hongshan")
    seen = []
    for page in (1, 2):
        response = client.get(f"{API}/cases", query_string={"page": page, "per_page": 2},
                              headers=auth("econ_it"))
        body = response.get_json()
        assert (body["total"], body["page"], body["per_page"]) == (3, page, 2)
        seen += [c["id"] for c in body["items"]]
    assert sorted(seen) == ids


def test_department_worklist_total_is_exact_as_tasks_open_and_close(client, auth):
    """The department worklist's total (kept per department and role, not counted) follows every
    task that opens, is signed for, completes or is cancelled, and equals what a filtered count says."""
    def totals(user: str) -> tuple[int, int, int]:
        plain = client.get(f"{API}/tasks", query_string={"scope": "department", "per_page": 1},
                           headers=auth(user)).get_json()
        filtered = {"scope": "department", "state": "claimed,ready", "per_page": 1}  # counted from the rows
        counted = client.get(f"{API}/tasks", query_string=filtered, headers=auth(user)).get_json()
        rows = client.get(f"{API}/tasks", query_string={"scope": "department", "per_page": 200},
                          headers=auth(user)).get_json()["items"]
        return plain["total"], counted["total"], len(rows)

    assert totals("econ_it") == (0, 0, 0)
    first = referred_case(client, auth, lead="econ_it")
    second = referred_case(client, auth, lead="econ_it", co=["hongshan"])
    create_case(client, auth)  # a refer_case for the office
    assert totals("econ_it") == (2, 2, 2)
    assert totals("econ_it_leader") == (2, 2, 2)
    assert totals("hongshan") == (1, 1, 1)
    assert totals("dispatcher") == (1, 1, 1)
    handle = open_task(first, "handle_case")
    claim(client, auth, "econ_it", handle["id"])  # signed for: still open
    assert totals("econ_it") == (2, 2, 2)
    after = complete(client, auth, "econ_it", handle["id"], {"outcome": "done", "result": "已办结"})
    assert totals("econ_it") == (1, 1, 1)
    assert totals("dispatcher") == (2, 2, 2)  # the refer_case and the feedback to review
    review = open_task(after, "review_feedback")
    claim(client, auth, "dispatcher", review["id"])
    complete(client, auth, "dispatcher", review["id"], {"accepted": True})
    assert totals("dispatcher") == (1, 1, 1)
    assist = open_task(second, "assist_case")
    claim(client, auth, "hongshan", assist["id"])
    complete(client, auth, "hongshan", assist["id"], {"result": "已配合"})
    assert totals("hongshan") == (0, 0, 0)
