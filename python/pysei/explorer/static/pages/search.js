// A search that matched nothing.
import { h, section } from '../dom.js';

export async function render(_ctx, query) {
  return section('Search', h('p', { class: 'notice', 'data-notfound': '' },
    `Nothing found for “${query}”. Search takes a block number, a block or transaction hash (0x + 64 hex digits) `
    + 'an address (0x + 40 hex digits), a validator (seivaloper1…) or a proposal (“proposal 3”).'));
}
