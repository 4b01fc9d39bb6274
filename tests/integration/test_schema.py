"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.bootstrap import Engine
from engine.models import Base


def test_migrations_match_the_models(engine: Engine) -> None:
    """Find no difference between the migrated database and the models."""
    with engine.db.write_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
