"""A small driver of the runtime on the real processes.bpmn, with no database.

With ``roundtrip=True`` the instance is pruned, serialized and restored after every step, as the
service does between commands.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from SpiffWorkflow.util.task import TaskState

from engine.calendar.working_days import WorkingCalendar
from engine.calendar.clock import Clock
from engine.workflow.runtime import ReadyTask, ServiceCall, WorkflowRuntime
from engine.workflow.serialization import WorkflowSerializer
from engine.workflow.specs import SpecCache
from processes.catalogue import build_catalogue
from processes.org import OFFICE_DEPARTMENT


class LoopDriver:
    """Drives one instance of a process through its user tasks."""

    def __init__(self, clock: Clock, roundtrip: bool, mode: str = "standard") -> None:
        catalogue = build_catalogue()
        xml = catalogue.bpmn_xml
        specs = SpecCache(lambda version: xml)
        self.version = specs.add(xml).version
        self.runtime = WorkflowRuntime(specs, WorkingCalendar(overrides=catalogue.calendar_overrides), clock)
        self.roundtrip = roundtrip
        self.mode = catalogue.modes[mode]
        self.service_calls: list[ServiceCall] = []
        self.state_sizes: list[int] = []
        self.workflow: Any = None

    def start(self, **data: Any) -> "LoopDriver":
        """Start an instance with the data case creation gives it."""
        base = {"title": "t", "description": "d", "taskforce": "optoelectronics", "mode": self.mode.name,
                "lead_department": None, "co_departments": [], "deadline_working_days": None}
        self.workflow, started = self.runtime.start(self.version, self.mode.process_id,
                                                    base | dict(self.mode.defaults) | data)
        self.service_calls += started.calls
        self._maybe_roundtrip()
        return self

    def ready(self) -> list[ReadyTask]:
        """The ready user tasks."""
        return self.runtime.ready_tasks(self.workflow, OFFICE_DEPARTMENT)

    def ready_names(self) -> list[tuple[str, str | None]]:
        """The ready user tasks as (BPMN id, department), sorted."""
        return sorted((t.name, t.department) for t in self.ready())

    def task(self, name: str, department: str | None = None) -> ReadyTask:
        """The one ready task with this name (and department)."""
        found = [t for t in self.ready() if t.name == name and (department is None or t.department == department)]
        assert len(found) == 1, (name, department, self.ready_names())
        return found[0]

    def complete(self, name: str, department: str | None = None, **form: Any) -> "LoopDriver":
        """Complete a ready task with form data."""
        return self.complete_by_id(self.task(name, department).id, **form)

    def complete_by_id(self, task_id: Any, **form: Any) -> "LoopDriver":
        """Complete the ready task with this id."""
        task = next(t for t in self.ready() if t.id == task_id)
        self.service_calls += self.runtime.complete(self.workflow, task.id, form, task.result_variable).calls
        self._maybe_roundtrip()
        return self

    def fire_timers(self) -> "LoopDriver":
        """Fire whatever timers are due by the clock, as the timer worker does."""
        self.service_calls += self.runtime.advance(self.workflow).calls
        self._maybe_roundtrip()
        return self

    def send(self, message: str, **payload: Any) -> "LoopDriver":
        """Deliver a BPMN message."""
        self.service_calls += self.runtime.send_message(self.workflow, message, payload).calls
        self._maybe_roundtrip()
        return self

    def next_wakeup(self) -> Any:
        """The earliest armed timer."""
        return self.runtime.next_wakeup(self.workflow)

    def armed(self) -> dict[str, datetime]:
        """The armed timers that can fire, by BPMN id, with their due times."""
        found = {}
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            value = task.internal_data.get("event_value")
            if task.task_spec.bpmn_id and isinstance(value, str) and not value.startswith("9999"):
                found[task.task_spec.bpmn_id] = datetime.fromisoformat(value).astimezone(timezone.utc)
        return found

    def refer(self, lead: str = "econ_it", co: list[str] | None = None, days: int = 5) -> "LoopDriver":
        """Complete refer_case with a referral."""
        return self.complete("refer_case", decision="refer", lead_department=lead,
                             co_departments=co or [], deadline_working_days=days, instructions=None,
                             reason=None)

    def handle(self, outcome: str, **form: Any) -> "LoopDriver":
        """Complete handle_case with an outcome."""
        fields = {"result": None, "reason": None, "extension_working_days": None} | form
        return self.complete("handle_case", outcome=outcome, **fields)

    def resolution(self) -> str | None:
        """The end event the instance ended at."""
        return self.runtime.resolution(self.workflow)

    def task_count(self) -> int:
        """Tasks in the instance's trees, subprocesses included."""
        return len(self.workflow.tasks) + sum(len(s.tasks) for s in self.workflow.subprocesses.values())

    def _maybe_roundtrip(self) -> None:
        state = self.runtime.save(self.version, self.workflow)
        self.state_sizes.append(len(state))
        assert_codecs_agree(self.runtime.serializer(self.version), self.workflow)
        if self.roundtrip:
            self.workflow = self.runtime.restore(self.version, state)


def assert_codecs_agree(serializer: WorkflowSerializer, workflow: Any) -> None:
    """The fast codec writes what SpiffWorkflow's serializer writes, and reads it back to the same."""
    spiff = orjson.loads(serializer.spiff_json(workflow))
    assert orjson.loads(serializer.to_json(workflow)) == spiff
    assert orjson.loads(serializer.spiff_json(serializer.from_json(serializer.spiff_json(workflow)))) == spiff
