"""Workflow state without the spec, in SpiffWorkflow's own format, written and read fast.

SpiffWorkflow's default serializer embeds the whole parsed process in every instance. Here an
instance stores only its top process id; the spec is restored from the cache of its deployed
version (the case row records the version). That makes the state about 3x smaller and 3-4x faster
to load. The JSON is compressed before it is stored (Zstandard, level 1: twice as fast as zlib
and smaller; states stored zlib-compressed by earlier versions are read as they are).

The JSON is exactly what SpiffWorkflow's serializer (format 1.5, with a spec-less converter) would
write, so either can read what the other wrote. It is built by ``_FastCodec`` instead of by the
serializer's registry walk and the standard library's encoder, which cost a third of a step: task
by task with plain attribute access, ids left to orjson, and data values converted only where they
are not JSON already. Anything the codec does not know (a serializer format other than the one it
was written for, a value of a type SpiffWorkflow's registry does not know) goes through
SpiffWorkflow's own serializer instead; tests hold the two outputs equal on every state the
catalogue produces.
"""

from __future__ import annotations

import math
import threading
import zlib
from copy import copy
from types import ModuleType
from typing import Any, Callable
from uuid import UUID

import orjson
import zstandard
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.workflow.specs import ProcessSpecs

# The SpiffWorkflow serializer format the fast codec writes and reads.
FAST_FORMAT = "1.5"
_JSON_SCALARS = (str, int, bool, type(None))
_JSON_PLAIN = frozenset({str, int, float, bool, type(None)})


class _Unsupported(Exception):
    """A state the fast codec leaves to SpiffWorkflow's serializer."""


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Converts a top-level workflow, naming its spec instead of embedding it."""

    def __init__(self, target_class: type, registry: Any, specs: ProcessSpecs) -> None:
        super().__init__(target_class, registry)
        self.specs = specs

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        process_id = dct.pop("spec")
        workflow = self.target_class(
            self.specs.top(process_id), self.specs.subprocesses[process_id], deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class WorkflowSerializer:
    """Serializes the instances of one deployed version."""

    def __init__(self, specs: ProcessSpecs, fast: bool = True) -> None:
        registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
        _SpeclessWorkflowConverter(BpmnWorkflow, registry, specs)
        self._inner = BpmnWorkflowSerializer(registry)
        self._codec = _FastCodec(registry, specs) if fast and SPIFF_FORMAT == FAST_FORMAT else None
        self.version = specs.version

    def dumps(self, workflow: BpmnWorkflow) -> bytes:
        """Serialize an instance to compressed JSON."""
        return compress_state(self.to_json(workflow))

    def loads(self, state: bytes) -> BpmnWorkflow:
        """Restore an instance; the caller attaches the script engine."""
        return self.from_json(decompress_state(state))

    def to_json(self, workflow: BpmnWorkflow) -> bytes:
        """The instance as SpiffWorkflow's JSON, uncompressed."""
        if self._codec is not None:
            try:
                return self._codec.dumps(workflow)
            except _Unsupported:
                pass
        return self.spiff_json(workflow)

    def from_json(self, raw: bytes) -> BpmnWorkflow:
        """Restore an instance from SpiffWorkflow's JSON, uncompressed."""
        if self._codec is not None:
            dct = orjson.loads(raw)
            if dct.get(self._inner.VERSION_KEY) == FAST_FORMAT:
                return self._codec.restore(dct)
        return self.spiff_restore(raw)

    def spiff_json(self, workflow: BpmnWorkflow) -> bytes:
        """The instance as SpiffWorkflow's own serializer writes it."""
        return self._inner.serialize_json(workflow).encode("utf-8")

    def spiff_restore(self, raw: bytes) -> BpmnWorkflow:
        """Restore an instance with SpiffWorkflow's own serializer."""
        return self._inner.deserialize_json(raw.decode("utf-8"))


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_zstd = threading.local()  # zstandard's (de)compressors are not safe to share between threads


def compress_state(raw: bytes) -> bytes:
    """A workflow's JSON as it is stored: a Zstandard frame."""
    compressor = getattr(_zstd, "compressor", None)
    if compressor is None:
        compressor = _zstd.compressor = zstandard.ZstdCompressor(level=1)
    return compressor.compress(raw)  # type: ignore[no-any-return]


