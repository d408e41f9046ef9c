// A transaction: status, value and fee, decoded input and logs, revert reason, call tree and state diff.
import { deferred, h, kv, problem, section, table, unavailable } from '../dom.js';
import { big, count, gwei, hex, num, sei, when } from '../format.js';
import { addrLink, blockLink, tokenLink } from '../links.js';
import { RpcError, all, batch } from '../rpc.js';

const TRANSFER_EVENTS = new Set(['Transfer', 'TransferSingle', 'TransferBatch']);

export async function render(_ctx, hash) {
  const [tx, receipt] = await all([['eth_getTransactionByHash', hash], ['eth_getTransactionReceipt', hash]]);
  if (!tx) return problem(`Transaction ${hash} is not known to this node.`);
  if (!receipt) return section('Transaction', kv([['Hash', h('span', { class: 'mono' }, hash)], ['Status', 'pending']]), fields(tx));

  const n = num(tx.blockNumber);
  const [block, calls, diff] = await batch([
    ['eth_getBlockByNumber', tx.blockNumber, false],
    ['debug_traceTransaction', hash, { tracer: 'callTracer' }],
    ['debug_traceTransaction', hash, { tracer: 'prestateTracer', tracerConfig: { diffMode: true } }],
  ]);
  const ok = receipt.status === '0x1';
  const fee = big(receipt.gasUsed) * big(receipt.effectiveGasPrice);
  const traced = calls instanceof RpcError ? null : calls;

  // The facts are on screen first; the decoders (ethers, 400 KB) load after that and turn the raw input, logs and
  // call tree into names and arguments in place (each part shows its raw form until then).
  let decoders;
  const abi = () => (decoders ??= import('../abi.js'));
  const decodedLater = (view, raw) => deferred(async () => view(await abi()), raw).el;
  const reason = ok ? undefined : traced?.revertReason
    ? h('span', { class: 'bad', 'data-revert': '' }, traced.revertReason)
    : decodedLater(async (a) => h('span', { class: 'bad', 'data-revert': '' }, await revertReason(tx, traced, a)), h('span', { class: 'bad' }, 'reverted'));

  return h('div', null,
    section('Transaction', kv([
      ['Hash', h('span', { class: 'mono' }, tx.hash)],
      ['Status', h('span', { class: ok ? 'ok' : 'bad', 'data-status': ok ? 'success' : 'reverted' }, ok ? 'success' : 'reverted')],
      ['Revert reason', reason],
      ['Block', h('span', null, blockLink(n), ` · position ${num(tx.transactionIndex)}`)],
      ['Time', block && !(block instanceof RpcError) ? when(num(block.timestamp)) : undefined],
      ['From', addrLink(tx.from, true)],
      [tx.to ? 'To' : 'Created', addrLink(tx.to || receipt.contractAddress, true)],
      ['Value', sei(tx.value)],
      ['Fee', `${sei(fee)} (${count(num(receipt.gasUsed))} gas × ${gwei(receipt.effectiveGasPrice)})`],
    ]), fields(tx)),
    section('Input', inputRaw(tx) && tx.to ? decodedLater((a) => inputView(tx, a.decodeCall(tx.to, tx.input)), inputView(tx, undefined)) : inputView(tx, undefined)),
    section(`Logs (${receipt.logs.length})`, receipt.logs.length ? decodedLater((a) => logsView(receipt.logs, a), logsView(receipt.logs, null)) : logsView(receipt.logs, null)),
    section('Call tree', traced ? decodedLater((a) => callTree(traced, a), callTree(traced, null)) : traceMissing(calls, 'Call tree')),
    section('State diff', diff instanceof RpcError ? traceMissing(diff, 'State diff') : diffView(diff)));
}

function fields(tx) {
  return h('details', null, h('summary', null, 'More fields'), kv([
    ['Nonce', `${num(tx.nonce)}`],
    ['Type', `${num(tx.type)}`],
    ['Gas limit', count(num(tx.gas))],
    ['Max fee', tx.maxFeePerGas ? gwei(tx.maxFeePerGas) : undefined],
    ['Max priority fee', tx.maxPriorityFeePerGas ? gwei(tx.maxPriorityFeePerGas) : undefined],
    ['Gas price', tx.gasPrice ? gwei(tx.gasPrice) : undefined],
  ]));
}

function traceMissing(err, what) {
  return err.missing ? unavailable(what, 'debug_traceTransaction') : problem(`${what}: ${err.message}`);
}

