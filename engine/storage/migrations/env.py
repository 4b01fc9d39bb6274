"""Alembic environment: migrations run on the connection duban hands over, or on DUBAN's URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from engine.storage.database import normalize_url
from engine.storage.models import Base
from engine.settings import Settings

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations online, on a given connection or a fresh engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        _run(conn)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
