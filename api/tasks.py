"""Tasks: the worklist, claim (签收), unclaim, assign and complete."""

from __future__ import annotations

from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort
from api.cases import CASE_LINKS, FIRST_TASK_LINKS, TASK
from api.parsing import DubanBlueprint, links

from api.auth import current_actor, engine
from api.schemas import (
    TASK_STATES,
    AssignSchema,
    CaseDetailSchema,
    CompleteSchema,
    TaskDetailSchema,
    TaskListArgs,
    TaskPageSchema,
    TaskSchema,
)
from api.cases import detail
from engine.commands import tasks
from engine.queries.cases import get_task
from engine.queries.worklist import TaskQuery, list_tasks
from engine.storage.records import values

TASK_ID = {"task_id": "$response.body#/id"}

blp = DubanBlueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="待办任务")


def _states(value: str) -> tuple[str, ...]:
    """Parse the state filter: a comma-separated list, ``open`` or ``all``."""
    states: list[str] = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        if part == "open":
            states += ["ready", "claimed"]
        elif part == "all":
            states += TASK_STATES
        elif part in TASK_STATES:
            states.append(part)
        else:
            abort(422, errors={"state": [f"未知的状态：{part}"]})
    return tuple(dict.fromkeys(states))


@blp.route("")
class TasksView(MethodView):
    """The worklist."""

    @blp.arguments(TaskListArgs(), location="query")
    @blp.response(200, TaskPageSchema)
    def get(self, args: dict):  # type: ignore[no-untyped-def, type-arg]
        """List tasks: mine (assigned to me), department (my department's) or all I may see."""
        args["states"] = _states(args.pop("state"))
        return list_tasks(engine(), current_actor(), TaskQuery(**args))


@blp.route("/<uuid:task_id>")
class TaskView(MethodView):
    """One task."""

    @blp.response(200, TaskDetailSchema)
    def get(self, task_id: UUID):  # type: ignore[no-untyped-def]
        """Show a task with its form fields, allowed values and what the caller may do."""
        found = get_task(engine(), current_actor(), task_id)
        return values(found.task) | {"form": found.form, "values": found.values, "actions": found.actions}


@blp.route("/<uuid:task_id>/claim")
class ClaimView(MethodView):
    """签收."""

    @blp.response(200, TaskSchema)
    @blp.doc(**links(200, {"Complete": (TASK + "/complete", "post", TASK_ID),
                           "Unclaim": (TASK + "/unclaim", "post", TASK_ID),
                           "Assign": (TASK + "/assign", "post", TASK_ID)}))
    def post(self, task_id: UUID):  # type: ignore[no-untyped-def]
        """Claim a task: it becomes mine; 409 if someone else holds it."""
        return tasks.claim_task(engine(), current_actor(), task_id)


@blp.route("/<uuid:task_id>/unclaim")
class UnclaimView(MethodView):
    """Give a task back."""

    @blp.response(200, TaskSchema)
    def post(self, task_id: UUID):  # type: ignore[no-untyped-def]
        """Release a claimed task to the department's worklist."""
        return tasks.unclaim_task(engine(), current_actor(), task_id)


@blp.route("/<uuid:task_id>/assign")
class AssignView(MethodView):
    """Assign."""

    @blp.arguments(AssignSchema())
    @blp.response(200, TaskSchema)
    def post(self, body: dict, task_id: UUID):  # type: ignore[no-untyped-def, type-arg]
        """Give a task to a member of its department (department leader)."""
        return tasks.assign_task(engine(), current_actor(), task_id, body["username"])


@blp.route("/<uuid:task_id>/complete")
class CompleteView(MethodView):
    """Complete."""

    @blp.arguments(CompleteSchema())
    @blp.response(200, CaseDetailSchema)
    @blp.doc(**links(200, CASE_LINKS | FIRST_TASK_LINKS))
    def post(self, body: dict, task_id: UUID):  # type: ignore[no-untyped-def, type-arg]
        """Complete a claimed task with its form data; answers the case after the step."""
        return detail(tasks.complete_task(engine(), current_actor(), task_id, body["data"]))
