/*
 * Diagram interchange for one process of a BPMN document that has none, by bpmn-auto-layout.
 *
 *   processDiagramXml(xml, processId) → a definitions document holding only that process (and the
 *   errors, messages, signals and escalations it refers to), with a generated layout.
 *
 * bpmn-auto-layout (1.3) lays out expanded subprocesses inside their shape, but draws the content of a
 * collapsed one over its parent's. So embedded subprocesses are laid out expanded, and event
 * subprocesses collapsed, each laid out on a plane of its own (bpmn-js drills down into it).
 *
 * Boundary events it spreads along the host's lower edge even when they do not fit, and the paths
 * hanging off them it threads between the main rows. Touch-ups: a host too narrow for its boundary
 * events is widened (the shapes to its right move over), a single one moves off the centre; and a boundary event's dead-end path (e.g. the
 * escalation timers of handle_case: timer → service task → end) is left out of the automatic layout
 * and drawn afterwards in a band of rows of its own right under its host, one row per event.
 * Last, a flow drawn through a shape is rerouted over or under the shapes between its ends.
 */
import { BpmnModdle } from 'bpmn-moddle';
import { layoutProcess } from 'bpmn-auto-layout';

const moddle = new BpmnModdle();

const REFERENCE_KEYS = ['errorRef', 'messageRef', 'signalRef', 'escalationRef'];
const CELL_WIDTH = 150; // bpmn-auto-layout's grid
const CELL_HEIGHT = 140;
const BAND_ROW_HEIGHT = 100;
const BOUNDARY_EVENT_SIZE = 36;
const BOUNDARY_EVENT_GAP = 8;
const MAX_CHAIN_LENGTH = 4;

export function is(element, type) {
  return !!(element && element.$instanceOf && element.$instanceOf(type));
}

export function parse(xml) {
  return moddle.fromXML(xml, 'bpmn:Definitions');
}

function* flowElementsDeep(container) {
  for (const element of container.flowElements || []) {
    yield element;
    if (is(element, 'bpmn:SubProcess')) {
      yield* flowElementsDeep(element);
    }
  }
}

/** Event subprocesses get a plane of their own; embedded subprocesses are drawn expanded. */
function drawnCollapsed(subProcess) {
  return !!subProcess.triggeredByEvent;
}

/** The definitions-level elements (errors, messages, …) that a process refers to. */
function referencedRootElements(definitions, process) {
  const wanted = new Set();
  for (const element of flowElementsDeep(process)) {
    for (const holder of [element, ...(element.eventDefinitions || [])]) {
      for (const key of REFERENCE_KEYS) {
        if (holder[key] && holder[key].id) {
          wanted.add(holder[key].id);
        }
      }
    }
  }
  return (definitions.rootElements || []).filter((root) => wanted.has(root.id) && !is(root, 'bpmn:Process'));
}

function sizeOf(element) {
  if (is(element, 'bpmn:Gateway')) {
    return { width: 50, height: 50 };
  }
  if (is(element, 'bpmn:Event')) {
    return { width: 36, height: 36 };
  }
  return { width: 100, height: 80 };
}

function shapeDi(element, { x, y, width, height }, attrs = {}) {
  return moddle.create('bpmndi:BPMNShape', {
    id: `${element.id}_di`, bpmnElement: element,
    bounds: moddle.create('dc:Bounds', { x, y, width, height }), ...attrs,
  });
}

function edgeDi(flow, points) {
  return moddle.create('bpmndi:BPMNEdge', {
    id: `${flow.id}_di`, bpmnElement: flow,
    waypoint: points.map(({ x, y }) => moddle.create('dc:Point', { x, y })),
  });
}

/**
 * The path hanging off a boundary event when it is a short dead end: each element has that one way
 * in and at most one way out, and none carries boundary events or content. [[flow, element], …] or null.
 */
