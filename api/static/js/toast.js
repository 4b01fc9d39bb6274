// Toasts: short messages that survive page changes (success, or the API's error message).

import { h } from './dom.js';

/** Show a toast (it replaces the one shown before); kind is "success", "error" or "info". */
export function toast(message, kind = 'success', { timeout } = {}) {
  const host = document.getElementById('toasts');
  if (!host) return null;
  host.replaceChildren();
  const close = h('button', { type: 'button', class: 'toast__close', 'aria-label': '关闭提示' });
  const node = h('div', {
    class: `toast toast--${kind}`, 'data-testid': 'toast', 'data-kind': kind,
    role: kind === 'error' ? 'alert' : null,
  }, h('span', { class: 'toast__text', text: message }), close);
  const remove = () => node.remove();
  close.addEventListener('click', remove);
  host.append(node);
  window.setTimeout(remove, timeout || (kind === 'error' ? 8000 : 5000));
  return node;
}

/** Toast an API failure with its (Chinese) message. */
export function toastError(error) {
  return toast((error && error.message) || '操作失败，请稍后重试', 'error');
}
