"""Verbs on a case: record a new one (问题收集), and the actions people take on a running case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from engine.catalogue import AuditEntry, ModeSpec
from engine.commands.pipeline import CaseCommand, on_case, start_case
from engine.engine import Engine
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.org.access import Actor, may_create_in, visible_cases
from engine.storage.records import CaseRecord, CaseView


@dataclass(frozen=True)
class CaseDraft:
    """What 问题收集 records about a new case; ``options`` are the starting fields only some modes
    accept (the catalogue's ``ModeSpec.options``)."""

    title: str
    description: str
    taskforce: str
    mode: str | None = None
    source: str | None = None
    lead_department: str | None = None
    co_departments: list[str] = field(default_factory=list)
    deadline_working_days: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def create_case(engine: Engine, actor: Actor, draft: CaseDraft) -> CaseView:
    """Record a new case (问题收集) and start its process."""
    catalogue = engine.catalogue
    mode_name = draft.mode or catalogue.default_mode
    mode = catalogue.modes.get(mode_name)
    if mode is None:
        raise InvalidInput("未知的督办方式", {"mode": [f"可选：{'、'.join(catalogue.modes)}"]})
    if not actor.roles & mode.creator_roles:
        raise Forbidden(f"当前角色不能创建“{mode.label}”事项")
    _check_draft(engine, draft, mode)
    if not may_create_in(actor, draft.taskforce):
        raise Forbidden("只能在本人负责的专班内登记事项", {"taskforce": [f"无权在专班 {draft.taskforce} 登记事项"]})
    now = engine.clock.now()
    given = {
        "title": draft.title, "description": draft.description, "taskforce": draft.taskforce,
        "source": draft.source, "mode": mode_name, "lead_department": draft.lead_department,
        "co_departments": list(draft.co_departments), "deadline_working_days": draft.deadline_working_days,
        "created_by": actor.username,
    } | {name: value for name, value in draft.options.items() if value is not None}
    data = dict(mode.defaults) | {k: v for k, v in given.items() if v is not None or k not in mode.defaults}
    case = CaseRecord(
        id=0, number=None, title=draft.title, description=draft.description, taskforce=draft.taskforce,
        source=draft.source, mode=mode_name, status="open", resolution=None,
        lead_department=draft.lead_department, co_departments=list(draft.co_departments), due_at=None,
        warning_level="green", escalation_level=0, urge_count=0, return_count=0, rework_count=0,
        created_by=actor.username, created_at=now, updated_at=now, closed_at=None, process_id=mode.process_id,
        process_version=engine.current_version, workflow_state=b"", next_wakeup_at=None, version=0,
    )

    def apply(command: CaseCommand) -> None:
        command.case.number = f"DB{engine.calendar.local_date(now).year}-{command.case.id:06d}"
        if actor.department:
            command.add_parties([actor.department])
        command.record(command.word("case_created", mode_label=mode.label, title=draft.title),
                       data={k: v for k, v in data.items() if k != "created_by"})

    return start_case(engine, actor.username, case, data, apply)


def _check_draft(engine: Engine, draft: CaseDraft, mode: ModeSpec) -> None:
    errors: dict[str, list[str]] = {}
    for name in draft.options:
        if name not in mode.options:
            takers = [m.name for m in engine.catalogue.modes.values() if name in m.options]
            errors[name] = [f"仅适用于督办方式 {'、'.join(takers)}" if takers else "未知的选项"]
    known = engine.directory.assignable()
    if not engine.directory.has_taskforce(draft.taskforce):
        errors["taskforce"] = [f"未知的专班：{draft.taskforce}"]
    if mode.needs_lead_department and not draft.lead_department:
        errors["lead_department"] = ["此督办方式必须指定牵头单位。"]
    if draft.lead_department and draft.lead_department not in known:
        errors["lead_department"] = [f"未知的单位：{draft.lead_department}"]
    unknown = [c for c in draft.co_departments if c not in known]
    if unknown:
        errors["co_departments"] = [f"未知的单位：{'、'.join(unknown)}"]
    elif draft.lead_department and draft.lead_department in draft.co_departments:
        errors["co_departments"] = ["牵头单位不能同时作为协办单位。"]
    if errors:
        raise InvalidInput("事项信息填写有误", errors)


def act_on_case(engine: Engine, actor: Actor, case_id: int, action_name: str, note: str | None) -> CaseView:
    """Take one of the catalogue's actions on a running case (催办, 实地查办, …): record it, raise its
    counter, send the process its message, notify whom its notice names."""
    action = engine.catalogue.case_actions[action_name]
    if not actor.roles & action.roles:
        raise Forbidden(f"当前角色不能执行此操作（{action.entry.label.format(note='', count='')}）")

    def apply(command: CaseCommand) -> None:
        case = command.case
        if case.status != "open":
            raise Conflict("事项已办结", {"case": [f"事项状态：{case.status}"]})
        command.raise_counter(action.entry.counter)
        count = getattr(case, action.entry.counter) if action.entry.counter else None
        data: dict[str, Any] = {action.note_field: note}
        if action.entry.counter:
            data[action.entry.counter] = count
        if action.message:
            payload = {"note": note, "requested_by": actor.username, "requested_at": command.now.isoformat()}
            command.step(engine.runtime.send_message(command.workflow, action.message, payload))
        if action.notice:
            holders = sorted({t.assignee for t in command.open_tasks.values() if t.state == "claimed" and t.assignee})
            facts = command.facts() | {"message": note, "holders": holders}
            notice = engine.catalogue.compose_notice(action.notice, facts, engine.directory.name)
            key = f"{action.notice}:{case.id}:{count if count is not None else command.now.isoformat()}"
            data["recipients"] = command.notify(notice, key=key)
        label = action.entry.label.format(note=f"：{note}" if note else "", count=count)
        command.record(AuditEntry(action.entry.action, label), data=data)

    return on_case(engine, actor.username, case_id, apply, visible=visible_cases(actor))
