"""Process specs: parsed once per deployed version of processes.bpmn, and cached.

A version is the SHA-256 of the BPMN content. Running cases keep the version they started with;
new cases use the newest deployment. The XML is parsed with entity resolution and network access
off.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any, Callable

from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def content_version(bpmn_xml: str) -> str:
    """The version of a BPMN document: a short SHA-256 of its content."""
    return hashlib.sha256(bpmn_xml.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ProcessSpecs:
    """Every process of one deployed version, parsed."""

    version: str
    processes: dict[str, Any]
    subprocesses: dict[str, dict[str, Any]]

    def top(self, process_id: str) -> Any:
        """The spec of a top-level process."""
        return self.processes[process_id]


def parse_bpmn(bpmn_xml: str) -> ProcessSpecs:
    """Parse and validate a BPMN document into specs for every executable process."""
    tree = etree.fromstring(bpmn_xml.encode("utf-8"), parser=_SAFE_XML)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_xml(tree, filename="processes.bpmn")
    processes: dict[str, Any] = {}
    subprocesses: dict[str, dict[str, Any]] = {}
    for process_id in parser.get_process_ids():
        processes[process_id] = parser.get_spec(process_id)
        subprocesses[process_id] = parser.get_subprocess_specs(process_id)
    return ProcessSpecs(content_version(bpmn_xml), processes, subprocesses)


class SpecCache:
    """Parsed specs by version, loading a version's XML on first use."""

    def __init__(self, load_xml: Callable[[str], str]) -> None:
        self._load_xml = load_xml
        self._specs: dict[str, ProcessSpecs] = {}
        self._lock = threading.Lock()

    def add(self, bpmn_xml: str) -> ProcessSpecs:
        """Parse a document (once) and cache it under its version."""
        version = content_version(bpmn_xml)
        with self._lock:
            if version not in self._specs:
                self._specs[version] = parse_bpmn(bpmn_xml)
            return self._specs[version]

    def get(self, version: str) -> ProcessSpecs:
        """The specs of a version, parsed from the stored deployment if not cached yet."""
        specs = self._specs.get(version)
        if specs is None:
            specs = self.add(self._load_xml(version))
        return specs
