// Building the page. Every value from the chain reaches the document as a text node or as an attribute set
// through the DOM, never as markup: nothing in the explorer parses HTML, so a token named <script> is text.

const SVG = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k === 'className' ? 'class' : k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs, children);

export const section = (title, ...content) => h('section', { class: 'card' }, h('h2', null, title), content);

/** A definition list of [label, value] rows; rows whose value is undefined are left out. ``compact`` keeps the
 * two columns on a phone (for short values). */
export function kv(rows, compact = false) {
  return h('dl', { class: compact ? 'kv compact' : 'kv' }, rows.filter((r) => r && r[1] !== undefined).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

/** A table; ``rows`` are arrays of cells (a cell is text, a node, or [node, attrs]). */
export function table(head, rows, { empty = 'None.', attrs = {} } = {}) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'scroll' }, h('table', attrs,
    h('thead', null, h('tr', null, head.map((c) => h('th', null, c)))),
    h('tbody', null, rows.map((r) => (r instanceof Node ? r : h('tr', null, r.map((c) => h('td', null, c))))))));
}

/** What a page shows for a feature whose JSON-RPC method this node does not have: a note, never an error. */
export const unavailable = (what, method) =>
  h('p', { class: 'na', 'data-unavailable': method }, `${what}: not available on this node (${method}).`);

export const problem = (message) => h('p', { class: 'problem', role: 'alert' }, message);

/** Any JSON value as nested lists and tables (for results whose shape the explorer does not know). */
export function json(value) {
  if (Array.isArray(value)) {
    if (value.length && value.every((v) => v && typeof v === 'object' && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v)))];
      return table(keys, value.map((v) => keys.map((k) => json(v[k]))));
    }
    return h('ul', { class: 'plain' }, value.map((v) => h('li', null, json(v))));
  }
  if (value && typeof value === 'object') return kv(Object.entries(value).map(([k, v]) => [k, json(v)]));
  return h('span', { class: 'mono' }, value === null ? 'null' : String(value));
}

/** A part of a page that loads after the page is on screen (its own reads, or a large script such as ethers for
 * decoding and the module precompiles): ``placeholder`` (a "Loading…" line by default) now, ``load()``'s content
 * when it resolves, an error line if it fails. The first load waits for the router to mark the page ready (so it
 * never competes with the page's own reads); ``reload`` loads again and keeps the old content until the new one is
 * there. ``data-deferred`` says "loading" or "done" (with ``data-done-ms``, since navigation start). */
export function deferred(load, placeholder = h('p', { class: 'muted' }, 'Loading…')) {
  const el = h('div', { 'data-deferred': 'loading' }, placeholder);
  const reload = async () => {
    try {
      el.replaceChildren(await load());
    } catch (e) {
      el.replaceChildren(problem(e.message));
    }
    el.dataset.deferred = 'done';
    el.dataset.doneMs = performance.now().toFixed(1);
  };
  waiting.push(() => el.isConnected && reload()); // not if the user left the page before it was shown
  return { el, reload };
}

let waiting = [];

/** Starts the deferred parts of the page just shown (the router calls it once the page is ready). */
export function startDeferred() {
  const now = waiting;
  waiting = [];
  for (const load of now) load();
}
