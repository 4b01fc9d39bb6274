"""The engine: the parts every command and query is given."""

from __future__ import annotations

from dataclasses import dataclass

from engine.caches import Caches
from engine.calendar.clock import Clock
from engine.calendar.working_days import WorkingCalendar
from engine.catalogue import Catalogue
from engine.org.directory import Directory
from engine.settings import Settings
from engine.storage.database import Database
from engine.workflow.runtime import WorkflowRuntime
from engine.workflow.specs import SpecCache


@dataclass
class Engine:
    """A catalogue running on a database: settings, database, catalogue, clock, calendar, the
    workflow runtime and the caches (``bootstrap`` builds one)."""

    settings: Settings
    db: Database
    catalogue: Catalogue
    clock: Clock
    calendar: WorkingCalendar
    specs: SpecCache
    runtime: WorkflowRuntime
    current_version: str
    directory: Directory
    caches: Caches
