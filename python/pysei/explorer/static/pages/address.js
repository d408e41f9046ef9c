// An address: balance, nonce, code, creator, transactions (from the address index), token transfers, storage.
import { deferred, h, kv, problem, section, table, unavailable } from '../dom.js';
import { coins, count, num, param, sei, units, usei } from '../format.js';
import { addrLink, blockLink, tokenLink, txLink, validatorLink } from '../links.js';
import { RpcError, all, batch, call } from '../rpc.js';
import { WINDOW, tokenInfo, transfers } from '../token.js';

const PAGE = 25;

export async function render(_ctx, address) {
  const blocks = param('blocks', WINDOW);
  // Three requests at once, not one after another: the account, its history from the address index, and the
  // token transfers to or from it (what most addresses, which hold tokens but are none, show).
  const headP = call('eth_blockNumber');
  const holderMovesP = headP.then((head) => transfers({ holder: address, head: num(head), blocks })).catch((e) => e);
  const [[balance, nonce, code], [creator, history], head] = await Promise.all([
    all([['eth_getBalance', address, 'latest'], ['eth_getTransactionCount', address, 'latest'], ['eth_getCode', address, 'latest']]),
    batch([
      ['ots_getContractCreator', address],
      ['ots_searchTransactionsBefore', address, param('before', 0), PAGE], // 0: from the newest
    ]),
    headP,
  ]);
  const isContract = code !== '0x';
  // A token contract lists its own transfers; any other address the transfers to or from it.
  const token = isContract ? await tokenInfo(address) : null;
  const moves = token ? await transfers({ token: address, head: num(head), blocks }).catch((e) => e) : await holderMovesP;

  return h('div', null,
    section(isContract ? 'Contract' : 'Address', kv([
      ['Address', h('span', { class: 'mono' }, address)],
      ['Balance', sei(balance)],
      ['Nonce', count(num(nonce))],
      ['Token', token ? h('span', { 'data-token': '' }, tokenLink(address, `${token.name ?? '(no name)'} (${token.symbol ?? '?'})`), ` · ${token.kind}`) : undefined],
      ['Creator', isContract ? creatorView(creator) : undefined],
      ['Code', isContract ? h('details', null, h('summary', null, `${count((code.length - 2) / 2)} bytes`), h('pre', { class: 'mono break' }, code)) : undefined],
    ])),
    section('Transactions', historyView(history, address)),
    section('Token transfers', transfersView(moves, address, blocks, num(head), Boolean(token))),
    section('Staking', deferred(() => loadStaking(address)).el),
    section('Storage', storageForm(address)));
}

function creatorView(creator) {
  if (creator instanceof RpcError) return creator.missing ? unavailable('Contract creator', 'ots_getContractCreator') : creator.message;
  if (!creator) return 'unknown';
  return h('span', null, addrLink(creator.creator), ' in ', txLink(creator.hash));
}

function historyView(history, address) {
  if (history instanceof RpcError) {
    return history.missing ? unavailable('Transaction history (the address index)', 'ots_searchTransactionsBefore') : problem(history.message);
  }
  const rows = (history.txs || []).map((tx, i) => {
    const r = (history.receipts || [])[i];
    return [txLink(tx.hash), blockLink(tx.blockNumber), addrLink(tx.from), addrLink(tx.to), sei(tx.value),
      r ? h('span', { class: r.status === '0x1' ? 'ok' : 'bad' }, r.status === '0x1' ? 'success' : 'reverted') : ''];
  });
  // Pages hold whole blocks (the index's unit), so the next page is everything before this page's oldest block.
  const oldest = Math.min(...(history.txs || []).map((tx) => num(tx.blockNumber)));
  const pager = h('p', { class: 'pager' },
    param('before', 0) ? h('a', { href: `#/address/${address}` }, '← newest') : null, ' ',
    history.lastPage || !Number.isFinite(oldest) ? null : h('a', { href: `#/address/${address}?before=${oldest}`, 'data-older': '' }, 'older →'));
  return h('div', null, table(['Hash', 'Block', 'From', 'To', 'Value', 'Status'], rows, { empty: 'No transactions.' }), pager);
}