function deadEndChain(boundaryEvent) {
  const chain = [];
  let outgoing = boundaryEvent.outgoing || [];
  while (outgoing.length) {
    if (outgoing.length !== 1 || chain.length >= MAX_CHAIN_LENGTH) {
      return null;
    }
    const [flow] = outgoing;
    const target = flow.targetRef;
    if (!target || (target.incoming || []).length !== 1 || target.attachers || is(target, 'bpmn:SubProcess')
        || is(target, 'bpmn:BoundaryEvent')) {
      return null;
    }
    chain.push([flow, target]);
    outgoing = target.outgoing || [];
  }
  return chain.length ? chain : null;
}

function attachersOf(elements) {
  const byHost = new Map();
  for (const element of elements) {
    if (is(element, 'bpmn:BoundaryEvent') && element.attachedToRef) {
      const host = element.attachedToRef;
      byHost.set(host.id, [...(byHost.get(host.id) || []), element]);
      host.attachers = byHost.get(host.id);
    }
  }
  return byHost;
}

/**
 * Lay out one container (a process, or a collapsed subprocess as if it were one) of the document.
 * Answers its diagram interchange by element id and the collapsed subprocesses inside it.
 */
async function layoutContainer(xml, containerId) {
  const { rootElement: definitions, elementsById } = await parse(xml);
  const container = elementsById[containerId];
  const collapsed = [];
  const seeds = [];
  const holders = [container];

  const visit = (holder) => {
    for (const element of holder.flowElements || []) {
      if (!is(element, 'bpmn:SubProcess')) {
        continue;
      }
      if (drawnCollapsed(element)) {
        collapsed.push(element.id);
        element.flowElements = []; // laid out on its own plane
        element.artifacts = [];
      } else {
        // A shape marked expanded makes bpmn-auto-layout draw the subprocess's content inside it.
        seeds.push(shapeDi(element, { x: 0, y: 0, width: 100, height: 80 }, { isExpanded: true }));
        holders.push(element);
        visit(element);
      }
    }
  };
  visit(container);

  // Dead-end paths off boundary events are drawn by placeBands; take them out of the automatic layout.
  const chains = new Map(); // host id → [{ event, chain }]
  for (const holder of holders) {
    const elements = holder.flowElements || [];
    attachersOf(elements);
    const removed = new Set();
    for (const event of elements.filter((element) => is(element, 'bpmn:BoundaryEvent'))) {
      const chain = deadEndChain(event);
      if (chain) {
        const host = event.attachedToRef.id;
        chains.set(host, [...(chains.get(host) || []), { event, chain }]);
        for (const [flow, target] of chain) {
          removed.add(flow);
          removed.add(target);
        }
      }
    }
    if (removed.size) {
      holder.flowElements = elements.filter((element) => !removed.has(element));
    }
    for (const element of elements) {
      delete element.attachers; // bpmn-auto-layout keeps its own list under that name
    }
  }

  const process = is(container, 'bpmn:Process') ? container : moddle.create('bpmn:Process', {
    id: container.id, flowElements: container.flowElements,
  });
  const refs = referencedRootElements(definitions, process);
  const plane = moddle.create('bpmndi:BPMNPlane', { id: 'seed_plane', bpmnElement: process, planeElement: seeds });
  const document = moddle.create('bpmn:Definitions', {
    id: 'duban_layout', targetNamespace: definitions.targetNamespace,
    rootElements: [...refs, process],
    diagrams: [moddle.create('bpmndi:BPMNDiagram', { id: 'seed_diagram', plane })],
  });
  const { xml: input } = await moddle.toXML(document);
  const laidOut = await parse(await layoutProcess(input));

  const di = new Map();
  for (const diagram of laidOut.rootElement.diagrams || []) {
    for (const item of diagram.plane.planeElement || []) {
      if (item.bpmnElement) {
        di.set(item.bpmnElement.id, { bounds: item.bounds && { ...pick(item.bounds) }, waypoints: item.waypoint && item.waypoint.map(({ x, y }) => ({ x, y })) });
      }
    }
  }
  const laidElements = laidOut.elementsById;
  const hosts = attachersOf(Object.values(laidElements));
  widenCrowdedHosts(laidElements, hosts, di);
  placeBands(laidElements, hosts, chains, di);
  untangle(laidElements, di);
  return { di, collapsed };
}

