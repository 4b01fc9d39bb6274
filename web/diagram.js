/*
 * duban's BPMN diagram viewer for the case page.
 *
 *   window.DubanDiagram.render(container, payload)
 *
 * payload is GET /api/v1/cases/{id}/diagram: {process_id, version, bpmn_xml, elements}, where
 * bpmn_xml holds every process of the deployed document (without diagram interchange) and
 * elements maps a process id to {current: [element ids], completed: [element ids]}.
 *
 * The process to show (payload.process_id first; a tab for every other process the case has been
 * in) is cut out of the document with the errors, messages, signals and escalations it refers to,
 * laid out by bpmn-auto-layout and shown in a bpmn-js NavigatedViewer. Embedded subprocesses are
 * drawn expanded; event subprocesses are drawn collapsed, with their content on a plane of its own
 * (bpmn-js's drill-down). Current elements get the marker `duban-current`, completed ones
 * `duban-completed`. When a view is ready the container carries data-ready="true",
 * data-process (the process shown) and data-current (the current element ids shown, comma-joined).
 */
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import { processDiagramXml, processesOf } from './layout.js';
import './diagram.css';

const FONT_FAMILY = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Zen Hei", Arial, sans-serif';
const MIN_READABLE_ZOOM = 0.7;
const FIT_MARGIN = 0.94;
const FOCUS_ZOOM = 0.8;

const views = new WeakMap(); // container → its viewer and the render in progress

