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

LEAD = ("lead_department", "")  # the case's lead department (handler and leader)
LEADER = ("lead_department_leader", "")  # the lead department's leader only

STANDARD_RUNGS = {
    "unclaimed": Rung("unclaimed", "未签收提醒", None, 0, (LEADER,), only_unclaimed=True),
    "due_soon": Rung("due_soon", "临期提醒", "yellow", 0, (LEAD,)),
    "overdue": Rung("overdue", "超期催办", "red", 1, (LEADER, ("role", "dispatcher"))),
    "supervised": Rung("supervised", "督办", "red", 2, (LEADER, ("role", "supervisor"))),
    "listed": Rung("listed", "挂牌督办", "red", 3, (LEADER, ("role", "supervisor"), ("taskforce_leader", ""))),
}
DIRECT_RUNGS = STANDARD_RUNGS | {
    "overdue": Rung("overdue", "超期，挂牌督办", "red", 3,
                    (LEADER, ("role", "supervisor"), ("taskforce_leader", ""))),
}

LADDERS: Mapping[str, tuple[Mapping[str, int | None], Mapping[str, Rung]]] = {
    "standard": (STANDARD_OFFSETS, STANDARD_RUNGS),
    "effectiveness": (STANDARD_OFFSETS, STANDARD_RUNGS),
    "onsite": (STANDARD_OFFSETS, STANDARD_RUNGS),
    "direct": (DIRECT_OFFSETS, DIRECT_RUNGS),
    "reminder": (REMINDER_OFFSETS, STANDARD_RUNGS),
}


def ladder_data(mode: str) -> dict[str, Any]:
    """The ``ladder`` a case of this mode starts with."""
    return dict(LADDERS[mode][0])


def rung(mode: str, name: str) -> Rung | None:
    """The rung of a mode's ladder, or None if the mode does not use it."""
    offsets, rungs = LADDERS.get(mode, LADDERS["standard"])
    return rungs.get(name) if offsets.get(name) is not None else None
