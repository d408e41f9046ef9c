// Sei's native modules as the explorer reads them: plain eth_call to their precompiles (public JSON-RPC, so any
// pysei node or `pysei explorer --rpc` serves them), ABI-encoded with ethers' Interface like the other decoders.
import * as ethers from './vendor/ethers.min.js';
import { RpcError, batch } from './rpc.js';

export const DISTRIBUTION = '0x0000000000000000000000000000000000001007';
export const BANK = '0x0000000000000000000000000000000000001001';
export const STAKING = '0x0000000000000000000000000000000000001005';
export const GOVERNANCE = '0x0000000000000000000000000000000000001006';

/** The precompiles' ABIs (Sei's, plus pysei's staking queries), also used to decode their calls and events. */
export const MODULE_ABIS = {
  'Sei distribution': {
    address: DISTRIBUTION,
    abi: [
      'function setWithdrawAddress(address withdrawAddr) returns (bool)',
      'function withdrawDelegationRewards(string validator) returns (bool)',
      'function withdrawMultipleDelegationRewards(string[] validators) returns (bool)',
      'function withdrawValidatorCommission(string validator) returns (bool)',
      'function rewards(address delegatorAddress) view returns (tuple(tuple(tuple(uint256 amount, uint256 decimals, string denom)[] coins, string validator_address)[] rewards, tuple(uint256 amount, uint256 decimals, string denom)[] total))',
      'function params() view returns (uint256 communityTax, uint256 blockRewardUsei)',
      'function communityPool() view returns (tuple(uint256 amount, uint256 decimals, string denom)[] pool)',
      'event WithdrawAddressSet(address indexed delegator, address withdrawAddr)',
      'event DelegationRewardsWithdrawn(address indexed delegator, string validator, uint256 amount)',
      'event MultipleDelegationRewardsWithdrawn(address indexed delegator, string[] validators, uint256[] amounts)',
      'event ValidatorCommissionWithdrawn(string indexed validator, uint256 amount)',
    ],
  },
  'Sei bank': {
    address: BANK,
    abi: [
      'function send(address fromAddress, address toAddress, string denom, uint256 amount) returns (bool)',
      'function sendNative(string toNativeAddress) payable returns (bool)',
      'function balance(address acc, string denom) view returns (uint256)',
      'function supply(string denom) view returns (uint256)',
      'event Send(address indexed from, address indexed to, string denom, uint256 amount)',
    ],
  },
  'Sei staking': {
    address: STAKING,
    abi: [
      'function delegate(string valAddress) payable returns (bool)',
      'function redelegate(string srcAddress, string dstAddress, uint256 amount) returns (bool)',
      'function undelegate(string valAddress, uint256 amount) returns (bool)',
      'function delegation(address delegator, string valAddress) view returns (tuple(tuple(uint256 amount, string denom) balance, tuple(string delegator_address, uint256 shares, uint256 decimals, string validator_address) delegation))',
      'function unbondingDelegation(address delegator, string valAddress) view returns (tuple(uint256 amount, uint64 completionTime)[])',
      'function validators() view returns (tuple(string operatorAddress, address operator, uint256 tokens, uint256 commissionRate, bool jailed, bytes32 consensusPubkey, bool tombstoned)[])',
      'function params() view returns (uint64 unbondingTime, uint64 maxEntries, uint64 maxValidators, uint256 minCommissionRate)',
      'function createValidator(string pubKeyHex, string moniker, string commissionRate, string commissionMaxRate, string commissionMaxChangeRate, uint256 minSelfDelegation) payable returns (bool)',
      'function editValidator(string moniker, string commissionRate, uint256 minSelfDelegation) returns (bool)',
      'event Delegate(address indexed delegator, string validator, uint256 amount)',
      'event Undelegate(address indexed delegator, string validator, uint256 amount, uint64 completionTime)',
      'event Redelegate(address indexed delegator, string srcValidator, string dstValidator, uint256 amount, uint64 completionTime)',
      'event ValidatorCreated(address indexed creator, string validatorAddress, string moniker)',
      'event ValidatorEdited(address indexed editor, string validatorAddress, string moniker)',
    ],
  },
  'Sei governance': {
    address: GOVERNANCE,
    abi: [
      'function submitProposal(string proposalJSON) payable returns (uint64 proposalID)',
      'function deposit(uint64 proposalID) payable returns (bool)',
      'function vote(uint64 proposalID, int32 option) returns (bool)',
      'function voteWeighted(uint64 proposalID, tuple(int32 option, string weight)[] options) returns (bool)',
      'function params() view returns (tuple(uint64 votingPeriod, uint64 expeditedVotingPeriod, tuple(uint256 amount, string denom)[] minDeposit, uint64 maxDepositPeriod, tuple(uint256 amount, string denom)[] minExpeditedDeposit, string quorum, string threshold, string vetoThreshold, string expeditedQuorum, string expeditedThreshold) params)',
      'event ProposalSubmitted(uint64 indexed proposalID, address indexed proposer, string proposalType, uint256 deposit)',
      'event ProposalDeposit(uint64 indexed proposalID, address indexed depositor, uint256 amount)',
      'event ProposalVote(uint64 indexed proposalID, address indexed voter, uint64 yes, uint64 abstain, uint64 no, uint64 noWithVeto)',
    ],
  },
};

