// A block: header fields, its state commitment and certificate, execution statistics, transactions (paged).
import { h, kv, problem, section, table, unavailable } from '../dom.js';
import { count, gwei, hex, isHash, num, param, sei, when } from '../format.js';
import { addrLink, blockLink, txLink } from '../links.js';
import { RpcError, batch, call } from '../rpc.js';

const PAGE = 50;

export async function render(_ctx, id) {
  const block = isHash(id) ? await call('eth_getBlockByHash', id, false) : await call('eth_getBlockByNumber', hex(id), false);
  if (!block) return problem(`Block ${id} does not exist (yet).`);
  const n = num(block.number);
  const page = param('page', 0);
  const hashes = block.transactions.slice(page * PAGE, (page + 1) * PAGE);
  const [commitment, stats, ...rest] = await batch([
    ['sei_getStateCommitment', block.number],
    ['pysei_executionStats', hex(256)],
    ...hashes.map((t) => ['eth_getTransactionByHash', t]),
    ...hashes.map((t) => ['eth_getTransactionReceipt', t]),
  ]);
  const txs = rest.slice(0, hashes.length);
  const receipts = rest.slice(hashes.length);

  const rows = txs.map((tx, i) => {
    const r = receipts[i];
    const ok = r && !(r instanceof RpcError) && r.status === '0x1';
    return [txLink(tx.hash), addrLink(tx.from), tx.to ? addrLink(tx.to) : 'contract creation', sei(tx.value),
      r && !(r instanceof RpcError) ? count(num(r.gasUsed)) : '', h('span', { class: ok ? 'ok' : 'bad' }, ok ? 'success' : 'reverted')];
  });
  const pages = Math.ceil(block.transactions.length / PAGE);
  const pager = pages > 1 ? h('p', { class: 'pager' },
    page > 0 ? h('a', { href: `#/block/${n}?page=${page - 1}` }, '← newer') : null,
    ` page ${page + 1} of ${pages} `,
    page + 1 < pages ? h('a', { href: `#/block/${n}?page=${page + 1}` }, 'older →') : null) : null;

  const stat = stats instanceof RpcError ? undefined : stats.find((s) => s.block === n);
  return h('div', null,
    section(`Block ${count(n)}`, kv([
      ['Hash', h('span', { class: 'mono' }, block.hash)],
      ['Parent', n > 0 ? h('a', { href: `#/block/${n - 1}`, class: 'mono' }, block.parentHash) : block.parentHash],
      ['Time', when(num(block.timestamp))],
      ['Transactions', count(block.transactions.length)],
      ['Gas used', `${count(num(block.gasUsed))} of ${count(num(block.gasLimit))} (${((100 * num(block.gasUsed)) / num(block.gasLimit)).toFixed(2)}%)`],
      ['Base fee', gwei(block.baseFeePerGas)],
      ['Fee collector', addrLink(block.miner, true)],
      ['State root', h('span', { class: 'mono' }, block.stateRoot)],
      ['Size', `${count(num(block.size))} bytes`],
      ['Next', h('a', { href: `#/block/${n + 1}` }, `block ${count(n + 1)}`)],
    ])),
    section('State commitment', commitmentView(commitment, block)),
    section('Execution', stat ? kv(Object.entries(stat).map(([k, v]) => [k.replaceAll('_', ' '), String(v ?? 'parallel')]), true) : h('p', { class: 'muted' }, 'Statistics are kept for the node\'s most recent blocks only.')),
    section('Transactions', table(['Hash', 'From', 'To', 'Value', 'Gas used', 'Status'], rows, { empty: 'No transactions.' }), pager));
}

function commitmentView(c, block) {
  if (c instanceof RpcError) return c.missing ? unavailable('State commitment', 'sei_getStateCommitment') : problem(c.message);
  return h('div', null, kv([
    ['LtHash of the state after this block', h('span', { class: 'mono' }, c.commitment ?? 'not computed yet')],
    ['Certified in block', c.certifiedInBlock === undefined ? undefined : blockLink(c.certifiedInBlock)],
    ['Delay', c.delay === undefined ? undefined
      : `${num(c.delay)} blocks (this block's stateRoot certifies block ${Math.max(0, num(block.number) - num(c.delay))})`],
    ['Scheme', c.scheme],
  ]), appQc(c));
}

/** Whether an AppQC (a quorum of validators' signatures over the commitment) certifies it: a consensus node adds
 * ``certified``/``certifiedBy`` to sei_getStateCommitment; a single-sequencer devnet has no certificates. */
function appQc(c) {
  if (!('certified' in c)) return h('p', { class: 'na', 'data-unavailable': 'appqc' }, 'AppQC: not available on this node (no consensus: a single sequencer orders its blocks).');
  if (!c.certified) return h('p', { 'data-appqc': 'pending' }, 'AppQC: not certified yet.');
  return h('div', { 'data-appqc': 'certified' }, h('p', { class: 'ok' }, `AppQC: certified by ${c.certifiedBy.length} validators`),
    h('ul', { class: 'plain' }, c.certifiedBy.map((key) => h('li', { class: 'mono break' }, key))));
}