function pick({ x, y, width, height }) {
  return { x, y, width, height };
}

/** Room for a boundary event and its label (about 11 px a character) beside the next one. */
function slotWidth(events) {
  const longest = Math.max(0, ...events.map((event) => [...(event.name || '')].length));
  return Math.max(BOUNDARY_EVENT_SIZE + BOUNDARY_EVENT_GAP, longest * 11 + BOUNDARY_EVENT_GAP);
}

/**
 * A host too narrow for its boundary events (and their labels) is widened: the shapes right of its
 * centre move over to make room; the events sit side by side along its lower edge. A host with room
 * keeps its size and has its events towards its right end.
 */
function widenCrowdedHosts(elementsById, hosts, di) {
  for (const [hostId, events] of hosts) {
    const hostDi = di.get(hostId);
    if (!hostDi || !hostDi.bounds) {
      continue;
    }
    const host = hostDi.bounds;
    const slot = slotWidth(events);
    const needed = events.length * slot + BOUNDARY_EVENT_GAP;
    const crowded = needed > host.width;
    const oldMids = new Map(events.map((event) => {
      const shape = di.get(event.id)?.bounds;
      return [event.id, shape && shape.x + shape.width / 2];
    }));
    if (crowded) {
      const oldRight = host.x + host.width;
      openColumns(elementsById, di, host.x + host.width / 2, needed - host.width, new Set([hostId]));
      host.width = needed;
      for (const flow of elementsById[hostId].outgoing || []) {
        moveEndpoint(di.get(flow.id), 'first', oldRight, host.x + host.width);
      }
    }
    events.forEach((event, index) => {
      const shape = di.get(event.id)?.bounds;
      if (!shape) {
        return;
      }
      const oldMid = oldMids.get(event.id);
      // Side by side from the left when crowded; else towards the right, clear of the centre (where
      // a call activity or collapsed subprocess shows its marker).
      const centre = crowded
        ? host.x + BOUNDARY_EVENT_GAP + index * slot + (slot - BOUNDARY_EVENT_GAP) / 2
        : host.x + host.width - 25 - (events.length - 1 - index) * slot;
      shape.x = Math.round(centre - shape.width / 2);
      shape.y = Math.round(host.y + host.height - shape.height / 2);
      const newMid = shape.x + shape.width / 2;
      for (const flow of event.outgoing || []) {
        const points = di.get(flow.id)?.waypoints;
        // A laid-out path leaves the event downwards: its first leg moves along.
        if (points && points.length > 1 && Math.abs(points[0].x - oldMid) < 1) {
          points[0].x = newMid;
          if (Math.abs(points[1].x - oldMid) < 1) {
            points[1].x = newMid;
          }
        }
      }
    });
  }
}

function moveEndpoint(edge, which, from, to) {
  const points = edge && edge.waypoints;
  if (!points || points.length < 2) {
    return;
  }
  const point = which === 'first' ? points[0] : points[points.length - 1];
  if (Math.abs(point.x - from) < 1) {
    point.x = to;
  }
}

/**
 * Open a horizontal band of height dy at y = top: shapes below move down, shapes across it (the
 * subprocesses around) grow, boundary events follow their hosts, and flows follow their ends.
 */
