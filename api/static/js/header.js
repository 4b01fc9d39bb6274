// The header on every signed-in page: navigation, the unread badge, the user, sign-out.

import { api } from './api.js';
import { mayOverview, session } from './session.js';

const POLL_MS = 15000;
let pollTimer = null;

/** Show the header for the signed-in user and mark the current page in the navigation. */
export function showHeader(nav) {
  const header = document.getElementById('site-header');
  if (!header) return;
  if (!session.user) {
    header.hidden = true;
    stopUnreadPolling();
    return;
  }
  header.hidden = false;
  document.getElementById('user-name').textContent = session.user.display_name || session.user.username;
  document.getElementById('user-name').title = session.user.username;
  const overview = header.querySelector('[data-nav="overview"]');
  overview.hidden = !mayOverview();
  for (const a of header.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  startUnreadPolling();
}

/** Set the unread badge. */
export function setUnread(count) {
  const badge = document.querySelector('[data-testid="unread-count"]');
  if (!badge) return;
  const n = Number(count) || 0;
  badge.textContent = String(n);
  badge.classList.toggle('badge--zero', n === 0);
  badge.setAttribute('aria-label', `未读通知 ${n} 条`);
}

/** Ask the API for the unread count and show it. */
export async function refreshUnread() {
  if (!session.user) return;
  try {
    const page = await api('/notifications', { query: { unread: 'true', per_page: 1 } });
    setUnread(page.unread ?? page.total);
  } catch (error) {
    // The badge waits for the next poll; a 401 already sent the user to the login page.
  }
}

function startUnreadPolling() {
  if (pollTimer) return;
  refreshUnread();
  pollTimer = window.setInterval(() => {
    if (!document.hidden) refreshUnread();
  }, POLL_MS);
}

/** Stop polling the unread count (signed out). */
export function stopUnreadPolling() {
  if (pollTimer) window.clearInterval(pollTimer);
  pollTimer = null;
}
