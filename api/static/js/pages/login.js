// 登录: username and password; in demo mode the demo users sign in with one click.

import { api } from '../api.js';
import { demoUsers } from '../boot.js';
import { h } from '../dom.js';
import { navigate } from '../router.js';
import { loadOrg, session, startSession } from '../session.js';
import { toast } from '../toast.js';

const DEMO_PASSWORD = 'demo';

function nextUrl() {
  const next = new URLSearchParams(window.location.search).get('next') || '';
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/worklist';
}

/** Draw the login page. */
export async function loginPage(root) {
  if (session.user) {
    navigate(nextUrl(), { replace: true });
    return;
  }
  const username = h('input', {
    id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', required: true,
    'data-testid': 'login-username', autocapitalize: 'off', spellcheck: 'false',
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
    'data-testid': 'login-password',
  });
  const submit = h('button', { type: 'submit', class: 'button button--primary button--block', 'data-testid': 'login-submit' }, '登录');
  const error = h('p', { class: 'form-error', 'data-testid': 'form-error', role: 'alert', hidden: true });

  async function signIn(name, secret) {
    error.hidden = true;
    submit.disabled = true;
    for (const b of root.querySelectorAll('[data-testid="demo-user"]')) b.disabled = true;
    try {
      startSession(await api('/auth/session', { method: 'POST', body: { username: name, password: secret }, expect401: true }));
      await loadOrg().catch(() => null);
      toast(`欢迎，${session.user.display_name}`);
      navigate(nextUrl(), { replace: true });
    } catch (failure) {
      error.textContent = failure.message || '登录失败';
      error.hidden = false;
      toast(error.textContent, 'error');
      password.focus();
      password.select();
    } finally {
      submit.disabled = false;
      for (const b of root.querySelectorAll('[data-testid="demo-user"]')) b.disabled = false;
    }
  }

  const form = h('form', { class: 'login-form', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'login-username', text: '用户名' }), username),
    h('div', { class: 'field' },
      h('label', { for: 'login-password', text: '密码' }), password),
    error,
    submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const name = username.value.trim();
    if (!name || !password.value) {
      error.textContent = '请输入用户名和密码';
      error.hidden = false;
      (name ? password : username).focus();
      return;
    }
    signIn(name, password.value);
  });

  const demo = demoUsers.length ? h('section', { class: 'demo-users', 'aria-labelledby': 'demo-title' },
    h('h2', { id: 'demo-title', class: 'demo-users__title', text: '演示用户（密码均为 demo）' }),
    h('ul', { class: 'demo-users__list' }, demoUsers.map((user) => h('li', {},
      h('button', {
        type: 'button', class: 'demo-user', 'data-testid': 'demo-user', 'data-username': user.username,
        onclick: () => {
          username.value = user.username;
          password.value = DEMO_PASSWORD;
          signIn(user.username, DEMO_PASSWORD);
        },
      },
      h('span', { class: 'demo-user__name', text: user.display_name }),
      h('span', { class: 'demo-user__id', text: user.username })))))) : null;

  root.append(h('div', { class: 'login' },
    h('div', { class: 'login__card card' },
      h('div', { class: 'login__brand' },
        h('span', { class: 'brand__mark brand__mark--large', 'aria-hidden': 'true', text: '督' }),
        h('div', {},
          h('h1', { class: 'login__title', text: '督查督办闭环管理系统' }),
          h('p', { class: 'login__subtitle', text: '问题收集 → 转办 → 处置 → 反馈 → 办结' }))),
      form),
    demo,
    h('p', { class: 'login__footer muted small' }, '系统对接请参阅 ', h('a', { href: '/api/v1/docs' }, '接口文档'), '。')));
  username.focus();
}
