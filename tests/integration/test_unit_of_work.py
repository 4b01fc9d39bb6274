"""The unit of work: the one way a command writes (queued in order, checked, kept only if it commits).

On PostgreSQL every test runs through both senders, the pipelined one (writes and COMMIT in one
round trip) and the plain one: the pipelined sender must do exactly what the plain one does."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import bindparam, select, text, update

from engine.bootstrap import bootstrap
from engine.engine import Engine
from engine.errors import Conflict
from engine.storage.models import Case, Event, WorklistCount
from engine.storage.senders import PipelinedSender
from tests.conftest import fresh_database

AT = datetime(2026, 12, 1, 1, 2, 3, 456789, tzinfo=timezone.utc)
CASES = Case.__table__
URGE = update(CASES).where(CASES.c.id == bindparam("case")).values(urge_count=CASES.c.urge_count + bindparam("by"))
SET_URGES = text("UPDATE supervision_case SET urge_count = :n WHERE id = :case")


SENDERS = {"sqlite": False, "postgresql": True, "postgresql-plain": False}


@pytest.fixture(params=list(SENDERS))
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, PostgreSQL with the pipelined sender, and PostgreSQL with the plain one."""
    return fresh_database(request, request.param.split("-")[0], tmp_path)


@pytest.fixture
def engine(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Engine]:
    """The test engine with the sender its parameter names."""
    pipelined = SENDERS[request.node.callspec.params["database_url"]]
    chosen = bootstrap(replace(engine.settings, pipelined_writes=pipelined), engine.catalogue, engine.clock)
    assert isinstance(chosen.db.sender, PipelinedSender) == pipelined
    yield chosen
    chosen.db.dispose()


def _urges(engine: Engine, case_id: int) -> int | None:
    with engine.db.unit_of_work(write=False) as uow:
        return uow.scalar(select(Case.urge_count).where(Case.id == case_id))


def _any_case(engine: Engine) -> int:
    from engine.org.accounts import actor_of, find_user
    from tests.integration.test_escalation import _referred  # a real case to write on

    return _referred(engine, lambda name: actor_of(find_user(engine, name)))


def test_queued_writes_go_out_in_order_before_the_next_statement(engine: Engine) -> None:
    """A statement after queued writes sees them, in the order they were queued; commit keeps them."""
    case_id = _any_case(engine)
    with engine.db.unit_of_work() as uow:
        uow.write(SET_URGES, {"case": case_id, "n": 5})
        uow.write(URGE, {"case": case_id, "by": -2})
        uow.write(URGE, [{"case": case_id, "by": 10}, {"case": case_id, "by": 1}])
        assert uow.scalar(select(Case.urge_count).where(Case.id == case_id)) == 14
        uow.write(URGE, {"case": case_id, "by": 100})
        uow.commit()
    assert _urges(engine, case_id) == 114


def test_rolls_back_uncommitted_work_by_default(engine: Engine) -> None:
    """A unit of work that does not commit writes nothing: queued writes, events or counts."""
    case_id = _any_case(engine)
    with engine.db.unit_of_work() as uow:
        uow.write(SET_URGES, {"case": case_id, "n": 7})
        assert uow.scalar(select(Case.urge_count).where(Case.id == case_id)) == 7  # sent, not kept
        uow.record_event(case_id=case_id, task_id=None, actor="probe", action="probe", label="探测", at=AT, data={})
        uow.count(("econ_it", "department"), 5)
    assert _urges(engine, case_id) == 0
    with engine.db.unit_of_work(write=False) as uow:
        assert uow.scalar(select(Event.id).where(Event.action == "probe")) is None


def test_a_checked_write_that_changes_nothing_fails_the_unit_and_keeps_nothing(engine: Engine) -> None:
    """A write that must change one row and changes none is a conflict; the unit writes nothing."""
    case_id = _any_case(engine)
    with pytest.raises(Conflict, match="事项不存在"):
        with engine.db.unit_of_work() as uow:
            uow.write(SET_URGES, {"case": case_id, "n": 3})
            uow.write(URGE, {"case": -1, "by": 1}, expect_rows=1, conflict="事项不存在")
            uow.commit()
    assert _urges(engine, case_id) == 0