def decompress_state(state: bytes) -> bytes:
    """A stored workflow's JSON: from a Zstandard frame, or zlib as earlier versions stored it."""
    if not state.startswith(_ZSTD_MAGIC):
        return zlib.decompress(state)
    decompressor = getattr(_zstd, "decompressor", None)
    if decompressor is None:
        decompressor = _zstd.decompressor = zstandard.ZstdDecompressor()
    return decompressor.decompress(state)  # type: ignore[no-any-return]


class _FastCodec:
    """SpiffWorkflow's format 1.5, task by task (see the module docstring)."""

    def __init__(self, registry: Any, specs: ProcessSpecs) -> None:
        self.registry = registry
        self.specs = specs
        self.typenames: dict[type, str] = registry.typenames
        self.to_dict: dict[str, Callable[[Any], dict[str, Any]]] = registry.convert_to_dict
        self.task_typename = self.typenames[Task]

    # -- writing -----------------------------------------------------------------------------

    def dumps(self, workflow: BpmnWorkflow) -> bytes:
        registry = self.registry
        registry._encoder_mode = True  # nested conversions behave as under serialize_json
        try:
            dct = self._workflow(workflow)
            dct["spec"] = workflow.spec.name
            dct["subprocesses"] = {task_id: self._subworkflow(sub) for task_id, sub in workflow.subprocesses.items()}
            dct["bpmn_events"] = self._value(workflow.bpmn_events)
            dct["typename"] = self.typenames[type(workflow)]
            dct["serializer_version"] = FAST_FORMAT
            return orjson.dumps(dct, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError as exc:
            raise _Unsupported(str(exc)) from exc
        finally:
            registry._encoder_mode = False

    def _workflow(self, workflow: Any) -> dict[str, Any]:
        tasks = workflow.tasks
        last = workflow.last_task
        return {
            "data": self._cleaned(workflow.data),
            "correlations": self._value(workflow.correlations),
            "last_task": last.id if last is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": {task_id: self._task(task, tasks) for task_id, task in tasks.items()},
            "root": workflow.task_tree.id,
        }

    def _subworkflow(self, sub: BpmnSubWorkflow) -> dict[str, Any]:
        dct = self._workflow(sub)
        dct["parent_task_id"] = str(sub.parent_task_id)
        dct["spec"] = sub.spec.name
        dct["typename"] = self.typenames[type(sub)]
        return dct

    def _task(self, task: Task, tasks: dict[UUID, Task]) -> dict[str, Any]:
        # As TaskConverter.to_dict: a task under a parent stores what differs from the parent's data.
        parent = tasks.get(task._parent) if task._parent is not None else None
        own = task.data
        if parent is None:
            data, delta = self._value(own), {}
        else:
            inherited = parent.data
            value = self._value
            data = {}
            delta = {
                "updates": {k: value(v) for k, v in own.items() if k not in inherited or v != inherited[k]},
                "deletions": [k for k in inherited if k not in own],
            }
        return {
            "id": task.id,
            "parent": task._parent if parent is not None else None,
            "children": task._children,
            "last_state_change": task.last_state_change,
            "state": task._state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self._cleaned(task.internal_data),
            "data": data,
            "delta": delta,
            "typename": self.task_typename,
        }

    def _cleaned(self, mapping: dict[str, Any]) -> dict[str, Any]:
        """A mapping without callables and modules (the registry's ``clean``), values converted."""
        value = self._value
        return {k: value(v) for k, v in mapping.items() if not callable(v) and not isinstance(v, ModuleType)}

    def _value(self, value: Any) -> Any:
        """A data value as SpiffWorkflow's JSON encoder writes it: registered types as typed dicts,
        callables and modules as null, sets as lists."""
        kind = type(value)
        if kind in _JSON_SCALARS:
            return value
        if kind is float:
            if not math.isfinite(value):
                raise _Unsupported("a float that is not finite")
            return value
        if kind is dict:
            convert = self._value
            return {k: convert(v) for k, v in value.items()}
        if kind is list or kind is tuple:
            convert = self._value
            return [convert(v) for v in value]
        typename = self.typenames.get(kind)
        if typename is not None:
            return self.to_dict[typename](value)
        if callable(value) or isinstance(value, ModuleType):
            return None
        if isinstance(value, set):
            return [self._value(v) for v in value]
        raise _Unsupported(f"a value of type {kind.__name__}")

    # -- reading -----------------------------------------------------------------------------

    def restore(self, dct: dict[str, Any]) -> BpmnWorkflow:
        process_id = dct["spec"]
        workflow = BpmnWorkflow(self.specs.top(process_id), self.specs.subprocesses[process_id], deserializing=True)
        self._restore_tasks(workflow, dct, workflow)
        self._restore_subprocesses(dct["subprocesses"], workflow, workflow)
        workflow.bpmn_events = self.registry.restore(dct.get("bpmn_events", []))
        return workflow

    def _restore_tasks(self, workflow: Any, dct: dict[str, Any], top: BpmnWorkflow) -> None:
        """Rebuild a (sub)workflow's tasks and attributes (as TaskConverter.from_dict and
        WorkflowConverter.set_default_attributes do), parents before their children."""
        specs = workflow.spec.task_specs
        tasks_dct = dct["tasks"]
        ids = {key: UUID(key) for key in tasks_dct}
        restore = self._restored
        events = top.event_manager
        for key, item in tasks_dct.items():
            spec = specs.get(item["task_spec"])
            task = Task(workflow, spec, state=item["state"], id=ids[key])
            parent_key = item["parent"]
            task._parent = (ids.get(parent_key) or UUID(parent_key)) if parent_key is not None else None
            task._children = [ids.get(child) or UUID(child) for child in item["children"]]
            task.last_state_change = item["last_state_change"]
            task.triggered = item["triggered"]
            task.internal_data = restore(item["internal_data"])
            if isinstance(spec, CatchingEvent) and task._state & TaskState.WAITING:
                events.add_task(task)
            delta = item.get("delta")
            parent = workflow.tasks.get(task._parent) if task._parent is not None else None
            if delta and parent is not None:
                # The parent's data (DeepMerge.merge({}, parent.data): one level of copies for
                # mutable values), then the updates, less the deletions.
                deleted = set(delta.get("deletions", ()))
                data = {k: _copied(v) for k, v in parent.data.items() if k not in deleted}
                updates = delta.get("updates")
                if updates:
                    data.update(restore(updates))
                    for name in deleted.intersection(updates):
                        del data[name]
            else:
                data = restore(item["data"])
            task.data = data
        workflow.task_tree = workflow.tasks.get(ids.get(dct["root"]) or UUID(dct["root"]))
        workflow.success = dct["success"]
        workflow.completed = dct.get("completed", False)
        workflow.correlations = dct.get("correlations", {})
        last = dct["last_task"]
        if isinstance(last, str):
            workflow.last_task = workflow.tasks.get(ids.get(last) or UUID(last))
        workflow.data = restore(dct.get("data", {}))

    def _restore_subprocesses(self, subs: dict[str, Any], workflow: Any, top: BpmnWorkflow) -> None:
        """Rebuild the subprocesses under a workflow's tasks, outer before inner (as
        BpmnWorkflowConverter.subprocesses_from_dict)."""
        for task in list(workflow.tasks.values()):
            if not isinstance(task.task_spec, SubWorkflowTask):
                continue
            item = subs.get(str(task.id))
            if item is None:
                continue
            sub = BpmnSubWorkflow(top.subprocess_specs.get(task.task_spec.spec), task.id, top, deserializing=True)
            self._restore_tasks(sub, item, top)
            top.subprocesses[task.id] = sub
            sub.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
            self._restore_subprocesses(subs, sub, top)

    def _restored(self, value: Any) -> Any:
        """A data value read back: typed dicts become their objects again (the registry's restore)."""
        kind = type(value)
        if kind is dict:
            if "typename" in value:
                return self.registry.restore(value)
            restore = self._restored
            return {k: v if type(v) in _JSON_PLAIN else restore(v) for k, v in value.items()}
        if kind is list:
            restore = self._restored
            return [v if type(v) in _JSON_PLAIN else restore(v) for v in value]
        return value


def _copied(value: Any) -> Any:
    """A value as DeepMerge.merge copies it into a child's data: dicts, lists and sets shallowly."""
    kind = type(value)
    if kind is dict or kind is list or kind is set:
        return value.copy()
    return copy(value) if isinstance(value, (dict, list, set)) else value
