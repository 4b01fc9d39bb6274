"""Deployed process documents: each content of the catalogue's BPMN, by version (its hash)."""

from __future__ import annotations

from sqlalchemy import insert, select

from engine.engine import Engine
from engine.storage.database import Database
from engine.storage.models import Deployment
from engine.workflow.specs import content_version

_DEPLOYMENTS = Deployment.__table__


def deploy(engine: Engine, deployed_by: str | None = None) -> str:
    """Record the catalogue's BPMN as a deployment if it is new; return its version."""
    xml = engine.catalogue.bpmn_xml
    version = content_version(xml)
    with engine.db.unit_of_work() as uow:
        if uow.scalar(select(_DEPLOYMENTS.c.version).where(_DEPLOYMENTS.c.version == version)) is None:
            uow.write(insert(_DEPLOYMENTS), {"version": version, "bpmn_xml": xml, "deployed_at": engine.clock.now(),
                                             "deployed_by": deployed_by})
            uow.commit()
    return version


def load_deployed_xml(db: Database, version: str) -> str:
    """The BPMN document of a deployed version."""
    with db.unit_of_work(write=False) as uow:
        xml = uow.scalar(select(_DEPLOYMENTS.c.bpmn_xml).where(_DEPLOYMENTS.c.version == version))
    if xml is None:
        raise LookupError(f"no deployment of process version {version}")
    return str(xml)


def deployed_xml(engine: Engine, version: str) -> str:
    """The BPMN document of a deployed version."""
    return load_deployed_xml(engine.db, version)
