"""The closed loop in the browser: a department signs for and completes a task, the dispatcher refers a
case and rejects its feedback, a supervisor triggers an inspection, a 422 lands on its field, and the
worklist and task form work at phone width.

The browser does the step under test; the steps around it go through the API (the ``client`` and
``auth`` fixtures), and so do the checks of what the step did to the case.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.api.helpers import (actions, claim, complete, events, get_case, open_names, open_task, referred_case,
                               snapshot)
from tests.e2e.conftest import sign_in

PHONE = {"width": 375, "height": 740}


def task_row(page: Any, task_id: str) -> Any:
    """The worklist row of a task."""
    return page.locator(f"[data-testid=task-row][data-task-id='{task_id}']")


def worklist_loaded(page: Any) -> None:
    """Wait until the worklist has drawn its first answer from the API."""
    expect(page.locator(".table-host[aria-busy=false]")).to_be_visible()


def form_ready(page: Any) -> None:
    """Wait until the task form can be filled in (the user holds the task)."""
    expect(page.get_by_test_id("submit-task")).to_be_enabled()


def choose(page: Any, field: str, label: str) -> None:
    """Pick the radio choice with this exact label in a task form field."""
    page.get_by_test_id(f"field-{field}").get_by_label(label, exact=True).check()


def case_url(base_url: str, case_id: int) -> re.Pattern[str]:
    """The case page's URL, as a pattern for expect(page).to_have_url."""
    return re.compile(re.escape(f"{base_url}/cases/{case_id}") + r"/?$")


def test_a_department_signs_for_and_completes_its_task(  # type: ignore[no-untyped-def]
        client, auth, live_server, browser_page) -> None:
    """econ_it claims handle_case from 我的待办, reports 办理完毕, and the case moves on to review."""
    case = referred_case(client, auth, lead="econ_it")
    task = open_task(case, "handle_case", "econ_it")
    page = browser_page

    sign_in(page, live_server, "econ_it")
    page.get_by_test_id("nav-worklist").click()
    row = task_row(page, task["id"])
    expect(row).to_have_attribute("data-task-name", "handle_case")
    expect(row).to_have_attribute("data-state", "ready")

    row.get_by_test_id("claim").click()
    expect(row).to_have_attribute("data-state", "claimed")
    expect(row.get_by_test_id("claim")).to_have_count(0)

    row.get_by_test_id("open-task").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task['id']}/?$"))
    form_ready(page)
    choose(page, "outcome", "办理完毕")
    result = page.get_by_test_id("field-result").locator("[name=result]")
    expect(result).to_be_visible()
    result.fill("已协调自然资源规划局完成用地审批，企业已取得用地批复。")
    page.get_by_test_id("submit-task").click()

    expect(page).to_have_url(case_url(live_server, case["id"]))
    expect(page.get_by_test_id("toast")).to_contain_text("已提交")
    expect(page.locator("[data-testid=timeline-entry][data-action=result_submitted]")).to_have_count(1)
    expect(page.locator("[data-testid=open-task][data-task-name=review_feedback]")).to_be_visible()

    page.get_by_test_id("nav-worklist").click()
    worklist_loaded(page)
    expect(task_row(page, task["id"])).to_have_count(0)

    after = get_case(client, auth, case["id"])
    assert open_names(after) == ["review_feedback"]
    assert "result_submitted" in actions(events(client, auth, case["id"]))


