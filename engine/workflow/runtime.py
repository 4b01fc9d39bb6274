"""The runtime over SpiffWorkflow: start, restore, complete, step, save.

One ``WorkflowRuntime`` serves every case: specs are parsed once per version, the script engine
is built once, and every instance is restored from its spec-less state, changed, pruned of
finished loop iterations and serialized again within one command.
"""

from __future__ import annotations

import builtins
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.calendar.working_days import WorkingCalendar
from engine.calendar.clock import Clock, running_on
from engine.errors import Conflict, ProcessError
from engine.workflow.pruning import prune_finished_loops
from engine.workflow.serialization import WorkflowSerializer
from engine.workflow.specs import SpecCache

# What BPMN scripts and expressions may call: no import, open, eval, getattr or dunder access.
_SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in (
        "abs all any bool dict enumerate float int isinstance len list max min range "
        "round set sorted str sum tuple zip"
    ).split()
}
MAX_ENGINE_ROUNDS = 50
# A timer set to this never fires; it is how a mode switches off a rung of a shared ladder.
NEVER = "9999-12-31T00:00:00+00:00"
TIMER_EVENTS = {"TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition"}


@dataclass(frozen=True)
class ServiceCall:
    """A service task's request, kept for the use case to act on in the same transaction."""

    operation: str
    params: dict[str, Any]
    task_id: UUID
    task_name: str
    attached_to: UUID | None = None  # the activity whose boundary event led here, if any


@dataclass(frozen=True)
class StepResult:
    """What a step asked for beyond the workflow itself: the service tasks it ran, in order, for
    the command to carry out in its transaction."""

    calls: tuple[ServiceCall, ...] = ()


# The attribute of a top-level workflow under which a step notes its service calls.
_CALLS = "duban_service_calls"


class _ScriptEngine(PythonScriptEngine):
    """The script engine: restricted builtins and calendar functions; service tasks are noted on
    the workflow that runs them, not performed, and the step returns them (``StepResult``)."""

    def call_service(self, task: Any, **kwargs: Any) -> str:
        calls = getattr(task.workflow.top_workflow, _CALLS, None)
        if calls is None:
            raise ProcessError("服务任务只能在命令中执行 (service task outside a step)")
        params = {name: spec.get("value") for name, spec in (kwargs.get("operation_params") or {}).items()}
        calls.append(ServiceCall(kwargs.get("operation_name") or "", params, task.id, task.task_spec.bpmn_id,
                                 _attached_activity(task)))
        return json.dumps({"recorded": True})


class _CompilingEnvironment(TaskDataEnvironment):
    """Task data as the scripts' namespace (SpiffWorkflow's TaskDataEnvironment), with each
    expression and script compiled once (``codes``, the engine's expression cache): the same few
    dozen from processes.bpmn run on every step."""

    def __init__(self, environment_globals: dict[str, Any], compiled: Callable[[str, str], Any]) -> None:
        super().__init__(environment_globals)
        self._compiled = compiled

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        return super().evaluate(self._compiled(expression, "eval"), context, external_context)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        return super().execute(self._compiled(script, "exec"), context, external_context)


def compile_expression(source: str, mode: str) -> Any:
    """An expression (``eval``) or script (``exec``) compiled for the script environment."""
    return compile(source, "<string>", mode)  # the file name SpiffWorkflow finds error lines by


def dismantle(workflow: BpmnWorkflow) -> None:
    """Take apart a workflow nobody will use again, so that it is freed at once. A workflow and its
    tasks refer to each other; left whole, only a full run of the cyclic garbage collector frees
    them, and such runs are what made some requests wait 100 ms and more."""
    for part in (*workflow.subprocesses.values(), workflow):
        part.tasks.clear()
        part.__dict__.clear()


def _attached_activity(task: Any) -> UUID | None:
    """The activity a boundary event's branch hangs off: the split's child that is no event."""
    node = task.parent
    while node is not None:
        if isinstance(node.task_spec, BoundaryEventSplit):
            main = [c for c in node.children if not isinstance(c.task_spec, BoundaryEvent)]
            return main[0].id if main else None
        node = node.parent
    return None


def has_engine_work(workflow: BpmnWorkflow) -> bool:
    """Whether a task for the engine (not for a person) is ready anywhere in the instance."""
    return bool(workflow.get_tasks(state=TaskState.READY, manual=False))


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """The user tasks ready anywhere in the instance, subprocesses included."""
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def _ready_user_task(workflow: BpmnWorkflow, task_id: UUID) -> Any | None:
    """One user task of the instance if it is ready."""
    task = workflow.get_task_from_id(task_id)
    if task is None or not task.has_state(TaskState.READY) or not task.task_spec.manual:
        return None
    return task


