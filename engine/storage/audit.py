"""The append-only audit trail: every action on a case, who, when, with what data and reason."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import insert
from sqlalchemy.orm import Session

from engine.storage.database import deferred, write
from engine.storage.models import Event

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
) -> dict[str, Any]:
    """Append one event to a case's history.

    The events of a unit of work are written together, in the order recorded, by one statement
    just before it commits (``engine.database.deferred``); a unit of work that does not commit
    writes none.
    """
    event = {"case_id": case_id, "task_id": task_id, "actor": actor, "action": action,
             "label": label or ACTION_LABELS.get(action, action), "at": at, "data": dict(data or {})}
    _pending(session).append(event)
    return event


def recorded(session: Session) -> int:
    """How many events this unit of work has recorded so far."""
    return len(_pending(session))


def discard(session: Session, event: dict[str, Any]) -> None:
    """Take back an event recorded in this unit of work."""
    _pending(session).remove(event)


def _pending(session: Session) -> list[dict[str, Any]]:
    return deferred(session, "audit_events", list, _write)


_INSERT = insert(Event.__table__)


def _write(session: Session, events: list[dict[str, Any]]) -> None:
    if events:
        write(session, _INSERT, events)