def test_the_dispatcher_refers_a_new_case_and_rejects_the_feedback(  # type: ignore[no-untyped-def]
        client, auth, live_server, browser_page) -> None:
    """问题收集 → 转办 to 市经信局 in the browser; econ_it reports (API); the dispatcher sends it back."""
    page = browser_page
    sign_in(page, live_server, "dispatcher")

    page.get_by_test_id("nav-new-case").click()
    page.get_by_test_id("case-title").fill("东风汽车零部件企业物流通道拥堵")
    page.get_by_test_id("case-description").fill("企业反映园区货运通道高峰时段拥堵严重，影响零部件准时交付。")
    page.get_by_test_id("case-taskforce").select_option(label="汽车产业专班")
    page.get_by_test_id("create-case").click()
    expect(page).to_have_url(re.compile(r"/cases/\d+/?$"))
    case_id = int(re.search(r"/cases/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "open")

    page.locator("[data-testid=open-task][data-task-name=refer_case]").click()
    page.get_by_test_id("claim").click()
    form_ready(page)
    choose(page, "decision", "转办")
    page.get_by_test_id("field-lead_department").locator("select").select_option(label="市经信局")
    page.get_by_test_id("field-deadline_working_days").locator("input").fill("5")
    page.get_by_test_id("submit-task").click()
    expect(page).to_have_url(case_url(live_server, case_id))
    expect(page.locator("[data-testid=timeline-entry][data-action=case_referred]")).to_contain_text("市经信局")

    referred = get_case(client, auth, case_id)
    assert referred["lead_department"] == "econ_it"
    handle = open_task(referred, "handle_case", "econ_it")
    claim(client, auth, "econ_it", handle["id"])
    complete(client, auth, "econ_it", handle["id"], {"outcome": "done", "result": "已疏导货运通道。"})

    page.goto(f"{live_server}/cases/{case_id}")
    page.locator("[data-testid=open-task][data-task-name=review_feedback]").click()
    page.get_by_test_id("claim").click()
    form_ready(page)
    choose(page, "accepted", "不通过，返工重办")
    page.get_by_test_id("field-comment").locator("[name=comment]").fill("未附通道疏导前后的通行数据，请补充后重新反馈。")
    page.get_by_test_id("submit-task").click()

    expect(page).to_have_url(case_url(live_server, case_id))
    rejection = page.locator("[data-testid=timeline-entry][data-action=feedback_rejected]")
    expect(rejection).to_contain_text("不通过")
    expect(rejection).to_contain_text("未附通道疏导前后的通行数据")
    expect(page.locator("[data-testid=open-task][data-task-name=handle_case]")).to_be_visible()

    after = get_case(client, auth, case_id)
    assert open_names(after) == ["handle_case"]
    rework = open_task(after, "handle_case", "econ_it")
    assert rework["id"] != handle["id"] and rework["state"] == "ready"
    assert after["rework_count"] == 1
    assert "feedback_rejected" in actions(events(client, auth, case_id))


def test_a_supervisor_triggers_an_inspection_from_the_case_page(  # type: ignore[no-untyped-def]
        client, auth, live_server, browser_page) -> None:
    """实地查办 on the case page opens a conduct_inspection task and shows 发起实地查办 in the timeline."""
    case = referred_case(client, auth, lead="econ_it")
    page = browser_page

    sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server}/cases/{case['id']}")
    expect(page.locator("[data-testid=open-task][data-task-name=conduct_inspection]")).to_have_count(0)
    page.get_by_test_id("request-inspection").click()
    page.get_by_test_id("inspection-note").fill("重点核实用地审批材料流转情况。")
    page.get_by_test_id("inspection-confirm").click()

    expect(page.locator("[data-testid=open-task][data-task-name=conduct_inspection]")).to_be_visible()
    entry = page.locator("[data-testid=timeline-entry][data-action=inspection_requested]")
    expect(entry).to_contain_text("发起实地查办")
    expect(entry).to_contain_text("重点核实用地审批材料流转情况")
    expect(page.get_by_test_id("toast")).to_contain_text("已发起实地查办")

    after = get_case(client, auth, case["id"])
    assert "conduct_inspection" in open_names(after)
    assert "inspection_requested" in actions(events(client, auth, case["id"]))


def test_a_422_shows_on_the_field_it_names(  # type: ignore[no-untyped-def]
        client, auth, live_server, browser_page) -> None:
    """办理完毕 without 办理情况: the server's 422 is shown under result, and the case does not change."""
    case = referred_case(client, auth, lead="econ_it")
    task = open_task(case, "handle_case", "econ_it")
    claim(client, auth, "econ_it", task["id"])
    before = snapshot(client, auth, case["id"])
    page = browser_page

    sign_in(page, live_server, "econ_it")
    page.goto(f"{live_server}/tasks/{task['id']}")
    form_ready(page)
    choose(page, "outcome", "办理完毕")
    result = page.get_by_test_id("field-result").locator("[name=result]")
    expect(result).to_be_visible()

    for blank in ("", "   "):
        result.fill(blank)
        with page.expect_response(lambda r: r.url.endswith(f"/tasks/{task['id']}/complete")) as answer:
            page.get_by_test_id("submit-task").click()
        assert answer.value.status == 422, answer.value.text()
        assert "result" in answer.value.json()["errors"]
        error = page.get_by_test_id("error-result")
        expect(error).to_be_visible()
        expect(error).to_contain_text("必填")
        for other in ("outcome", "reason", "extension_working_days"):
            expect(page.get_by_test_id(f"error-{other}")).to_be_hidden()
            expect(page.get_by_test_id(f"error-{other}")).to_have_text("")
        expect(result).to_have_attribute("aria-invalid", "true")
        expect(page).to_have_url(re.compile(rf"/tasks/{task['id']}/?$"))
        form_ready(page)

    assert snapshot(client, auth, case["id"]) == before


def test_the_worklist_and_task_form_work_at_phone_width(  # type: ignore[no-untyped-def]
        client, auth, live_server, browser_page) -> None:
    """At 375×740 the worklist shows its rows as cards and a task can be claimed and completed."""
    case = referred_case(client, auth, lead="econ_it")
    task = open_task(case, "handle_case", "econ_it")
    page = browser_page
    page.set_viewport_size(PHONE)

    sign_in(page, live_server, "econ_it")
    page.goto(f"{live_server}/worklist")
    row = task_row(page, task["id"])
    expect(row).to_be_visible()
    assert row.evaluate("el => getComputedStyle(el).display") == "block", "rows are cards at phone width"
    box = row.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, box
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scrolling"

    row.get_by_test_id("claim").click()
    expect(row).to_have_attribute("data-state", "claimed")
    row.get_by_test_id("open-task").click()
    form_ready(page)
    choose(page, "outcome", "办理完毕")
    result = page.get_by_test_id("field-result").locator("[name=result]")
    result.fill("已办结。")
    field_box = result.bounding_box()
    assert field_box is not None and field_box["x"] + field_box["width"] <= PHONE["width"] + 1, field_box
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scrolling"
    page.get_by_test_id("submit-task").click()

    expect(page).to_have_url(case_url(live_server, case["id"]))
    assert open_names(get_case(client, auth, case["id"])) == ["review_feedback"]
