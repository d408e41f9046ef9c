// Home: the latest blocks and transactions, live over the WebSocket, and throughput over the last minutes.
import { bars, rates } from '../chart.js';
import { h, kv, section, table } from '../dom.js';
import { ago, count, gwei, hex, num, sei } from '../format.js';
import { addrLink, blockLink, txLink } from '../links.js';
import { RpcError, all, batch } from '../rpc.js';

const SHOWN = 10;
const HISTORY = 60; // blocks read at load for the charts; live heads extend them
const BUCKETS = 30;
const SPAN = 10; // seconds per bucket: 5 minutes in all

export async function render(ctx) {
  const [head, chainId, gasPrice] = await all([['eth_blockNumber'], ['eth_chainId'], ['eth_gasPrice']]);
  const n = num(head);
  const numbers = [];
  for (let i = n; i >= 0 && i > n - HISTORY; i--) numbers.push(i);
  const [pool, ...blocks] = await batch([['txpool_status'], ...numbers.map((i) => ['eth_getBlockByNumber', hex(i), false])]);
  const recent = blocks.filter((b) => b && !(b instanceof RpcError));
  const txs = await latestTxs(recent);

  const points = recent.map((b) => [num(b.timestamp), b.transactions.length, num(b.gasUsed)]);
  const blockRows = h('tbody', null, recent.slice(0, SHOWN).map(blockRow));
  const txRows = h('tbody', null, txs.map(txRow));
  const charts = h('div', { class: 'charts' });
  const headCell = h('a', { href: `#/block/${n}`, 'data-head': n }, count(n));
  const drawCharts = () => charts.replaceChildren(
    bars('Transactions per second, last 5 min', rates(points.map(([t, c]) => [t, c]), BUCKETS, SPAN), 'tx/s'),
    bars('Gas per second, last 5 min', rates(points.map(([t, , g]) => [t, g]), BUCKETS, SPAN), 'gas/s'));
  drawCharts();

  ctx.onHead(async (header) => {
    const [block] = await batch([['eth_getBlockByHash', header.hash, false]]);
    if (!block || block instanceof RpcError || !ctx.current()) return;
    headCell.textContent = count(num(block.number));
    headCell.dataset.head = num(block.number);
    headCell.href = `#/block/${num(block.number)}`;
    points.unshift([num(block.timestamp), block.transactions.length, num(block.gasUsed)]);
    points.length = Math.min(points.length, 2000);
    blockRows.prepend(blockRow(block));
    while (blockRows.children.length > SHOWN) blockRows.lastChild.remove();
    for (const tx of (await latestTxs([block])).reverse()) txRows.prepend(txRow(tx));
    while (txRows.children.length > SHOWN) txRows.lastChild.remove();
    drawCharts();
  });
  ctx.every(10_000, drawCharts); // the window slides even when no block comes

  const pending = pool instanceof RpcError ? undefined : `${count(num(pool.pending))} pending, ${count(num(pool.queued))} queued`;
  return h('div', { class: 'home' },
    section('Chain', kv([
      ['Latest block', headCell],
      ['Chain id', `${num(chainId)}`],
      ['Gas price', gwei(gasPrice)],
      ['Transaction pool', pending],
    ]), charts),
    h('div', { class: 'columns' },
      section('Latest blocks', h('div', { class: 'scroll' }, h('table', { id: 'blocks' },
        h('thead', null, h('tr', null, ['Block', 'Age', 'Txs', 'Gas used'].map((c) => h('th', null, c)))), blockRows))),
      section('Latest transactions', h('div', { class: 'scroll' }, h('table', { id: 'txs' },
        h('thead', null, h('tr', null, ['Hash', 'From', 'To', 'Value'].map((c) => h('th', null, c)))), txRows)))));
}

function blockRow(b) {
  return h('tr', { 'data-block': num(b.number) },
    h('td', null, blockLink(b.number)), h('td', null, ago(num(b.timestamp))),
    h('td', null, count(b.transactions.length)), h('td', null, count(num(b.gasUsed))));
}

function txRow(tx) {
  return h('tr', { 'data-tx': tx.hash },
    h('td', null, txLink(tx.hash)), h('td', null, addrLink(tx.from)),
    h('td', null, tx.to ? addrLink(tx.to) : h('span', { class: 'muted' }, 'contract creation')), h('td', null, sei(tx.value)));
}

/** The newest transactions of ``blocks`` (newest block first), at most SHOWN. */
async function latestTxs(blocks) {
  const hashes = [];
  for (const b of blocks) {
    for (const t of [...b.transactions].reverse()) if (hashes.length < SHOWN) hashes.push(t);
  }
  const txs = await batch(hashes.map((t) => ['eth_getTransactionByHash', t]));
  return txs.filter((t) => t && !(t instanceof RpcError));
}
