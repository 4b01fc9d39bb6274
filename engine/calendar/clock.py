"""The one clock the engine reads, injectable so tests and operators control time.

SpiffWorkflow's timer events read ``datetime.now(timezone.utc)`` from their own module; the engine
points that module at the clock of the runtime that is running the workflow (a context variable
set around every engine step), else at the process-wide clock, so BPMN timers and everything else
agree on "now".
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from datetime import datetime, timedelta, timezone
from typing import Iterator, Protocol

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that stands still until moved; for tests and ``worker --once --now``."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the frozen time."""
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        """Move the clock to an absolute time."""
        with self._lock:
            self._at = at.astimezone(timezone.utc)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        with self._lock:
            self._at = self._at + delta


_current: Clock = SystemClock()
_running: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("duban_running_clock", default=None)


def current_clock() -> Clock:
    """Return the clock in force."""
    return _current


def install_clock(clock: Clock) -> Clock:
    """Make clock the process-wide clock, SpiffWorkflow's timers included; return the previous one."""
    global _current
    previous, _current = _current, clock
    return previous


@contextlib.contextmanager
def running_on(clock: Clock) -> Iterator[None]:
    """Make SpiffWorkflow's timers read clock inside the block (this thread or task only)."""
    token = _running.set(clock)
    try:
        yield
    finally:
        _running.reset(token)


class _SpiffDatetime(datetime):
    """The ``datetime`` SpiffWorkflow's timer module sees: ``now()`` asks our clock."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        """Return the running (else the installed) clock's time in tz (UTC when not given)."""
        clock = _running.get() or _current
        return clock.now().astimezone(tz or timezone.utc)


_spiff_timer.datetime = _SpiffDatetime
