"""The append-only audit trail: every action on a case, who, when, with what data and reason."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from engine.models import Event

# Chinese labels of the engine's own actions; a catalogue words task completions itself.
ACTION_LABELS = {
    "case_created": "问题收集：登记督办事项",
    "task_created": "生成待办",
    "task_claimed": "签收",
    "task_unclaimed": "取消签收",
    "task_assigned": "指派",
    "task_cancelled": "待办撤销",
    "case_closed": "办结",
}


def record(
    session: Session,
    *,
    case_id: int,
    actor: str,
    action: str,
    at: datetime,
    label: str | None = None,
    task_id: uuid.UUID | None = None,
    data: Mapping[str, Any] | None = None,
) -> Event:
    """Append one event to a case's history."""
    event = Event(
        case_id=case_id,
        task_id=task_id,
        actor=actor,
        action=action,
        label=label or ACTION_LABELS.get(action, action),
        at=at,
        data=dict(data or {}),
    )
    session.add(event)
    session.info["events_recorded"] = session.info.get("events_recorded", 0) + 1
    return event


def recorded(session: Session) -> int:
    """How many events this session has recorded so far."""
    return int(session.info.get("events_recorded", 0))
