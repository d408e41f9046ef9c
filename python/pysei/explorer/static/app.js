// The router: hash routes (#/block/12, #/tx/0x…) so the site is static files and every page is a link.
import { h, problem, startDeferred } from './dom.js';
import { isAddress, isHash, isNumber, isValoper } from './format.js';
import { batch, onHead } from './rpc.js';

const ROUTES = [
  [/^\/$/, 'home'],
  [/^\/block\/(0x[0-9a-fA-F]{64}|[0-9]{1,20})$/, 'block'],
  [/^\/tx\/(0x[0-9a-fA-F]{64})$/, 'tx'],
  [/^\/address\/(0x[0-9a-fA-F]{40})$/, 'address'],
  [/^\/token\/(0x[0-9a-fA-F]{40})$/, 'token'],
  [/^\/network$/, 'network'],
  [/^\/validator\/(seivaloper1[02-9ac-hj-np-z]{6,90}|0x[0-9a-fA-F]{40}|0x[0-9a-fA-F]{64})$/, 'validator'],
  [/^\/proposal\/([0-9]{1,19})$/, 'proposal'],
  [/^\/abi$/, 'abi'],
  [/^\/search\/(.*)$/, 'search'],
];

const main = document.getElementById('main');
let generation = 0;
let stops = [];

/** What a page's render gets: live updates that stop when the user leaves the page. */
function context(gen) {
  const current = () => gen === generation;
  return {
    current,
    onHead(fn) {
      stops.push(onHead((head) => live(current, () => fn(head))));
    },
    every(ms, fn) {
      const timer = setInterval(() => live(current, fn), ms);
      stops.push(() => clearInterval(timer));
    },
  };
}

const status = h('span', { class: 'problem', role: 'status' });

/** Runs a live update of the current page; a failure (the node went away) is shown, not thrown. */
async function live(current, fn) {
  if (!current()) return;
  try {
    await fn();
    status.textContent = '';
  } catch (e) {
    status.textContent = ` · live updates failed: ${e.message}`;
  }
}

async function show() {
  const gen = ++generation;
  for (const stop of stops) stop();
  stops = [];
  document.body.dataset.ready = '';
  const hash = location.hash;
  let node;
  let page = 'notfound';
  try {
    const path = decodeURIComponent(hash.slice(1).split('?')[0] || '/');
    const match = ROUTES.map(([re, name]) => [re.exec(path), name]).find(([m]) => m);
    if (!match) {
      node = problem(`No page at ${path}.`);
    } else {
      page = match[1];
      const module = await import(`./pages/${page}.js`);
      node = await module.render(context(gen), ...match[0].slice(1));
    }
  } catch (e) {
    node = problem(`Could not load this page: ${e.message}`);
  }
  if (gen !== generation) return;
  main.replaceChildren(node);
  document.body.dataset.page = page;
  document.body.dataset.route = hash; // tests and the benchmark wait for this route's page to be ready
  document.body.dataset.readyMs = performance.now().toFixed(1); // since navigation start: the load time
  document.body.dataset.ready = '1';
  window.scrollTo(0, 0);
  setTimeout(startDeferred); // after this task: the page is on screen before the deferred parts start
}

/** Where a search goes: a block number, an address, a validator (seivaloper1…), a proposal ("proposal 3"), or a
 * 32-byte hash (a transaction, else a block). */
export async function resolve(query) {
  const q = query.trim();
  if (isNumber(q)) return `#/block/${q}`;
  if (isValoper(q)) return `#/validator/${q.toLowerCase()}`;
  const proposal = /^(?:proposal|prop)\s*#?\s*([0-9]{1,19})$/i.exec(q);
  if (proposal) return `#/proposal/${proposal[1]}`;
  if (isAddress(q)) return `#/address/${q}`;
  if (isHash(q)) {
    const [tx, block] = await batch([['eth_getTransactionByHash', q], ['eth_getBlockByHash', q, false]]);
    if (tx && !(tx instanceof Error)) return `#/tx/${q}`;
    if (block && !(block instanceof Error)) return `#/block/${q}`;
  }
  return `#/search/${encodeURIComponent(q)}`;
}

document.getElementById('search').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('q');
  try {
    location.hash = await resolve(input.value);
  } catch (e) {
    status.textContent = ` · search failed: ${e.message}`;
  }
  input.value = '';
});

window.addEventListener('hashchange', show);
show();
document.getElementById('footer').append(h('span', null, 'pysei explorer · reads the node through its public JSON-RPC'), status);
