"""Small helpers the API tests share: create a case, claim and complete tasks, snapshot a case."""

from __future__ import annotations

from typing import Any, Iterable

API = "/api/v1"


def create_case(client: Any, auth: Any, user: str = "dispatcher", **fields: Any) -> dict[str, Any]:
    """Create a case as user through the API and return it (asserts 201)."""
    body = {"title": "光谷企业用地审批滞后", "description": "企业反映用地审批超过承诺时限。",
            "taskforce": "optoelectronics"} | fields
    response = client.post(f"{API}/cases", json=body, headers=auth(user))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def get_case(client: Any, auth: Any, case_id: int, user: str = "dispatcher") -> dict[str, Any]:
    """The case as user sees it (asserts 200)."""
    response = client.get(f"{API}/cases/{case_id}", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def events(client: Any, auth: Any, case_id: int, user: str = "dispatcher") -> list[dict[str, Any]]:
    """The audit timeline of a case (asserts 200)."""
    response = client.get(f"{API}/cases/{case_id}/events", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def actions(timeline: Iterable[dict[str, Any]]) -> list[str]:
    """The actions of an audit timeline, in order."""
    return [event["action"] for event in timeline]


def open_task(case: dict[str, Any], name: str, department: str | None = None) -> dict[str, Any]:
    """The single open task of a case with this BPMN id (and department, if given)."""
    found = [t for t in case["open_tasks"]
             if t["name"] == name and (department is None or t["department"] == department)]
    assert len(found) == 1, (name, department, case["open_tasks"])
    return found[0]


def open_names(case: dict[str, Any]) -> list[str]:
    """The BPMN ids of a case's open tasks, sorted."""
    return sorted(t["name"] for t in case["open_tasks"])


def task_list(client: Any, auth: Any, user: str, **query: Any) -> list[dict[str, Any]]:
    """The items of GET /tasks for user with query parameters (asserts 200)."""
    response = client.get(f"{API}/tasks", query_string=query, headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def claim(client: Any, auth: Any, user: str, task_id: str) -> dict[str, Any]:
    """Claim a task as user (asserts 200) and return the task."""
    response = client.post(f"{API}/tasks/{task_id}/claim", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def complete(client: Any, auth: Any, user: str, task_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Complete a claimed task as user (asserts 200) and return the case after the step."""
    response = client.post(f"{API}/tasks/{task_id}/complete", json={"data": data}, headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def work(client: Any, auth: Any, user: str, task_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Claim then complete a task as user; return the case after the step."""
    claim(client, auth, user, task_id)
    return complete(client, auth, user, task_id, data)


def refer(client: Any, auth: Any, case: dict[str, Any], lead: str = "econ_it",
          co: Iterable[str] = (), deadline: int = 5) -> dict[str, Any]:
    """The dispatcher claims and completes the open refer_case: refer to lead (with co)."""
    task = open_task(case, "refer_case")
    return work(client, auth, "dispatcher", task["id"], {
        "decision": "refer", "lead_department": lead, "co_departments": list(co),
        "deadline_working_days": deadline, "instructions": "请按期办理并反馈。"})


def referred_case(client: Any, auth: Any, lead: str = "econ_it", co: Iterable[str] = (),
                  deadline: int = 5, **fields: Any) -> dict[str, Any]:
    """A new case, already referred to lead; returns the case with its handle_case open."""
    return refer(client, auth, create_case(client, auth, **fields), lead=lead, co=co, deadline=deadline)


def snapshot(client: Any, auth: Any, case_id: int) -> dict[str, Any]:
    """What a refused request must not change: version, status, due date, open tasks, event count."""
    case = get_case(client, auth, case_id)
    return {
        "version": case["version"],
        "status": case["status"],
        "resolution": case.get("resolution"),
        "due_at": case["due_at"],
        "lead_department": case["lead_department"],
        "co_departments": case["co_departments"],
        "open_tasks": sorted((t["id"], t["name"], t["state"], t["assignee"]) for t in case["open_tasks"]),
        "events": len(events(client, auth, case_id)),
    }


def assert_error(response: Any, status: int, code: str, *fields: str) -> dict[str, Any]:
    """Assert an error response in duban's format, naming each field in ``errors``."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["errors"], dict), body
    for name in fields:
        assert name in body["errors"], (name, body)
    return body


def notifications(client: Any, auth: Any, user: str, **query: Any) -> dict[str, Any]:
    """The page of GET /notifications for user with query parameters (asserts 200)."""
    response = client.get(f"{API}/notifications", query_string=query, headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()
