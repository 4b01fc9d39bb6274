"""Compose the engine from settings, a catalogue and a clock: the one place the parts meet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import select

from engine.calendar.working_days import CalendarOverrides, WorkingCalendar
from engine.catalogue import Catalogue
from engine.calendar.clock import Clock, current_clock
from engine.storage.database import Database
from engine.org.directory import Directory
from engine.workflow.instances import InstanceCache
from engine.storage.models import Deployment
from engine.workflow.runtime import WorkflowRuntime
from engine.settings import Settings
from engine.workflow.specs import SpecCache, content_version


@dataclass
class Engine:
    """Everything a use case needs: database, runtime, catalogue, calendar and clock."""

    settings: Settings
    db: Database
    catalogue: Catalogue
    clock: Clock
    calendar: WorkingCalendar
    specs: SpecCache
    runtime: WorkflowRuntime
    current_version: str
    directory: Directory
    instances: InstanceCache

    def deploy(self, deployed_by: str | None = None) -> str:
        """Record the catalogue's BPMN as a deployment if it is new; return its version."""
        xml = self.catalogue.bpmn_xml
        version = content_version(xml)
        with self.db.unit_of_work() as uow:
            if uow.session.get(Deployment, version) is None:
                uow.session.add(
                    Deployment(version=version, bpmn_xml=xml, deployed_at=self.clock.now(),
                               deployed_by=deployed_by)
                )
                uow.commit()
        return version


def bootstrap(settings: Settings, catalogue: Catalogue, clock: Clock | None = None,
              db: Database | None = None) -> Engine:
    """Build an engine; the catalogue's BPMN is parsed once here."""
    db = db or Database(settings.database_url, echo=settings.sql_echo)
    clock = clock or current_clock()
    hour, minute = (int(p) for p in settings.closing_time.split(":"))
    calendar = WorkingCalendar(timezone=settings.timezone, closing_time=time(hour, minute),
                               overrides=catalogue.calendar_overrides or CalendarOverrides())

    def load_xml(version: str) -> str:
        with db.unit_of_work(write=False) as uow:
            xml = uow.session.scalar(select(Deployment.bpmn_xml).where(Deployment.version == version))
        if xml is None:
            raise LookupError(f"no deployment of process version {version}")
        return xml

    specs = SpecCache(load_xml)
    current = specs.add(catalogue.bpmn_xml).version
    runtime = WorkflowRuntime(specs, calendar, clock)
    return Engine(settings, db, catalogue, clock, calendar, specs, runtime, current, Directory(db),
                  InstanceCache(settings.instance_cache_size))
