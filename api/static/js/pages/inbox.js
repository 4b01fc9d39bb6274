// 通知: the user's in-app notifications, unread first in attention; mark one or all read.

import { api } from '../api.js';
import { h, link, replaceChildren } from '../dom.js';
import { formatDateTime } from '../format.js';
import { refreshUnread, setUnread } from '../header.js';
import { setQuery } from '../router.js';
import { toast, toastError } from '../toast.js';

const PER_PAGE = 20;
const KIND_LABELS = {
  urged: '催办', reminder: '提醒快办', upgraded: '升级', escalation_unclaimed: '未签收提醒', escalation_due_soon: '临期提醒',
  escalation_overdue: '超期催办', escalation_supervised: '督办', escalation_listed: '挂牌督办',
};

/** Draw the inbox. */
export async function inboxPage(root, view) {
  const params = new URLSearchParams(window.location.search);
  let unreadOnly = params.get('unread') === 'true';
  let page = Math.max(1, parseInt(params.get('page'), 10) || 1);

  const list = h('div', { class: 'inbox', 'aria-live': 'polite' }, h('p', { class: 'loading', text: '正在加载通知…' }));
  const pagination = h('nav', { class: 'pagination', 'data-testid': 'pagination', 'aria-label': '分页' });
  const toggle = h('input', { id: 'unread-only', type: 'checkbox', 'data-testid': 'filter-unread', checked: unreadOnly });
  const markAll = h('button', { type: 'button', class: 'button button--ghost button--small', 'data-testid': 'mark-all-read' }, '全部标为已读');
  toggle.addEventListener('change', () => {
    unreadOnly = toggle.checked;
    page = 1;
    load();
  });

  root.append(
    h('div', { class: 'page-head' }, h('h1', { text: '通知' }),
      h('div', { class: 'page-head__aside' },
        h('div', { class: 'check' }, toggle, h('label', { for: 'unread-only', text: '只看未读' })), markAll)),
    list, pagination);

  async function markRead(item, button) {
    button.disabled = true;
    try {
      await api(`/notifications/${item.id}/read`, { method: 'POST' });
      await load();
    } catch (error) {
      toastError(error);
      button.disabled = false;
    }
  }

  markAll.addEventListener('click', async () => {
    markAll.disabled = true;
    try {
      let marked = 0;
      for (let round = 0; round < 20; round += 1) {
        const batch = await api('/notifications', { query: { unread: 'true', per_page: 200 } });
        if (!batch.items.length) break;
        for (const item of batch.items) {
          await api(`/notifications/${item.id}/read`, { method: 'POST' });
          marked += 1;
        }
      }
      toast(marked ? `已将 ${marked} 条通知标为已读` : '没有未读通知', marked ? 'success' : 'info');
      await load();
    } catch (error) {
      toastError(error);
    } finally {
      markAll.disabled = false;
    }
  });

  async function load() {
    setQuery({ unread: unreadOnly ? 'true' : '', page: page > 1 ? page : '' });
    let body;
    try {
      body = await api('/notifications', { query: { unread: unreadOnly ? 'true' : '', page, per_page: PER_PAGE } });
    } catch (error) {
      if (view.active && error.status !== 401) replaceChildren(list, h('p', { class: 'empty empty--error', role: 'alert', text: error.message }));
      return;
    }
    if (!view.active) return;
    setUnread(body.unread);
    const pages = Math.max(1, Math.ceil(body.total / PER_PAGE));
    if (page > pages) {
      page = pages;
      await load();
      return;
    }
    markAll.disabled = !body.unread;
    if (!body.items.length) {
      replaceChildren(list, h('div', { class: 'empty' }, h('p', { text: unreadOnly ? '没有未读通知。' : '暂无通知。' })));
    } else {
      replaceChildren(list, h('ul', { class: 'notifications' }, body.items.map((item) => {
        const read = Boolean(item.read_at);
        const mark = read ? null : h('button', { type: 'button', class: 'button button--ghost button--small', 'data-testid': 'mark-read' }, '标为已读');
        if (mark) mark.addEventListener('click', () => markRead(item, mark));
        // The body ends with a link to the case for email readers; here the case has its own link.
        const text = (item.body || '').replace(/\n?查看事项：\S+\s*$/, '');
        return h('li', {
          class: ['notification', read ? 'notification--read' : 'notification--unread'],
          'data-testid': 'notification', 'data-read': String(read), 'data-kind': item.kind, 'data-notification-id': item.id,
        },
        h('div', { class: 'notification__head' },
          read ? null : h('span', { class: 'dot', 'aria-hidden': 'true' }),
          h('span', { class: 'notification__kind', text: KIND_LABELS[item.kind] || '通知' }),
          h('h2', { class: 'notification__title', text: item.title }),
          h('time', { class: 'notification__time', datetime: item.created_at, text: formatDateTime(item.created_at) })),
        h('p', { class: 'notification__body', text }),
        h('div', { class: 'notification__actions' },
          item.case_id ? link(`/cases/${item.case_id}`, { class: 'button button--ghost button--small', 'data-testid': 'notification-case' }, '查看事项') : null,
          mark,
          read ? h('span', { class: 'muted small', text: `已读 ${formatDateTime(item.read_at)}` }) : h('span', { class: 'sr-only', text: '未读' })));
      })));
    }
    replaceChildren(pagination,
      h('span', { class: 'pagination__info', text: `共 ${body.total} 条 · 未读 ${body.unread} 条 · 第 ${page} / ${pages} 页` }),
      h('div', { class: 'pagination__controls' },
        h('button', { type: 'button', class: 'button button--ghost button--small', disabled: page <= 1, onclick: () => { page -= 1; load(); } }, '上一页'),
        h('button', { type: 'button', class: 'button button--ghost button--small', disabled: page >= pages, onclick: () => { page += 1; load(); } }, '下一页')));
  }

  await load();
  refreshUnread();
}
