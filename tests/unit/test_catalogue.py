"""The catalogue and processes.bpmn agree: every id the code names exists, every user task has a form."""

from __future__ import annotations

from lxml import etree

from processes import ids
from processes.catalogue import BPMN_PATH, END_RESOLUTIONS, MODES
from processes.forms import FORMS

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"


def _tree() -> etree._Element:
    return etree.parse(str(BPMN_PATH), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()


def _ids_named_in_code() -> dict[str, str]:
    named = {}
    for name, value in vars(ids).items():
        if name.isupper():
            for i, item in enumerate(value if isinstance(value, tuple) else (value,)):
                named[f"{name}[{i}]"] = item
    return named


def test_every_bpmn_id_the_code_names_exists() -> None:
    """Fail if a constant in processes.ids names no element (or message) of processes.bpmn."""
    root = _tree()
    present = set(root.xpath("//@id")) | {m.get("name") for m in root.iter(f"{BPMN}message")}
    missing = {name: value for name, value in _ids_named_in_code().items() if value not in present}
    assert missing == {}


def test_every_service_task_is_named_in_the_code() -> None:
    """Pair each serviceTask with a constant, so none runs unnoticed."""
    assert {el.get("id") for el in _tree().iter(f"{BPMN}serviceTask")} == set(ids.SERVICE_TASKS)


def test_every_user_task_has_a_form_and_every_form_a_user_task() -> None:
    """Pair each userTask with exactly one form schema."""
    user_tasks = {el.get("id") for el in _tree().iter(f"{BPMN}userTask")}
    assert user_tasks == set(FORMS)
    assert set(ids.USER_TASKS) == user_tasks


def test_every_user_task_says_who_works_on_it() -> None:
    """Give each userTask a candidate role (or an expression for it), and department tasks a department."""
    for task in _tree().iter(f"{BPMN}userTask"):
        props = {p.get("name"): p.get("value") for p in task.iter(f"{SPIFF}property")}
        assert (props.get("candidate_role") in {"dispatcher", "supervisor", "department"}
                or props.get("candidate_role_expr") in {"referrer_role", "reviewer_role"}), task.get("id")
        if props.get("candidate_role") == "department":
            assert props.get("candidate_department"), task.get("id")


def test_every_end_event_that_ends_a_mode_has_a_resolution() -> None:
    """Map each end event directly in a mode's top process to a case resolution."""
    root = _tree()
    for mode in MODES.values():
        (process,) = root.xpath(f"//bpmn:process[@id='{mode.process_id}']", namespaces={"bpmn": BPMN[1:-1]})
        for end in process.findall(f"{BPMN}endEvent"):
            assert end.get("id") in END_RESOLUTIONS, end.get("id")


def test_element_ids_are_readable_snake_case() -> None:
    """Refuse generated ids like Activity_0ab12: every id is lowercase snake_case."""
    for element_id in _tree().xpath("//@id"):
        assert element_id == element_id.lower() and " " not in element_id, element_id
        assert not element_id.startswith(("activity_", "gateway_", "event_")), element_id