def test_a_checked_write_fails_when_another_writer_committed_first(engine: Engine) -> None:
    """A version check queued before another writer commits fails at commit (both databases)."""
    case_id = _any_case(engine)
    still_unurged = update(CASES).where(CASES.c.id == bindparam("case"), CASES.c.urge_count == 0).values(title="改了")
    with engine.db.unit_of_work() as uow:
        uow.write(still_unurged, {"case": case_id}, expect_rows=1, conflict="已有人催办")
        with engine.db.unit_of_work() as other:  # SQLite: the first unit has not written yet
            other.write(SET_URGES, {"case": case_id, "n": 1})
            other.commit()
        with pytest.raises(Conflict, match="已有人催办"):
            uow.commit()
    with engine.db.unit_of_work(write=False) as uow:
        assert uow.scalar(select(Case.title).where(Case.id == case_id)) != "改了"


def test_events_are_written_in_the_order_noted_with_their_values_as_given(engine: Engine) -> None:
    """Audit events keep their order, times (microseconds, zone), UUIDs and JSON data."""
    case_id = _any_case(engine)
    task_id = uuid.uuid4()
    with engine.db.unit_of_work() as uow:
        for n in range(3):
            uow.record_event(case_id=case_id, task_id=task_id if n == 1 else None, actor="probe", action="probe",
                             label=f"第{n}条", at=AT, data={"n": n, "中文": ["列表", None]})
        dropped = uow.record_event(case_id=case_id, task_id=None, actor="probe", action="probe", label="撤回",
                                   at=AT, data={})
        uow.discard_event(dropped)
        uow.commit()
    with engine.db.unit_of_work(write=False) as uow:
        rows = uow.execute(select(Event).where(Event.action == "probe").order_by(Event.id)).all()
    assert [row.label for row in rows] == ["第0条", "第1条", "第2条"]
    assert [row.task_id for row in rows] == [None, task_id, None]
    assert rows[0].at == AT and rows[2].data == {"n": 2, "中文": ["列表", None]}


def test_counts_are_summed_per_key_and_written_at_commit(engine: Engine) -> None:
    """Count changes of one key add up; they are written once, at commit."""
    with engine.db.unit_of_work() as uow:
        uow.count(("probe_dept", "department"), 2)
        uow.count(("probe_dept", "department"), -1)
        uow.count(("probe_dept", "dispatcher"), 0)
        uow.commit()
    with engine.db.unit_of_work() as uow:  # leave the counts as the task rows say, for the fixture's check
        kept = dict(uow.execute(select(WorklistCount.role, WorklistCount.open_tasks)
                                .where(WorklistCount.department == "probe_dept")).all())
        uow.count(("probe_dept", "department"), -1)
        uow.commit()
    assert kept == {"department": 1}


def test_after_commit_callbacks_run_only_when_the_unit_commits(engine: Engine) -> None:
    """Keep-after-commit work (a workflow kept in memory) never runs for a unit that failed."""
    ran: list[str] = []
    with engine.db.unit_of_work() as uow:
        uow.after_commit(lambda: ran.append("committed"))
        uow.commit()
    with pytest.raises(RuntimeError):
        with engine.db.unit_of_work() as uow:
            uow.after_commit(lambda: ran.append("failed"))
            raise RuntimeError("the command failed")
    assert ran == ["committed"]


def test_a_reading_unit_of_work_writes_nothing(engine: Engine) -> None:
    """Refuse a queued write in a reading unit of work."""
    with engine.db.unit_of_work(write=False) as uow:
        with pytest.raises(RuntimeError):
            uow.write(SET_URGES, {"case": 1, "n": 1})


def test_a_checked_write_has_one_parameter_set(engine: Engine) -> None:
    """Refuse a row-count check on several rows at once."""
    with engine.db.unit_of_work() as uow:
        with pytest.raises(ValueError):
            uow.write(URGE, [{"case": 1, "by": 1}], expect_rows=1)
