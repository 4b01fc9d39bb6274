"""Requests a hostile or careless client sends: never a 500, a clear 4xx naming the field, and
nothing changed."""

from __future__ import annotations

import pytest

from tests.api.helpers import API, assert_error, claim, create_case, get_case, open_task, referred_case, snapshot

TOO_BIG = 2**63
CASE = {"title": "光谷企业用地审批滞后", "description": "企业反映用地审批超过承诺时限。", "taskforce": "optoelectronics"}


def _cases_total(client, auth) -> int:  # type: ignore[no-untyped-def]
    return client.get(f"{API}/cases", headers=auth("dispatcher")).get_json()["total"]


# -- bodies ----------------------------------------------------------------------------------------

def test_a_body_over_the_limit_is_refused_before_it_is_read(client, auth):
    """Answer an oversized body with 413 payload_too_large, even on the unauthenticated token endpoint."""
    huge = b'{"username": "dispatcher", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    for path, headers in ((f"{API}/auth/token", {}), (f"{API}/cases", auth("dispatcher"))):
        response = client.post(path, data=huge, headers=headers | {"Content-Type": "application/json"})
        assert_error(response, 413, "payload_too_large")
    assert _cases_total(client, auth) == 0


def test_a_body_just_under_the_limit_is_read(client, auth):
    """Read a body within the limit as usual (here: a description that is too long, a 422)."""
    body = CASE | {"description": "长" * 200_000}  # 600 KB of UTF-8
    assert_error(client.post(f"{API}/cases", json=body, headers=auth("dispatcher")), 422, "validation_error",
                 "description")


# -- integers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/cases/{n}", "/cases/{n}/events", "/cases/{n}/diagram"])
def test_a_path_id_beyond_64_bits_is_not_found(client, auth, path):
    """Answer 404 for a case id of 2^63 or more, never a database overflow."""
    for n in (TOO_BIG, 10**30):
        assert_error(client.get(API + path.format(n=n), headers=auth("dispatcher")), 404, "not_found")


def test_a_command_on_a_path_id_beyond_64_bits_is_not_found(client, auth):
    """Answer 404 for urging, inspecting and reading notifications with ids of 2^63."""
    for path, user in ((f"/cases/{TOO_BIG}/urge", "supervisor"), (f"/cases/{TOO_BIG}/inspections", "supervisor"),
                       (f"/notifications/{TOO_BIG}/read", "econ_it")):
        assert_error(client.post(API + path, json={}, headers=auth(user)), 404, "not_found")


@pytest.mark.parametrize("path, field", [("/tasks?case_id={n}", "case_id"), ("/tasks?page={n}", "page"),
                                         ("/cases?page={n}", "page"), ("/notifications?page={n}", "page"),
                                         ("/tasks?per_page={n}", "per_page")])
def test_a_query_integer_out_of_range_is_named(client, auth, path, field):
    """Answer 422 naming the query field for an integer of 2^63 or more."""
    assert_error(client.get(API + path.format(n=TOO_BIG), headers=auth("dispatcher")), 422, "validation_error",
                 field)


# -- text ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b'{"username": "\\ud800", "password": "demo"}',
                                 b'{"username": "dispatcher", "password": "\\udfff"}',
                                 b'{"username": "\xed\xa0\x80", "password": "demo"}'])
def test_a_lone_surrogate_in_a_body_is_a_bad_request(client, raw):
    """Answer 400 to a JSON body carrying a lone UTF-16 surrogate, escaped or raw, without a token."""
    response = client.post(f"{API}/auth/token", data=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "bad_request")


