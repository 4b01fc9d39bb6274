"""The case page's BPMN diagram highlights where the case stands, in each process it has reached."""

from __future__ import annotations

from pathlib import Path

from tests.api.helpers import referred_case
from tests.e2e.conftest import sign_in

ROOT = Path(__file__).resolve().parents[2]
READY = "[data-testid=diagram][data-ready=true]"


def highlighted(page, element_id: str):  # type: ignore[no-untyped-def]
    """The diagram's shape for a BPMN element, if it carries the current-element marker."""
    return page.locator(f"[data-testid=diagram] .djs-element.duban-current[data-element-id={element_id}]")


def test_the_diagram_highlights_the_current_task(  # type: ignore[no-untyped-def]
        client, auth, live_server, browser_page) -> None:
    """Refer a case to 市经信局: the dispatcher sees handling current, then handle_case in 处置与反馈."""
    assert (ROOT / "api/static/vendor/diagram.js").exists(), "`make web` builds the diagram viewer"
    case = referred_case(client, auth, lead="econ_it")
    page = browser_page

    sign_in(page, live_server, "dispatcher")
    page.goto(f"{live_server}/cases/{case['id']}")
    diagram = page.locator(READY)
    diagram.wait_for()

    assert diagram.get_attribute("data-process") == "supervision_loop"
    assert diagram.get_attribute("data-current") == "handling"
    assert highlighted(page, "handling").count() == 1
    assert page.locator("[data-testid=diagram] .duban-completed[data-element-id=referral]").count() == 1

    page.get_by_test_id("diagram-tab-case_handling").click()
    page.locator(f"{READY}[data-process=case_handling]").wait_for()
    assert "handle_case" in page.locator(READY).get_attribute("data-current").split(",")
    assert highlighted(page, "handle_case").count() == 1
    assert highlighted(page, "handle_case").is_visible()
    assert highlighted(page, "review_feedback").count() == 0
