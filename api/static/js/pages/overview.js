// 督办总览: every open case the user may see, most escalated first, counted by warning light and
// escalation level, filterable by task force and department.

import { api } from '../api.js';
import { h, link, replaceChildren } from '../dom.js';
import { ESCALATION_LABELS, WARNING_SHORT, dueElement, escalationBadge, modeLabel, warningLight } from '../format.js';
import { setQuery } from '../router.js';
import { departmentName, mayOverview, orgLists, taskforceName } from '../session.js';
import { toastError } from '../toast.js';

const FETCH_PAGE = 200;
const FETCH_LIMIT = 10;
const SHOW_PAGE = 50;
const POLL_MS = 30000;

/** Draw the overview. */
export async function overviewPage(root, view) {
  if (!mayOverview()) {
    root.append(h('div', { class: 'empty empty--error', role: 'alert' },
      h('h1', { text: '督办总览' }), h('p', { text: '督办总览仅对督查室、督查员和专班组长开放。' })));
    return;
  }
  const params = new URLSearchParams(window.location.search);
  const q = {
    taskforce: params.get('taskforce') || '', department: params.get('department') || '',
    warning: WARNING_SHORT[params.get('warning')] ? params.get('warning') : '',
    level: ['0', '1', '2', '3'].includes(params.get('level')) ? params.get('level') : '',
    page: Math.max(1, parseInt(params.get('page'), 10) || 1),
  };
  const { taskforces, departments } = orgLists();
  let cases = [];
  let truncated = false;

  const selectFilter = (id, name, label, options, value) => {
    const el = h('select', { id, name, 'data-testid': `overview-filter-${name}` }, options.map(([v, text]) => h('option', { value: v, text })));
    el.value = value;
    el.addEventListener('change', () => {
      q[name] = el.value;
      q.page = 1;
      fetchAll();
    });
    return h('div', { class: 'filter' }, h('label', { for: id, text: label }), el);
  };
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': '筛选事项', onsubmit: (e) => e.preventDefault() },
    selectFilter('ov-taskforce', 'taskforce', '专班', [['', '全部专班'], ...taskforces.map((t) => [t.code, t.name])], q.taskforce),
    selectFilter('ov-department', 'department', '单位', [['', '全部单位'], ...departments.filter((d) => d.kind !== 'office').map((d) => [d.code, d.name])], q.department));

  const tile = (key, value, label, extra) => h('button', {
    type: 'button', class: ['tile', extra], 'data-key': key, 'data-value': value,
    onclick: () => {
      q[key] = q[key] === value ? '' : value;
      q.page = 1;
      draw();
    },
  }, h('span', { class: 'tile__label' }, label), h('strong', { class: 'tile__count', 'data-testid': `overview-count-${key === 'warning' ? value : `level-${value}`}`, text: '–' }));
  const tiles = h('div', { class: 'tiles' },
    h('div', { class: 'tiles__group', role: 'group', 'aria-label': '按预警' },
      ['red', 'yellow', 'green'].map((w) => tile('warning', w, [h('span', { class: `warning-light warning-${w}`, 'aria-hidden': 'true' }), WARNING_SHORT[w]], `tile--${w}`))),
    h('div', { class: 'tiles__group', role: 'group', 'aria-label': '按督办级别' },
      ['3', '2', '1', '0'].map((n) => tile('level', n, `${n} 级 · ${ESCALATION_LABELS[n]}`, `tile--level-${n}`))));
  const total = h('span', { class: 'muted small' });
  const host = h('div', { class: 'table-host', 'aria-live': 'polite' }, h('p', { class: 'loading', text: '正在加载事项…' }));
  const pagination = h('nav', { class: 'pagination', 'data-testid': 'pagination', 'aria-label': '分页' });

  root.append(h('div', { class: 'page-head' }, h('h1', { text: '督办总览' }), h('div', { class: 'page-head__aside' }, total)),
    filters, tiles, host, pagination);

  async function fetchAll() {
    setQuery({ taskforce: q.taskforce, department: q.department, warning: q.warning, level: q.level, page: q.page > 1 ? q.page : '' });
    const all = [];
    try {
      for (let page = 1; page <= FETCH_LIMIT; page += 1) {
        const body = await api('/cases', {
          query: { status: 'open', sort: '-escalation_level', taskforce: q.taskforce, department: q.department, page, per_page: FETCH_PAGE },
        });
        all.push(...body.items);
        truncated = body.total > FETCH_PAGE * FETCH_LIMIT;
        if (all.length >= body.total || !body.items.length) break;
      }
    } catch (error) {
      if (view.active && error.status !== 401) {
        toastError(error);
        replaceChildren(host, h('p', { class: 'empty empty--error', role: 'alert', text: error.message }));
      }
      return;
    }
    if (!view.active) return;
    cases = all;
    draw();
  }

  function draw() {
    setQuery({ taskforce: q.taskforce, department: q.department, warning: q.warning, level: q.level, page: q.page > 1 ? q.page : '' });
    for (const w of ['green', 'yellow', 'red']) {
      tiles.querySelector(`[data-testid="overview-count-${w}"]`).textContent = String(cases.filter((c) => c.warning_level === w).length);
    }
    for (const n of [0, 1, 2, 3]) {
      tiles.querySelector(`[data-testid="overview-count-level-${n}"]`).textContent = String(cases.filter((c) => (c.escalation_level || 0) === n).length);
    }
    for (const b of tiles.querySelectorAll('[data-key]')) b.setAttribute('aria-pressed', String(q[b.dataset.key] === b.dataset.value));
    const shown = cases.filter((c) => (!q.warning || c.warning_level === q.warning) && (!q.level || String(c.escalation_level || 0) === q.level));
    total.textContent = `进行中事项 ${cases.length} 件${truncated ? `（仅显示前 ${cases.length} 件）` : ''}`;
    const pages = Math.max(1, Math.ceil(shown.length / SHOW_PAGE));
    q.page = Math.min(q.page, pages);
    const slice = shown.slice((q.page - 1) * SHOW_PAGE, q.page * SHOW_PAGE);
    if (!slice.length) {
      replaceChildren(host, h('div', { class: 'empty' }, h('p', { text: '没有符合条件的进行中事项。' })));
    } else {
      replaceChildren(host, h('table', { class: 'table table--cards' },
        h('caption', { class: 'sr-only', text: `进行中事项，按督办级别从高到低，共 ${shown.length} 件` }),
        h('thead', {}, h('tr', {},
          ['事项编号', '标题', '专班', '督办方式', '牵头单位', '期限', '预警', '督办级别', '催办'].map((text) => h('th', { scope: 'col', class: text === '标题' ? 'col-title' : null, text })))),
        h('tbody', {}, slice.map((c) => h('tr', { 'data-testid': 'overview-case', 'data-case-id': c.id, class: `row--${c.warning_level}` },
          h('td', { 'data-label': '事项编号', class: 'nowrap', text: c.number }),
          h('td', { 'data-label': '标题', class: 'col-title' }, link(`/cases/${c.id}`, { class: 'title-link', title: c.title, 'data-testid': 'open-case' }, c.title)),
          h('td', { 'data-label': '专班', text: taskforceName(c.taskforce) }),
          h('td', { 'data-label': '督办方式', text: modeLabel(c.mode) }),
          h('td', { 'data-label': '牵头单位', text: departmentName(c.lead_department) }),
          h('td', { 'data-label': '期限', class: 'nowrap' }, dueElement(c.due_at)),
          h('td', { 'data-label': '预警' }, warningLight(c.warning_level)),
          h('td', { 'data-label': '督办级别' }, escalationBadge(c.escalation_level)),
          h('td', { 'data-label': '催办', text: `${c.urge_count || 0} 次` }))))));
    }
    replaceChildren(pagination,
      h('span', { class: 'pagination__info', text: `共 ${shown.length} 件 · 第 ${q.page} / ${pages} 页` }),
      h('div', { class: 'pagination__controls' },
        h('button', { type: 'button', class: 'button button--ghost button--small', disabled: q.page <= 1, onclick: () => { q.page -= 1; draw(); } }, '上一页'),
        h('button', { type: 'button', class: 'button button--ghost button--small', disabled: q.page >= pages, onclick: () => { q.page += 1; draw(); } }, '下一页')));
  }

  const timer = window.setInterval(() => {
    if (!document.hidden) fetchAll();
  }, POLL_MS);
  view.onLeave(() => window.clearInterval(timer));
  await fetchAll();
}