def test_a_deeply_nested_body_is_a_bad_request(client, auth):
    """Answer 400 to a 10,000-deep array, where a recursive parser would overflow."""
    nested = b"[" * 10_000 + b"]" * 10_000
    for path, headers in ((f"{API}/auth/token", {}), (f"{API}/cases", auth("dispatcher"))):
        response = client.post(path, data=nested, headers=headers | {"Content-Type": "application/json"})
        assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\x07", "\x1b[31m", "\x7f", "\x85", "a\rb"])
def test_control_characters_in_case_text_are_named(client, auth, bad):
    """Refuse NUL and other control characters in any text field with 422 naming it (PostgreSQL
    cannot store NUL; SQLite would)."""
    for field in ("title", "description", "source"):
        response = client.post(f"{API}/cases", json=CASE | {field: bad}, headers=auth("dispatcher"))
        assert_error(response, 422, "validation_error", field)
    assert _cases_total(client, auth) == 0


def test_control_characters_deep_in_task_data_are_named_by_their_path(client, auth):
    """Name ``data.result`` for a NUL in a form field, and change nothing."""
    case = referred_case(client, auth, lead="econ_it")
    handle = open_task(case, "handle_case")
    claim(client, auth, "econ_it", handle["id"])
    before = snapshot(client, auth, case["id"])
    response = client.post(f"{API}/tasks/{handle['id']}/complete",
                           json={"data": {"outcome": "done", "result": "已办\x00结"}}, headers=auth("econ_it"))
    assert_error(response, 422, "validation_error", "data.result")
    response = client.post(f"{API}/tasks/{handle['id']}/complete",
                           json={"data": {"outcome": "done", "\x00": "x"}}, headers=auth("econ_it"))
    assert_error(response, 422, "validation_error")
    assert snapshot(client, auth, case["id"]) == before


def test_a_control_character_in_a_query_string_is_named(client, auth):
    """Refuse a NUL in a query value with 422 naming the parameter."""
    assert_error(client.get(f"{API}/tasks?name=a%00b", headers=auth("dispatcher")), 422, "validation_error", "name")


def test_newlines_and_tabs_are_text_and_windows_line_ends_read_as_newlines(client, auth):
    """Keep line feeds and tabs; store a CR LF line end as a line feed."""
    case = create_case(client, auth, description="第一行\r\n第二行\n\t第三行")
    assert get_case(client, auth, case["id"])["description"] == "第一行\n第二行\n\t第三行"


# -- case fields -----------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [("lead_department", ""), ("lead_department", "   "), ("title", "   "),
                                          ("description", "\n\t "), ("taskforce", ""), ("mode", ""),
                                          ("co_departments", [""])])
def test_blank_case_fields_are_named(client, auth, field, value):
    """Refuse blank case fields with 422 naming them, as task forms do, never a database error."""
    body = CASE | {field: value}
    if field == "co_departments":
        field = "co_departments.0"
    response = client.post(f"{API}/cases", json=body, headers=auth("dispatcher"))
    assert_error(response, 422, "validation_error", field)
    assert _cases_total(client, auth) == 0


def test_case_text_is_trimmed_and_a_blank_source_is_none(client, auth):
    """Trim the title and description; read an empty source as not given."""
    case = create_case(client, auth, title="  用地审批滞后 ", description=" 企业反映 ", source="  ")
    assert (case["title"], case["description"], case["source"]) == ("用地审批滞后", "企业反映", None)


# -- scope -----------------------------------------------------------------------------------------

def test_a_taskforce_leader_creates_cases_only_in_their_own_taskforce(client, auth):
    """Refuse a direct case in another task force with 403 naming taskforce; accept one in their own,
    which they then see."""
    body = CASE | {"mode": "direct", "lead_department": "econ_it", "taskforce": "automotive"}
    response = client.post(f"{API}/cases", json=body, headers=auth("optoelectronics_leader"))
    assert_error(response, 403, "forbidden", "taskforce")
    assert _cases_total(client, auth) == 0
    created = create_case(client, auth, "optoelectronics_leader", mode="direct", lead_department="econ_it")
    assert get_case(client, auth, created["id"], user="optoelectronics_leader")["taskforce"] == "optoelectronics"
