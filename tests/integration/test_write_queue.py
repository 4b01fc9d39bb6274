"""Queued writes (engine.database.write): sent in order, checked, undone with their savepoint."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, text, update

from engine.bootstrap import Engine
from engine.storage.database import send_writes, write
from engine.errors import Conflict
from engine.storage.models import Case, Event

AT = datetime(2026, 12, 1, 1, 2, 3, 456789, tzinfo=timezone.utc)
CASES = Case.__table__
URGE = (update(CASES).where(CASES.c.id == bindparam("case")).values(urge_count=CASES.c.urge_count + bindparam("by")))
SET_URGES = text("UPDATE supervision_case SET urge_count = :n WHERE id = :case")


def _urges(engine: Engine, case_id: int) -> int | None:
    with engine.db.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(Case.urge_count).where(Case.id == case_id))


def _any_case(engine: Engine) -> int:
    from engine.org.accounts import actor_of, find_user
    from tests.integration.test_escalation import _referred  # a real case to write on

    return _referred(engine, lambda name: actor_of(find_user(engine, name)))


def test_queued_writes_go_out_in_order_before_the_next_query(engine: Engine) -> None:
    """A query after queued writes sees them, in the order they were queued; commit keeps them."""
    case_id = _any_case(engine)
    with engine.db.unit_of_work() as uow:
        write(uow.session, SET_URGES, {"case": case_id, "n": 5})
        write(uow.session, URGE, {"case": case_id, "by": -2})
        write(uow.session, URGE, [{"case": case_id, "by": 10}, {"case": case_id, "by": 1}])
        assert uow.session.scalar(select(Case.urge_count).where(Case.id == case_id)) == 14
        uow.commit()
    assert _urges(engine, case_id) == 14
    with engine.db.unit_of_work() as uow:
        write(uow.session, URGE, {"case": case_id, "by": 100})
    assert _urges(engine, case_id) == 14  # a unit of work that does not commit writes nothing


def test_a_write_that_changes_other_rows_than_expected_fails_the_commit_and_keeps_nothing(engine: Engine) -> None:
    """A failed row-count check is a conflict, and none of the unit of work's writes is kept."""
    case_id = _any_case(engine)
    with engine.db.unit_of_work() as uow:
        write(uow.session, SET_URGES, {"case": case_id, "n": 3})
        write(uow.session, URGE, {"case": -1, "by": 1}, expect_rows=1, conflict="事项不存在")
        with pytest.raises(Conflict, match="事项不存在"):
            uow.commit()
    assert _urges(engine, case_id) == 0


def test_writes_queued_in_a_failed_savepoint_are_forgotten(engine: Engine) -> None:
    """What a failed savepoint queued is neither sent nor committed; what came before it is."""
    case_id = _any_case(engine)
    with engine.db.unit_of_work() as uow:
        write(uow.session, SET_URGES, {"case": case_id, "n": 1})
        with pytest.raises(RuntimeError):
            with uow.savepoint():
                write(uow.session, URGE, {"case": case_id, "by": 50})
                raise RuntimeError("this case cannot be fired")
        with uow.savepoint():
            write(uow.session, URGE, {"case": case_id, "by": 2})
        uow.commit()
    assert _urges(engine, case_id) == 3


def test_queued_values_reach_the_database_as_sqlalchemy_would_send_them(engine: Engine) -> None:
    """Datetimes, UUIDs, JSON with Chinese text, and NULLs come back as written, whatever the
    database and however the writes were sent."""
    case_id = _any_case(engine)
    task_id = uuid.uuid4()
    data = {"理由": "需要协调自然资源规划局", "days": [1, 2], "ok": True, "none": None}
    with engine.db.unit_of_work() as uow:
        write(uow.session, insert(Event.__table__), [
            {"case_id": case_id, "task_id": task_id, "actor": "econ_it", "action": "probe", "label": "探测",
             "at": AT, "data": data},
            {"case_id": case_id, "task_id": None, "actor": "system", "action": "probe", "label": "探测二",
             "at": AT + timedelta(seconds=1), "data": {}},
        ])
        send_writes(uow.session)
        uow.commit()
    with engine.db.unit_of_work(write=False) as uow:
        rows = uow.session.scalars(select(Event).where(Event.action == "probe").order_by(Event.id)).all()
    assert [(r.task_id, r.at, r.data, r.label) for r in rows] == [
        (task_id, AT, data, "探测"), (None, AT + timedelta(seconds=1), {}, "探测二")]


def test_a_checked_write_sent_with_the_commit_sees_what_another_writer_committed_first(engine: Engine) -> None:
    """Writes queued before another writer commits go out at commit and are checked against what
    that writer left (on PostgreSQL by the database itself, in the COMMIT's round trip): the
    check fails, and none of the unit of work's writes is kept."""
    case_id = _any_case(engine)
    still_unurged = (update(CASES).where(CASES.c.id == bindparam("case"), CASES.c.urge_count == 0)
                     .values(urge_count=1))
    with engine.db.unit_of_work() as uow:
        write(uow.session, update(CASES).where(CASES.c.id == bindparam("case")).values(title="改了"),
              {"case": case_id})
        write(uow.session, still_unurged, {"case": case_id}, expect_rows=1, conflict="已有人催办")
        with engine.db.unit_of_work() as other:
            other.session.execute(SET_URGES, {"case": case_id, "n": 7})
            other.commit()
        with pytest.raises(Conflict, match="已有人催办"):
            uow.commit()
    assert _urges(engine, case_id) == 7
    with engine.db.unit_of_work(write=False) as uow:
        assert uow.session.scalar(select(Case.title).where(Case.id == case_id)) != "改了"


def test_only_a_single_insert_update_or_delete_can_be_checked(engine: Engine) -> None:
    """A row-count check needs one parameter set of a statement construct (the database makes it)."""
    with engine.db.unit_of_work() as uow:
        with pytest.raises(ValueError):
            write(uow.session, SET_URGES, {"case": 1, "n": 1}, expect_rows=1)
        with pytest.raises(ValueError):
            write(uow.session, URGE, [{"case": 1, "by": 1}], expect_rows=1)
