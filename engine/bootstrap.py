"""Compose the engine from settings, a catalogue and a clock: the one place the parts meet."""

from __future__ import annotations

from datetime import time

from engine.caches import Caches
from engine.calendar.clock import Clock, current_clock
from engine.calendar.working_days import CalendarOverrides, WorkingCalendar
from engine.catalogue import Catalogue
from engine.deployments import load_deployed_xml
from engine.engine import Engine
from engine.org.directory import Directory
from engine.settings import Settings
from engine.storage.database import Database
from engine.workflow.runtime import WorkflowRuntime
from engine.workflow.specs import SpecCache


def bootstrap(settings: Settings, catalogue: Catalogue, clock: Clock | None = None,
              db: Database | None = None) -> Engine:
    """Build an engine; the catalogue's BPMN is parsed once here."""
    db = db or Database(settings.database_url, echo=settings.sql_echo, pipelined_writes=settings.pipelined_writes,
                        read_autocommit=settings.read_autocommit)
    clock = clock or current_clock()
    hour, minute = (int(p) for p in settings.closing_time.split(":"))
    calendar = WorkingCalendar(timezone=settings.timezone, closing_time=time(hour, minute),
                               overrides=catalogue.calendar_overrides or CalendarOverrides())
    caches = Caches(settings)
    specs = SpecCache(lambda version: load_deployed_xml(db, version))
    current = specs.add(catalogue.bpmn_xml).version
    runtime = WorkflowRuntime(specs, calendar, clock, caches.compiled, settings.fast_codec)
    return Engine(settings, db, catalogue, clock, calendar, specs, runtime, current, Directory(db, caches.org),
                  caches)