/** The processes to offer: the case's own first, then each other one it has been in, in document order. */
function tabsFor(processes, payload) {
  const touched = (process) => {
    const state = (payload.elements || {})[process.id] || {};
    return (state.current || []).length > 0 || (state.completed || []).length > 0;
  };
  const own = processes.find((process) => process.id === payload.process_id);
  const others = processes.filter((process) => process !== own && touched(process));
  return own ? [own, ...others] : others;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

/**
 * Show the whole process; when that makes labels unreadable, zoom in to a readable scale around the
 * current work instead: all the current tasks when they fit, else the first of them (top, then
 * left). The user pans and zooms from there.
 */
function fit(canvas, currentShapes) {
  canvas.resized();
  const scale = canvas.zoom(canvas.zoom('fit-viewport', 'auto') * FIT_MARGIN); // a little air at the edges
  const root = canvas.getRootElement(); // shapes in a collapsed subprocess are on a plane of their own
  const focus = currentShapes.filter((shape) => shape && !(shape.di && shape.di.isExpanded) && !shape.waypoints
    && canvas.findRoot(shape) === root);
  if (scale >= MIN_READABLE_ZOOM || !focus.length) {
    return;
  }
  const { width, height } = canvas.getSize();
  const zoomFor = (shapes) => {
    const box = boxOf(shapes);
    return { box, zoom: Math.min(width / (box.width + 160), height / (box.height + 160)) };
  };
  let target = zoomFor(focus);
  if (target.zoom < MIN_READABLE_ZOOM) {
    const first = [...focus].sort((a, b) => a.y - b.y || a.x - b.x)[0];
    target = zoomFor([first]);
  }
  canvas.zoom(Math.max(MIN_READABLE_ZOOM, Math.min(FOCUS_ZOOM, target.zoom)));
  // Centred across, in the upper part of the view: what follows the current work is below and right.
  const view = canvas.viewbox();
  canvas.viewbox({
    x: target.box.x + target.box.width / 2 - view.width / 2,
    y: target.box.y - Math.min(view.height * 0.2, (view.height - target.box.height) / 2),
    width: view.width, height: view.height,
  });
}

function boxOf(shapes) {
  const left = Math.min(...shapes.map((shape) => shape.x));
  const top = Math.min(...shapes.map((shape) => shape.y));
  const right = Math.max(...shapes.map((shape) => shape.x + shape.width));
  const bottom = Math.max(...shapes.map((shape) => shape.y + shape.height));
  return { x: left, y: top, width: right - left, height: bottom - top };
}

async function show(view, processId) {
  const { container, payload, viewer } = view;
  const token = (view.token = (view.token || 0) + 1);
  container.dataset.ready = 'false';
  for (const tab of view.tabBar.querySelectorAll('[role=tab]')) {
    const selected = tab.dataset.processId === processId;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  try {
    if (!view.cache.has(processId)) {
      view.cache.set(processId, processDiagramXml(payload.bpmn_xml, processId));
    }
    const xml = await view.cache.get(processId);
    if (token !== view.token) {
      return;
    }
    await viewer.importXML(xml);
    if (token !== view.token) {
      return;
    }
    view.message.hidden = true;
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    const state = (payload.elements || {})[processId] || {};
    const current = (state.current || []).filter((id) => registry.get(id));
    const currentSet = new Set(current);
    for (const id of current) {
      canvas.addMarker(id, 'duban-current');
      const shape = registry.get(id);
      if (shape.di && shape.di.isExpanded) {
        canvas.addMarker(id, 'duban-container');
      }
    }
    for (const id of state.completed || []) {
      if (!currentSet.has(id) && registry.get(id)) {
        canvas.addMarker(id, 'duban-completed');
      }
    }
    fit(canvas, current.map((id) => registry.get(id)));
    container.dataset.process = processId;
    container.dataset.current = current.join(',');
    container.dataset.ready = 'true';
  } catch (error) {
    if (token !== view.token) {
      return;
    }
    console.error('duban diagram:', error); // eslint-disable-line no-console
    view.message.hidden = false;
    view.message.textContent = '流程图无法显示';
    container.dataset.process = processId;
    container.dataset.current = '';
    container.dataset.ready = 'error';
  }
}

async function render(container, payload) {
  const previous = views.get(container);
  if (previous) {
    previous.token = (previous.token || 0) + 1; // an import still running for the old payload is dropped
    previous.resizeObserver?.disconnect();
    previous.viewer.destroy();
  }
  container.dataset.ready = 'false';
  container.classList.add('duban-diagram');
  container.replaceChildren();

  const tabBar = element('div', 'duban-diagram-tabs');
  tabBar.setAttribute('role', 'tablist');
  tabBar.setAttribute('aria-label', '流程');
  const legend = element('div', 'duban-diagram-legend');
  const whole = element('button', 'duban-diagram-fit', '全图');
  whole.type = 'button';
  whole.title = '显示整个流程（滚轮缩放，拖动平移）';
  whole.dataset.testid = 'diagram-fit';
  legend.append(element('span', 'duban-legend-current', '当前'), element('span', 'duban-legend-completed', '已完成'), whole);
  const head = element('div', 'duban-diagram-head');
  head.append(tabBar, legend);
  const canvasNode = element('div', 'duban-diagram-canvas');
  canvasNode.setAttribute('role', 'tabpanel');
  canvasNode.setAttribute('aria-label', '流程图（滚轮缩放，拖动平移）');
  const message = element('div', 'duban-diagram-message');
  message.hidden = true;
  container.append(head, canvasNode, message);

  const viewer = new NavigatedViewer({
    container: canvasNode,
    textRenderer: { defaultStyle: { fontFamily: FONT_FAMILY }, externalStyle: { fontFamily: FONT_FAMILY } },
  });
  const view = { container, payload, viewer, tabBar, message, cache: new Map() };
  views.set(container, view);
  whole.addEventListener('click', () => {
    const canvas = viewer.get('canvas');
    canvas.resized();
    canvas.zoom(canvas.zoom('fit-viewport', 'auto') * FIT_MARGIN);
  });

  let tabs = [];
  try {
    tabs = tabsFor(await processesOf(payload.bpmn_xml), payload);
  } catch (error) {
    console.error('duban diagram:', error); // eslint-disable-line no-console
  }
  if (views.get(container) !== view) {
    return;
  }
  if (!tabs.length) {
    message.hidden = false;
    message.textContent = '流程图无法显示';
    container.dataset.ready = 'error';
    return;
  }
  for (const tab of tabs) {
    const button = element('button', 'duban-diagram-tab', tab.name);
    button.type = 'button';
    button.setAttribute('role', 'tab');
    button.dataset.processId = tab.id;
    button.dataset.testid = `diagram-tab-${tab.id}`;
    button.title = tab.id;
    button.addEventListener('click', () => show(view, tab.id));
    tabBar.append(button);
  }
  tabBar.addEventListener('keydown', (event) => {
    const buttons = [...tabBar.querySelectorAll('[role=tab]')];
    const index = buttons.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (index >= 0 && step) {
      const next = buttons[(index + step + buttons.length) % buttons.length];
      next.focus();
      next.click();
      event.preventDefault();
    }
  });
  tabBar.hidden = tabs.length < 2;

  if (typeof ResizeObserver === 'function') {
    let size = '';
    view.resizeObserver = new ResizeObserver(([entry]) => {
      const now = `${Math.round(entry.contentRect.width)}x${Math.round(entry.contentRect.height)}`;
      if (now !== size && container.dataset.ready === 'true') {
        size = now;
        const registry = viewer.get('elementRegistry');
        fit(viewer.get('canvas'), (container.dataset.current || '').split(',').filter(Boolean).map((id) => registry.get(id)));
      }
      size = now;
    });
    view.resizeObserver.observe(canvasNode);
  }

  await show(view, tabs[0].id);
}

window.DubanDiagram = { render };
