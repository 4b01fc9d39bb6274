"""Working days (工作日) in the city's time zone.

Weekends and statutory holidays are off; make-up workdays (调休) are on. The data comes from
``holidays.China`` plus an override for the year's State Council notice. A year neither knows is
computed from weekends and the fixed holidays, with a warning in the log, never a failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalendarOverrides:
    """Days the official notice declares off or on, beyond what ``holidays`` knows."""

    days_off: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()


@dataclass
class WorkingCalendar:
    """Counts working days and computes deadlines in one time zone."""

    timezone: str = "Asia/Shanghai"
    closing_time: time = time(18, 0)
    overrides: CalendarOverrides = field(default_factory=CalendarOverrides)
    _warned: set[int] = field(default_factory=set, repr=False)

    @cached_property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    @cached_property
    def _china(self) -> holidays.HolidayBase:
        return holidays.China()

    def is_working_day(self, day: date) -> bool:
        """Tell whether day is a working day."""
        if day in self.overrides.workdays:
            return True
        if day in self.overrides.days_off:
            return False
        is_holiday = day in self._china  # also loads the year into the holiday table
        self._check_year(day.year)
        if day in self._china.weekend_workdays:
            return True
        return day.weekday() < 5 and not is_holiday

    def add_working_days(self, start: date, count: int) -> date:
        """Return the date count working days after start (count ≥ 0; 0 gives start)."""
        if count < 0:
            raise ValueError("count must not be negative")
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def subtract_working_days(self, start: date, count: int) -> date:
        """Return the date count working days before start."""
        day = start
        remaining = count
        while remaining > 0:
            day -= timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def shift(self, moment: datetime, working_days: int) -> datetime:
        """Move a moment by N working days (negative: back), keeping its local time of day."""
        local = moment.astimezone(self.zone)
        if working_days >= 0:
            day = self.add_working_days(local.date(), working_days)
        else:
            day = self.subtract_working_days(local.date(), -working_days)
        return datetime.combine(day, local.timetz())

    def working_days_between(self, start: date, end: date) -> int:
        """Count working days after start up to and including end (negative if end is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(1 for d in _days(start + timedelta(days=1), end) if self.is_working_day(d))

    def local_date(self, moment: datetime) -> date:
        """The calendar date of an aware moment in the calendar's zone."""
        return moment.astimezone(self.zone).date()

    def closing(self, day: date) -> datetime:
        """The end of a working day (closing time) as an aware datetime in the calendar's zone."""
        return datetime.combine(day, self.closing_time, tzinfo=self.zone)

    def deadline_after(self, start: datetime, working_days: int) -> datetime:
        """The deadline N working days after start: the closing time of the Nth working day."""
        return self.closing(self.add_working_days(self.local_date(start), working_days))

    def extend_deadline(self, due: datetime, working_days: int) -> datetime:
        """Move a deadline on by N working days, to the closing time of the day reached."""
        return self.deadline_after(due, working_days)

    def _check_year(self, year: int) -> None:
        """Log, once per year, that a year has no official notice data."""
        if year in self._warned or year in self.overrides.years:
            return
        if not any(d.year == year for d in self._china.weekend_workdays):
            self._warned.add(year)
            log.warning(
                "no holiday notice data for %s: counting weekends and fixed holidays only", year
            )


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
