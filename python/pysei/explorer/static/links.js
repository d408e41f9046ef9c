// Links to the explorer's pages, shortened for tables and full for headers.
import { h } from './dom.js';
import { route, short } from './format.js';

export const blockLink = (n) => h('a', { href: route.block(n), class: 'mono' }, BigInt(n).toString());
export const txLink = (hash, full = false) => h('a', { href: route.tx(hash), class: 'mono', title: hash }, full ? hash : short(hash));
export const addrLink = (a, full = false) =>
  a ? h('a', { href: route.address(a), class: 'mono', title: a }, full ? a : short(a, 6)) : h('span', { class: 'muted' }, '—');
export const tokenLink = (a, label) => h('a', { href: route.token(a), title: a }, label || short(a, 6));
export const validatorLink = (name) => h('a', { href: route.validator(name), class: 'mono break' }, name);
export const proposalLink = (id, label) => h('a', { href: route.proposal(id) }, label ?? String(id));