function openBand(elementsById, di, top, dy) {
  const moved = new Set();
  const grown = new Set();
  for (const [id, item] of di) {
    const element = elementsById[id];
    if (!item.bounds || is(element, 'bpmn:BoundaryEvent')) {
      continue;
    }
    const { y, height } = item.bounds;
    if (y >= top) {
      item.bounds.y += dy;
      moved.add(id);
    } else if (y + height > top) {
      if (is(element, 'bpmn:SubProcess') || is(element, 'bpmn:Process')) {
        item.bounds.height += dy;
        grown.add(id);
      } else if (y + height / 2 >= top) {
        item.bounds.y += dy;
        moved.add(id);
      }
    }
  }
  for (const [id, item] of di) {
    const element = elementsById[id];
    if (item.bounds && is(element, 'bpmn:BoundaryEvent') && moved.has(element.attachedToRef?.id)) {
      item.bounds.y += dy;
      moved.add(id);
    }
  }
  for (const [id, item] of di) {
    const points = item.waypoints;
    if (!points) {
      continue;
    }
    const flow = elementsById[id];
    points.forEach((point, index) => {
      const end = index === 0 ? flow?.sourceRef : index === points.length - 1 ? flow?.targetRef : null;
      if (end && di.get(end.id)?.bounds) {
        if (moved.has(end.id) || (grown.has(end.id) && point.y >= top)) {
          point.y += dy;
        }
      } else if (point.y >= top) {
        point.y += dy;
      }
    });
  }
}

/** Vertical flow segments that cross y (their x), to keep the band's shapes off them. */
function verticalsAcross(di, y) {
  const xs = [];
  for (const item of di.values()) {
    const points = item.waypoints || [];
    for (let i = 1; i < points.length; i++) {
      const [a, b] = [points[i - 1], points[i]];
      if (Math.abs(a.x - b.x) < 1 && Math.min(a.y, b.y) < y && Math.max(a.y, b.y) > y) {
        xs.push(a.x);
      }
    }
  }
  return xs;
}

function containerOf(elementsById, di, host) {
  const parent = elementsById[host]?.$parent;
  return parent && di.get(parent.id)?.bounds;
}

/** Draw the dead-end paths of each host's boundary events in rows right under it. */
function placeBands(elementsById, hosts, chains, di) {
  for (const [hostId, entries] of chains) {
    const host = di.get(hostId)?.bounds;
    if (!host) {
      continue;
    }
    const events = entries
      .map(({ event, chain }) => ({ chain, event: di.get(event.id)?.bounds, id: event.id }))
      .filter(({ event }) => event)
      .sort((a, b) => b.event.x - a.event.x); // the rightmost event's path on top: no crossings
    if (!events.length) {
      continue;
    }
    const top = host.y + host.height / 2 + CELL_HEIGHT / 2;
    const dy = events.length * BAND_ROW_HEIGHT + 20;
    openBand(elementsById, di, top, dy);

    const longest = Math.max(...events.map(({ chain }) => chain.length));
    const span = longest * CELL_WIDTH;
    const across = verticalsAcross(di, top + dy / 2);
    let x0 = Math.max(...events.map(({ event }) => event.x + event.width)) + 40;
    while (across.some((x) => x > x0 - 15 && x < x0 + span + 15)) {
      x0 += 10;
    }
    // The subprocess around grows to the right when the band does not fit in it.
    const around = containerOf(elementsById, di, hostId);
    if (around && x0 + span + 20 > around.x + around.width) {
      openColumns(elementsById, di, around.x + around.width - 1, x0 + span + 20 - (around.x + around.width));
    }

    events.forEach(({ chain, event }, row) => {
      const mid = top + 10 + row * BAND_ROW_HEIGHT + BAND_ROW_HEIGHT / 2;
      let previous = null;
      chain.forEach(([flow, target], index) => {
        const { width, height } = sizeOf(target);
        const centre = x0 + index * CELL_WIDTH + CELL_WIDTH / 2;
        const bounds = { x: Math.round(centre - width / 2), y: Math.round(mid - height / 2), width, height };
        di.set(target.id, { bounds, element: target });
        const points = previous
          ? [{ x: previous.x + previous.width, y: mid }, { x: bounds.x, y: mid }]
          : [{ x: event.x + event.width / 2, y: event.y + event.height },
            { x: event.x + event.width / 2, y: mid }, { x: bounds.x, y: mid }];
        di.set(flow.id, { waypoints: points, element: flow });
        previous = bounds;
      });
    });
  }
}

/**
 * Open a vertical band of width dx at x = left: shapes right of it move, subprocesses across it grow,
 * boundary events follow their hosts, flows follow their ends. Shapes in keep stay where they are.
 */
