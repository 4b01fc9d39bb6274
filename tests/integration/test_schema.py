"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.bootstrap import Engine
from engine.storage.models import Base


def test_migrations_match_the_models(engine: Engine) -> None:
    """Find no difference between the migrated database and the models."""
    with engine.db.write_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrading_marks_the_accounts_seed_demo_made_as_demo_accounts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Recognise seed-demo's earlier accounts (<username>@duban.local) when the demo flag arrives."""
    from sqlalchemy import text

    from engine.storage.database import Database
    from engine.storage.schema import upgrade_schema

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        upgrade_schema(db, "0007")
        with db.write_engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO user_account (username, display_name, password_hash, roles, email, active) VALUES "
                "('dispatcher', 'd', 'h', '[]', 'dispatcher@duban.local', 1), "
                "('zhang.wei', 'z', 'h', '[]', 'zhang.wei@wuhan.gov.cn', 1)"))
        upgrade_schema(db)
        with db.write_engine.connect() as connection:
            flags = dict(connection.execute(text("SELECT username, demo FROM user_account")).all())
        assert flags == {"dispatcher": 1, "zhang.wei": 0}
    finally:
        db.dispose()
