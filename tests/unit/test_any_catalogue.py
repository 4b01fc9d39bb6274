"""The engine runs any catalogue: a second, minimal one (a two-task process of its own) runs on the
same engine, and the engine's code names none of the supervision catalogue's policy."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Mapping

import pytest
from lxml import etree
from marshmallow import RAISE, Schema, ValidationError, fields

from engine.bootstrap import bootstrap
from engine.calendar.clock import FrozenClock
from engine.catalogue import ENGINE_EVENTS, AuditEntry, Catalogue, FormContext, ModeSpec, Notice
from engine.commands import cases, tasks
from engine.deployments import deploy
from engine.errors import InvalidInput
from engine.queries.cases import case_events, get_case
from engine.settings import Settings
from processes import catalogue as supervision
from tests.conftest import TEST_SECRET
from tests.support import ActorOf

ROOT = Path(__file__).resolve().parents[2]

LEAVE_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="leave_catalogue" targetNamespace="https://example.invalid/leave">
  <bpmn:process id="leave_request" name="请假" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>to_apply</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="apply" name="填写申请">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidate_role" value="department" />
        <spiffworkflow:property name="candidate_department" value="lead_department" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>to_apply</bpmn:incoming><bpmn:outgoing>to_approve</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="approve" name="审批">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidate_role" value="dispatcher" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>to_approve</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="granted"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_apply" sourceRef="start" targetRef="apply" />
    <bpmn:sequenceFlow id="to_approve" sourceRef="apply" targetRef="approve" />
    <bpmn:sequenceFlow id="to_end" sourceRef="approve" targetRef="granted" />
  </bpmn:process>
</bpmn:definitions>
"""


class _Form:
    """A task form from a marshmallow schema, without the supervision catalogue's machinery."""

    def __init__(self, schema: type[Schema]) -> None:
        self.schema = schema

    def load(self, data: Mapping[str, Any], context: FormContext) -> dict[str, Any]:
        try:
            return dict(self.schema().load(data))
        except ValidationError as err:
            raise InvalidInput("表单有误", {k: [str(v)] for k, v in err.normalized_messages().items()}) from err

    def describe(self, context: FormContext) -> list[dict[str, Any]]:
        return [{"name": name, "type": "string", "label": name, "required": field.required}
                for name, field in self.schema().fields.items()]

    def initial(self, context: FormContext) -> dict[str, Any]:
        return {}


class ApplyForm(Schema):
    class Meta:
        unknown = RAISE

    days = fields.Integer(required=True, strict=True)


class ApproveForm(Schema):
    class Meta:
        unknown = RAISE

    granted = fields.Boolean(required=True)


def leave_catalogue() -> Catalogue:
    """A catalogue of one process: a department applies for leave, the office grants it."""
    return Catalogue(
        bpmn_xml=LEAVE_BPMN,
        modes={"leave": ModeSpec("leave", "leave_request", "请假", frozenset({"handler"}))},
        forms={"apply": _Form(ApplyForm), "approve": _Form(ApproveForm)},
        end_resolutions={"granted": ("granted", "已批准")},
        office_department="supervision_office",
        wording={kind: AuditEntry(f"leave_{kind}", kind) for kind in ENGINE_EVENTS},
        describe_completion=lambda task, data, name: AuditEntry(f"{task}_done", f"完成{task}"),
        compose_notice=lambda kind, facts, name: Notice(kind, kind, kind, ()),
        is_side_work=lambda data: False,
        format_moment=lambda moment: None if moment is None else moment.isoformat(),
        default_mode="leave",
    )


def test_a_second_catalogue_runs_on_the_same_engine(database_url: str, clock: FrozenClock, actor: ActorOf) -> None:
    """Create, sign for and complete the tasks of a catalogue that is not the supervision one."""
    settings = Settings.from_env(database_url=database_url, secret_key=TEST_SECRET)
    engine = bootstrap(settings, leave_catalogue(), clock)
    try:
        deploy(engine)
        handler, dispatcher = actor("econ_it"), actor("dispatcher")
        draft = cases.CaseDraft("年假申请", "五天", "optoelectronics", lead_department="econ_it")
        view = cases.create_case(engine, handler, draft)
        (apply,) = view.open_tasks
        assert (apply.name, apply.department, view.case.mode) == ("apply", "econ_it", "leave")
        tasks.claim_task(engine, handler, apply.id)
        (approve,) = tasks.complete_task(engine, handler, apply.id, {"days": 5}).open_tasks
        assert (approve.name, approve.department) == ("approve", "supervision_office")
        tasks.claim_task(engine, dispatcher, approve.id)
        closed = tasks.complete_task(engine, dispatcher, approve.id, {"granted": True})
        assert (closed.case.status, closed.case.resolution, closed.open_tasks) == ("closed", "granted", [])
        actions = [event.action for event in case_events(engine, dispatcher, view.case.id)]
        assert actions == ["leave_case_created", "leave_task_created", "leave_task_claimed", "apply_done",
                           "leave_task_created", "leave_task_claimed", "approve_done", "leave_case_closed"]
        assert get_case(engine, handler, view.case.id).case.version == 3
    finally:
        engine.db.dispose()


def _policy_names() -> set[str]:
    """Every name of the supervision catalogue's policy: its modes, case actions, audit actions,
    escalation rungs, and the ids of every element of its BPMN."""
    names = set(supervision.MODES) | set(supervision.CASE_ACTIONS)
    names |= {action.entry.action for action in supervision.CASE_ACTIONS.values()}
    names |= {action.notice for action in supervision.CASE_ACTIONS.values() if action.notice}
    for path in (ROOT / "processes").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("AuditEntry", "Rung") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
    document = etree.parse(str(ROOT / "processes.bpmn"), etree.XMLParser(resolve_entities=False, no_network=True))
    # Elements of BPMN itself (the service operations and their parameters, in spiffworkflow's
    # extension elements, are the engine's own interface to a process).
    names |= {element.get("id") for element in document.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}*")
              if element.get("id")}
    names |= {element.get("name") for element in document.iter("{*}message", "{*}error") if element.get("name")}
    return names - set(ENGINE_EVENTS)  # the kinds of events the engine makes itself, which it names


def test_the_engine_names_none_of_the_supervision_catalogues_policy() -> None:
    """No string in engine/ is a mode, an action, an audit action, a rung or a BPMN id of processes/."""
    names = _policy_names()
    assert {"direct", "urge", "case_urged", "case_returned", "handle_case", "overdue"} <= names
    found = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert found == []


@pytest.mark.parametrize("missing", ["task_claimed", "case_closed"])
def test_a_catalogue_must_word_every_event_the_engine_makes(missing: str) -> None:
    """Refuse a catalogue that leaves one of the engine's own events unworded."""
    wording = {kind: AuditEntry(kind, kind) for kind in ENGINE_EVENTS if kind != missing}
    with pytest.raises(ValueError, match=missing):
        Catalogue(**(vars(leave_catalogue()) | {"wording": wording}))
