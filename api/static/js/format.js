// How things read on screen: Shanghai dates, working days, warning lights, Chinese labels.

import { h } from './dom.js';
import { boot, modes, serverNow } from './boot.js';

const ZONE = boot.timezone || 'Asia/Shanghai';
const parts = new Intl.DateTimeFormat('en-CA', {
  timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

function pieces(date) {
  const out = {};
  for (const part of parts.formatToParts(date)) out[part.type] = part.value;
  return out;
}

/** "YYYY-MM-DD HH:mm" in Asia/Shanghai, or "—". */
export function formatDateTime(value) {
  if (!value) return '—';
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return '—';
  const p = pieces(date);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** The calendar date in Asia/Shanghai, "YYYY-MM-DD". */
export function localDate(value) {
  const p = pieces(value instanceof Date ? value : new Date(value));
  return `${p.year}-${p.month}-${p.day}`;
}

/** A <time> element showing a moment in Shanghai time. */
export function timeElement(value) {
  return h('time', { datetime: value || '', text: formatDateTime(value) });
}

const calendar = boot.calendar || { days_off: [], workdays: [] };
const daysOff = new Set(calendar.days_off || []);
const workdays = new Set(calendar.workdays || []);

function addDays(ymd, n) {
  const d = new Date(`${ymd}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Whether a date ("YYYY-MM-DD") is a working day (工作日): the server's calendar around today. */
export function isWorkingDay(ymd) {
  if (workdays.has(ymd)) return true;
  if (daysOff.has(ymd)) return false;
  const weekday = new Date(`${ymd}T00:00:00Z`).getUTCDay();
  return weekday !== 0 && weekday !== 6;
}

/** Working days after `from` up to and including `to` (both "YYYY-MM-DD"). */
export function workingDaysBetween(from, to) {
  let count = 0;
  for (let day = addDays(from, 1), guard = 0; day <= to && guard < 1000; day = addDays(day, 1), guard += 1) {
    if (isWorkingDay(day)) count += 1;
  }
  return count;
}

/**
 * What a deadline means now: {text, overdue, title}. Time left is in working days; once past,
 * "超期N天" counts calendar days since the deadline.
 */
export function describeDue(dueAt) {
  if (!dueAt) return { text: '—', overdue: false, title: '未设办理期限' };
  const due = new Date(dueAt);
  const now = serverNow();
  const title = `期限：${formatDateTime(due)}`;
  if (now >= due) {
    const days = Math.max(1, Math.round((Date.parse(localDate(now)) - Date.parse(localDate(due))) / 86400000));
    return { text: `超期${days}天`, overdue: true, title };
  }
  const left = workingDaysBetween(localDate(now), localDate(due));
  return { text: left === 0 ? '今日到期' : `剩${left}个工作日`, overdue: false, title };
}

/** A deadline cell: the days left (or overdue) with the exact time as a tooltip. */
export function dueElement(dueAt) {
  const due = describeDue(dueAt);
  return h('span', { class: ['due', due.overdue && 'due--overdue'], title: due.title, text: due.text });
}

export const WARNING_LABELS = { green: '绿灯（正常）', yellow: '黄灯（临期）', red: '红灯（超期）' };
export const WARNING_SHORT = { green: '绿灯', yellow: '黄灯', red: '红灯' };

/** The 三色预警 light: a coloured dot with its meaning for screen readers and as a tooltip. */
export function warningLight(level, { withText = false, testid = 'warning-light' } = {}) {
  const key = WARNING_LABELS[level] ? level : 'green';
  const label = WARNING_LABELS[key];
  return h('span', { class: 'warning' },
    h('span', {
      class: `warning-light warning-${key}`, 'data-testid': testid, 'data-warning': key,
      role: 'img', 'aria-label': label, title: label,
    }),
    withText ? h('span', { class: 'warning__text', text: label }) : null);
}

export const ESCALATION_LABELS = ['未升级', '超期催办', '督办', '挂牌督办'];

/** The escalation level (督办级别) as a small badge. */
export function escalationBadge(level, { withText = false } = {}) {
  const n = Number(level) || 0;
  return h('span', {
    class: `level level-${n}`, title: ESCALATION_LABELS[n] || '', 'aria-label': `督办级别 ${n}：${ESCALATION_LABELS[n] || ''}`,
    text: withText ? `${n} 级 · ${ESCALATION_LABELS[n]}` : String(n),
  });
}

/** The label of a mode (督办方式). */
export function modeLabel(name) {
  const mode = modes.find((m) => m.name === name);
  return mode ? mode.label : (name || '—');
}

export const TASK_LABELS = {
  refer_case: '转办',
  handle_case: '处置',
  assist_case: '协办',
  approve_extension: '延期审批',
  review_feedback: '反馈审核',
  report_progress: '报告进展',
  evaluate_effect: '问效评估',
  conduct_inspection: '实地查办',
  reinspect: '复查',
};

/** A task's Chinese name. */
export function taskLabel(task) {
  return task.title || TASK_LABELS[task.name] || task.name;
}

export const TASK_STATES = { ready: '待签收', claimed: '办理中', completed: '已完成', cancelled: '已取消' };

/** A case's status (进行中 / 已办结 / 不予受理 / 已撤销). */
export function caseStatusLabel(item) {
  if (item.status === 'open') return '进行中';
  if (item.status === 'closed') return item.resolution === 'rejected' ? '不予受理' : '已办结';
  if (item.status === 'cancelled') return '已撤销';
  return item.status || '—';
}

export const SOURCES = ['企业反映', '12345热线', '专班调度会', '领导批示', '实地督查', '其他'];

export const ROLE_LABELS = {
  dispatcher: '督查室', supervisor: '督查员', taskforce_leader: '专班组长', handler: '经办人', dept_leader: '单位负责人',
};
