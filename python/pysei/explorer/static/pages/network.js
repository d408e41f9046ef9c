// The network: consensus lanes and commits, validators, proposals (where the node serves them), and what every
// pysei node has — the parallel executor's per-block statistics and the state commitment's lag.
import { deferred, h, json, kv, problem, section, table, unavailable } from '../dom.js';
import { coins, count, hex, num, percent, usei, when } from '../format.js';
import { addrLink, blockLink, proposalLink, validatorLink } from '../links.js';
import { RpcError, batch } from '../rpc.js';

const STATS = ['threads', 'incarnations', 'validation_aborts', 'dependency_waits', 'predicted_dependencies', 'lazy_credits', 'fallback'];

export async function render(ctx) {
  // The module sections read the precompiles through ethers' ABI coder: loaded after the page is on screen.
  const staking = deferred(loadStaking);
  const stakingSection = section('Staking', staking.el);
  const first = await view();
  const body = h('div', null, stakingSection, first.sections);
  const refresh = async () => {
    const next = await view();
    if (!ctx.current()) return;
    body.replaceChildren(stakingSection, ...next.sections);
    staking.reload();
  };
  ctx.onHead(refresh);
  if (first.consensus) ctx.every(2_000, refresh); // lanes and votes move between blocks too
  return body;
}

async function view() {
  const [head, commitment, stats, consensus, validators, proposals] = await batch([
    ['eth_blockNumber'],
    ['sei_getStateCommitment', 'latest'],
    ['pysei_executionStats', '0x14'],
    ['sei_consensusStatus'],
    ['sei_validators'],
    ['sei_proposals'],
  ]);
  const live = !(consensus instanceof RpcError);
  return { consensus: live, sections: [
    section('Consensus', live ? consensusView(consensus) : optional(consensus, 'Live consensus view (lanes, cars, certificates, commits)', 'sei_consensusStatus')),
    section('Consensus committee', validators instanceof RpcError || !Array.isArray(validators) ? optional(validators, 'Consensus committee (keys, stake, uptime)', 'sei_validators') : validatorTable(validators)),
    section('Governance', Array.isArray(proposals) ? proposalTable(proposals) : optional(proposals, 'Governance proposals and tallies', 'sei_proposals')),
    section('State commitment', await commitmentLag(head, commitment)),
    section('Parallel execution (recent blocks)', statsTable(stats)),
  ] };
}

/** Autobahn as this validator sees it: one row per lane (its tip car and how far it is committed), the slots and
 * their commits by fast or slow path, view changes, peers. An unknown shape is shown as it is. */
function consensusView(st) {
  if (!Array.isArray(st.laneTips)) return json(st);
  const commits = (st.fastCommits ?? 0) + (st.slowCommits ?? 0);
  const lanes = st.laneTips.map((tip, lane) => {
    const committed = (st.laneCommitted || [])[lane] ?? 0;
    return h('tr', { 'data-lane': lane }, [`${lane}${lane === st.leader ? ' (leader)' : ''}`, count(tip), count(committed), count(tip - committed)].map((c) => h('td', null, c)));
  });
  return h('div', { 'data-consensus': '' },
    kv([
      ['This validator', `${st.validator}`],
      ['Slot · view', `${count(st.slot)} · ${st.view}`],
      ['Leader', `validator ${st.leader}`],
      ['Committed slot', count(st.committedSlot)],
      ['Executed block', st.executedBlock === undefined ? undefined : blockLink(st.executedBlock)],
      ['Last certified block (AppQC)', st.lastCertifiedBlock === undefined || st.lastCertifiedBlock === null ? 'none yet' : blockLink(st.lastCertifiedBlock)],
      ['Certification lag', st.lastCertifiedBlock == null || st.executedBlock === undefined ? undefined : `${count(st.executedBlock - st.lastCertifiedBlock)} blocks`],
      ['Commits', `${count(st.fastCommits ?? 0)} fast path, ${count(st.slowCommits ?? 0)} slow path${commits ? ` (${((100 * (st.fastCommits ?? 0)) / commits).toFixed(1)}% fast)` : ''}`],
      ['Finality latency', latency(st.finalityMs, 'data-finality')],
      ['Slot time', latency(st.slotMs, 'data-slot-time')],
      ['View changes', count(st.viewChanges ?? 0)],
      ['Cars proposed', st.cars === undefined ? undefined : count(st.cars)],
      ['Evidence of misbehaviour', st.evidence === undefined ? undefined : count(st.evidence)],
    ], true),
    h('h3', null, 'Lanes'),
    table(['Lane', 'Tip car', 'Committed up to', 'Not yet committed'], lanes, { attrs: { id: 'lanes' } }),
    st.peers ? [h('h3', null, 'Peers'), json(st.peers)] : null);
}

/** The staking module's validators (the bonded stake that will weigh in consensus) and its parameters, with the
 * distribution module's community pool and parameters where the node has it. */
async function loadStaking() {
  const m = await import('../modules.js');
  const [staking, distribution] = await Promise.all([m.stakingValidators(), m.distributionInfo()]);
  return stakingView(staking, distribution);
}

