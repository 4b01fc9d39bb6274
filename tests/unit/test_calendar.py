"""Working days (工作日) in Asia/Shanghai: weekends and holidays off, make-up workdays on."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timezone

import pytest

from engine.calendar.working_days import CalendarOverrides, WorkingCalendar
from processes.catalogue import calendar_overrides


@pytest.fixture
def calendar() -> WorkingCalendar:
    """The city's calendar with the official notices on file."""
    return WorkingCalendar(overrides=calendar_overrides())


def test_national_day_2026_is_skipped_and_the_make_up_saturday_counts(calendar: WorkingCalendar) -> None:
    """Count 30 Sep + 3 working days as 10 Oct 2026: the holiday week is off, Saturday 10 Oct is on."""
    assert calendar.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert [calendar.is_working_day(date(2026, 10, d)) for d in range(1, 11)] == [
        False, False, False, False, False, False, False, True, True, True]


def test_spring_festival_2026_is_skipped(calendar: WorkingCalendar) -> None:
    """Skip 15–23 Feb 2026; Saturdays 14 and 28 Feb are make-up workdays."""
    assert calendar.is_working_day(date(2026, 2, 14)) is True
    assert calendar.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert calendar.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert calendar.is_working_day(date(2026, 2, 28)) is True
    assert calendar.working_days_between(date(2026, 2, 13), date(2026, 2, 28)) == 6


def test_a_make_up_sunday_before_national_day_is_a_working_day(calendar: WorkingCalendar) -> None:
    """Treat Sunday 20 Sep 2026 as a working day."""
    assert calendar.is_working_day(date(2026, 9, 20)) is True
    assert calendar.add_working_days(date(2026, 9, 19), 1) == date(2026, 9, 20)


def test_counting_crosses_the_year_boundary(calendar: WorkingCalendar) -> None:
    """Skip New Year's Day and the weekend when counting from 30 Dec 2026."""
    assert calendar.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)


def test_a_year_without_a_notice_falls_back_to_weekends_and_fixed_holidays(
    calendar: WorkingCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    """Compute 2031 from weekends and fixed holidays, warn once, never fail."""
    with caplog.at_level(logging.WARNING, logger="engine.calendar.working_days"):
        assert calendar.add_working_days(date(2031, 9, 30), 1) == date(2031, 10, 6)  # 1–3 Oct off, then the weekend
        assert calendar.add_working_days(date(2031, 3, 7), 1) == date(2031, 3, 10)
    warnings = [r for r in caplog.records if "2031" in r.getMessage()]
    assert len(warnings) == 1


def test_a_deadline_ends_at_closing_time_on_the_nth_working_day(calendar: WorkingCalendar) -> None:
    """End a 3-working-day deadline given on Friday 27 Nov 2026 at 18:00 on Wednesday 2 Dec."""
    start = datetime(2026, 11, 27, 8, 30, tzinfo=timezone.utc)  # 16:30 in Shanghai
    due = calendar.deadline_after(start, 3)
    assert due == datetime(2026, 12, 2, 18, 0, tzinfo=calendar.zone)
    assert due.astimezone(timezone.utc) == datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


def test_the_local_date_decides_the_day_not_utc(calendar: WorkingCalendar) -> None:
    """Count from the Shanghai date: 23:30 UTC on a Friday is already Saturday in Shanghai."""
    late_friday_utc = datetime(2026, 11, 27, 23, 30, tzinfo=timezone.utc)
    assert calendar.deadline_after(late_friday_utc, 1).date() == date(2026, 11, 30)


def test_an_extension_adds_working_days_to_the_current_deadline(calendar: WorkingCalendar) -> None:
    """Move a deadline of Wed 30 Sep 2026 by 2 working days to Fri 9 Oct."""
    due = datetime(2026, 9, 30, 18, 0, tzinfo=calendar.zone)
    assert calendar.extend_deadline(due, 2) == datetime(2026, 10, 9, 18, 0, tzinfo=calendar.zone)


def test_closing_time_is_configurable() -> None:
    """Use the configured closing time for deadlines."""
    calendar = WorkingCalendar(closing_time=time(17, 30))
    due = calendar.deadline_after(datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc), 1)
    assert (due.hour, due.minute) == (17, 30)


def test_the_override_file_wins_over_the_library() -> None:
    """Apply a notice's days off and make-up workdays even where holidays.China says otherwise."""
    overrides = CalendarOverrides(days_off=frozenset({date(2030, 1, 7)}),
                                  workdays=frozenset({date(2030, 1, 5)}), years=frozenset({2030}))
    calendar = WorkingCalendar(overrides=overrides)
    assert calendar.is_working_day(date(2030, 1, 7)) is False  # a Monday, declared off
    assert calendar.is_working_day(date(2030, 1, 5)) is True  # a Saturday, declared on
    assert calendar.add_working_days(date(2030, 1, 4), 2) == date(2030, 1, 8)


def test_the_override_file_agrees_with_the_library_for_2026() -> None:
    """Keep the 2026 notice on file consistent with holidays.China, day by day."""
    with_file = WorkingCalendar(overrides=calendar_overrides())
    library = WorkingCalendar()
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert with_file.is_working_day(day) == library.is_working_day(day), day
        day = date.fromordinal(day.toordinal() + 1)
