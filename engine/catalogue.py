"""What a process catalogue gives the engine.

The engine runs any catalogue: the BPMN document, the modes that start its processes, a form per
user task, how finished processes resolve, how every event reads in the audit trail, who is told
what, the actions people may take on a running case, and the escalation ladders. The engine names
none of a catalogue's modes, actions, audiences or loops; it knows only the kinds of events it
makes itself (``ENGINE_EVENTS``), which each catalogue words. The supervision catalogue lives in
``processes/``; the entry points hand it to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol

from engine.calendar.working_days import CalendarOverrides

# The events the engine itself records, and the facts each label template may use.
ENGINE_EVENTS: Mapping[str, tuple[str, ...]] = {
    "case_created": ("mode_label", "title"),
    "task_created": ("title", "department_name"),
    "task_claimed": ("title",),
    "task_unclaimed": ("title",),
    "task_assigned": ("title", "assignee_name"),
    "task_cancelled": ("title",),
    "case_closed": ("resolution_label",),
    "mode_changed": ("previous_label", "label"),
    "timer_fired": (),
    "notice_sent": ("title",),
    "escalated": ("rung_label", "title", "department_name"),
}
# Case counters a catalogue's events may raise (columns of the case row).
COUNTERS = frozenset({"urge_count", "return_count", "rework_count"})


@dataclass(frozen=True)
class FormContext:
    """What a form may need to know: the departments a case can go to (code → name), the task's
    data, and the case's task force (``code``, ``name``, ``lead_department``)."""

    departments: Mapping[str, str]
    task_data: Mapping[str, Any] = field(default_factory=dict)
    taskforce: Mapping[str, Any] = field(default_factory=dict)


class TaskForm(Protocol):
    """A user task's form: validates submitted data and describes its fields."""

    def load(self, data: Mapping[str, Any], context: FormContext) -> dict[str, Any]:
        """Return the cleaned data, or raise ``InvalidInput`` naming each bad field."""
        ...

    def describe(self, context: FormContext) -> list[dict[str, Any]]:
        """Describe the fields: name, type, label, required, choices, conditions."""
        ...

    def initial(self, context: FormContext) -> dict[str, Any]:
        """The values a person starts the form from, for a task with this data."""
        ...


@dataclass(frozen=True)
class ModeSpec:
    """A mode: which process it starts, who may start it, its starting data, and the options
    (extra starting fields) only it accepts."""

    name: str
    process_id: str
    label: str
    creator_roles: frozenset[str]
    needs_lead_department: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    options: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Notice:
    """A notification to write: what it says and who receives it.

    ``audience`` entries name recipients the engine's directory resolves: ``("department", code)``
    (its members), ``("department_leader", code)``, ``("role", role)``,
    ``("taskforce_leader", taskforce)`` or ``("user", username)``.
    """

    kind: str
    title: str
    body: str
    audience: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AuditEntry:
    """How an event reads in the timeline, and the case counter it raises, if any."""

    action: str
    label: str
    counter: str | None = None


@dataclass(frozen=True)
class Rung:
    """One rung of an escalation ladder: the light and level it sets. Who is told is the notice's
    business (``compose_notice("escalation_<name>", facts)``)."""

    name: str
    label: str
    warning: str | None
    level: int
    only_unclaimed: bool = False


@dataclass(frozen=True)
class CaseAction:
    """Something people may do to a running case without a task: who may, how it reads, and what it
    does — send the process a message (a BPMN message name), notify (a notice kind), raise a counter."""

    name: str
    roles: frozenset[str]
    entry: AuditEntry  # its label may use {note} and {count}
    message: str | None = None
    notice: str | None = None
    note_field: str = "note"  # what the person's note is called in the event's data


@dataclass(frozen=True)
class Catalogue:
    """A process catalogue, ready to be run by the engine."""

    bpmn_xml: str
    modes: Mapping[str, ModeSpec]
    forms: Mapping[str, TaskForm]
    # end event id → (resolution, label): how a finished process closes its case.
    end_resolutions: Mapping[str, tuple[str, str]]
    office_department: str
    # How the engine's own events read: ENGINE_EVENTS kind → action and label template.
    wording: Mapping[str, AuditEntry]
    describe_completion: Callable[[str, Mapping[str, Any], Callable[[str], str]], AuditEntry]
    compose_notice: Callable[[str, Mapping[str, Any], Callable[[str], str]], Notice]
    is_side_work: Callable[[Mapping[str, Any]], bool]
    format_moment: Callable[[datetime | None], str | None]
    case_actions: Mapping[str, CaseAction] = field(default_factory=dict)
    escalation_rung: Callable[[str, str], Rung | None] = lambda mode, name: None
    calendar_overrides: CalendarOverrides | None = None
    default_mode: str = ""  # the mode of a case created without one

    def __post_init__(self) -> None:
        missing = set(ENGINE_EVENTS) - set(self.wording)
        if missing:
            raise ValueError(f"the catalogue does not word the engine's events {sorted(missing)}")
        counters = {a.entry.counter for a in self.case_actions.values()} - {None}
        if not counters <= COUNTERS:
            raise ValueError(f"unknown case counters {sorted(counters - COUNTERS)}")

    def word(self, kind: str, **facts: Any) -> AuditEntry:
        """One of the engine's own events as this catalogue words it."""
        entry = self.wording[kind]
        return AuditEntry(entry.action, entry.label.format(**facts), entry.counter)
