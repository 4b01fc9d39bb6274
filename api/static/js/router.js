// History-API routing: each path maps to a page function that draws into <main>.

const routes = [];
let current = null;
let notFound = null;

/** Register a page for a path pattern; the pattern's groups are passed to the page. */
export function route(pattern, page, { title, nav, public: isPublic = false } = {}) {
  routes.push({ pattern, page, title, nav, isPublic });
}

/** The page drawn when no route matches. */
export function fallback(page) {
  notFound = page;
}

/** The current page's view (for pages that need to know whether they are still shown). */
export function currentView() {
  return current;
}

/** Go to a URL inside the app (pushState, or replaceState with replace). */
export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, window.location.origin);
  const same = target.pathname === window.location.pathname && target.search === window.location.search;
  if (replace || same) window.history.replaceState({}, '', target);
  else window.history.pushState({}, '', target);
  return render();
}

/** Change the query string of the current page without drawing it again. */
export function setQuery(params) {
  const url = new URL(window.location.href);
  url.search = '';
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, value);
  }
  window.history.replaceState({}, '', url);
}

/** Find the route of the current location. */
export function match(pathname = window.location.pathname) {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (m) return { route: r, params: m.slice(1) };
  }
  return null;
}

let guard = () => true;
/** A check run before each page (e.g. "signed in?"); returns false to stop drawing. */
export function beforeEach(fn) {
  guard = fn;
}

let afterHook = () => {};
/** Called after a page started drawing (header, title). */
export function afterEach(fn) {
  afterHook = fn;
}

/** Draw the page of the current location. */
export async function render() {
  if (current) {
    current.active = false;
    for (const fn of current.leaveHandlers) {
      try { fn(); } catch (error) { /* a page's cleanup must not stop the next page */ }
    }
  }
  const found = match();
  const main = document.getElementById('main');
  const view = { active: true, leaveHandlers: [], onLeave(fn) { this.leaveHandlers.push(fn); } };
  current = view;
  if (!(await guard(found ? found.route : null))) return;
  if (current !== view) return;
  const root = document.createElement('div');
  root.className = 'page';
  main.replaceChildren(root);
  view.root = root;
  afterHook(found ? found.route : null);
  if (found && found.route.title) document.title = `${found.route.title} · 督查督办`;
  window.scrollTo(0, 0);
  try {
    await (found ? found.route.page(root, view, ...found.params) : notFound && notFound(root, view));
  } catch (error) {
    if (view.active && error && error.status !== 401) {
      root.replaceChildren();
      const box = document.createElement('div');
      box.className = 'empty empty--error';
      box.setAttribute('role', 'alert');
      box.textContent = (error && error.message) || '页面加载失败';
      root.append(box);
    }
  }
}

/** Send clicks on in-app links through the router. */
export function interceptLinks() {
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    const anchor = event.target.closest('a[href]');
    if (!anchor || anchor.target || anchor.hasAttribute('download')) return;
    const url = new URL(anchor.href, window.location.href);
    if (url.origin !== window.location.origin) return;
    if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/static/')) return;
    if (!match(url.pathname)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener('popstate', () => render());
}
