"""Signing for a task (签收) the one-statement way (PostgreSQL, autocommit) and the plain way (a
transaction) leave the same rows and events, and refuse the same claims."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from engine.bootstrap import bootstrap
from engine.commands import cases, tasks
from engine.engine import Engine
from engine.errors import Conflict, Forbidden, NotFound
from engine.org.accounts import actor_of, find_user
from engine.storage.models import Event, Task


def _claims(engine: Engine, one_statement: bool) -> dict[str, Any]:
    """A case referred to econ_it whose handle_case econ_it signs for, then the refusals."""
    chosen = bootstrap(replace(engine.settings, one_statement_claims=one_statement), engine.catalogue, engine.clock)
    try:
        actor = lambda name: actor_of(find_user(chosen, name))  # noqa: E731
        view = cases.create_case(chosen, actor("dispatcher"), cases.CaseDraft("签收", "d", "optoelectronics"))
        (refer,) = view.open_tasks
        tasks.claim_task(chosen, actor("dispatcher"), refer.id)
        (handle,) = tasks.complete_task(chosen, actor("dispatcher"), refer.id, {
            "decision": "refer", "lead_department": "econ_it", "deadline_working_days": 5}).open_tasks
        claimed = tasks.claim_task(chosen, actor("econ_it"), handle.id)
        again = tasks.claim_task(chosen, actor("econ_it"), handle.id)  # mine already: unchanged
        refusals = []
        for name in ("econ_it_leader", "hongshan"):
            with pytest.raises((Conflict, Forbidden, NotFound)) as refused:
                tasks.claim_task(chosen, actor(name), handle.id)
            refusals.append(type(refused.value).__name__)
        with chosen.db.unit_of_work(write=False) as uow:
            row = uow.execute(select(Task.state, Task.assignee, Task.claimed_at).where(Task.id == handle.id)).one()
            events = uow.execute(select(Event.action, Event.label, Event.actor, Event.data, Event.at)
                                 .where(Event.task_id == handle.id, Event.action == "task_claimed")).all()
        return {"claimed": (claimed.state, claimed.assignee, claimed.claimed_at), "again": again.claimed_at,
                "row": tuple(row), "events": [tuple(e) for e in events], "refusals": refusals}
    finally:
        chosen.db.dispose()


def test_one_statement_claims_do_what_a_transaction_does(engine: Engine) -> None:
    """The same claim, repeat and refusals both ways (on SQLite both are a transaction)."""
    plain, one_statement = _claims(engine, False), _claims(engine, True)
    assert one_statement == plain
    assert plain["row"][:2] == ("claimed", "econ_it") and plain["refusals"] == ["Conflict", "NotFound"]
    assert [(action, label, actor) for action, label, actor, _, _ in plain["events"]] == [
        ("task_claimed", "签收：处置", "econ_it")]
