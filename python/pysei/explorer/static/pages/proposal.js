// A governance proposal: its facts and tally (sei_proposal), its content, and — after the page is on screen — how
// the tally stands against the module's quorum, threshold and veto (the precompiles, read through ethers).
import { deferred, h, json, kv, problem, section, table } from '../dom.js';
import { usei, when } from '../format.js';
import { RpcError, batch } from '../rpc.js';

const OPTIONS = [['yes', 'Yes'], ['abstain', 'Abstain'], ['no', 'No'], ['no_with_veto', 'No with veto']];
const CLOSED = new Set(['passed', 'rejected', 'failed']);

export async function render(_ctx, id) {
  const [p] = await batch([['sei_proposal', `0x${BigInt(id).toString(16)}`]]);
  if (p instanceof RpcError) {
    return p.missing ? problem('This node has no governance module (sei_proposal).') : problem(`Proposal ${id}: ${p.message}`);
  }
  const tally = Object.fromEntries(OPTIONS.map(([k]) => [k, BigInt(p.tally[k])]));
  const cast = Object.values(tally).reduce((a, b) => a + b, 0n);
  const share = (x) => (cast ? `${((100 * Number(x)) / Number(cast)).toFixed(2)}%` : '—');
  const closed = CLOSED.has(p.status);
  const extra = Object.fromEntries(['changes', 'recipient', 'amount'].filter((k) => k in p).map((k) => [k, p[k]]));

  return h('div', { 'data-proposal-page': p.id },
    section(`Proposal ${p.id}`, kv([
      ['Title', h('strong', { 'data-title': '' }, p.title || '(untitled)')],
      ['Type', p.type],
      ['Status', h('span', { class: p.status === 'passed' ? 'ok' : closed ? 'bad' : '', 'data-status': p.status }, p.status.replace('_', ' '))],
      ['Deposit', usei(BigInt(p.totalDepositUsei))],
      ['Submitted', p.submitTime ? when(p.submitTime) : undefined],
      ['Deposit period ends', p.status === 'deposit_period' && p.depositEndTime ? when(p.depositEndTime) : undefined],
      ['Voting starts', p.votingStartTime ? when(p.votingStartTime) : 'when the deposit reaches the minimum'],
      ['Voting ends', p.votingEndTime ? when(p.votingEndTime) : undefined],
    ])),
    section(closed ? 'Final tally' : 'Tally so far',
      table(['Option', 'Voting power', 'Share of votes cast'],
        OPTIONS.map(([k, label]) => h('tr', { 'data-option': k }, [label, h('span', { 'data-usei': tally[k] }, usei(tally[k])), share(tally[k])].map((c) => h('td', null, c)))),
        { attrs: { id: 'tally' } }),
      h('p', { class: 'muted' }, `${usei(cast)} cast in all, stake-weighted (delegators who do not vote inherit their validator's vote).`),
      deferred(() => outcome(p, tally, cast)).el),
    section('Content', p.description ? h('p', { class: 'prose', 'data-description': '' }, p.description) : h('p', { class: 'muted' }, 'No description.'),
      Object.keys(extra).length ? json(extra) : null));
}

/** Cosmos decimal text ("0.334000000000000000") as an 18-decimal fixed-point bigint. */
function dec(text) {
  const [whole, frac = ''] = String(text).split('.');
  return BigInt(whole || '0') * 10n ** 18n + BigInt((frac + '0'.repeat(18)).slice(0, 18) || '0');
}

/** An 18-decimal fraction as a percentage; a share too small for two decimals still shows it is not zero. */
const pct = (d) => (d > 0n && d < 10n ** 14n ? '< 0.01%' : `${(Number(d / 10n ** 12n) / 1e4).toFixed(2).replace(/\.?0+$/, '')}%`);
const ratio = (a, b) => (b ? pct((a * 10n ** 18n) / b) : '—');

/** The tally against the parameters, by the governance module's rules: the votes cast must reach ``quorum`` of the
 * bonded stake; more than ``vetoThreshold`` of them no-with-veto rejects (and burns the deposit); otherwise yes must
 * exceed ``threshold`` of the non-abstain votes. Bonded stake is the staking module's bonded set now. */
async function outcome(p, tally, cast) {
  const m = await import('../modules.js');
  const [params, staking] = await Promise.all([m.governanceParams(), m.stakingValidators()]);
  if (params instanceof RpcError) return problem(`Governance parameters: ${params.message}`);
  if (staking instanceof RpcError) return problem(`Staking module: ${staking.message}`);
  const max = Number(staking.params ? staking.params.maxValidators : staking.validators.length);
  const bonded = staking.validators.filter((v) => !v.jailed && v.tokens > 0n).map((v) => v.tokens)
    .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)).slice(0, max).reduce((a, b) => a + b, 0n);
  const [quorum, threshold, veto] = [dec(params.quorum), dec(params.threshold), dec(params.vetoThreshold)];
  const one = 10n ** 18n;
  const voting = cast - tally.abstain;
  const quorumMet = bonded > 0n && cast * one >= quorum * bonded;
  const vetoed = cast > 0n && tally.no_with_veto * one > veto * cast;
  const yes = voting > 0n && tally.yes * one > threshold * voting;
  let result;
  if (!quorumMet) result = ['fail', 'fails: quorum not reached (deposits burned)'];
  else if (voting === 0n) result = ['reject', 'rejected: every vote abstains'];
  else if (vetoed) result = ['reject', 'rejected: vetoed (deposits burned)'];
  else result = yes ? ['pass', 'passes'] : ['reject', 'rejected: yes does not exceed the threshold'];
  const now = p.status === 'voting_period' ? 'If voting ended now' : CLOSED.has(p.status) ? 'This tally against today\'s bonded stake' : 'Once voting starts';
  return kv([
    ['Quorum', h('span', { 'data-quorum': quorumMet ? 'met' : 'missed' }, `${ratio(cast, bonded)} of ${usei(bonded)} bonded voted (needs ${pct(quorum)})`)],
    ['Threshold', `${ratio(tally.yes, voting)} yes of the non-abstain votes (needs more than ${pct(threshold)})`],
    ['Veto', `${ratio(tally.no_with_veto, cast)} no with veto (rejects above ${pct(veto)})`],
    [now, h('strong', { 'data-outcome': result[0] }, result[1])],
  ]);
}