function openColumns(elementsById, di, left, dx, keep = new Set()) {
  const moved = new Set();
  const grown = new Set();
  for (const [id, item] of di) {
    const element = elementsById[id];
    if (!item.bounds || is(element, 'bpmn:BoundaryEvent') || keep.has(id)) {
      continue;
    }
    const { x, width } = item.bounds;
    if (x >= left) {
      item.bounds.x += dx;
      moved.add(id);
    } else if (x + width > left && (is(element, 'bpmn:SubProcess') || is(element, 'bpmn:Process'))) {
      item.bounds.width += dx;
      grown.add(id);
    }
  }
  for (const [id, item] of di) {
    const element = elementsById[id];
    if (item.bounds && is(element, 'bpmn:BoundaryEvent') && moved.has(element.attachedToRef?.id)) {
      item.bounds.x += dx;
    }
  }
  for (const [id, item] of di) {
    const flow = elementsById[id];
    (item.waypoints || []).forEach((point, index, points) => {
      const end = index === 0 ? flow?.sourceRef : index === points.length - 1 ? flow?.targetRef : null;
      if (end && di.get(end.id)?.bounds) {
        if (moved.has(end.id) || (grown.has(end.id) && point.x >= left)) {
          point.x += dx;
        }
      } else if (point.x >= left) {
        point.x += dx;
      }
    });
  }
}

function segmentsOf(points) {
  const segments = [];
  for (let i = 1; i < points.length; i++) {
    segments.push([points[i - 1], points[i]]);
  }
  return segments;
}

function hitsBox([a, b], box) {
  const inset = 2;
  return Math.max(a.x, b.x) > box.x + inset && Math.min(a.x, b.x) < box.x + box.width - inset
    && Math.max(a.y, b.y) > box.y + inset && Math.min(a.y, b.y) < box.y + box.height - inset;
}

/** How many other flows' segments a route crosses or runs along. */
function crossings(route, others) {
  let count = 0;
  for (const [a, b] of segmentsOf(route)) {
    for (const [c, d] of others) {
      const vertical = Math.abs(a.x - b.x) < 1;
      const otherVertical = Math.abs(c.x - d.x) < 1;
      if (vertical === otherVertical) {
        const same = vertical ? Math.abs(a.x - c.x) < 3 : Math.abs(a.y - c.y) < 3;
        const [lo, hi] = vertical ? [Math.min(a.y, b.y), Math.max(a.y, b.y)] : [Math.min(a.x, b.x), Math.max(a.x, b.x)];
        const [olo, ohi] = vertical ? [Math.min(c.y, d.y), Math.max(c.y, d.y)] : [Math.min(c.x, d.x), Math.max(c.x, d.x)];
        if (same && Math.min(hi, ohi) - Math.max(lo, olo) > 5) {
          count += 3;
        }
      } else {
        const [v1, v2, h1, h2] = vertical ? [a, b, c, d] : [c, d, a, b];
        if (v1.x > Math.min(h1.x, h2.x) && v1.x < Math.max(h1.x, h2.x)
            && h1.y > Math.min(v1.y, v2.y) && h1.y < Math.max(v1.y, v2.y)) {
          count += 1;
        }
      }
    }
  }
  return count;
}

/**
 * A flow that bpmn-auto-layout drew through a shape (a loop back along a busy row, a default flow
 * under the task it skips) goes over or under the shapes between its ends instead, whichever
 * touches no shape and crosses fewer flows.
 */
