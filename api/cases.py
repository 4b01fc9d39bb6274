"""Cases: collect (问题收集), list, show, and the audit timeline."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from api.parsing import DubanBlueprint, links

from api.auth import current_actor, engine
from api.schemas import (
    CaseCreateSchema,
    CaseDetailSchema,
    CaseListArgs,
    DiagramSchema,
    CasePageSchema,
    EventSchema,
    InspectionRequestSchema,
    UrgeSchema,
)
from engine.commands.cases import CaseDraft, act_on_case, create_case
from engine.queries import cases
from engine.queries.worklist import CaseQuery, list_cases
from engine.storage import records

# Starting fields only some modes take (the catalogue says which): passed on as the draft's options.
MODE_OPTIONS = ("report_every_working_days", "followup_working_days")
CASE = "/api/v1/cases/{case_id}"
TASK = "/api/v1/tasks/{task_id}"
CASE_ID = {"case_id": "$response.body#/id"}
FIRST_TASK = {"task_id": "$response.body#/open_tasks/0/id"}
CASE_LINKS = {"GetCase": (CASE, "get", CASE_ID), "GetEvents": (CASE + "/events", "get", CASE_ID),
              "GetDiagram": (CASE + "/diagram", "get", CASE_ID), "Urge": (CASE + "/urge", "post", CASE_ID),
              "Inspect": (CASE + "/inspections", "post", CASE_ID)}
FIRST_TASK_LINKS = {"GetFirstTask": (TASK, "get", FIRST_TASK), "ClaimFirstTask": (TASK + "/claim", "post", FIRST_TASK)}

blp = DubanBlueprint("cases", __name__, url_prefix="/api/v1/cases", description="督办事项")


@blp.route("")
class CasesView(MethodView):
    """The case collection."""

    @blp.arguments(CaseListArgs(), location="query")
    @blp.response(200, CasePageSchema)
    def get(self, args: dict):  # type: ignore[no-untyped-def, type-arg]
        """List the cases the caller may see, newest first."""
        return list_cases(engine(), current_actor(), CaseQuery(**args))

    @blp.arguments(CaseCreateSchema())
    @blp.response(201, CaseDetailSchema)
    @blp.doc(**links(201, CASE_LINKS | FIRST_TASK_LINKS))
    def post(self, body: dict):  # type: ignore[no-untyped-def, type-arg]
        """Record a new case (问题收集) and start its process."""
        given = {name: body.pop(name, None) for name in MODE_OPTIONS}
        options = {name: value for name, value in given.items() if value is not None}
        return detail(create_case(engine(), current_actor(), CaseDraft(**body, options=options)))


@blp.route("/<id:case_id>")
class CaseView(MethodView):
    """One case."""

    @blp.response(200, CaseDetailSchema)
    def get(self, case_id: int):  # type: ignore[no-untyped-def]
        """Show a case with its open tasks."""
        return case_with_tasks(case_id)


@blp.route("/<id:case_id>/events")
class CaseEventsView(MethodView):
    """A case's history."""

    @blp.response(200, EventSchema(many=True))
    def get(self, case_id: int):  # type: ignore[no-untyped-def]
        """Show the audit timeline of a case, oldest first."""
        return cases.case_events(engine(), current_actor(), case_id)


@blp.route("/<id:case_id>/diagram")
class DiagramView(MethodView):
    """A case's place in its process."""

    @blp.response(200, DiagramSchema)
    def get(self, case_id: int):  # type: ignore[no-untyped-def]
        """The BPMN document of the case's process version, with its open and completed elements."""
        return cases.case_diagram(engine(), current_actor(), case_id)


@blp.route("/<id:case_id>/urge")
class UrgeView(MethodView):
    """催办."""

    @blp.arguments(UrgeSchema(), required=False)
    @blp.response(200, CaseDetailSchema)
    def post(self, body: dict, case_id: int):  # type: ignore[no-untyped-def, type-arg]
        """Urge the lead department (supervisor, dispatcher): recorded, counted and notified."""
        return detail(act_on_case(engine(), current_actor(), case_id, "urge", body["message"]))


@blp.route("/<id:case_id>/inspections")
class InspectionsView(MethodView):
    """实地查办 on a running case."""

    @blp.arguments(InspectionRequestSchema(), required=False)
    @blp.response(201, CaseDetailSchema)
    def post(self, body: dict, case_id: int):  # type: ignore[no-untyped-def, type-arg]
        """Start an on-site inspection beside the case's open work (supervisor); repeatable."""
        return detail(act_on_case(engine(), current_actor(), case_id, "inspect", body["note"]))


def case_with_tasks(case_id: int) -> dict[str, Any]:
    """A case the caller may see, with its open tasks."""
    return detail(cases.get_case(engine(), current_actor(), case_id))


def detail(view: records.CaseView) -> dict[str, Any]:
    """A case with its open tasks, as CaseDetailSchema dumps it."""
    return records.values(view.case) | {"open_tasks": view.open_tasks}
