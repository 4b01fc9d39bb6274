"""Creating and upgrading the schema with Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from engine.storage.database import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at duban's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_schema(db: Database, revision: str = "head") -> None:
    """Bring the database's schema up to a revision (the newest by default)."""
    config = alembic_config()
    with db.write_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