function stakingView(st, distribution) {
  if (st instanceof RpcError) return problem(`Staking module: ${st.message}`);
  const rows = st.validators.map((v) => h('tr', { 'data-staking-validator': v.operator.toLowerCase() }, [
    validatorLink(v.name), addrLink(v.operator), usei(v.tokens), percent(v.commissionRate),
    h('span', { class: v.jailed ? 'bad' : 'ok' }, v.jailed ? 'jailed' : 'bonded'),
  ].map((c) => h('td', null, c))));
  const p = st.params;
  return h('div', null,
    table(['Validator', 'Operator', 'Bonded', 'Commission', 'Status'], rows, { empty: 'No validators.', attrs: { id: 'staking-validators' } }),
    p ? kv([
      ['Unbonding time', `${(Number(p.unbondingTime) / 86_400).toLocaleString('en-US')} days`],
      ['Unbonding entries per pair', `at most ${p.maxEntries}`],
      ['Active set', `top ${p.maxValidators} validators`],
      ['Minimum commission', percent(p.minCommissionRate)],
      ...(distribution instanceof RpcError ? [] : [
        ['Community tax', percent(distribution.communityTax)],
        ['Block reward', usei(distribution.blockRewardUsei)],
        ['Community pool', h('span', { 'data-community-pool': '' }, coins(distribution.pool))],
      ]),
    ]) : null);
}

/** The governance module's proposals (sei_proposals): status, deposit, voting end and the final tally. */
function proposalTable(proposals) {
  const rows = proposals.map((p) => h('tr', { 'data-proposal': p.id, 'data-status': p.status }, [
    proposalLink(p.id), p.status.replace('_', ' '), p.type, proposalLink(p.id, p.title || '(untitled)'), usei(BigInt(p.totalDepositUsei)),
    p.votingEndTime ? when(p.votingEndTime) : '—',
    ['yes', 'abstain', 'no', 'no_with_veto'].map((k) => usei(BigInt(p.finalTally[k]))).join(' / '),
  ].map((c) => h('td', null, c))));
  return table(['ID', 'Status', 'Type', 'Title', 'Deposit', 'Voting ends', 'Final tally (yes / abstain / no / veto)'], rows,
    { empty: 'No proposals.', attrs: { id: 'proposals' } });
}

/** p50 / p90 / last of recent samples in ms (car held → committed, or slot entered → committed). */
function latency(l, attr) {
  if (!l || !l.samples) return undefined;
  return h('span', { [attr]: l.p50 }, `${l.p50} ms median, ${l.p90} ms p90, last ${l.last} ms (${count(l.samples)} samples)`);
}

/** The committee: stake, whether this validator is connected to it, and its uptime — the share of the recent
 * commit certificates carrying its vote, as this validator saw them. */
function validatorTable(vals) {
  const rows = vals.map((v) => h('tr', { 'data-validator': v.index }, [
    `${v.index}`,
    v.publicKey ? validatorLink(v.publicKey) : '',
    count(v.stake ?? 0),
    v.connected ? 'yes' : 'no',
    h('span', { 'data-uptime': v.uptime ?? '' }, v.uptime === null || v.uptime === undefined ? 'no commits yet' : `${(100 * v.uptime).toFixed(1)}%`),
  ].map((c) => h('td', null, c))));
  return table(['Validator', 'Public key', 'Stake', 'Connected', 'Uptime (recent commits signed)'], rows, { attrs: { id: 'validators' } });
}

function optional(result, what, method) {
  if (result instanceof RpcError) return result.missing ? unavailable(what, method) : problem(`${what}: ${result.message}`);
  return json(result);
}

const LAG_PROBE = 16; // blocks looked back for the newest computed commitment

/** How far the LtHash worker trails execution: the newest block whose commitment is computed vs the head. */
async function commitmentLag(head, c) {
  if (head instanceof RpcError) return problem(head.message);
  if (c instanceof RpcError) return c.missing ? unavailable('State commitment', 'sei_getStateCommitment') : problem(c.message);
  const n = num(c.blockNumber);
  let newest = c.commitment ? c : null;
  if (!newest) {
    const back = [];
    for (let i = n - 1; i >= 0 && i >= n - LAG_PROBE; i--) back.push(['sei_getStateCommitment', hex(i)]);
    newest = (await batch(back)).find((r) => r && !(r instanceof RpcError) && r.commitment) ?? null;
  }
  const lag = newest ? n - num(newest.blockNumber) : null;
  return kv([
    ['Head', blockLink(n)],
    ['Commitment worker lag', h('span', { 'data-commitment-lag': lag ?? '' }, lag === null ? `more than ${LAG_PROBE} blocks` : `${count(lag)} blocks`)],
    ['Newest commitment', newest ? h('span', null, blockLink(newest.blockNumber), ' ', h('span', { class: 'mono break' }, newest.commitment)) : undefined],
    ['Header delay', `block n's stateRoot commits to block n − ${num(c.delay)}`],
  ]);
}

function statsTable(stats) {
  if (stats instanceof RpcError) return stats.missing ? unavailable('Execution statistics', 'pysei_executionStats') : problem(stats.message);
  const rows = [...stats].reverse().map((s) => [blockLink(s.block), ...STATS.map((k) => (k === 'fallback' ? s[k] ?? 'parallel' : count(s[k] ?? 0)))]);
  return table(['Block', ...STATS.map((k) => k.replaceAll('_', ' '))], rows, { empty: 'No blocks executed since the node started.', attrs: { id: 'exec-stats' } });
}
