// 督办事项: a case's status, parties, deadline and lights, its open tasks, the BPMN diagram, the
// full timeline, and the supervisors' actions (催办, 实地查办).

import { api, fieldErrors } from '../api.js';
import { h, link, replaceChildren } from '../dom.js';
import {
  TASK_STATES, caseStatusLabel, dueElement, escalationBadge, formatDateTime, modeLabel, taskLabel, warningLight,
} from '../format.js';
import { actorName, departmentName, hasRole, taskforceName } from '../session.js';
import { timelineElement } from '../timeline.js';
import { toast, toastError } from '../toast.js';

const DIAGRAM_WAIT_MS = 500;
const DIAGRAM_TRIES = 40;

function fact(label, ...value) {
  return h('div', { class: 'fact' }, h('dt', { text: label }), h('dd', {}, ...value));
}

function statusClass(item) {
  if (item.status === 'open') return 'status--open';
  return item.resolution === 'rejected' ? 'status--rejected' : 'status--closed';
}

/**
 * Let the viewer let go of a diagram that leaves the page: it refits only a diagram that is ready,
 * and a detached one has no size to fit to.
 */
function releaseDiagram(container) {
  if (!container) return;
  container.dataset.ready = 'released';
  const viewer = window.DubanDiagram;
  if (viewer && typeof viewer.destroy === 'function') {
    try { viewer.destroy(container); } catch (error) { /* the page goes on without it */ }
  }
}

/** Draw a case's BPMN diagram with the separately built viewer, when it is there. */
function drawDiagram(container, caseId, view) {
  const placeholder = (text, kind = '') => replaceChildren(container, h('p', { class: ['diagram__placeholder', kind], text }));
  placeholder('流程图加载中');
  let payload = null;
  let tries = 0;
  const attempt = async () => {
    if (!view.active || !container.isConnected) return;
    const viewer = window.DubanDiagram;
    if (!viewer || typeof viewer.render !== 'function' || !payload) {
      tries += 1;
      if (tries < DIAGRAM_TRIES) window.setTimeout(attempt, DIAGRAM_WAIT_MS);
      return;
    }
    try {
      container.replaceChildren();
      await viewer.render(container, payload);
      container.dataset.rendered = 'true';
    } catch (error) {
      placeholder('流程图暂时无法显示', 'diagram__placeholder--error');
    }
  };
  api(`/cases/${caseId}/diagram`).then((body) => {
    payload = body;
    attempt();
  }).catch((error) => {
    if (view.active && error.status !== 401) placeholder(`流程图加载失败：${error.message}`, 'diagram__placeholder--error');
  });
}

/** A confirm panel: a textarea and a confirm button, shown under an action button. */
function actionPanel({ id, label, placeholder, confirmText, testids, onConfirm, onCancel }) {
  const textarea = h('textarea', { id, name: testids.field, rows: 3, maxlength: 1000, placeholder, 'data-testid': testids.field });
  const confirm = h('button', { type: 'submit', class: 'button button--primary', 'data-testid': testids.confirm }, confirmText);
  const cancel = h('button', { type: 'button', class: 'button button--ghost', onclick: onCancel }, '取消');
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'action-panel', novalidate: true },
    h('label', { for: id, text: label }), textarea, error, h('div', { class: 'button-row' }, confirm, cancel));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (confirm.disabled) return;
    confirm.disabled = true;
    cancel.disabled = true;
    error.hidden = true;
    try {
      await onConfirm(textarea.value.trim());
    } catch (failure) {
      const errors = Object.values(fieldErrors(failure));
      error.textContent = [failure.message, ...errors].filter(Boolean).join(' ');
      error.hidden = false;
      toastError(failure);
    } finally {
      confirm.disabled = false;
      cancel.disabled = false;
    }
  });
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') onCancel();
  });
  return { form, textarea };
}