const staking = new ethers.Interface(MODULE_ABIS['Sei staking'].abi);
const distribution = new ethers.Interface(MODULE_ABIS['Sei distribution'].abi);
const governance = new ethers.Interface(MODULE_ABIS['Sei governance'].abi);

/** `eth_call`s of ``fn(...args)`` on a precompile, batched: each result decoded, or an RpcError. */
async function moduleCalls(to, iface, calls) {
  const answers = await batch(calls.map(([fn, args]) => ['eth_call', { to, data: iface.encodeFunctionData(fn, args) }, 'latest']));
  return answers.map((a, i) => (a instanceof RpcError ? a : iface.decodeFunctionResult(calls[i][0], a)));
}

const stakingCalls = (calls) => moduleCalls(STAKING, staking, calls);

/** The staking module's validators and parameters; an RpcError when the node has no staking module. */
export async function stakingValidators() {
  const [validators, params] = await stakingCalls([['validators', []], ['params', []]]);
  if (validators instanceof RpcError) return validators;
  return {
    validators: validators[0].map((v) => ({ ...v.toObject(), name: v.operatorAddress })),
    params: params instanceof RpcError ? null : { unbondingTime: params[0], maxEntries: params[1], maxValidators: params[2], minCommissionRate: params[3] },
  };
}

/** ``delegator``'s delegations and unbonding entries with each validator (those with nothing are left out). */
export async function delegationsOf(delegator, validators) {
  const calls = validators.flatMap((v) => [['delegation', [delegator, v.name]], ['unbondingDelegation', [delegator, v.name]]]);
  const answers = await stakingCalls(calls);
  const failed = answers.find((a) => a instanceof RpcError);
  if (failed) return failed;
  return validators.map((v, i) => ({
    validator: v,
    usei: answers[2 * i][0].balance.amount,
    unbonding: answers[2 * i + 1][0].map((e) => ({ usei: e.amount, completionTime: Number(e.completionTime) })),
  })).filter((d) => d.usei > 0n || d.unbonding.length);
}

/** The distribution module's parameters and community pool; an RpcError when the node has no such module. */
export async function distributionInfo() {
  const [params, pool] = await moduleCalls(DISTRIBUTION, distribution, [['params', []], ['communityPool', []]]);
  if (params instanceof RpcError) return params;
  return { communityTax: params[0], blockRewardUsei: params[1], pool: pool instanceof RpcError ? [] : pool[0] };
}

/** ``delegator``'s unclaimed rewards: [{validator name, coins}] and the total (Sei's `rewards` answer). */
export async function rewardsOf(delegator) {
  const [answer] = await moduleCalls(DISTRIBUTION, distribution, [['rewards', [delegator]]]);
  if (answer instanceof RpcError) return answer;
  const { rewards, total } = answer[0];
  return { byValidator: rewards.map((r) => ({ validator: r.validator_address, coins: r.coins })), total };
}

/** The governance module's decision parameters (Cosmos decimals as strings, e.g. "0.334000000000000000"). */
export async function governanceParams() {
  const [answer] = await moduleCalls(GOVERNANCE, governance, [['params', []]]);
  if (answer instanceof RpcError) return answer;
  const p = answer[0];
  return { quorum: p.quorum, threshold: p.threshold, vetoThreshold: p.vetoThreshold, votingPeriod: p.votingPeriod };
}

const STAKING_EVENTS = ['Delegate', 'Redelegate', 'ValidatorCreated', 'ValidatorEdited'];

/** The staking module's Delegate, Redelegate, ValidatorCreated and ValidatorEdited events in blocks
 * ``from``..``to``, decoded, oldest first: [{name, args, log}]. */
export async function stakingEvents(from, to) {
  const topics = [STAKING_EVENTS.map((e) => staking.getEvent(e).topicHash)];
  const [logs] = await batch([['eth_getLogs', { address: STAKING, topics, fromBlock: from, toBlock: to }]]);
  if (logs instanceof RpcError) return logs;
  return logs.map((log) => {
    const e = staking.parseLog(log);
    return { log, name: e.name, args: e.args.toObject() }; // by name; a field the event lacks is undefined
  });
}

/** The current delegation (usei) of each of ``delegators`` to validator ``name``; those with none are left out. */
export async function delegationsTo(name, delegators) {
  const answers = await stakingCalls(delegators.map((d) => ['delegation', [d, name]]));
  const failed = answers.find((a) => a instanceof RpcError);
  if (failed) return failed;
  return delegators.map((d, i) => ({ delegator: d, usei: answers[i][0].balance.amount })).filter((d) => d.usei > 0n);
}
