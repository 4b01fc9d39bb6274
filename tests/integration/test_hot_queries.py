"""Hot queries (engine.database.fetch) read rows exactly as SQLAlchemy reads them."""

from __future__ import annotations

from sqlalchemy import select

from engine.commands import cases
from engine.bootstrap import Engine
from engine.storage.database import fetch_in
from engine.storage.models import Task
from engine.org.accounts import actor_of, find_user
from tests.integration.test_escalation import _referred


def _typed(rows: list[tuple]) -> list[list[tuple[type, object]]]:  # type: ignore[type-arg]
    return [[(type(value), value) for value in row] for row in rows]


def test_the_locking_read_fetches_what_sqlalchemy_would_read(engine: Engine) -> None:
    """Every value of a case and its open tasks (times with their zone, UUIDs, JSON lists, the
    stored workflow, NULLs) comes back with the same type and value either way."""
    case_id = _referred(engine, lambda name: actor_of(find_user(engine, name)))
    with engine.db.unit_of_work() as uow:
        task_id = uow.session.scalar(select(Task.id).where(Task.case_id == case_id, Task.state == "ready"))
        query = cases._CASE_OF_TASK_FOR_UPDATE if engine.db.locks_rows else cases._CASE_OF_TASK
        through_sqlalchemy = [tuple(row) for row in uow.session.execute(query, {"task_id": task_id})]
        fetched = fetch_in(uow.session, query, {"task_id": task_id})
    assert through_sqlalchemy and _typed(fetched) == _typed(through_sqlalchemy)
    values = {type(v) for row in fetched for v in row}
    assert {bytes, list}.issubset(values) and type(None) in values
    assert all(v.tzinfo is not None for row in fetched for v in row if hasattr(v, "tzinfo"))
