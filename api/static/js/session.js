// Who is signed in, and the organisation (departments, task forces) the pages name things with.

import { api, setCsrfToken } from './api.js';
import { demoUsers } from './boot.js';

export const session = { user: null };

/** Start a session from the API's answer (POST or GET /auth/session). */
export function startSession(body) {
  session.user = {
    username: body.username,
    display_name: body.display_name,
    department: body.department,
    taskforce: body.taskforce,
    roles: body.roles || [],
  };
  setCsrfToken(body.csrf_token);
}

/** Forget the session in this page. */
export function endSession() {
  session.user = null;
  setCsrfToken(null);
}

/** Whether the signed-in user has any of the roles. */
export function hasRole(...roles) {
  return Boolean(session.user) && roles.some((role) => session.user.roles.includes(role));
}

/** Whether the user may see the supervisor overview. */
export function mayOverview() {
  return hasRole('supervisor', 'dispatcher', 'taskforce_leader');
}

const org = { departments: new Map(), taskforces: new Map(), list: { departments: [], taskforces: [] }, loading: null };

/** Load departments and task forces once per page load. */
export function loadOrg() {
  if (!org.loading) {
    org.loading = Promise.all([api('/departments'), api('/taskforces')]).then(([departments, taskforces]) => {
      org.list.departments = departments;
      org.list.taskforces = taskforces;
      for (const d of departments) org.departments.set(d.code, d);
      for (const t of taskforces) org.taskforces.set(t.code, t);
      return org.list;
    }).catch((error) => {
      org.loading = null;
      throw error;
    });
  }
  return org.loading;
}

/** The departments and task forces, once loaded. */
export function orgLists() {
  return org.list;
}

/** A department's name (the code until the list is loaded). */
export function departmentName(code) {
  if (!code) return '—';
  const dept = org.departments.get(code);
  return dept ? dept.name : code;
}

/** A task force's name. */
export function taskforceName(code) {
  if (!code) return '—';
  const tf = org.taskforces.get(code);
  return tf ? tf.name : code;
}

/** A readable name for an audit actor (username): demo naming, departments, task forces. */
export function actorName(username) {
  if (!username) return '—';
  if (username === 'system') return '系统';
  if (session.user && session.user.username === username) return session.user.display_name;
  const demo = demoUsers.find((u) => u.username === username);
  if (demo) return demo.display_name;
  const office = org.departments.get('supervision_office');
  const officeName = office ? office.name : '督查室';
  if (username === 'dispatcher') return `${officeName}调度员`;
  if (username === 'supervisor') return `${officeName}督查员`;
  if (org.departments.has(username)) return `${departmentName(username)}经办人`;
  if (username.endsWith('_leader')) {
    const code = username.slice(0, -'_leader'.length);
    if (org.departments.has(code)) return `${departmentName(code)}负责人`;
    if (org.taskforces.has(code)) return `${taskforceName(code)}组长`;
  }
  return username;
}
