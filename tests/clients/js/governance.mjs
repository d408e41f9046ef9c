#!/usr/bin/env node
// Governance through Sei's precompile at 0x…1006 with ethers v6, as a wallet script would use it.
//
//   PYSEI_RPC_URL=http://127.0.0.1:8545 PYSEI_CHAIN_ID=713714 \
//   PYSEI_PRIVATE_KEYS=0xVALIDATOR_OPERATOR,0xOTHER node governance.mjs
//
// The first key must operate the chain's only validator (its vote carries all bonded stake); the second holds no
// stake. Block time is advanced with the dev methods evm_increaseTime and evm_mine. Every step asserts its
// results; the process exits non-zero naming the failed step.
import { Contract, Interface, JsonRpcProvider, Wallet } from "ethers";
import { check, checkEq, mustFail, runSteps, withTimeout } from "./lib/common.mjs";

const NAME = "governance";
const TIMEOUT = 60_000;
const WEI_PER_USEI = 10n ** 12n;
const GOVERNANCE = "0x0000000000000000000000000000000000001006";
const STAKING = "0x0000000000000000000000000000000000001005";
const BANK = "0x0000000000000000000000000000000000001001";

const TALLY = "(string yes, string abstain, string no, string noWithVeto)";
const COIN = "(uint256 amount, string denom)";
const GOV_ABI = [
  "function submitProposal(string proposalJSON) payable returns (uint64 proposalID)",
  "function deposit(uint64 proposalID) payable returns (bool success)",
  "function vote(uint64 proposalID, int32 option) returns (bool success)",
  `function proposal(uint64 proposalID) view returns ((uint64 id, int32 status, ${TALLY} finalTallyResult, int64 submitTime, int64 depositEndTime, ${COIN}[] totalDeposit, int64 votingStartTime, int64 votingEndTime, bool isExpedited, bytes content) proposal)`,
  `function tallyResult(uint64 proposalID) view returns (${TALLY} tallyResult)`,
  `function params() view returns ((uint64 votingPeriod, uint64 expeditedVotingPeriod, ${COIN}[] minDeposit, uint64 maxDepositPeriod, ${COIN}[] minExpeditedDeposit, string quorum, string threshold, string vetoThreshold, string expeditedQuorum, string expeditedThreshold) params)`,
  "event ProposalSubmitted(uint64 indexed proposalID, address indexed proposer, string proposalType, uint256 deposit)",
  "event ProposalVote(uint64 indexed proposalID, address indexed voter, uint64 yes, uint64 abstain, uint64 no, uint64 noWithVeto)",
];
const STAKING_ABI = [
  "function params() view returns (uint64 unbondingTime, uint64 maxEntries, uint64 maxValidators, uint256 minCommissionRate)",
  "function validators() view returns ((string operatorAddress, address operator, uint256 tokens, uint256 commissionRate, bool jailed)[] validators)",
];
const BANK_ABI = ["function supply(string denom) view returns (uint256 response)"];
const STATUS = { voting: 2n, passed: 3n, rejected: 4n };

const env = process.env;
const provider = new JsonRpcProvider(env.PYSEI_RPC_URL, Number(env.PYSEI_CHAIN_ID), { cacheTimeout: -1, pollingInterval: 250 });
const [validatorKey, otherKey] = (env.PYSEI_PRIVATE_KEYS || "").split(",");
check(validatorKey && otherKey, "PYSEI_PRIVATE_KEYS needs two keys: the validator operator's and another");
const validator = new Wallet(validatorKey, provider);
const other = new Wallet(otherKey, provider);
const gov = new Contract(GOVERNANCE, GOV_ABI, provider);
const staking = new Contract(STAKING, STAKING_ABI, provider);
const bank = new Contract(BANK, BANK_ABI, provider);
const iface = new Interface(GOV_ABI);
const s = {};

const wait = (tx, what) => withTimeout(tx.wait(), TIMEOUT, `receipt of ${what}`);

/** The revert reason an ethers error carries, whichever field this ethers version puts it in. */
function reasonOf(err) {
  return String(err?.reason ?? err?.shortMessage ?? err?.message ?? err);
}

async function mustRevert(promise, want, what) {
  const err = await mustFail(promise, what);
  check(reasonOf(err).includes(want), `${what}: expected a revert with ${JSON.stringify(want)}, got ${reasonOf(err)}`);
}

function submittedId(receipt) {
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== GOVERNANCE) continue;
    const parsed = iface.parseLog(log);
    if (parsed?.name === "ProposalSubmitted") return parsed.args.proposalID;
  }
  throw new Error("no ProposalSubmitted event in the receipt");
}

/** Moves block time past proposal `id`'s voting end and mines a block; returns the number of the first block at
 * or after the voting end: the block whose end tallied the proposal (the devnet may cut empty blocks itself). */
