"""The escalation ladder (督办升级) of the handling task, per supervision mode.

Each rung is a BPMN timer on ``handle_case`` (processes.bpmn) whose offset in working days comes
from the case's ``ladder`` data: from the moment the task opens (unclaimed) or from its due time.
When a rung fires, the task and case take its warning light and escalation level, and its people
are told. A mode switches a rung off by giving it no offset.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.catalogue import Rung

# Offsets in working days (None: the mode does not use this rung).
STANDARD_OFFSETS = {"unclaimed": 1, "due_soon": -1, "overdue": 0, "supervised": 3, "listed": 5}
# 直接专办: a leader's instruction; at the deadline it goes straight to the task force's leader.
DIRECT_OFFSETS = {"unclaimed": 1, "due_soon": -1, "overdue": 0, "supervised": None, "listed": None}
# 提醒快办: at the deadline the case is upgraded to direct handling instead (its own timer).
REMINDER_OFFSETS = {"unclaimed": 1, "due_soon": -1, "overdue": None, "supervised": None, "listed": None}

LEAD = ("lead_department", "")  # the task's department (handler and leader)
LEADER = ("lead_department_leader", "")  # that department's leader only
TASKFORCE_LEADER = ("taskforce_leader", "")  # the case's task force's leader

STANDARD_RUNGS = {
    "unclaimed": Rung("unclaimed", "未签收提醒", None, 0, only_unclaimed=True),
    "due_soon": Rung("due_soon", "临期提醒", "yellow", 0),
    "overdue": Rung("overdue", "超期催办", "red", 1),
    "supervised": Rung("supervised", "督办", "red", 2),
    "listed": Rung("listed", "挂牌督办", "red", 3),
}
STANDARD_AUDIENCES = {
    "unclaimed": (LEADER,),
    "due_soon": (LEAD,),
    "overdue": (LEADER, ("role", "dispatcher")),
    "supervised": (LEADER, ("role", "supervisor")),
    "listed": (LEADER, ("role", "supervisor"), TASKFORCE_LEADER),
}
DIRECT_RUNGS = STANDARD_RUNGS | {"overdue": Rung("overdue", "超期，挂牌督办", "red", 3)}
DIRECT_AUDIENCES = STANDARD_AUDIENCES | {"overdue": (LEADER, ("role", "supervisor"), TASKFORCE_LEADER)}

Audiences = Mapping[str, tuple[tuple[str, str], ...]]
LADDERS: Mapping[str, tuple[Mapping[str, int | None], Mapping[str, Rung], Audiences]] = {
    "standard": (STANDARD_OFFSETS, STANDARD_RUNGS, STANDARD_AUDIENCES),
    "effectiveness": (STANDARD_OFFSETS, STANDARD_RUNGS, STANDARD_AUDIENCES),
    "onsite": (STANDARD_OFFSETS, STANDARD_RUNGS, STANDARD_AUDIENCES),
    "direct": (DIRECT_OFFSETS, DIRECT_RUNGS, DIRECT_AUDIENCES),
    "reminder": (REMINDER_OFFSETS, STANDARD_RUNGS, STANDARD_AUDIENCES),
}


def ladder_data(mode: str) -> dict[str, Any]:
    """The ``ladder`` a case of this mode starts with."""
    return dict(LADDERS[mode][0])


def rung(mode: str, name: str) -> Rung | None:
    """The rung of a mode's ladder, or None if the mode does not use it."""
    offsets, rungs, _ = LADDERS.get(mode, LADDERS["standard"])
    return rungs.get(name) if offsets.get(name) is not None else None


def audience(mode: str, name: str, facts: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Who is told when a rung fires: the rung's audience for the task's department and the case's
    task force, and whoever holds the task when its department is told."""
    _, _, audiences = LADDERS.get(mode, LADDERS["standard"])
    lead, taskforce = facts.get("lead_department") or "", facts.get("taskforce") or ""
    named = audiences.get(name, ())
    resolved = []
    for kind, value in named:
        if (kind, value) == LEAD:
            resolved.append(("department", lead))
        elif (kind, value) == LEADER:
            resolved.append(("department_leader", lead))
        elif (kind, value) == TASKFORCE_LEADER:
            resolved.append(("taskforce_leader", taskforce))
        else:
            resolved.append((kind, value))
    if facts.get("assignee") and (LEAD in named or LEADER in named):
        resolved.append(("user", facts["assignee"]))
    return tuple(resolved)
