// The API client: JSON over fetch with the session cookie; every change carries the CSRF token.

const BASE = '/api/v1';
let csrfToken = null;
let unauthorizedHandler = () => {};

/** Remember the session's CSRF token (kept in memory only; re-read from GET /auth/session). */
export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** What to do when the API says the session is gone (401). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** An API failure in duban's error format: {code, message, errors: {field: [msg]}}. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `请求失败（${status}）`);
    this.status = status;
    this.code = (body && body.code) || 'error';
    this.errors = (body && body.errors) || {};
  }
}

/** Call the API; resolves to the parsed JSON body (null for 204), rejects with ApiError. */
export async function api(path, { method = 'GET', body, query, expect401 = false } = {}) {
  const url = new URL(BASE + path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, value);
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(url, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, { code: 'network', message: '网络连接失败，请检查网络后重试' });
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
  }
  if (!response.ok) {
    const failure = new ApiError(response.status, data);
    if (response.status === 401 && !expect401) unauthorizedHandler(failure);
    throw failure;
  }
  return data;
}

// marshmallow's English defaults, as the users should read them.
const MESSAGES = [
  [/^Missing data for required field\.$/, '此项为必填项。'],
  [/^Field may not be null\.$/, '此项不能为空。'],
  [/^Not a valid integer\.$/, '请输入整数。'],
  [/^Not a valid boolean\.$/, '请选择一项。'],
  [/^Not a valid (string|list|mapping)\.$/, '格式不正确。'],
  [/^Unknown field\.$/, '不支持的字段。'],
  [/^Length must be between (\d+) and (\d+)\.$/, '长度须在 $1 到 $2 个字之间。'],
  [/^Longer than maximum length (\d+)\.$/, '不能超过 $1 个字。'],
  [/^Shorter than minimum length (\d+)\.$/, '不能少于 $1 个字。'],
  [/^Must be greater than or equal to (-?\d+) and less than or equal to (-?\d+)\.$/, '须在 $1 到 $2 之间。'],
  [/^Must be greater than or equal to (-?\d+)\.$/, '不能小于 $1。'],
  [/^Must be less than or equal to (-?\d+)\.$/, '不能大于 $1。'],
  [/^Must be one of: .*\.$/, '不是可选的值。'],
];

/** A field error message in Chinese. */
export function fieldMessage(message) {
  const text = String(message);
  for (const [pattern, replacement] of MESSAGES) {
    if (pattern.test(text)) return text.replace(pattern, replacement);
  }
  return text;
}

/** The field errors of a failure as {field: "message; message"}, keyed by the top-level field name. */
export function fieldErrors(error) {
  const out = {};
  for (const [key, messages] of Object.entries((error && error.errors) || {})) {
    const name = key.split('.')[0];
    const list = (Array.isArray(messages) ? messages : [messages]).map(fieldMessage);
    out[name] = out[name] ? `${out[name]} ${list.join(' ')}` : list.join(' ');
  }
  return out;
}
