// A case's audit timeline (GET /cases/{id}/events): when, who, what, and why.

import { h } from './dom.js';
import { formatDateTime } from './format.js';
import { actorName } from './session.js';

const DETAILS = [
  ['reason', '理由'], ['instructions', '转办意见'], ['result', '办理情况'], ['comment', '意见'], ['message', '催办内容'],
  ['note', '说明'], ['findings', '查办情况'], ['progress', '工作进展'], ['difficulties', '存在困难'],
];

function details(event) {
  const data = event.data || {};
  const lines = [];
  for (const [key, label] of DETAILS) {
    const value = data[key];
    if (typeof value !== 'string' || !value.trim()) continue;
    if (event.label && event.label.includes(value.trim())) continue;
    lines.push(h('p', { class: 'timeline__detail' }, h('span', { class: 'timeline__detail-label', text: `${label}：` }), value));
  }
  return lines;
}

/** The timeline as an ordered list (oldest first), with data-testid case-timeline / timeline-entry. */
export function timelineElement(events) {
  if (!events.length) return h('p', { class: 'muted', 'data-testid': 'case-timeline', text: '暂无记录' });
  return h('ol', { class: 'timeline', 'data-testid': 'case-timeline' }, events.map((event) => h('li', {
    class: ['timeline__entry', event.actor === 'system' && 'timeline__entry--system'],
    'data-testid': 'timeline-entry', 'data-action': event.action,
  },
  h('div', { class: 'timeline__meta' },
    h('time', { datetime: event.at, text: formatDateTime(event.at) }),
    h('span', { class: 'timeline__actor', text: actorName(event.actor), title: event.actor })),
  h('p', { class: 'timeline__label', text: event.label || event.action }),
  details(event))));
}