async function endVoting(id) {
  const end = (await gov.proposal(id)).votingEndTime;
  await provider.send("evm_increaseTime", [Number(s.votingPeriod)]);
  await provider.send("evm_mine", []);
  let n = await provider.getBlockNumber();
  check(BigInt((await provider.getBlock(n)).timestamp) >= end, "the mined block is past the voting end");
  while (BigInt((await provider.getBlock(n - 1)).timestamp) >= end) n -= 1;
  return n;
}

await runSteps(NAME, [
  ["governance parameters", async () => {
    const p = await gov.params();
    s.minDeposit = p.minDeposit[0].amount;
    s.votingPeriod = p.votingPeriod;
    checkEq(p.quorum, "0.334000000000000000", "quorum");
    checkEq(p.threshold, "0.500000000000000000", "threshold");
    s.maxEntries = (await staking.params()).maxEntries;
    const [v] = await staking.validators();
    checkEq(v.operator, validator.address, "the validator's operator");
    s.tokens = v.tokens;
  }],
  ["submit a parameter change with the minimum deposit", async () => {
    s.change = {
      title: "More unbonding entries",
      description: "Raise staking's MaxEntries by one.",
      type: "ParameterChange",
      changes: [{ subspace: "staking", key: "MaxEntries", value: String(s.maxEntries + 1n) }],
    };
    const tx = await gov.connect(validator).submitProposal(JSON.stringify(s.change), { value: s.minDeposit * WEI_PER_USEI });
    const receipt = await wait(tx, "submitProposal");
    checkEq(receipt.status, 1, "submitProposal status");
    s.id = submittedId(receipt);
    const p = await gov.proposal(s.id);
    checkEq(p.status, STATUS.voting, "the minimum deposit starts the voting period");
    checkEq(JSON.parse(Buffer.from(p.content.slice(2), "hex").toString()).title, s.change.title, "stored content");
  }],
  ["bad input reverts with a reason", async () => {
    await mustRevert(gov.connect(validator).vote.staticCall(s.id, 7), "vote option 7 is invalid", "option 7");
    await mustRevert(gov.connect(validator).vote.staticCall(999, 1), "proposal 999 does not exist", "unknown proposal");
    await mustRevert(gov.connect(other).deposit.staticCall(s.id, { value: WEI_PER_USEI + 1n }), "remainder of 1 wei", "sub-usei deposit");
    const unknown = { title: "t", description: "d", type: "ParameterChange", changes: [{ subspace: "staking", key: "Nope", value: "1" }] };
    await mustRevert(gov.connect(other).submitProposal.staticCall(JSON.stringify(unknown)), "unknown parameter staking/Nope", "unknown parameter");
    const outOfRange = { ...unknown, changes: [{ subspace: "gov", key: "Quorum", value: "1.5" }] };
    await mustRevert(gov.connect(other).submitProposal.staticCall(JSON.stringify(outOfRange)), "gov/Quorum must be within", "out of range");
  }],
  ["the validator votes yes with all bonded stake", async () => {
    const receipt = await wait(await gov.connect(validator).vote(s.id, 1), "vote");
    check(receipt.logs.some((l) => iface.parseLog(l)?.name === "ProposalVote"), "a ProposalVote event");
    checkEq((await gov.tallyResult(s.id)).yes, s.tokens.toString(), "tally yes");
  }],
  ["the change applies at the end of the block that ends the vote", async () => {
    const n = await endVoting(s.id);
    checkEq((await staking.params({ blockTag: n - 1 })).maxEntries, s.maxEntries, "MaxEntries before");
    checkEq((await staking.params({ blockTag: n })).maxEntries, s.maxEntries + 1n, "MaxEntries after");
    const p = await gov.proposal(s.id);
    checkEq(p.status, STATUS.passed, "status");
    checkEq(p.finalTallyResult.yes, s.tokens.toString(), "final tally");
    const [before, after] = await Promise.all([n - 1, n].map((b) => provider.getBalance(validator.address, b)));
    checkEq(after, before + s.minDeposit * WEI_PER_USEI, "deposit refunded");
  }],
  ["a proposal that misses quorum burns its deposit", async () => {
    const text = { title: "Unstaked opinion", description: "Voted only by an account without stake." };
    const receipt = await wait(await gov.connect(other).submitProposal(JSON.stringify(text), { value: s.minDeposit * WEI_PER_USEI }), "submit");
    const id = submittedId(receipt);
    await wait(await gov.connect(other).vote(id, 1), "vote");
    const n = await endVoting(id);
    checkEq((await gov.proposal(id)).status, STATUS.rejected, "status");
    const supply = await Promise.all([n - 1, n].map((b) => bank.supply("usei", { blockTag: b })));
    checkEq(supply[1], supply[0] - s.minDeposit, "total supply after the burn");
    const balance = await Promise.all([n - 1, n].map((b) => provider.getBalance(other.address, b)));
    checkEq(balance[1], balance[0], "no refund");
    await mustRevert(gov.connect(other).vote.staticCall(id, 1), `proposal ${id} is closed`, "vote on a closed proposal");
  }],
]);
