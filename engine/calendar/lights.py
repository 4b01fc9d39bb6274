"""The traffic light (三色预警) of a task or case, from its due time and the working calendar."""

from __future__ import annotations

from datetime import datetime

from engine.calendar.working_days import WorkingCalendar

GREEN, YELLOW, RED = "green", "yellow", "red"


def warning_level(calendar: WorkingCalendar, due_at: datetime | None, now: datetime) -> str:
    """Red when overdue (超期), yellow within one working day of the due time (临期), else green."""
    if due_at is None:
        return GREEN
    if now > due_at:
        return RED
    if calendar.working_days_between(calendar.local_date(now), calendar.local_date(due_at)) <= 1:
        return YELLOW
    return GREEN
