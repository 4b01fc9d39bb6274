"""The worker: fires due BPMN timers as they fall due and delivers queued notifications.

It sleeps until the earliest ``case.next_wakeup_at`` (indexed), but never longer than a second, so
a timer armed by another process is picked up within a second too. Each job is one call into the
engine; several workers on one PostgreSQL share the work without firing anything twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Mapping

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import func, select

from engine.bootstrap import Engine
from engine.channels import Channel, default_channels
from engine.delivery import dispatch_due
from engine.models import Case
from engine.timers import fire_due_timers

log = logging.getLogger("duban.worker")
MAX_SLEEP = timedelta(seconds=1)
JOB_ID = "fire_due_timers"


def next_wakeup(engine: Engine) -> datetime | None:
    """The earliest armed timer of any open case."""
    with engine.db.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(func.min(Case.next_wakeup_at)).where(Case.status == "open"))


def _tick(engine: Engine, scheduler: BaseScheduler, channels: Mapping[str, Channel]) -> None:
    try:
        for fired in fire_due_timers(engine):
            log.info("fired timers of case %s (next wake-up %s)", fired.number, fired.next_wakeup_at)
    except Exception:  # keep the worker alive; the case stays due and is retried next tick
        log.exception("firing timers failed")
    try:
        for outcome in dispatch_due(engine, channels):
            log.info("delivery %s by %s to %s: %s", outcome.delivery_id, outcome.channel, outcome.target,
                     outcome.state if outcome.error is None else f"{outcome.state} ({outcome.error})")
    except Exception:
        log.exception("delivering notifications failed")
    # Sleep until the next wake-up on the engine's clock, at most a second, scheduled in real time.
    now = engine.clock.now()
    wake = next_wakeup(engine)
    pause = MAX_SLEEP if wake is None else min(max(wake - now, timedelta(0)) + timedelta(milliseconds=5), MAX_SLEEP)
    scheduler.add_job(_tick, "date", run_date=datetime.now(timezone.utc) + pause,
                      args=(engine, scheduler, channels), id=JOB_ID, replace_existing=True,
                      misfire_grace_time=None)


def _start(engine: Engine, scheduler: BaseScheduler) -> BaseScheduler:
    channels = default_channels(engine.settings)
    scheduler.add_job(_tick, "date", run_date=datetime.now(timezone.utc), args=(engine, scheduler, channels),
                      id=JOB_ID, misfire_grace_time=None)
    scheduler.start()
    return scheduler


def run_forever(engine: Engine) -> None:
    """Run the worker in this thread until interrupted."""
    _start(engine, BlockingScheduler(timezone=timezone.utc))


def run_in_background(engine: Engine) -> BaseScheduler:
    """Run the worker in a background thread (the embedded server on SQLite)."""
    return _start(engine, BackgroundScheduler(timezone=timezone.utc, daemon=True))
