// A token (ERC-20 or ERC-721): metadata, holders and transfers, from its Transfer logs.
import { h, kv, problem, section, table } from '../dom.js';
import { count, num, param, units } from '../format.js';
import { addrLink, blockLink, txLink } from '../links.js';
import { call } from '../rpc.js';
import { WINDOW, balances, tokenInfo, transfers } from '../token.js';

const SHOWN = 25;
const ZERO = '0x0000000000000000000000000000000000000000';

export async function render(_ctx, address) {
  const blocks = param('blocks', WINDOW);
  const [info, head] = await Promise.all([tokenInfo(address), call('eth_blockNumber')]);
  if (!info) return problem(`${address} does not answer as an ERC-20 or ERC-721 token.`);
  const moves = await transfers({ token: address, head: num(head), blocks });
  const decimals = info.kind === 'ERC-20' ? Number(info.decimals ?? 0) : 0;
  const amount = (m) => (m.tokenId !== null ? `#${m.tokenId}` : units(m.amount, decimals));
  const top = await holders(address, moves);
  const whole = blocks > num(head);

  return h('div', null,
    section(`Token ${info.symbol ?? ''}`, kv([
      ['Name', h('span', { 'data-token-name': '' }, info.name ?? '(no name)')],
      ['Symbol', info.symbol ?? '(none)'],
      ['Standard', info.kind],
      ['Contract', addrLink(address, true)],
      ['Decimals', info.kind === 'ERC-20' ? `${decimals}` : undefined],
      ['Total supply', info.totalSupply === undefined ? undefined : units(info.totalSupply, decimals)],
      ['Transfers', `${count(moves.length)} ${whole ? 'in the whole chain' : `in the last ${count(blocks)} blocks`}`],
    ])),
    section('Holders', table(['Holder', info.kind === 'ERC-721' ? 'Tokens' : 'Balance'],
      top.map(([a, v]) => [addrLink(a, true), info.kind === 'ERC-721' ? count(v) : units(v, decimals)]), { empty: 'No holders seen.' }),
    h('p', { class: 'muted' }, `Current balances of the addresses that received the token ${whole ? '' : `in the last ${count(blocks)} blocks `}(balanceOf).`),
    whole ? null : h('p', null, h('a', { href: `#/token/${address}?blocks=${blocks * 10}` }, `Look ${count(blocks * 10)} blocks back`))),
    section('Transfers', table(['Tx', 'Block', 'From', 'To', 'Amount'],
      moves.slice(0, SHOWN).map((m) => [txLink(m.log.transactionHash), blockLink(m.log.blockNumber), addrLink(m.from), addrLink(m.to), amount(m)]),
      { empty: 'No transfers.' })));
}

/** The top holders among the recipients of ``moves``: [address, balanceOf] by descending balance. */
async function holders(token, moves) {
  // Rank recipients by what the transfers moved to them, then read the top ones' actual balances.
  const received = new Map();
  for (const m of moves) if (m.to !== ZERO) received.set(m.to, (received.get(m.to) ?? 0n) + (m.amount ?? 1n));
  const candidates = [...received].sort((x, y) => (y[1] > x[1] ? 1 : y[1] < x[1] ? -1 : 0)).slice(0, 4 * SHOWN).map(([a]) => a);
  const exact = await balances(token, candidates);
  return candidates.map((a, i) => [a, exact[i]]).filter(([, v]) => v !== undefined && v > 0n)
    .sort((x, y) => (y[1] > x[1] ? 1 : y[1] < x[1] ? -1 : 0)).slice(0, SHOWN);
}
