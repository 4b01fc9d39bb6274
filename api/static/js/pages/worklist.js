// 我的待办: my department's (本单位待办) or my own (我的待办) open tasks, filtered, counted, refreshed
// every 15 seconds. Filters, sort and page live in the query string, so a refresh (or a reload, or
// the back button) keeps them.

import { api } from '../api.js';
import { h, link, replaceChildren } from '../dom.js';
import {
  TASK_LABELS, TASK_STATES, WARNING_SHORT, dueElement, escalationBadge, formatDateTime, modeLabel, taskLabel, warningLight,
} from '../format.js';
import { modes } from '../boot.js';
import { setQuery } from '../router.js';
import { actorName, departmentName, hasRole, orgLists, session } from '../session.js';
import { toast, toastError } from '../toast.js';

const POLL_MS = 15000;
const PER_PAGE_CHOICES = [20, 50, 100];
const DEFAULTS = { scope: 'department', state: '', name: '', mode: '', warning: '', taskforce: '', sort: 'due_at', page: 1, per_page: 20 };

function readQuery() {
  const params = new URLSearchParams(window.location.search);
  const q = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (params.has(key)) q[key] = params.get(key);
  }
  q.scope = q.scope === 'mine' ? 'mine' : 'department';
  q.state = ['ready', 'claimed'].includes(q.state) ? q.state : '';
  q.warning = WARNING_SHORT[q.warning] ? q.warning : '';
  q.sort = q.sort === '-due_at' ? '-due_at' : 'due_at';
  q.page = Math.max(1, parseInt(q.page, 10) || 1);
  q.per_page = PER_PAGE_CHOICES.includes(parseInt(q.per_page, 10)) ? parseInt(q.per_page, 10) : DEFAULTS.per_page;
  return q;
}

function writeQuery(q) {
  const out = {};
  for (const [key, value] of Object.entries(q)) {
    if (String(value) !== String(DEFAULTS[key])) out[key] = value;
  }
  setQuery(out);
}

function select(testid, label, options, value, onChange) {
  const id = `wl-${testid}`;
  const el = h('select', { id, name: testid.replace('filter-', ''), 'data-testid': testid, onchange: (e) => onChange(e.target.value) },
    options.map(([v, text]) => h('option', { value: v, text })));
  el.value = value;
  return h('div', { class: 'filter' }, h('label', { for: id, text: label }), el);
}

/** Whether the user may give a claimed task back from the list (its holder, or who may assign it). */
function mayUnclaim(task) {
  if (task.state !== 'claimed') return false;
  if (task.assignee === session.user.username) return true;
  if (task.role === 'department') return hasRole('dept_leader') && session.user.department === task.department;
  return hasRole('dispatcher') && session.user.department === task.department;
}

