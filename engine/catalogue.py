"""What a process catalogue gives the engine.

The engine runs any catalogue: the BPMN document, the modes that start its processes, a form per
user task, how finished processes resolve, and how completed tasks read in the audit trail. The
supervision catalogue lives in ``processes/``; entry points hand it to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from engine.calendar.working_days import CalendarOverrides


@dataclass(frozen=True)
class FormContext:
    """What a form may need to know: the departments a case can go to (code → name), the task's data."""

    departments: Mapping[str, str]
    task_data: Mapping[str, Any] = field(default_factory=dict)


class TaskForm(Protocol):
    """A user task's form: validates submitted data and describes its fields."""

    def load(self, data: Mapping[str, Any], context: FormContext) -> dict[str, Any]:
        """Return the cleaned data, or raise ``InvalidInput`` naming each bad field."""
        ...

    def describe(self, context: FormContext) -> list[dict[str, Any]]:
        """Describe the fields: name, type, label, required, choices, conditions."""
        ...


@dataclass(frozen=True)
class ModeSpec:
    """A supervision mode: which process it starts, who may start it, and its starting data."""

    name: str
    process_id: str
    label: str
    creator_roles: frozenset[str]
    needs_lead_department: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """A notification to write: what it says and who receives it.

    ``audience`` entries are ``("department", code)``, ``("role", role)`` or
    ``("taskforce_leader", taskforce)``.
    """

    kind: str
    title: str
    body: str
    audience: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Rung:
    """One rung of an escalation ladder: the light and level it sets and who is told.

    Audience entries are as for ``Notice``; ``("lead_department", "")`` and
    ``("lead_department_leader", "")`` name the case's lead department, ``("taskforce_leader", "")``
    its task force's leader.
    """

    name: str
    label: str
    warning: str | None
    level: int
    audience: tuple[tuple[str, str], ...]
    only_unclaimed: bool = False


@dataclass(frozen=True)
class AuditEntry:
    """How a completed task reads in the timeline."""

    action: str
    label: str


@dataclass(frozen=True)
class Catalogue:
    """A process catalogue, ready to be run by the engine."""

    bpmn_xml: str
    modes: Mapping[str, ModeSpec]
    forms: Mapping[str, TaskForm]
    end_resolutions: Mapping[str, str]
    office_department: str
    describe_completion: Callable[[str, Mapping[str, Any], Callable[[str], str]], AuditEntry]
    compose_notice: Callable[[str, Mapping[str, Any], Callable[[str], str]], Notice]
    is_side_work: Callable[[Mapping[str, Any]], bool]
    escalation_rung: Callable[[str, str], Rung | None] = lambda mode, name: None
    calendar_overrides: CalendarOverrides | None = None
    # Names of the BPMN messages the engine's use cases send, by purpose.
    messages: Mapping[str, str] = field(default_factory=dict)
    default_mode: str = "standard"

    def mode(self, name: str) -> ModeSpec:
        """The mode named name."""
        return self.modes[name]
