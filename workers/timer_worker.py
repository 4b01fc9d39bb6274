"""The worker: fires due BPMN timers as they fall due and delivers queued notifications.

It sleeps until the earliest ``case.next_wakeup_at`` (indexed), but never longer than a second, so
a timer armed by another process is picked up within a second too. Each job is one call into the
engine; several workers on one PostgreSQL share the work without firing anything twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Mapping

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import func, select

from engine.caches import tune_garbage_collector
from engine.engine import Engine
from engine.notifications.channels import Channel, default_channels
from engine.notifications.delivery import dispatch_due
from engine.storage.models import Case
from engine.commands.timers import fire_due_timers

log = logging.getLogger("duban.worker")
MAX_SLEEP = timedelta(seconds=1)
JOB_ID = "fire_due_timers"


def next_wakeup(engine: Engine) -> datetime | None:
    """The earliest armed timer of any open case."""
    with engine.db.unit_of_work(write=False) as uow:
        return uow.scalar(select(func.min(Case.next_wakeup_at)).where(Case.status == "open"))


class Worker:
    """The scheduler's one job: fire, deliver, then schedule itself again for the next wake-up."""

    def __init__(self, engine: Engine, scheduler: BaseScheduler) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.channels: Mapping[str, Channel] = default_channels(engine.settings)
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()

    def start(self) -> "Worker":
        """Schedule the first tick now and start the scheduler."""
        quiet_scheduler_logs()
        self._schedule(timedelta(0))
        log.info("worker started: firing timers and delivering notifications")
        self.scheduler.start()  # a blocking scheduler runs here until stopped
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling ticks, let a running one finish, and shut the scheduler down."""
        self._stopping.set()
        # Not wait=True: it would hold the job store while a running tick tries to reschedule itself.
        self.scheduler.shutdown(wait=False)
        self._idle.wait(timeout)

    def tick(self) -> None:
        """Fire due timers, deliver due notifications, sleep until the next wake-up (≤ 1 s)."""
        self._idle.clear()
        try:
            self._fire_and_deliver()
            if self._stopping.is_set():
                return
            now = self.engine.clock.now()
            wake = next_wakeup(self.engine)
            pause = MAX_SLEEP if wake is None else min(max(wake - now, timedelta(0)) + timedelta(milliseconds=5),
                                                       MAX_SLEEP)
            self._schedule(pause)
        except SchedulerNotRunningError:
            pass  # stopped while this tick ran
        finally:
            self._idle.set()

    def _schedule(self, pause: timedelta) -> None:
        # The engine's clock may be frozen (tests, --now): the pause is slept in real time.
        self.scheduler.add_job(self.tick, "date", run_date=datetime.now(timezone.utc) + pause, id=JOB_ID,
                               replace_existing=True, misfire_grace_time=None)

    def _fire_and_deliver(self) -> None:
        try:
            self.engine.directory.refresh()  # an organisation changed elsewhere reaches this worker
        except Exception:
            log.exception("reading the organisation's version failed")
        try:
            for fired in fire_due_timers(self.engine):
                log.info("fired timers of case %s (next wake-up %s)", fired.number, fired.next_wakeup_at)
        except Exception:  # keep the worker alive; the case stays due and is retried next tick
            log.exception("firing timers failed")
        try:
            for outcome in dispatch_due(self.engine, self.channels):
                log.info("delivery %s by %s to %s: %s", outcome.delivery_id, outcome.channel, outcome.target,
                         outcome.state if outcome.error is None else f"{outcome.state} ({outcome.error})")
        except Exception:
            log.exception("delivering notifications failed")


def quiet_scheduler_logs() -> None:
    """APScheduler's own lines (a "Running job" for every tick, every second) at DEBUG only: the
    worker logs what it fired and delivered, and the terminal keeps the request log readable."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def run_forever(engine: Engine) -> None:
    """Run the worker in this thread until interrupted (the objects it starts with frozen out of
    the garbage collector's sight, as in the HTTP workers)."""
    if engine.settings.gc_tuning:
        tune_garbage_collector()
    Worker(engine, BlockingScheduler(timezone=timezone.utc)).start()


def run_in_background(engine: Engine) -> Worker:
    """Run the worker in a background thread (the embedded server on SQLite); ``stop()`` ends it."""
    return Worker(engine, BackgroundScheduler(timezone=timezone.utc, daemon=True)).start()
