"""The fast codec writes and reads SpiffWorkflow's own format (every loop driver step checks it too)."""

from __future__ import annotations

import zlib
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from SpiffWorkflow.util.task import TaskState

from engine.calendar.clock import FrozenClock
from engine.workflow.serialization import WorkflowSerializer, decompress_state
from tests.unit.loop_driver import LoopDriver, assert_codecs_agree

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in Shanghai


def _handling() -> LoopDriver:
    """A standard case at handle_case, with a co-department and its ladder armed."""
    return LoopDriver(FrozenClock(T0), roundtrip=True).start().refer(co=["hongshan"])


def _serializer(loop: LoopDriver) -> WorkflowSerializer:
    return loop.runtime.serializer(loop.version)


def _ready_task(loop: LoopDriver, name: str) -> Any:
    return next(t for t in loop.workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == name)


def test_values_of_registered_types_sets_and_tuples_are_written_as_spiffworkflow_writes_them() -> None:
    """Datetimes, UUIDs and timedeltas become typed dicts and come back as themselves; sets and
    tuples become lists; callables become null, as SpiffWorkflow's own encoder has it."""
    loop = _handling()
    task = _ready_task(loop, "handle_case")
    when, ident = datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc), uuid4()
    task.data.update(when=when, ident=ident, pause=timedelta(days=2, seconds=5), tags={"b"},
                     pair=("x", 1), nested={"at": [when, {"id": ident}]}, hook=len, ratio=0.25)
    serializer = _serializer(loop)
    assert_codecs_agree(serializer, loop.workflow)
    written = orjson.loads(serializer.to_json(loop.workflow))
    (sub,) = [s for s in written["subprocesses"].values() if str(task.id) in s["tasks"]]
    updates = sub["tasks"][str(task.id)]["delta"]["updates"]
    assert updates["ident"] == {"value": str(ident), "typename": "UUID"}
    assert updates["hook"] is None and updates["tags"] == ["b"] and updates["pair"] == ["x", 1]
    restored = serializer.from_json(serializer.to_json(loop.workflow)).get_task_from_id(task.id).data
    assert restored["when"] == when and restored["ident"] == ident
    assert restored["nested"] == {"at": [when, {"id": ident}]}
    assert restored["pause"] == timedelta(days=2, seconds=5)


@pytest.mark.parametrize("value", [OrderedDict(a=1), float("nan"), 2 ** 70, frozenset({1})],
                         ids=["dict-subclass", "nan", "big-int", "frozenset"])
def test_a_value_the_codec_does_not_know_is_left_to_spiffworkflow(value: Any) -> None:
    """Anything unusual goes through SpiffWorkflow's own serializer, so the result never differs."""
    loop = _handling()
    _ready_task(loop, "handle_case").data["odd"] = value
    serializer = _serializer(loop)
    try:
        expected = serializer.spiff_json(loop.workflow)
    except (TypeError, ValueError) as exc:  # SpiffWorkflow cannot write it either: neither may we
        with pytest.raises(type(exc)):
            serializer.to_json(loop.workflow)
        return
    assert serializer.to_json(loop.workflow) == expected


def test_states_written_by_either_serializer_are_read_by_the_other() -> None:
    """A state SpiffWorkflow wrote (as cases saved before the fast codec were) restores through the
    fast codec, and what the fast codec writes restores through SpiffWorkflow, to the same instance."""
    loop = _handling()
    serializer = _serializer(loop)
    spiff = orjson.loads(serializer.spiff_json(loop.workflow))
    from_spiff = serializer.from_json(serializer.spiff_json(loop.workflow))
    from_fast = serializer.spiff_restore(serializer.to_json(loop.workflow))
    assert orjson.loads(serializer.spiff_json(from_spiff)) == spiff
    assert orjson.loads(serializer.spiff_json(from_fast)) == spiff
    assert sorted(t.task_spec.bpmn_id for t in from_spiff.get_tasks(state=TaskState.READY, manual=True)) == [
        "assist_case", "handle_case"]


def test_a_restored_instance_runs_on_as_the_original_does() -> None:
    """Waiting timers are registered with the event manager again, data is each task's own copy,
    and the case goes on to review and closes."""
    loop = _handling()
    serializer = _serializer(loop)
    restored = serializer.from_json(serializer.to_json(loop.workflow))
    assert sorted(e.value for e in restored.waiting_events()) == sorted(e.value for e in loop.workflow.waiting_events())
    handle = next(t for t in restored.get_tasks(state=TaskState.READY, manual=True)
                  if t.task_spec.bpmn_id == "handle_case")
    handle.data["co_departments"].append("changed")  # one task's list is not its parent's
    assert "changed" not in handle.parent.data["co_departments"]
    handle.data["co_departments"].pop()
    loop.workflow = restored
    loop.workflow.script_engine = loop.runtime.script_engine
    loop.complete("assist_case", "hongshan", result="协办完成").handle("done", result="已办结")
    loop.complete("review_feedback", accepted=True, comment=None)
    assert loop.resolution() == "end_closed"


def test_ids_are_written_in_their_canonical_form() -> None:
    """Task ids, parents and children are the canonical UUID strings SpiffWorkflow writes."""
    loop = _handling()
    written = orjson.loads(_serializer(loop).to_json(loop.workflow))
    for task_id, task in written["tasks"].items():
        assert task["id"] == task_id == str(UUID(task_id))
        assert all(child == str(UUID(child)) for child in task["children"])


def test_states_are_stored_as_zstandard_frames_and_zlib_states_of_earlier_versions_still_load() -> None:
    """What duban stores now is a Zstandard frame of the JSON; a state an earlier version stored
    zlib-compressed restores to the same instance."""
    loop = _handling()
    serializer = _serializer(loop)
    raw = serializer.to_json(loop.workflow)
    stored = serializer.dumps(loop.workflow)
    assert stored.startswith(b"\x28\xb5\x2f\xfd") and len(stored) < len(raw) / 4
    assert decompress_state(stored) == raw
    earlier = zlib.compress(raw, 1)
    assert serializer.to_json(serializer.loads(earlier)) == raw == serializer.to_json(serializer.loads(stored))
