// 问题收集: record a new case; the modes offered are those the user's roles may create.

import { api, fieldErrors } from '../api.js';
import { modes } from '../boot.js';
import { h, uid } from '../dom.js';
import { showFieldErrors } from '../fielderrors.js';
import { SOURCES } from '../format.js';
import { navigate } from '../router.js';
import { orgLists, session } from '../session.js';
import { selectedSummary } from '../taskform.js';
import { toast, toastError } from '../toast.js';

const MODE_HINTS = {
  standard: '督查室转办，牵头单位处置，督查室审核反馈后办结。',
  direct: '领导批示事项：不经分办，直接交牵头单位限期办理，由督查员审核反馈。',
  effectiveness: '问效督办：牵头单位定期报告进展，办结后跟踪问效，未见效重新办理。',
  onsite: '实地查办：督查员实地查办，发现问题责成整改并复查。',
  reminder: '提醒快办：直接提醒牵头单位限期办理，无需审核；超期自动升级为直接专办。',
};

/** The modes the signed-in user may create. */
export function creatableModes() {
  const roles = session.user ? session.user.roles : [];
  return modes.filter((mode) => mode.creator_roles.some((role) => roles.includes(role)));
}

/** Draw the new-case form. */
export async function newCasePage(root, view) {
  const { taskforces, departments } = orgLists();
  const assignable = departments.filter((d) => d.kind !== 'office');
  const allowed = creatableModes();
  const fields = new Map();

  function field(name, label, control, { required = false, hint = null, extra = null } = {}) {
    const errorId = `error-${name}`;
    const error = h('p', { class: 'field-error', id: errorId, 'data-testid': errorId, hidden: true });
    control.setAttribute('aria-describedby', errorId);
    if (required) control.setAttribute('aria-required', 'true');
    const container = h('div', { class: 'field', 'data-testid': `field-${name}`, 'data-field': name },
      h('label', { for: control.id }, label, required ? h('span', { class: 'required', 'aria-hidden': 'true', text: ' *' }) : null),
      control.dataset.suffix ? h('div', { class: 'input-group' }, control, h('span', { class: 'input-suffix', text: control.dataset.suffix })) : control,
      extra, hint ? h('p', { class: 'hint', text: hint }) : null, error);
    fields.set(name, { container, control, error });
    return container;
  }

  const title = h('input', { id: uid('case-title'), name: 'title', type: 'text', maxlength: 200, 'data-testid': 'case-title', autocomplete: 'off' });
  const description = h('textarea', { id: uid('case-description'), name: 'description', rows: 5, 'data-testid': 'case-description' });
  const taskforce = h('select', { id: uid('case-taskforce'), name: 'taskforce', 'data-testid': 'case-taskforce' },
    h('option', { value: '', text: '请选择专班' }), taskforces.map((t) => h('option', { value: t.code, text: t.name })));
  taskforce.value = session.user.taskforce && taskforces.some((t) => t.code === session.user.taskforce) ? session.user.taskforce : '';
  const source = h('select', { id: uid('case-source'), name: 'source', 'data-testid': 'case-source' },
    h('option', { value: '', text: '请选择（选填）' }), SOURCES.map((s) => h('option', { value: s, text: s })));
  const mode = h('select', { id: uid('case-mode'), name: 'mode', 'data-testid': 'case-mode' },
    allowed.map((m) => h('option', { value: m.name, text: m.label })));
  mode.value = allowed.some((m) => m.name === 'standard') ? 'standard' : (allowed[0] || {}).name || '';
  const modeHint = h('p', { class: 'hint', 'aria-live': 'polite' });
  const lead = h('select', { id: uid('case-lead-department'), name: 'lead_department', 'data-testid': 'case-lead-department' },
    h('option', { value: '', text: '请选择牵头单位' }), assignable.map((d) => h('option', { value: d.code, text: d.name })));
  const deadline = h('input', {
    id: uid('case-deadline'), name: 'deadline_working_days', type: 'number', min: 1, max: 250, step: 1, inputmode: 'numeric',
    'data-testid': 'case-deadline', 'data-suffix': '个工作日',
  });
  const co = h('select', { id: uid('case-co-departments'), name: 'co_departments', multiple: true, size: 6, 'data-testid': 'case-co-departments' },
    assignable.map((d) => h('option', { value: d.code, text: d.name })));
  const reportEvery = h('input', {
    id: uid('case-report-every'), name: 'report_every_working_days', type: 'number', min: 1, max: 60, step: 1,
    placeholder: '5', 'data-testid': 'case-report-every', 'data-suffix': '个工作日',
  });
  const followup = h('input', {
    id: uid('case-followup'), name: 'followup_working_days', type: 'number', min: 1, max: 250, step: 1,
    placeholder: '20', 'data-testid': 'case-followup', 'data-suffix': '个工作日',
  });

  const formError = h('div', { class: 'form-error', 'data-testid': 'form-error', role: 'alert', tabindex: '-1', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button button--primary', 'data-testid': 'create-case' }, '登记事项');
  const modeDependent = h('div', { class: 'field-row' },
    field('lead_department', '牵头单位', lead, { required: true }),
    field('deadline_working_days', '办理期限', deadline, { required: true, hint: '按工作日计算，节假日顺延' }));
  const effectiveness = h('div', { class: 'field-row' },
    field('report_every_working_days', '进展报告周期', reportEvery, { hint: '默认每 5 个工作日报告一次' }),
    field('followup_working_days', '跟踪问效期', followup, { hint: '办结后默认 20 个工作日问效' }));

  const form = h('form', { class: 'card case-form', novalidate: true, 'aria-labelledby': 'new-case-heading' },
    formError,
    field('title', '标题', title, { required: true }),
    field('description', '问题描述', description, { required: true }),
    h('div', { class: 'field-row' },
      field('taskforce', '所属专班', taskforce, { required: true }),
      field('source', '问题来源', source)),
    h('div', { class: 'field-row' },
      field('mode', '督办方式', mode, { required: true }),
      h('div', { class: 'field field--hint' }, modeHint)),
    modeDependent,
    effectiveness,
    field('co_departments', '协办单位（选填）', co, {
      hint: '可多选：按住 Ctrl（Mac 为 ⌘）点选，或用方向键和空格键选择', extra: selectedSummary(co),
    }),
    h('div', { class: 'form-actions' }, submit, h('span', { class: 'muted small', text: '带 * 的为必填项' })));

  let leadTouched = false;
  lead.addEventListener('change', () => { leadTouched = true; });
  function currentMode() {
    return allowed.find((m) => m.name === mode.value) || null;
  }
  function syncMode() {
    const m = currentMode();
    modeHint.textContent = m ? MODE_HINTS[m.name] || '' : '';
    const needsLead = Boolean(m && m.needs_lead_department);
    modeDependent.hidden = !needsLead;
    effectiveness.hidden = !(m && m.name === 'effectiveness');
    if (needsLead && !deadline.value && m.deadline_working_days) deadline.value = String(m.deadline_working_days);
    if (needsLead) syncLead();
  }
  function syncLead() {
    if (leadTouched || lead.value) return;
    const tf = taskforces.find((t) => t.code === taskforce.value);
    if (tf && tf.lead_department) lead.value = tf.lead_department;
  }
  mode.addEventListener('change', syncMode);
  taskforce.addEventListener('change', () => { if (!leadTouched) lead.value = ''; syncLead(); });
  syncMode();

  function integer(input) {
    const text = input.value.trim();
    if (text === '') return input.validity.badInput ? 'invalid' : undefined;
    return /^-?\d+$/.test(text) ? parseInt(text, 10) : text;
  }

  function body() {
    const m = currentMode();
    const out = { title: title.value.trim(), description: description.value.trim(), mode: mode.value || undefined };
    if (taskforce.value) out.taskforce = taskforce.value;
    if (source.value) out.source = source.value;
    const coList = [...co.selectedOptions].map((o) => o.value);
    if (coList.length) out.co_departments = coList;
    if (m && m.needs_lead_department) {
      if (lead.value) out.lead_department = lead.value;
      out.deadline_working_days = integer(deadline);
    }
    if (m && m.name === 'effectiveness') {
      out.report_every_working_days = integer(reportEvery);
      out.followup_working_days = integer(followup);
    }
    for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
    return out;
  }

  function showErrors(errors, message) {
    showFieldErrors(fields, formError, errors, message, (entry) => [entry.control]);
  }


  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    submit.textContent = '提交中…';
    showErrors({}, '');
    try {
      const created = await api('/cases', { method: 'POST', body: body() });
      toast(`已登记事项 ${created.number}`);
      navigate(`/cases/${created.id}`);
    } catch (error) {
      if (!view.active) return;
      showErrors(fieldErrors(error), error.message);
      if (error.status !== 422) toastError(error);
    } finally {
      submit.disabled = false;
      submit.textContent = '登记事项';
    }
  });

  root.append(
    h('div', { class: 'page-head' }, h('h1', { id: 'new-case-heading', text: '问题收集' }),
      h('p', { class: 'muted', text: '登记需要督办的问题，提交后进入督办流程。' })),
    form);
  title.focus();
}
