// A validator: what the staking module reports (operator, stake and voting power, commission, jailed, tombstoned,
// consensus key; the moniker from its events), the delegations to it the node can list, and — on a consensus
// node — its committee seat (stake, connection, uptime) matched by consensus key.
// The staking module is read through its precompile with ethers' ABI coder, after the page is on screen.
import { deferred, h, kv, problem, section, table } from '../dom.js';
import { count, hex, isAddress, num, param, percent, usei } from '../format.js';
import { addrLink, blockLink } from '../links.js';
import { RpcError, batch } from '../rpc.js';
import { WINDOW } from '../token.js';

export async function render(_ctx, id) {
  const [head, committee, status] = await batch([['eth_blockNumber'], ['sei_validators'], ['sei_consensusStatus']]);
  if (head instanceof RpcError) return problem(head.message);
  const blocks = param('blocks', WINDOW);
  const seat = Array.isArray(committee) ? { committee, me: status instanceof RpcError ? null : status.validator } : null;
  return h('div', null,
    section('Validator', h('p', { class: 'mono break' }, id), deferred(() => load(id, num(head), blocks, seat)).el));
}

async function load(id, head, blocks, seat) {
  const m = await import('../modules.js');
  const staking = await m.stakingValidators();
  if (staking instanceof RpcError) return problem(`Staking module: ${staking.message}`);
  const key = id.toLowerCase();
  const byKey = isConsensusKey(id);
  const matches = (x) => (byKey ? consensusKey(x) : isAddress(id) ? x.operator.toLowerCase() : x.name.toLowerCase()) === key;
  const v = staking.validators.find(matches);
  if (!v && byKey && seat) {
    // A committee member that no staking validator has registered its key for (a committee set at genesis).
    return h('div', null, h('p', { class: 'muted', 'data-staking': 'none' }, 'No staking validator has this consensus key.'), committeeView(seat, key));
  }
  if (!v) return problem(`${id} is none of this node's ${staking.validators.length} staking validators.`);
  // The node keeps no index of a validator's delegators: they are found in the staking module's events of the
  // last ``blocks`` blocks (plus the operator's self-delegation), then their delegations are read as they are now.
  const from = Math.max(0, head - blocks + 1);
  const events = await m.stakingEvents(hex(from), hex(head));
  if (events instanceof RpcError) return problem(`Staking events: ${events.message}`);
  const mine = events.filter((e) => [e.args.validator, e.args.dstValidator, e.args.validatorAddress].includes(v.name));
  const named = mine.filter((e) => e.name === 'ValidatorCreated' || e.name === 'ValidatorEdited').at(-1);
  const moniker = named?.args.moniker; // the precompile's validators() has no moniker
  const delegators = [...new Set([v.operator, ...mine.filter((e) => e.args.delegator).map((e) => e.args.delegator)])];
  const delegations = await m.delegationsTo(v.name, delegators);
  const bonded = staking.validators.filter((x) => !x.jailed).reduce((a, x) => a + x.tokens, 0n);
  const pubkey = consensusKey(v);
  const whole = blocks > head;
  return h('div', { 'data-validator-page': v.name },
    kv([
      ['Moniker', moniker !== undefined ? h('strong', { 'data-moniker': '' }, moniker) : h('span', { class: 'muted' }, `not reported (no ValidatorCreated or ValidatorEdited event ${whole ? 'in the chain' : `in the last ${count(blocks)} blocks`}: set at genesis or earlier)`)],
      ['Operator address', h('span', { class: 'mono break', 'data-valoper': '' }, v.name)],
      ['Operator account', addrLink(v.operator, true)],
      ['Bonded tokens', h('span', { 'data-tokens': v.tokens }, usei(v.tokens))],
      ['Voting power', `${count(v.tokens / 1_000_000n)}${bonded ? ` (${((100 * Number(v.tokens)) / Number(bonded)).toFixed(2)}% of the unjailed stake)` : ''}`],
      ['Commission', percent(v.commissionRate)],
      ['Status', h('span', { class: v.jailed ? 'bad' : 'ok', 'data-jailed': v.jailed ? 'yes' : 'no' }, v.jailed ? 'jailed' : 'bonded')],
      ['Tombstoned', v.tombstoned === undefined ? undefined : h('span', { 'data-tombstoned': v.tombstoned ? 'yes' : 'no' }, v.tombstoned ? 'yes (double-signed: can never unjail)' : 'no')],
      ['Consensus public key', pubkey ? h('span', { class: 'mono break', 'data-consensus-key': '' }, pubkey) : 'none registered'],
    ]),
    h('h3', null, 'Consensus committee'),
    committeeView(seat, pubkey),
    h('h3', null, 'Delegations'),
    delegations instanceof RpcError ? problem(`Delegations: ${delegations.message}`) : table(['Delegator', 'Delegated'],
      delegations.map((d) => h('tr', { 'data-delegator': d.delegator.toLowerCase() }, [addrLink(d.delegator, true), usei(d.usei)].map((c) => h('td', null, c)))),
      { empty: 'No delegations found.', attrs: { id: 'validator-delegations' } }),
    h('p', { class: 'muted' }, `Delegators seen in the staking module's events ${whole ? 'of the whole chain' : `of the last ${count(blocks)} blocks (from block `}`,
      whole ? null : [blockLink(from), ')'], ', and the operator; amounts as they are now. ',
      whole ? null : h('a', { href: `#/validator/${encodeURIComponent(v.name)}?blocks=${blocks * 10}` }, `Look ${count(blocks * 10)} blocks back`)));
}

const isConsensusKey = (id) => /^0x[0-9a-fA-F]{64}$/.test(id);

/** A staking validator's Ed25519 consensus key as 0x + lower-case hex; undefined for none (zero). */
function consensusKey(v) {
  const k = v.consensusPubkey && v.consensusPubkey.replace(/^0x/, '').toLowerCase();
  return k && /[^0]/.test(k) ? `0x${k}` : undefined;
}

/** The seat in the consensus committee (sei_validators on a consensus node) of the consensus key ``key``. */
function committeeView(seat, key) {
  if (!seat) return h('p', { class: 'muted', 'data-unavailable': 'sei_validators' }, 'This node runs no consensus (a devnet): no committee to show.');
  const member = key && seat.committee.find((c) => (c.publicKey || '').toLowerCase() === key);
  if (!member) {
    return h('p', { class: 'muted', 'data-committee': 'none' },
      `Not in this node's committee of ${seat.committee.length}${key ? '' : ' (the validator has no consensus key)'}. `,
      h('a', { href: '#/network' }, 'The network page'), ' lists the committee.');
  }
  return kv([
    ['Seat', h('span', { 'data-committee': member.index }, `validator ${member.index}${member.index === seat.me ? ' (this node)' : ''}`)],
    ['Committee stake', count(member.stake ?? 0)],
    ['Connected', member.connected ? 'yes' : 'no'],
    ['Uptime', h('span', { 'data-uptime': member.uptime ?? '' }, member.uptime === null || member.uptime === undefined ? 'no commits yet' : `${(100 * member.uptime).toFixed(1)}% of recent commits signed`)],
    ['P2P', member.p2p],
  ], true);
}