function untangle(elementsById, di) {
  const shapes = [...di].filter(([, item]) => item.bounds);
  for (const [id, item] of di) {
    const flow = elementsById[id];
    const points = item.waypoints;
    const source = flow && di.get(flow.sourceRef?.id)?.bounds;
    const target = flow && di.get(flow.targetRef?.id)?.bounds;
    if (!points || !source || !target || is(flow.sourceRef, 'bpmn:BoundaryEvent')) {
      continue;
    }
    const ancestors = new Set();
    for (let parent = flow.$parent; parent; parent = parent.$parent) {
      ancestors.add(parent.id);
    }
    const obstacles = shapes
      .filter(([shapeId]) => shapeId !== flow.sourceRef.id && shapeId !== flow.targetRef.id && !ancestors.has(shapeId))
      .map(([, shape]) => shape.bounds);
    const hits = (route) => segmentsOf(route).reduce(
      (count, segment) => count + obstacles.filter((box) => hitsBox(segment, box)).length, 0);
    if (!hits(points)) {
      continue;
    }
    const sx = source.x + source.width / 2;
    const tx = target.x + target.width / 2;
    const between = obstacles.filter((box) => box.x < Math.max(sx, tx) + 20 && box.x + box.width > Math.min(sx, tx) - 20);
    const around = di.get(flow.$parent?.id)?.bounds;
    const over = Math.min(source.y, target.y, ...between.filter((box) => box.y + box.height > Math.min(source.y, target.y) - 60)
      .map((box) => box.y)) - 20;
    const under = Math.max(source.y + source.height, target.y + target.height, ...between
      .filter((box) => box.y < Math.max(source.y + source.height, target.y + target.height) + 60)
      .map((box) => box.y + box.height)) + 20;
    const candidates = [];
    if (!around || over > around.y + 5) {
      candidates.push([{ x: sx, y: source.y }, { x: sx, y: over }, { x: tx, y: over }, { x: tx, y: target.y }]);
    }
    if (!around || under < around.y + around.height - 5) {
      candidates.push([{ x: sx, y: source.y + source.height }, { x: sx, y: under }, { x: tx, y: under },
        { x: tx, y: target.y + target.height }]);
    }
    const others = [...di].filter(([otherId, other]) => otherId !== id && other.waypoints)
      .flatMap(([, other]) => segmentsOf(other.waypoints));
    const best = candidates
      .map((route) => ({ route, score: hits(route) * 100 + crossings(route, others) }))
      .sort((a, b) => a.score - b.score)[0];
    if (best && best.score < 100) {
      item.waypoints = best.route;
    }
  }
}

/** One process of the document as a definitions document of its own, with generated layout. */
export async function processDiagramXml(xml, processId) {
  const planes = [];
  const pending = [processId];
  while (pending.length) {
    const containerId = pending.shift();
    const { di, collapsed } = await layoutContainer(xml, containerId);
    planes.push({ containerId, di });
    pending.push(...collapsed);
  }

  const { rootElement: definitions, elementsById } = await parse(xml);
  const process = elementsById[processId];
  const diagrams = planes.map(({ containerId, di }) => {
    const planeElement = [];
    for (const [id, item] of di) {
      const element = elementsById[id];
      if (!element || element === elementsById[containerId]) {
        continue;
      }
      if (item.waypoints) {
        planeElement.push(edgeDi(element, item.waypoints));
      } else if (item.bounds) {
        const attrs = {};
        if (is(element, 'bpmn:SubProcess')) {
          attrs.isExpanded = !drawnCollapsed(element);
        }
        if (is(element, 'bpmn:ExclusiveGateway')) {
          attrs.isMarkerVisible = true;
        }
        planeElement.push(shapeDi(element, item.bounds, attrs));
      }
    }
    return moddle.create('bpmndi:BPMNDiagram', {
      id: `BPMNDiagram_${containerId}`,
      plane: moddle.create('bpmndi:BPMNPlane', {
        id: `BPMNPlane_${containerId}`, bpmnElement: elementsById[containerId], planeElement,
      }),
    });
  });
  const document = moddle.create('bpmn:Definitions', {
    id: `duban_${processId}`, targetNamespace: definitions.targetNamespace,
    rootElements: [...referencedRootElements(definitions, process), process],
    diagrams,
  });
  const { xml: out } = await moddle.toXML(document);
  return out;
}

/** The processes of a document, in order: [{ id, name }]. */
export async function processesOf(xml) {
  const { rootElement } = await parse(xml);
  return (rootElement.rootElements || [])
    .filter((root) => is(root, 'bpmn:Process'))
    .map((process) => ({ id: process.id, name: process.name || process.id }));
}