/** Draw the case page. */
export async function casePage(root, view, caseId) {
  root.append(h('p', { class: 'loading', text: '正在加载事项…' }));
  let result = null;
  let diagramNode = null;
  view.onLeave(() => releaseDiagram(diagramNode));

  async function load() {
    let item;
    let events;
    try {
      [item, events] = await Promise.all([api(`/cases/${caseId}`), api(`/cases/${caseId}/events`)]);
    } catch (error) {
      if (!view.active || error.status === 401) return;
      replaceChildren(root, h('div', { class: 'empty empty--error', role: 'alert' },
        h('h1', { text: error.status === 404 ? '事项不存在或无权查看' : '事项加载失败' }),
        h('p', { text: error.message }), h('p', {}, link('/worklist', {}, '返回我的待办'))));
      return;
    }
    if (!view.active) return;
    document.title = `${item.number} ${item.title} · 督查督办`;
    draw(item, events);
  }

  function draw(item, events) {
    const open = item.status === 'open';
    const actionHost = h('div', { class: 'case-actions' });
    const panelHost = h('div', { class: 'case-actions__panel' });
    const closePanel = () => {
      panelHost.replaceChildren();
      for (const b of actionHost.querySelectorAll('button')) b.setAttribute('aria-expanded', 'false');
    };
    const openPanel = (button, panel) => {
      closePanel();
      button.setAttribute('aria-expanded', 'true');
      panelHost.append(panel.form);
      panel.textarea.focus();
    };
    if (open && hasRole('supervisor', 'dispatcher')) {
      const urge = h('button', { type: 'button', class: 'button button--warn', 'data-testid': 'urge', 'aria-expanded': 'false' }, '催办');
      urge.addEventListener('click', () => openPanel(urge, actionPanel({
        id: 'urge-message', label: `向${departmentName(item.lead_department)}催办（可填写催办内容）`,
        placeholder: '请加快办理进度，按期办结。', confirmText: '确认催办',
        testids: { field: 'urge-message', confirm: 'urge-confirm' },
        onCancel: () => { closePanel(); urge.focus(); },
        onConfirm: async (message) => {
          const updated = await api(`/cases/${item.id}/urge`, { method: 'POST', body: message ? { message } : {} });
          result = `已催办（第${updated.urge_count}次），已通知${departmentName(updated.lead_department)}。`;
          toast(result);
          await load();
        },
      })));
      actionHost.append(urge);
    }
    if (open && hasRole('supervisor')) {
      const inspect = h('button', { type: 'button', class: 'button button--ghost', 'data-testid': 'request-inspection', 'aria-expanded': 'false' }, '实地查办');
      inspect.addEventListener('click', () => openPanel(inspect, actionPanel({
        id: 'inspection-note', label: '发起实地查办（可填写查办要求）', placeholder: '查办重点、时间安排等',
        confirmText: '确认发起', testids: { field: 'inspection-note', confirm: 'inspection-confirm' },
        onCancel: () => { closePanel(); inspect.focus(); },
        onConfirm: async (note) => {
          await api(`/cases/${item.id}/inspections`, { method: 'POST', body: note ? { note } : {} });
          result = '已发起实地查办，督查员的待办中已生成“实地查办”任务。';
          toast(result);
          await load();
        },
      })));
      actionHost.append(inspect);
    }

    const header = h('section', { class: 'card case-head', 'aria-labelledby': 'case-heading' },
      h('p', { class: 'eyebrow' },
        h('span', { 'data-testid': 'case-number', class: 'case-number', text: item.number }),
        h('span', { class: `status ${statusClass(item)}`, 'data-testid': 'case-status', 'data-status': item.status, text: caseStatusLabel(item) }),
        h('span', { class: 'mode', 'data-testid': 'case-mode', 'data-mode': item.mode, text: modeLabel(item.mode) })),
      h('h1', { id: 'case-heading', class: 'case-title', text: item.title }),
      h('dl', { class: 'facts' },
        fact('专班', taskforceName(item.taskforce)),
        fact('来源', item.source || '—'),
        fact('牵头单位', h('span', { 'data-testid': 'case-lead', text: departmentName(item.lead_department) })),
        fact('协办单位', (item.co_departments || []).length ? item.co_departments.map(departmentName).join('、') : '—'),
        fact('期限', item.due_at ? `${formatDateTime(item.due_at)} ` : '', open ? dueElement(item.due_at) : ''),
        fact('预警', warningLight(item.warning_level, { withText: true })),
        fact('督办级别', escalationBadge(item.escalation_level, { withText: true })),
        fact('催办次数', h('span', { 'data-testid': 'urge-count', text: String(item.urge_count || 0) })),
        fact('退回 / 返工', `${item.return_count || 0} / ${item.rework_count || 0} 次`),
        fact('登记', `${actorName(item.created_by)} · ${formatDateTime(item.created_at)}`),
        item.closed_at ? fact('办结时间', formatDateTime(item.closed_at)) : null),
      item.description ? h('div', { class: 'description' }, h('h2', { class: 'sr-only', text: '问题描述' }), item.description) : null,
      actionHost.childElementCount ? h('div', { class: 'case-actions__wrap' }, actionHost, panelHost) : null,
      result ? h('p', { class: 'notice notice--success', 'data-testid': 'action-result', text: result }) : null);

    const tasks = item.open_tasks || [];
    const openTasks = h('section', { class: 'card', 'aria-labelledby': 'open-tasks-heading' },
      h('h2', { id: 'open-tasks-heading', class: 'card__title', text: '当前待办' }),
      tasks.length ? h('ul', { class: 'task-list' }, tasks.map((task) => h('li', { class: 'task-list__item' },
        link(`/tasks/${task.id}`, { 'data-testid': 'open-task', 'data-task-name': task.name, 'data-task-id': task.id, class: 'title-link' },
          taskLabel(task)),
        h('span', { class: 'task-list__meta' },
          departmentName(task.department), ' · ',
          h('span', { class: `state state--${task.state}`, text: TASK_STATES[task.state] || task.state }),
          task.assignee ? `（${actorName(task.assignee)}）` : '',
          task.due_at ? [' · ', dueElement(task.due_at)] : '', ' ',
          warningLight(task.warning_level, { testid: 'task-warning-light' })))))
        : h('p', { class: 'muted', text: open ? '暂无待办任务（等待定时环节）。' : '事项已结束，无待办任务。' }));

    const diagram = h('div', { class: 'diagram', 'data-testid': 'diagram', 'aria-describedby': 'diagram-hint' });
    const diagramCard = h('section', { class: 'card', 'aria-labelledby': 'diagram-heading' },
      h('h2', { id: 'diagram-heading', class: 'card__title', text: '流程图' }),
      h('p', { id: 'diagram-hint', class: 'muted small', text: '当前环节高亮显示，已完成环节带标记。' }), diagram);
    const timeline = h('section', { class: 'card', 'aria-labelledby': 'timeline-heading' },
      h('h2', { id: 'timeline-heading', class: 'card__title', text: '办理记录' }), timelineElement(events));

    releaseDiagram(diagramNode);
    diagramNode = diagram;
    replaceChildren(root, header, h('div', { class: 'split split--case' },
      h('div', { class: 'split__main' }, openTasks, diagramCard), h('div', { class: 'split__aside' }, timeline)));
    drawDiagram(diagram, item.id, view);
  }

  await load();
}