function transfersView(moves, address, blocks, head, isToken) {
  if (moves instanceof RpcError) return problem(`Token transfers: ${moves.message}`);
  const rows = moves.slice(0, PAGE).map((m) => [
    txLink(m.log.transactionHash), blockLink(m.log.blockNumber), tokenLink(m.log.address),
    isToken ? '' : m.from.toLowerCase() === address.toLowerCase() ? 'out' : 'in', addrLink(m.from), addrLink(m.to),
    m.tokenId !== null ? `#${m.tokenId}` : units(m.amount, 0)]);
  const whole = blocks > head;
  return h('div', null,
    h('p', { class: 'muted' }, `Transfer events ${whole ? 'in the whole chain' : `in the last ${count(blocks)} blocks`} (raw amounts; the token page scales them).`),
    table(['Tx', 'Block', 'Token', '', 'From', 'To', 'Amount'], rows, { empty: 'No token transfers.' }),
    whole ? null : h('p', null, h('a', { href: `#/address/${address}?blocks=${blocks * 10}` }, `Look ${count(blocks * 10)} blocks back`)));
}

/** Delegations of this address (bonded usei per validator), its unbonding entries with their completion, and the
 * rewards it can withdraw from each validator (the distribution module, where the node has it). */
async function loadStaking(address) {
  // ethers (for the precompiles' ABI) loads only now, after the page is on screen.
  const m = await import('../modules.js');
  const staking = await m.stakingValidators();
  const delegations = staking instanceof RpcError ? staking : await m.delegationsOf(address, staking.validators);
  const operated = staking instanceof RpcError ? undefined : staking.validators.find((v) => v.operator.toLowerCase() === address.toLowerCase());
  return h('div', null,
    operated ? h('p', { 'data-operates': operated.name }, 'Operates validator ', validatorLink(operated.name), '.') : null,
    stakingView(delegations, await m.rewardsOf(address)));
}

function stakingView(delegations, rewards) {
  if (delegations instanceof RpcError) return problem(`Staking module: ${delegations.message}`);
  const unclaimed = new Map(rewards instanceof RpcError ? [] : rewards.byValidator.map((r) => [r.validator, r.coins]));
  const rows = delegations.map((d) => h('tr', { 'data-delegation': d.validator.name }, [
    h('span', { class: 'mono break' }, d.validator.name), usei(d.usei),
    h('span', { 'data-rewards': '' }, rewards instanceof RpcError ? '—' : coins(unclaimed.get(d.validator.name) ?? [])),
    d.unbonding.length ? d.unbonding.map((e) => `${usei(e.usei)} on ${new Date(e.completionTime * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`).join('; ') : '—',
  ].map((c) => h('td', null, c))));
  return table(['Validator', 'Delegated', 'Rewards to withdraw', 'Unbonding'], rows, { empty: 'No delegations.', attrs: { id: 'delegations' } });
}

function storageForm(address) {
  const out = h('p', { class: 'mono break', 'data-storage': '' });
  const input = h('input', { name: 'slot', placeholder: 'slot (number or 0x…)', 'aria-label': 'Storage slot', spellcheck: 'false' });
  const submit = async (event) => {
    event.preventDefault();
    try {
      const slot = /^[0-9]+$/.test(input.value.trim()) ? '0x' + BigInt(input.value.trim()).toString(16) : input.value.trim();
      out.textContent = await call('eth_getStorageAt', address, slot, 'latest');
    } catch (e) {
      out.textContent = e.message;
    }
  };
  return h('form', { class: 'inline', onsubmit: submit }, input, h('button', { type: 'submit' }, 'Read'), out);
}
