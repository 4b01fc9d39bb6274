// duban 督办 — the web UI: a single-page app over /api/v1, no framework, no build step.

import { api, onUnauthorized } from './js/api.js';
import { refreshUnread, showHeader, stopUnreadPolling } from './js/header.js';
import { afterEach, beforeEach, fallback, interceptLinks, navigate, render, route } from './js/router.js';
import { endSession, loadOrg, session, startSession } from './js/session.js';
import { toast, toastError } from './js/toast.js';
import { loginPage } from './js/pages/login.js';
import { worklistPage } from './js/pages/worklist.js';
import { taskPage } from './js/pages/task.js';
import { newCasePage } from './js/pages/newcase.js';
import { casePage } from './js/pages/case.js';
import { inboxPage } from './js/pages/inbox.js';
import { overviewPage } from './js/pages/overview.js';
import { notFoundPage } from './js/pages/notfound.js';

route(/^\/login\/?$/, loginPage, { title: '登录', public: true });
route(/^\/(?:worklist\/?)?$/, worklistPage, { title: '我的待办', nav: 'worklist' });
route(/^\/tasks\/([^/]+)\/?$/, taskPage, { title: '办理任务', nav: 'worklist' });
route(/^\/cases\/new\/?$/, newCasePage, { title: '问题收集', nav: 'new-case' });
route(/^\/cases\/(\d+)\/?$/, casePage, { title: '督办事项', nav: null });
route(/^\/inbox\/?$/, inboxPage, { title: '通知', nav: 'inbox' });
route(/^\/overview\/?$/, overviewPage, { title: '督办总览', nav: 'overview' });
fallback(notFoundPage);

let sessionChecked = false;

/** Ask the server whether this browser is signed in (the cookie is httpOnly; the page cannot see it). */
async function restoreSession() {
  if (sessionChecked) return Boolean(session.user);
  sessionChecked = true;
  try {
    startSession(await api('/auth/session', { expect401: true }));
    return true;
  } catch (error) {
    if (error.status !== 401) toastError(error);
    return false;
  }
}

function loginUrl() {
  const here = window.location.pathname + window.location.search;
  return here.startsWith('/login') || here === '/' ? '/login' : `/login?next=${encodeURIComponent(here)}`;
}

beforeEach(async (current) => {
  const signedIn = await restoreSession();
  if (current && current.isPublic) return true;
  if (!signedIn) {
    navigate(loginUrl(), { replace: true });
    return false;
  }
  try {
    await loadOrg();
  } catch (error) {
    if (error.status === 401) return false;
    toastError(error);
  }
  return true;
});

afterEach((current) => {
  showHeader(current ? current.nav : null);
  const loading = document.getElementById('boot-loading');
  if (loading) loading.remove();
});

onUnauthorized(() => {
  const wasSignedIn = Boolean(session.user);
  endSession();
  showHeader(null);
  if (window.location.pathname.startsWith('/login')) return;
  if (wasSignedIn) toast('登录已过期，请重新登录', 'error');
  navigate(loginUrl(), { replace: true });
});

document.getElementById('logout').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api('/auth/session', { method: 'DELETE', expect401: true });
  } catch (error) {
    // Signed out already, or the network failed: forget the session here either way.
  } finally {
    button.disabled = false;
  }
  endSession();
  stopUnreadPolling();
  showHeader(null);
  toast('已退出登录', 'info');
  navigate('/login', { replace: true });
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refreshUnread();
});

interceptLinks();
render();
