// A task's form, drawn from its description (GET /tasks/{id} → form, values): choices, required
// and conditional fields (required_when), departments, working days. The server validates; its
// 422 errors are shown under the fields they name.

import { h, uid } from './dom.js';
import { showFieldErrors } from './fielderrors.js';

const RADIO_LIMIT = 5;

function typed(field, raw) {
  if (field.type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : null;
  return raw;
}

function choiceKey(value) {
  return typeof value === 'boolean' ? String(value) : String(value);
}

/** A line under a multi-select naming what is chosen (a long list hides its selection). */
export function selectedSummary(select) {
  const line = h('p', { class: 'selected-summary', 'aria-live': 'polite' });
  const update = () => {
    const names = [...select.selectedOptions].map((o) => o.textContent);
    line.textContent = names.length ? `已选 ${names.length} 个：${names.join('、')}` : '未选择';
  };
  select.addEventListener('change', update);
  update();
  return line;
}

/**
 * Build the form. Returns {element, fields, read(), showErrors(errors, message), setBusy(busy)}.
 * enabled: whether the user may fill it in now (claimed by them).
 */
export function buildTaskForm(task, { enabled, onSubmit }) {
  const values = task.values || {};
  const controls = new Map();
  const formError = h('div', { class: 'form-error', 'data-testid': 'form-error', role: 'alert', tabindex: '-1', hidden: true });
  const submit = h('button', {
    type: 'submit', class: 'button button--primary', 'data-testid': 'submit-task', disabled: !enabled,
  }, '提交');
  const form = h('form', { class: 'task-form', 'data-testid': 'task-form', novalidate: true, 'aria-label': `${task.title || ''}表单` }, formError);

  for (const field of task.form || []) {
    const id = uid(`f-${field.name}`);
    const errorId = `error-${field.name}`;
    const error = h('p', { class: 'field-error', id: errorId, 'data-testid': errorId, hidden: true });
    const marker = h('span', { class: 'required', 'aria-hidden': 'true', text: ' *' });
    const prefilled = values[field.name];
    let control;
    let labelled;
    const described = { 'aria-describedby': errorId };

    if (field.choices && (field.type === 'boolean' || (!field.widget && field.choices.length <= RADIO_LIMIT))) {
      const radios = field.choices.map((choice) => {
        const rid = uid(`f-${field.name}-${choiceKey(choice.value)}`);
        const input = h('input', {
          type: 'radio', id: rid, name: field.name, value: choiceKey(choice.value),
          checked: prefilled !== undefined && choiceKey(prefilled) === choiceKey(choice.value), disabled: !enabled,
        });
        return h('div', { class: 'choice' }, input, h('label', { for: rid, text: choice.label }));
      });
      labelled = h('fieldset', { class: 'choices', ...described },
        h('legend', {}, field.label, marker), h('div', { class: 'choices__list' }, radios));
      control = {
        read: () => {
          const checked = form.querySelector(`input[name="${CSS.escape(field.name)}"]:checked`);
          return checked ? typed(field, checked.value) : null;
        },
        focus: () => (form.querySelector(`input[name="${CSS.escape(field.name)}"]:checked`)
          || form.querySelector(`input[name="${CSS.escape(field.name)}"]`)).focus(),
        inputs: () => [...form.querySelectorAll(`input[name="${CSS.escape(field.name)}"]`)],
      };
    } else if (field.widget === 'departments' || (field.type === 'array' && field.choices)) {
      const chosen = new Set(Array.isArray(prefilled) ? prefilled : []);
      const el = h('select', { id, name: field.name, multiple: true, size: 6, disabled: !enabled, ...described },
        (field.choices || []).map((c) => h('option', { value: c.value, text: c.label, selected: chosen.has(c.value) })));
      const summary = selectedSummary(el);
      labelled = [h('label', { for: id }, field.label, marker), el, summary,
        h('p', { class: 'hint', text: '可多选：按住 Ctrl（Mac 为 ⌘）点选，或用方向键和空格键选择' })];
      control = {
        read: () => [...el.selectedOptions].map((o) => o.value),
        focus: () => el.focus(),
        inputs: () => [el],
      };
    } else if (field.choices) {
      const el = h('select', { id, name: field.name, disabled: !enabled, ...described },
        h('option', { value: '', text: '请选择' }),
        field.choices.map((c) => h('option', { value: choiceKey(c.value), text: c.label })));
      el.value = prefilled !== undefined && prefilled !== null ? choiceKey(prefilled) : '';
      labelled = [h('label', { for: id }, field.label, marker), el];
      control = { read: () => (el.value === '' ? null : typed(field, el.value)), focus: () => el.focus(), inputs: () => [el] };
    } else if (field.type === 'integer') {
      const el = h('input', {
        id, name: field.name, type: 'number', inputmode: 'numeric', step: '1', min: field.widget === 'working_days' ? '1' : null,
        value: prefilled !== undefined && prefilled !== null ? String(prefilled) : '', disabled: !enabled, ...described,
      });
      const suffix = field.widget === 'working_days' && !field.label.includes('工作日')
        ? h('span', { class: 'input-suffix', text: '个工作日' }) : null;
      labelled = [h('label', { for: id }, field.label, marker), h('div', { class: 'input-group' }, el, suffix)];
      control = {
        read: () => {
          const text = el.value.trim();
          if (text === '') return el.validity && el.validity.badInput ? 'invalid' : null;
          return /^-?\d+$/.test(text) ? parseInt(text, 10) : text;
        },
        focus: () => el.focus(),
        inputs: () => [el],
      };
    } else if (field.widget === 'textarea') {
      const el = h('textarea', { id, name: field.name, rows: 4, disabled: !enabled, ...described });
      el.value = typeof prefilled === 'string' ? prefilled : '';
      labelled = [h('label', { for: id }, field.label, marker), el];
      control = { read: () => el.value.trim(), focus: () => el.focus(), inputs: () => [el] };
    } else {
      const el = h('input', { id, name: field.name, type: 'text', disabled: !enabled, ...described });
      el.value = typeof prefilled === 'string' ? prefilled : '';
      labelled = [h('label', { for: id }, field.label, marker), el];
      control = { read: () => el.value.trim(), focus: () => el.focus(), inputs: () => [el] };
    }
    const container = h('div', { class: 'field', 'data-testid': `field-${field.name}`, 'data-field': field.name }, labelled, error);
    controls.set(field.name, { field, control, container, error, marker });
    form.append(container);
  }
  form.append(h('div', { class: 'form-actions' }, submit,
    enabled ? h('span', { class: 'muted small', text: '带 * 的为必填项' }) : null));

  function current() {
    const out = {};
    for (const [name, { control }] of controls) out[name] = control.read();
    return out;
  }

  function applies(field, data) {
    if (!field.required_when) return true;
    return Object.entries(field.required_when).every(([other, accepted]) => accepted.some((v) => v === data[other]));
  }

  // Show conditional fields only while their condition holds, and mark what is required.
  function refresh() {
    const data = current();
    for (const { field, container, marker, control } of controls.values()) {
      const shown = applies(field, data);
      container.hidden = !shown;
      const required = field.required || Boolean(field.required_when && shown);
      marker.hidden = !required;
      for (const input of control.inputs()) {
        if (required) input.setAttribute('aria-required', 'true');
        else input.removeAttribute('aria-required');
      }
    }
  }

  /** The data to submit: the shown fields, typed; empty optional ones left out. */
  function read() {
    const data = current();
    const out = {};
    for (const [name, { field }] of controls) {
      if (!applies(field, data)) continue;
      const value = data[name];
      const required = field.required || Boolean(field.required_when);
      if (value === null || value === undefined) continue;
      if (Array.isArray(value) && !value.length) continue;
      // A blank required text goes to the server, which says why it is wrong; a blank option is left out.
      if (value === '' && !(required && (field.widget === 'textarea' || field.type === 'string') && !field.choices)) continue;
      out[name] = value;
    }
    return out;
  }

  function showErrors(errors, message) {
    showFieldErrors(controls, formError, errors, message, (entry) => entry.control.inputs());
  }


  let busy = false;
  function setBusy(value) {
    busy = value;
    submit.disabled = value || !enabled;
    submit.textContent = value ? '提交中…' : '提交';
    form.setAttribute('aria-busy', String(value));
  }

  form.addEventListener('change', refresh);
  form.addEventListener('input', refresh);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy || !enabled) return;
    onSubmit(read());
  });
  refresh();
  return { element: form, read, showErrors, setBusy, submit };
}
