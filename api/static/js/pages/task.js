// 办理任务: a task with its generated form, and the case's history beside it.

import { api, fieldErrors } from '../api.js';
import { h, link, replaceChildren } from '../dom.js';
import { TASK_STATES, dueElement, escalationBadge, formatDateTime, modeLabel, taskLabel, warningLight } from '../format.js';
import { navigate } from '../router.js';
import { actorName, departmentName, taskforceName } from '../session.js';
import { buildTaskForm } from '../taskform.js';
import { timelineElement } from '../timeline.js';
import { toast, toastError } from '../toast.js';

function fact(label, ...value) {
  return h('div', { class: 'fact' }, h('dt', { text: label }), h('dd', {}, ...value));
}

/** Draw the task page. */
export async function taskPage(root, view, taskId) {
  const main = h('section', { class: 'task-main', 'aria-labelledby': 'task-heading' }, h('p', { class: 'loading', text: '正在加载任务…' }));
  const history = h('aside', { class: 'task-history card', 'aria-labelledby': 'history-heading' },
    h('h2', { id: 'history-heading', class: 'card__title', text: '办理记录' }),
    h('p', { class: 'loading', text: '正在加载…' }));
  root.append(h('div', { class: 'split' }, main, history));

  // What the case is about, for whoever handles it: filled in once the case has loaded.
  const caseCard = h('details', { class: 'card case-brief', open: true, hidden: true });

  function drawCase(item) {
    replaceChildren(caseCard,
      h('summary', { class: 'card__title' }, '事项情况'),
      item.description ? h('div', { class: 'description', 'data-testid': 'case-description-text' }, item.description) : null,
      h('dl', { class: 'facts' },
        fact('来源', item.source || '—'),
        fact('牵头单位', departmentName(item.lead_department)),
        fact('协办单位', (item.co_departments || []).length ? item.co_departments.map(departmentName).join('、') : '—'),
        fact('催办次数', String(item.urge_count || 0)),
        fact('登记', `${actorName(item.created_by)} · ${formatDateTime(item.created_at)}`)));
    caseCard.hidden = false;
  }

  async function loadHistory(caseId) {
    api(`/cases/${caseId}`).then((item) => view.active && drawCase(item)).catch(() => null);
    try {
      const events = await api(`/cases/${caseId}/events`);
      if (!view.active) return;
      replaceChildren(history, h('h2', { id: 'history-heading', class: 'card__title', text: '办理记录' }), timelineElement(events));
    } catch (error) {
      if (view.active && error.status !== 401) {
        replaceChildren(history, h('h2', { id: 'history-heading', class: 'card__title', text: '办理记录' }),
          h('p', { class: 'empty empty--error', text: error.message }));
      }
    }
  }

  async function load({ focusForm = false } = {}) {
    let task;
    try {
      task = await api(`/tasks/${encodeURIComponent(taskId)}`);
    } catch (error) {
      if (!view.active || error.status === 401) return;
      replaceChildren(main, h('div', { class: 'empty empty--error', role: 'alert' },
        h('h1', { id: 'task-heading', text: error.status === 404 ? '任务不存在或无权查看' : '任务加载失败' }),
        h('p', { text: error.message }), h('p', {}, link('/worklist', {}, '返回我的待办'))));
      replaceChildren(history);
      history.hidden = true;
      return;
    }
    if (!view.active) return;
    document.title = `${taskLabel(task)} · ${task.case_title} · 督查督办`;
    draw(task, focusForm);
    loadHistory(task.case_id);
  }

  async function act(task, action, button, body) {
    button.disabled = true;
    try {
      await api(`/tasks/${task.id}/${action}`, { method: 'POST', body });
      toast({ claim: '已签收，请填写办理内容', unclaim: '已取消签收', assign: '已指派' }[action]);
      if (view.active) await load({ focusForm: action === 'claim' });
    } catch (error) {
      toastError(error);
      button.disabled = false;
    }
  }

  function draw(task, focusForm) {
    const open = task.state === 'ready' || task.state === 'claimed';
    const actions = task.actions || [];
    const mayComplete = actions.includes('complete');
    const buttons = [];
    if (actions.includes('claim')) {
      const b = h('button', { type: 'button', class: 'button button--primary', 'data-testid': 'claim' }, '签收');
      b.addEventListener('click', () => act(task, 'claim', b));
      buttons.push(b);
    }
    if (actions.includes('unclaim')) {
      const b = h('button', { type: 'button', class: 'button button--ghost', 'data-testid': 'unclaim' }, '取消签收');
      b.addEventListener('click', () => act(task, 'unclaim', b));
      buttons.push(b);
    }
    let assign = null;
    if (actions.includes('assign')) {
      const input = h('input', { id: 'assign-username', name: 'username', type: 'text', autocomplete: 'off', placeholder: '用户名', 'data-testid': 'assign-username' });
      const b = h('button', { type: 'submit', class: 'button button--ghost', 'data-testid': 'assign' }, '指派');
      assign = h('form', { class: 'assign', novalidate: true },
        h('label', { for: 'assign-username', text: '指派给本单位人员' }), h('div', { class: 'input-group' }, input, b));
      assign.addEventListener('submit', (event) => {
        event.preventDefault();
        const username = input.value.trim();
        if (!username) {
          input.focus();
          return;
        }
        act(task, 'assign', b, { username });
      });
    }

    let status;
    if (!open) status = h('p', { class: 'notice', text: `该任务${TASK_STATES[task.state] || task.state}${task.completed_by ? `（${actorName(task.completed_by)}，${formatDateTime(task.completed_at)}）` : ''}，无需办理。` });
    else if (actions.includes('claim')) status = h('p', { class: 'notice notice--info', text: '请先签收本任务，签收后即可填写并提交。' });
    else if (task.state === 'claimed' && !mayComplete) status = h('p', { class: 'notice', text: `该任务已由${actorName(task.assignee)}签收办理。` });

    const header = h('div', { class: 'card' },
      h('p', { class: 'eyebrow' }, link(`/cases/${task.case_id}`, { 'data-testid': 'case-link' }, `${task.case_number || `#${task.case_id}`}`),
        ` · ${modeLabel(task.mode)} · ${taskforceName(task.taskforce)}`),
      h('h1', { id: 'task-heading', class: 'task-title' }, h('span', { class: 'task-title__name', text: taskLabel(task) }),
        h('span', { class: 'task-title__case', text: task.case_title })),
      h('dl', { class: 'facts' },
        fact('办理单位', departmentName(task.department)),
        fact('状态', h('span', { class: `state state--${task.state}`, 'data-testid': 'task-state', text: TASK_STATES[task.state] || task.state }),
          task.assignee ? `（${actorName(task.assignee)}）` : ''),
        fact('收到时间', formatDateTime(task.created_at)),
        fact('期限', task.due_at ? `${formatDateTime(task.due_at)} ` : '', dueElement(task.due_at)),
        fact('预警', warningLight(task.warning_level, { withText: true })),
        fact('督办级别', escalationBadge(task.escalation_level, { withText: true }))),
      buttons.length ? h('div', { class: 'button-row' }, buttons) : null,
      assign);

    const children = [header];
    if (status) children.push(status);
    children.push(caseCard);
    if (open && (task.form || []).length) {
      const form = buildTaskForm(task, {
        enabled: mayComplete,
        onSubmit: async (data) => {
          form.setBusy(true);
          form.showErrors({}, '');
          try {
            await api(`/tasks/${task.id}/complete`, { method: 'POST', body: { data } });
            toast(`已提交：${taskLabel(task)}（${task.case_number || task.case_id}）`);
            navigate(`/cases/${task.case_id}`);
          } catch (error) {
            if (!view.active) return;
            form.setBusy(false);
            if (error.status === 422) form.showErrors(fieldErrors(error), error.message);
            else {
              form.showErrors({}, error.message);
              toastError(error);
            }
          }
        },
      });
      children.push(h('section', { class: 'card', 'aria-labelledby': 'form-heading' },
        h('h2', { id: 'form-heading', class: 'card__title', text: `${taskLabel(task)}办理` }), form.element));
      if (focusForm && mayComplete) {
        const first = form.element.querySelector('input:not([disabled]), select:not([disabled]), textarea:not([disabled])');
        if (first) window.setTimeout(() => first.focus(), 0);
      }
    }
    replaceChildren(main, children);
  }

  await load();
}