@dataclass(frozen=True)
class ReadyTask:
    """A user task waiting for a person, as the worklist needs it."""

    id: UUID
    name: str
    title: str
    role: str
    department: str | None
    due_at: datetime | None
    case_deadline: bool
    result_variable: str | None
    data: Mapping[str, Any]


class WorkflowRuntime:
    """Runs the instances of one catalogue's processes."""

    def __init__(self, specs: SpecCache, calendar: WorkingCalendar, clock: Clock,
                 compiled: Callable[[str, str], Any] = compile_expression, fast_codec: bool = True) -> None:
        self.specs = specs
        self.calendar = calendar
        self.clock = clock
        self.fast_codec = fast_codec
        self._serializers: dict[str, WorkflowSerializer] = {}
        self.script_engine = _ScriptEngine(environment=_CompilingEnvironment(self._script_globals(), compiled))

    def _script_globals(self) -> dict[str, Any]:
        """The functions BPMN scripts and timer expressions see."""

        def now() -> str:
            return self.clock.now().isoformat()

        def deadline_after(start: str, working_days: int) -> str:
            start_at = datetime.fromisoformat(start)
            return self.calendar.deadline_after(start_at, int(working_days)).isoformat()

        def deadline_extended(due: str, working_days: int) -> str:
            due_at = datetime.fromisoformat(due)
            return self.calendar.extend_deadline(due_at, int(working_days)).isoformat()

        def shift_working_days(moment: str, working_days: int | None) -> str:
            if working_days is None:
                return NEVER
            return self.calendar.shift(datetime.fromisoformat(moment), int(working_days)).isoformat()

        return {
            "__builtins__": _SAFE_BUILTINS,
            "now": now,
            "deadline_after": deadline_after,
            "deadline_extended": deadline_extended,
            "shift_working_days": shift_working_days,
        }

    # -- instances ---------------------------------------------------------------------------

    def start(self, version: str, process_id: str, data: Mapping[str, Any]) -> tuple[BpmnWorkflow, StepResult]:
        """Create an instance of a process with its starting data and run it to its first wait."""
        specs = self.specs.get(version)
        workflow = BpmnWorkflow(
            specs.top(process_id), specs.subprocesses[process_id], script_engine=self.script_engine
        )
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        return workflow, self.advance(workflow)

    def serializer(self, version: str) -> WorkflowSerializer:
        """The serializer of a deployed version."""
        serializer = self._serializers.get(version)
        if serializer is None:
            serializer = self._serializers[version] = WorkflowSerializer(self.specs.get(version), self.fast_codec)
        return serializer

    def restore(self, version: str, state: bytes) -> BpmnWorkflow:
        """Restore an instance from its saved state."""
        workflow = self.serializer(version).loads(state)
        workflow.script_engine = self.script_engine
        return workflow

    def save(self, version: str, workflow: BpmnWorkflow) -> bytes:
        """Prune finished loop iterations and serialize the instance."""
        prune_finished_loops(workflow)
        return self.serializer(version).dumps(workflow)

    # -- running -----------------------------------------------------------------------------

    def send_message(self, workflow: BpmnWorkflow, name: str, payload: Mapping[str, Any]) -> StepResult:
        """Deliver a BPMN message to the instance and run on; a conflict if nothing waits for it."""
        with self.stepping(workflow) as calls:
            try:
                workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload=dict(payload)))
            except WorkflowException as exc:
                raise Conflict("事项当前不接受此操作 (nothing is waiting for this message)") from exc
            self._run_engine(workflow)
        return StepResult(tuple(calls))

    def advance(self, workflow: BpmnWorkflow) -> StepResult:
        """Run engine steps and fire due timers until the instance waits on people or time."""
        with self.stepping(workflow) as calls:
            self._run_engine(workflow)
        return StepResult(tuple(calls))

    def complete(
        self, workflow: BpmnWorkflow, task_id: UUID, form: Mapping[str, Any], result_variable: str | None
    ) -> StepResult:
        """Complete a ready user task with validated form data and run on."""
        task = _ready_user_task(workflow, task_id)
        if task is None:
            raise Conflict("任务已不在待办状态 (task is not ready)")
        if result_variable:
            task.data[result_variable] = dict(form)
        else:
            task.data.update(form)
        with self.stepping(workflow) as calls:
            task.run()
            self._run_engine(workflow)
        return StepResult(tuple(calls))

    @contextlib.contextmanager
    def stepping(self, workflow: BpmnWorkflow) -> Iterator[list[ServiceCall]]:
        """One step: the runtime's clock for SpiffWorkflow's timers, the service calls noted on the
        workflow, SpiffWorkflow's errors as process errors."""
        calls: list[ServiceCall] = []
        setattr(workflow, _CALLS, calls)
        try:
            with running_on(self.clock):
                yield calls
        except SpiffWorkflowException as exc:
            raise ProcessError(f"流程执行出错：{exc}") from exc
        finally:
            delattr(workflow, _CALLS)

    @staticmethod
    def _run_engine(workflow: BpmnWorkflow) -> None:
        for _ in range(MAX_ENGINE_ROUNDS):
            workflow.do_engine_steps()  # ends with refresh_timers(): due timers become ready
            if not has_engine_work(workflow):
                return
        raise ProcessError("流程未能在有限步数内停止 (engine steps did not settle)")

    # -- reading -----------------------------------------------------------------------------

    def ready_tasks(self, workflow: BpmnWorkflow, office_department: str) -> list[ReadyTask]:
        """Every user task that is ready, with its candidate, due time and form target."""
        return [self._describe(task, office_department) for task in ready_user_tasks(workflow)]

    def ready_task(self, workflow: BpmnWorkflow, task_id: UUID, office_department: str) -> ReadyTask | None:
        """One user task if it is ready (as ``ready_tasks`` describes it), else None."""
        task = _ready_user_task(workflow, task_id)
        return None if task is None else self._describe(task, office_department)

    def _describe(self, task: Any, office_department: str) -> ReadyTask:
        spec = task.task_spec
        props = spec.extensions.get("properties", {})
        role = props.get("candidate_role") or (
            self._evaluate(task, props["candidate_role_expr"]) if "candidate_role_expr" in props
            else "dispatcher"
        )
        department = (
            self._evaluate(task, props["candidate_department"])
            if "candidate_department" in props
            else office_department
        )
        due = self._evaluate(task, props["due"]) if "due" in props else None
        return ReadyTask(
            id=task.id,
            name=spec.bpmn_id,
            title=spec.bpmn_name or spec.bpmn_id,
            role=role,
            department=department,
            due_at=datetime.fromisoformat(due).astimezone(timezone.utc) if due else None,
            case_deadline=props.get("case_deadline") == "true",
            result_variable=props.get("result_variable"),
            data=task.data,
        )

    def _evaluate(self, task: Any, expression: str) -> Any:
        try:
            return self.script_engine.evaluate(task, expression)
        except SpiffWorkflowException as exc:
            raise ProcessError(f"任务属性计算出错：{exc}") from exc

    def resolution(self, workflow: BpmnWorkflow) -> str | None:
        """The BPMN id of the end event a completed instance ended at, or None while running."""
        if not workflow.is_completed():
            return None
        ends = [
            t for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if isinstance(t.task_spec, EndEvent) and t.workflow is workflow
        ]
        ends.sort(key=lambda t: t.last_state_change)
        return ends[-1].task_spec.bpmn_id if ends else None

    def element_states(self, workflow: BpmnWorkflow, process_ids: set[str]) -> dict[str, dict[str, list[str]]]:
        """Per process of the document: the element ids that are open now and those completed.

        Elements inside an embedded subprocess count for the process that contains it; a call
        activity or subprocess with open work inside is open itself.
        """
        states: dict[str, dict[str, set[str]]] = {}

        def mark(task: Any, kind: str) -> None:
            owner = task.workflow
            element = task.task_spec.bpmn_id
            while owner is not None:
                process = owner.spec.name
                if element:
                    if process in process_ids:
                        states.setdefault(process, {"current": set(), "completed": set()})[kind].add(element)
                    else:  # an embedded subprocess: its elements belong to the enclosing process
                        holder = owner.parent_workflow
                        if holder is not None:
                            container = holder.spec.name
                            bucket = states.setdefault(container, {"current": set(), "completed": set()})
                            bucket[kind].add(element)
                if kind != "current" or owner is workflow:
                    break
                parent_task = workflow.get_task_from_id(owner.parent_task_id)
                if parent_task is None:
                    break
                element, owner = parent_task.task_spec.bpmn_id, parent_task.workflow

        for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            if task.task_spec.bpmn_id and (task.task_spec.manual or task.has_state(TaskState.READY)):
                mark(task, "current")
        for task in workflow.get_tasks(state=TaskState.COMPLETED):
            if task.task_spec.bpmn_id:
                mark(task, "completed")
        return {p: {k: sorted(v) for k, v in kinds.items()} for p, kinds in states.items()}

    @staticmethod
    def next_wakeup(workflow: BpmnWorkflow) -> datetime | None:
        """The earliest due time of the instance's armed timers."""
        due = []
        for event in workflow.waiting_events():
            if event.event_type not in TIMER_EVENTS:
                continue
            value = event.value.get("next") if isinstance(event.value, dict) else event.value
            if isinstance(value, str) and value and value != NEVER:
                due.append(datetime.fromisoformat(value).astimezone(timezone.utc))
        return min(due, default=None)