/** The revert reason: from the call tracer when the node has it, else by replaying the call on the parent state. */
async function revertReason(tx, calls, abi) {
  if (calls) {
    const r = abi.decodeRevert(calls.output, tx.to) || calls.error;
    if (r) return r;
  }
  const parent = hex(Math.max(0, num(tx.blockNumber) - 1));
  const request = { from: tx.from, to: tx.to, data: tx.input, value: tx.value, gas: tx.gas };
  const [replay] = await batch([['eth_call', request, parent]]);
  if (!(replay instanceof RpcError)) return 'reverted (the replay on the parent block\'s state did not revert)';
  return abi.decodeRevert(replay.data, tx.to) || replay.message;
}

function argsTable(args) {
  return table(['Name', 'Type', 'Value'], args.map((a) => [a.name, h('span', { class: 'mono' }, a.type), h('span', { class: 'mono break' }, a.value)]));
}

const inputRaw = (tx) => tx.input && tx.input !== '0x';

/** The input: ``decoded`` by the decoders (null: no known ABI matches), or undefined while they load. */
function inputView(tx, decoded) {
  if (!inputRaw(tx)) return h('p', { class: 'muted' }, 'No input (a plain transfer).');
  const raw = h('details', null, h('summary', null, `Raw input (${(tx.input.length - 2) / 2} bytes)`), h('pre', { class: 'mono break' }, tx.input));
  if (!tx.to) return h('div', null, h('p', null, 'Contract creation code.'), raw);
  if (decoded === undefined) return raw;
  if (!decoded) return h('div', null, h('p', { class: 'muted' }, 'No known ABI matches this input. ', h('a', { href: '#/abi' }, 'Add an ABI'), ' to decode it.'), raw);
  return h('div', { 'data-decoded': decoded.name },
    h('p', null, h('strong', { class: 'mono' }, decoded.signature), h('span', { class: 'muted' }, ` (${decoded.source})`)), argsTable(decoded.args), raw);
}

/** The logs, decoded with ``abi`` (the decoders) or raw while it is null. */
function logsView(logs, abi) {
  if (!logs.length) return h('p', { class: 'muted' }, 'No logs.');
  return h('ol', { class: 'logs' }, logs.map((log) => {
    const d = abi && abi.decodeLog(log);
    const at = d && TRANSFER_EVENTS.has(d.name) ? tokenLink(log.address, log.address) : addrLink(log.address, true);
    return h('li', { 'data-log': d ? d.name : '' },
      h('p', null, at, d ? h('span', null, ' · ', h('strong', { class: 'mono' }, d.signature), h('span', { class: 'muted' }, ` (${d.source})`)) : null),
      d ? argsTable(d.args) : kv([['Topics', h('pre', { class: 'mono break' }, log.topics.join('\n'))], ['Data', h('pre', { class: 'mono break' }, log.data)]]));
  }));
}

function callTree(frame, abi) {
  const decoded = frame.to && abi ? abi.decodeCall(frame.to, frame.input) : null;
  const failed = frame.error || frame.revertReason;
  return h('ul', { class: 'calls' }, h('li', null,
    h('span', { class: 'mono' }, frame.type), ' ', addrLink(frame.from), ' → ', addrLink(frame.to),
    decoded ? h('span', { class: 'mono' }, ` ${decoded.name}(…)`) : null,
    big(frame.value) ? ` · ${sei(frame.value)}` : '',
    frame.gasUsed ? ` · ${count(num(frame.gasUsed))} gas` : '',
    failed ? h('span', { class: 'bad' }, ` · ${frame.revertReason || frame.error}`) : null,
    (frame.calls || []).map((call) => callTree(call, abi))));
}

function diffView(diff) {
  const rows = [];
  const addresses = new Set([...Object.keys(diff.pre || {}), ...Object.keys(diff.post || {})]);
  for (const a of addresses) {
    const pre = (diff.pre || {})[a] || {};
    const post = (diff.post || {})[a] || {};
    for (const key of ['balance', 'nonce', 'code']) {
      // prestateTracer leaves out a zero nonce or balance and empty code
      if (key in post && pre[key] !== post[key]) rows.push([addrLink(a), key, String(pre[key] ?? (key === 'code' ? '0x' : '0x0')), String(post[key])]);
    }
    const slots = new Set([...Object.keys(pre.storage || {}), ...Object.keys(post.storage || {})]);
    for (const slot of slots) {
      const before = (pre.storage || {})[slot];
      const after = (post.storage || {})[slot];
      if (before !== after) rows.push([addrLink(a), h('span', { class: 'mono' }, `storage ${slot}`), before ?? '0x0', after ?? '0x0']);
    }
  }
  return table(['Address', 'Field', 'Before', 'After'], rows.map((r) => r.map((c) => (typeof c === 'string' ? h('span', { class: 'mono break' }, c) : c))), { empty: 'No state changes.' });
}