/** Draw the worklist. */
export async function worklistPage(root, view) {
  let q = readQuery();
  let busy = false;
  let lastSignature = '';
  let sequence = 0;
  const { taskforces } = orgLists();

  const refreshed = h('span', { class: 'muted small', 'aria-live': 'off' });
  const refreshButton = h('button', { type: 'button', class: 'button button--ghost button--small', onclick: () => load(true) }, '刷新');
  const tabs = h('div', { class: 'tabs', role: 'group', 'aria-label': '待办范围' },
    [['department', '本单位待办'], ['mine', '我的待办']].map(([scope, text]) => h('button', {
      type: 'button', class: 'tab', 'data-testid': `scope-${scope}`, 'data-scope': scope,
      onclick: () => update({ scope, page: 1 }),
    }, text)));
  const tile = (testid, text, extra, onClick) => h('button', {
    type: 'button', class: ['tile', extra], 'data-tile': testid, onclick: onClick,
  }, h('span', { class: 'tile__label' }, text), h('strong', { class: 'tile__count', 'data-testid': testid, text: '–' }));
  const tiles = h('div', { class: 'tiles' },
    h('div', { class: 'tiles__group', role: 'group', 'aria-label': '按状态' },
      tile('count-ready', '待签收', 'tile--ready', () => update({ state: q.state === 'ready' ? '' : 'ready', page: 1 })),
      tile('count-claimed', '办理中', 'tile--claimed', () => update({ state: q.state === 'claimed' ? '' : 'claimed', page: 1 }))),
    h('div', { class: 'tiles__group', role: 'group', 'aria-label': '按预警' },
      ['green', 'yellow', 'red'].map((w) => tile(`count-${w}`, [h('span', { class: `warning-light warning-${w}`, 'aria-hidden': 'true' }), WARNING_SHORT[w]],
        `tile--${w}`, () => update({ warning: q.warning === w ? '' : w, page: 1 })))));

  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': '筛选待办', onsubmit: (e) => e.preventDefault() },
    select('filter-name', '任务', [['', '全部任务'], ...Object.entries(TASK_LABELS)], q.name, (v) => update({ name: v, page: 1 })),
    select('filter-mode', '督办方式', [['', '全部方式'], ...modes.map((m) => [m.name, m.label])], q.mode, (v) => update({ mode: v, page: 1 })),
    select('filter-warning', '预警', [['', '全部'], ...Object.entries(WARNING_SHORT)], q.warning, (v) => update({ warning: v, page: 1 })),
    select('filter-taskforce', '专班', [['', '全部专班'], ...taskforces.map((t) => [t.code, t.name])], q.taskforce,
      (v) => update({ taskforce: v, page: 1 })),
    h('div', { class: 'filter filter--actions' },
      h('button', { type: 'button', class: 'button button--ghost', 'data-testid': 'filter-reset', onclick: () => update({ ...DEFAULTS, scope: q.scope }) }, '清除筛选')));

  const tableHost = h('div', { class: 'table-host', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'loading', text: '正在加载待办…' }));
  const pagination = h('nav', { class: 'pagination', 'data-testid': 'pagination', 'aria-label': '分页' });

  root.append(
    h('div', { class: 'page-head' },
      h('h1', { text: '我的待办' }),
      h('div', { class: 'page-head__aside' }, refreshed, refreshButton)),
    tabs, tiles, filters, tableHost, pagination);

  function syncControls() {
    for (const b of tabs.querySelectorAll('[data-scope]')) b.setAttribute('aria-pressed', String(b.dataset.scope === q.scope));
    for (const [key, testid] of [['name', 'filter-name'], ['mode', 'filter-mode'], ['warning', 'filter-warning'], ['taskforce', 'filter-taskforce']]) {
      const el = filters.querySelector(`[data-testid="${testid}"]`);
      if (el.value !== q[key]) el.value = q[key];
    }
    for (const [testid, active] of [['count-ready', q.state === 'ready'], ['count-claimed', q.state === 'claimed'],
      ['count-green', q.warning === 'green'], ['count-yellow', q.warning === 'yellow'], ['count-red', q.warning === 'red']]) {
      tiles.querySelector(`[data-tile="${testid}"]`).setAttribute('aria-pressed', String(active));
    }
  }

  function update(changes) {
    q = { ...q, ...changes };
    writeQuery(q);
    syncControls();
    load(true);
  }

  function baseQuery() {
    return { scope: q.scope, name: q.name, mode: q.mode, taskforce: q.taskforce, per_page: 1 };
  }

  async function load(userAsked = false) {
    if (busy && !userAsked) return;
    busy = true;
    sequence += 1;
    const mine = sequence;
    tableHost.setAttribute('aria-busy', 'true');
    try {
      const list = api('/tasks', { query: { ...baseQuery(), state: q.state || 'open', warning: q.warning, sort: q.sort, page: q.page, per_page: q.per_page } });
      const counts = Promise.all([
        api('/tasks', { query: { ...baseQuery(), state: 'ready', warning: q.warning } }),
        api('/tasks', { query: { ...baseQuery(), state: 'claimed', warning: q.warning } }),
        ...['green', 'yellow', 'red'].map((w) => api('/tasks', { query: { ...baseQuery(), state: q.state || 'open', warning: w } })),
      ]);
      const [page, [ready, claimed, green, yellow, red]] = await Promise.all([list, counts]);
      if (!view.active || mine !== sequence) return;
      const pages = Math.max(1, Math.ceil(page.total / q.per_page));
      if (q.page > pages) {
        busy = false;
        update({ page: pages });
        return;
      }
      for (const [testid, value] of [['count-ready', ready.total], ['count-claimed', claimed.total], ['count-green', green.total],
        ['count-yellow', yellow.total], ['count-red', red.total]]) {
        tiles.querySelector(`[data-testid="${testid}"]`).textContent = String(value);
      }
      const signature = JSON.stringify([q, page]);
      if (signature !== lastSignature || userAsked) {
        lastSignature = signature;
        drawTable(page);
        drawPagination(page, pages);
      }
      refreshed.textContent = `更新于 ${formatDateTime(new Date()).slice(11)}`;
    } catch (error) {
      if (view.active && mine === sequence && error.status !== 401) {
        if (userAsked || !lastSignature) toastError(error);
        if (!lastSignature) replaceChildren(tableHost, h('p', { class: 'empty empty--error', role: 'alert', text: error.message }));
      }
    } finally {
      if (mine === sequence) {
        busy = false;
        tableHost.setAttribute('aria-busy', 'false');
      }
    }
  }

  async function act(task, action, button) {
    button.disabled = true;
    busy = true;
    try {
      await api(`/tasks/${task.id}/${action}`, { method: 'POST' });
      toast(action === 'claim' ? `已签收：${taskLabel(task)}（${task.case_number || task.case_id}）` : `已取消签收：${taskLabel(task)}`);
    } catch (error) {
      toastError(error);
    } finally {
      busy = false;
      if (view.active) load(true);
    }
  }

  function drawTable(page) {
    const focused = document.activeElement && tableHost.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = focused && focused.closest('[data-task-id]')
      ? [focused.closest('[data-task-id]').dataset.taskId, focused.dataset.testid] : null;
    if (!page.items.length) {
      const filtered = q.name || q.mode || q.warning || q.taskforce || q.state;
      replaceChildren(tableHost, h('div', { class: 'empty' },
        h('p', { text: filtered ? '没有符合筛选条件的待办任务。' : (q.scope === 'mine' ? '您当前没有已签收的待办任务。' : '本单位暂无待办任务。') })));
      return;
    }
    const sortLabel = q.sort === 'due_at' ? '期限（最早在前）' : '期限（最晚在前）';
    const sortButton = h('button', {
      type: 'button', class: 'sort', 'data-testid': 'sort-due', title: `按期限排序：当前${sortLabel}`,
      onclick: () => update({ sort: q.sort === 'due_at' ? '-due_at' : 'due_at', page: 1 }),
    }, '期限', h('span', { class: 'sort__arrow', 'aria-hidden': 'true', text: q.sort === 'due_at' ? '↑' : '↓' }));
    const head = h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: '事项编号' }),
      h('th', { scope: 'col', class: 'col-title', text: '标题' }),
      h('th', { scope: 'col', text: '任务' }),
      h('th', { scope: 'col', text: '办理单位' }),
      h('th', { scope: 'col', text: '收到时间' }),
      h('th', { scope: 'col', 'aria-sort': q.sort === 'due_at' ? 'ascending' : 'descending' }, sortButton),
      h('th', { scope: 'col', text: '预警' }),
      h('th', { scope: 'col', text: '督办级别' }),
      h('th', { scope: 'col', class: 'col-actions', text: '操作' })));
    const body = h('tbody', {}, page.items.map((task) => {
      let action = null;
      if (task.state === 'ready') {
        action = h('button', { type: 'button', class: 'button button--primary button--small', 'data-testid': 'claim' }, '签收');
        action.addEventListener('click', () => act(task, 'claim', action));
      } else if (mayUnclaim(task)) {
        action = h('button', { type: 'button', class: 'button button--ghost button--small', 'data-testid': 'unclaim' }, '取消签收');
        action.addEventListener('click', () => act(task, 'unclaim', action));
      }
      const holder = task.state === 'claimed'
        ? h('span', { class: 'muted small', text: task.assignee === session.user.username ? '我已签收' : `${actorName(task.assignee)}已签收` })
        : null;
      return h('tr', {
        'data-testid': 'task-row', 'data-task-id': task.id, 'data-task-name': task.name, 'data-state': task.state,
        class: `row--${task.warning_level}`,
      },
      h('td', { 'data-label': '事项编号', class: 'nowrap', text: task.case_number || `#${task.case_id}` }),
      h('td', { 'data-label': '标题', class: 'col-title' },
        link(`/tasks/${task.id}`, { class: 'title-link', 'data-testid': 'open-task', title: task.case_title }, task.case_title),
        h('span', { class: 'row-meta' }, modeLabel(task.mode))),
      h('td', { 'data-label': '任务' },
        h('span', { class: 'task-name', text: taskLabel(task) }),
        h('span', { class: `state state--${task.state}`, text: TASK_STATES[task.state] || task.state })),
      h('td', { 'data-label': '办理单位', text: departmentName(task.department) }),
      h('td', { 'data-label': '收到时间', class: 'nowrap', text: formatDateTime(task.created_at) }),
      h('td', { 'data-label': '期限', class: 'nowrap' }, dueElement(task.due_at)),
      h('td', { 'data-label': '预警' }, warningLight(task.warning_level)),
      h('td', { 'data-label': '督办级别' }, escalationBadge(task.escalation_level)),
      h('td', { 'data-label': '操作', class: 'col-actions' }, h('div', { class: 'row-actions' }, action, holder)));
    }));
    replaceChildren(tableHost, h('table', { class: 'table table--cards' },
      h('caption', { class: 'sr-only', text: `${q.scope === 'mine' ? '我的待办' : '本单位待办'}，共 ${page.total} 条` }), head, body));
    if (focusKey) {
      const row = tableHost.querySelector(`[data-task-id="${focusKey[0]}"]`);
      const target = row && (row.querySelector(`[data-testid="${focusKey[1]}"]`) || row.querySelector('a, button'));
      if (target) target.focus();
    }
  }

  function drawPagination(page, pages) {
    const perPage = h('select', { id: 'wl-per-page', 'data-testid': 'per-page', onchange: (e) => update({ per_page: parseInt(e.target.value, 10), page: 1 }) },
      PER_PAGE_CHOICES.map((n) => h('option', { value: String(n), text: `每页 ${n} 条` })));
    perPage.value = String(q.per_page);
    replaceChildren(pagination,
      h('span', { class: 'pagination__info', 'data-testid': 'pagination-info', text: `共 ${page.total} 条 · 第 ${q.page} / ${pages} 页` }),
      h('div', { class: 'pagination__controls' },
        h('button', { type: 'button', class: 'button button--ghost button--small', 'data-testid': 'page-prev', disabled: q.page <= 1, onclick: () => update({ page: q.page - 1 }) }, '上一页'),
        h('button', { type: 'button', class: 'button button--ghost button--small', 'data-testid': 'page-next', disabled: q.page >= pages, onclick: () => update({ page: q.page + 1 }) }, '下一页'),
        h('label', { class: 'sr-only', for: 'wl-per-page', text: '每页条数' }), perPage));
  }

  syncControls();
  const timer = window.setInterval(() => {
    if (!document.hidden) load(false);
  }, POLL_MS);
  view.onLeave(() => window.clearInterval(timer));
  await load(true);
}
