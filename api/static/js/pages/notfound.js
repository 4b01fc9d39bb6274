// The page for an address the app does not know.

import { h, link } from '../dom.js';

/** Say the page does not exist. */
export function notFoundPage(root) {
  root.append(h('div', { class: 'empty' },
    h('h1', { text: '页面不存在' }),
    h('p', {}, link('/worklist', {}, '返回我的待办'))));
}
