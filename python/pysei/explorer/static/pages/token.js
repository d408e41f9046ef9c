// A token (ERC-20 or ERC-721): metadata, holders and transfers, from its Transfer logs.
import { h, kv, problem, section, table } from '../dom.js';
import { count, num, units } from '../format.js';
import { addrLink, blockLink, txLink } from '../links.js';
import { call } from '../rpc.js';
import { LOG_WINDOW, tokenInfo, transfers } from '../token.js';

const SHOWN = 25;
const ZERO = '0x0000000000000000000000000000000000000000';

export async function render(_ctx, address) {
  const [info, head] = await Promise.all([tokenInfo(address), call('eth_blockNumber')]);
  if (!info) return problem(`${address} does not answer as an ERC-20 or ERC-721 token.`);
  const moves = await transfers({ token: address, head: num(head) });
  const decimals = info.kind === 'ERC-20' ? Number(info.decimals ?? 0) : 0;
  const amount = (m) => (m.tokenId !== null ? `#${m.tokenId}` : units(m.amount, decimals));

  return h('div', null,
    section(`Token ${info.symbol ?? ''}`, kv([
      ['Name', h('span', { 'data-token-name': '' }, info.name ?? '(no name)')],
      ['Symbol', info.symbol ?? '(none)'],
      ['Standard', info.kind],
      ['Contract', addrLink(address, true)],
      ['Decimals', info.kind === 'ERC-20' ? `${decimals}` : undefined],
      ['Total supply', info.totalSupply === undefined ? undefined : units(info.totalSupply, decimals)],
      ['Transfers', `${count(moves.length)} in the last ${count(LOG_WINDOW)} blocks`],
    ])),
    section('Holders', table(['Holder', info.kind === 'ERC-721' ? 'Tokens' : 'Balance'],
      holders(moves, info.kind).slice(0, SHOWN).map(([a, v]) => [addrLink(a, true), info.kind === 'ERC-721' ? count(v) : units(v, decimals)]),
      { empty: 'No holders seen.' }),
    h('p', { class: 'muted' }, `Computed from the transfers above${moves.length && num(head) >= LOG_WINDOW ? ' (older transfers are not counted)' : ''}.`)),
    section('Transfers', table(['Tx', 'Block', 'From', 'To', 'Amount'],
      moves.slice(0, SHOWN).map((m) => [txLink(m.log.transactionHash), blockLink(m.log.blockNumber), addrLink(m.from), addrLink(m.to), amount(m)]),
      { empty: 'No transfers.' })));
}

/** [address, balance or token count] by descending amount, replaying the transfers oldest first. */
function holders(moves, kind) {
  const balances = new Map();
  const add = (a, v) => a !== ZERO && balances.set(a, (balances.get(a) ?? 0n) + v);
  if (kind === 'ERC-721') {
    const owner = new Map();
    for (const m of [...moves].reverse()) owner.set(m.tokenId, m.to);
    for (const a of owner.values()) add(a, 1n);
  } else {
    for (const m of moves) {
      add(m.to, m.amount);
      add(m.from, -m.amount);
    }
  }
  return [...balances].filter(([, v]) => v > 0n).sort((x, y) => (y[1] > x[1] ? 1 : y[1] < x[1] ? -1 : 0));
}
