//! The governance module at `0x…1006`, with Sei's precompile ABI (`precompiles/gov/Gov.sol`): `submitProposal`
//! (payable, the value is the initial deposit), `deposit` (payable), `vote`, `voteWeighted` and the queries.
//!
//! Lifecycle (Cosmos `x/gov`): a proposal is submitted with a deposit and stays in its deposit period until its
//! deposits reach `min_deposit` (then its voting period starts at once) or `max_deposit_period` passes (then it
//! is rejected and its deposits are burned). At the end of the first block at or after its voting end, the votes
//! are tallied by stake: delegators vote with their delegations, and a validator votes with its bonded tokens
//! minus the delegations of delegators who voted themselves (they inherit its vote otherwise). With `total` the
//! voting power cast: below `quorum` of all bonded tokens it fails and the deposits burn; all abstain: rejected;
//! no-with-veto above `veto_threshold` of `total`: rejected and burned; yes above `threshold` of the non-abstain
//! power: passed; else rejected. Deposits are refunded unless burned. A passed parameter change is written in the
//! same end of block, so it applies from the next block on; a passed community-pool spend pays from the
//! distribution module's community pool (a pool too small fails the proposal, as in Cosmos).
//!
//! Parallelism: a vote writes only its (proposal, voter) slot; the end of the block appends the block's new voters
//! to the proposal's voter list, as staking queues unbonding entries, so votes from different accounts never
//! conflict. Deposits and submissions update per-proposal totals and the proposal counter in the transaction (they
//! are rare; deposits to one proposal serialise with each other).
//!
//! Deposits leave the EVM ledger like bonded stake (the module's account ends each call as it began): total
//! supply = Σ balances + staking's bonded and unbonding tokens + the deposits of proposals in their deposit or
//! voting period. A burn lowers the bank's total supply.
//!
//! State layout (slots of `0x…1006`, see `Key`): parameters; the proposal counter and the lowest proposal that may
//! still be open; per proposal its fields, its content JSON in 32-byte chunks, its parameter changes, deposits
//! by depositor and the depositor list, votes by voter and the voter list.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{sol, SolCall, SolInterface};
use serde::Deserialize;

use super::{
    bank, distribution, emit, parse_address, revert, slashing, staking, Call, Failure, Ledger, Outcome, DISTRIBUTION,
    GOVERNANCE, STAKING, USEI, WEI_PER_USEI,
};

sol! {
    /// Sei's governance precompile interface (`precompiles/gov/Gov.sol`), the part pysei implements, plus events.
    #[sol(abi)]
    interface IGov {
        struct Coin {
            uint256 amount;
            string denom;
        }

        struct WeightedVoteOption {
            int32 option;
            string weight;
        }

        struct TallyResultData {
            string yes;
            string abstain;
            string no;
            string noWithVeto;
        }

        struct ProposalData {
            uint64 id;
            int32 status;
            TallyResultData finalTallyResult;
            int64 submitTime;
            int64 depositEndTime;
            Coin[] totalDeposit;
            int64 votingStartTime;
            int64 votingEndTime;
            bool isExpedited;
            bytes content;
        }

        struct VoteData {
            uint64 proposalId;
            string voter;
            WeightedVoteOption[] options;
        }

        struct DepositData {
            uint64 proposalId;
            string depositor;
            Coin[] amount;
        }

        struct GovParams {
            uint64 votingPeriod;
            uint64 expeditedVotingPeriod;
            Coin[] minDeposit;
            uint64 maxDepositPeriod;
            Coin[] minExpeditedDeposit;
            string quorum;
            string threshold;
            string vetoThreshold;
            string expeditedQuorum;
            string expeditedThreshold;
        }

        function vote(uint64 proposalID, int32 option) external returns (bool success);
        function voteWeighted(uint64 proposalID, WeightedVoteOption[] options) external returns (bool success);
        function deposit(uint64 proposalID) external payable returns (bool success);
        function submitProposal(string proposalJSON) external payable returns (uint64 proposalID);
        function proposal(uint64 proposalID) external view returns (ProposalData proposal);
        function proposals(int32 proposalStatus, address voter, address depositor, bytes pageKey) external view returns (ProposalData[] proposals, bytes nextKey);
        function getVote(uint64 proposalID, address voter) external view returns (VoteData vote);
        function getDeposit(uint64 proposalID, address depositor) external view returns (DepositData deposit);
        function tallyResult(uint64 proposalID) external view returns (TallyResultData tallyResult);
        function params() external view returns (GovParams params);

        event ProposalSubmitted(uint64 indexed proposalID, address indexed proposer, string proposalType, uint256 deposit);
        event ProposalDeposit(uint64 indexed proposalID, address indexed depositor, uint256 amount);
        /// Weights are 18-decimal fixed point (1e18 = the whole vote), by option: yes, abstain, no, no-with-veto.
        event ProposalVote(uint64 indexed proposalID, address indexed voter, uint64 yes, uint64 abstain, uint64 no, uint64 noWithVeto);
    }
}

/// Decimal fractions are fixed point with 18 decimals, as Cosmos `Dec`.
const DEC_ONE: u64 = staking::DEC_ONE;

/// Proposal statuses, Cosmos's `ProposalStatus` numbers.
pub(crate) const STATUS_DEPOSIT: u8 = 1;
pub(crate) const STATUS_VOTING: u8 = 2;
pub(crate) const STATUS_PASSED: u8 = 3;
pub(crate) const STATUS_REJECTED: u8 = 4;
pub(crate) const STATUS_FAILED: u8 = 5;

const KIND_TEXT: u8 = 1;
const KIND_PARAMS: u8 = 2;
const KIND_SPEND: u8 = 3;

/// Limits on a proposal (Cosmos: title 140 characters, description 10,000), and changes per proposal.
const MAX_TITLE: usize = 140;
const MAX_DESCRIPTION: usize = 10_000;
const MAX_CONTENT: usize = 12_000;
const MAX_CHANGES: usize = 16;
/// Proposals per page of `proposals(…)`.
const PAGE: usize = 50;

const TAG_PARAM: u8 = 1;
const TAG_COUNT: u8 = 2;
const TAG_OPEN_FROM: u8 = 3;
const TAG_PROPOSAL: u8 = 4;
const TAG_CONTENT: u8 = 5;
const TAG_CHANGE: u8 = 6;
const TAG_DEPOSIT: u8 = 7;
const TAG_DEPOSITOR: u8 = 8;
const TAG_VOTE: u8 = 9;
const TAG_VOTER: u8 = 10;

const PARAM_ENABLED: u8 = 0;
pub(crate) const PARAM_MIN_DEPOSIT: u8 = 1;
pub(crate) const PARAM_DEPOSIT_PERIOD: u8 = 2;
pub(crate) const PARAM_VOTING_PERIOD: u8 = 3;
pub(crate) const PARAM_QUORUM: u8 = 4;
pub(crate) const PARAM_THRESHOLD: u8 = 5;
pub(crate) const PARAM_VETO: u8 = 6;

const FIELD_STATUS: u8 = 0;
const FIELD_KIND: u8 = 1;
const FIELD_PROPOSER: u8 = 2;
const FIELD_SUBMIT: u8 = 3;
const FIELD_DEPOSIT_END: u8 = 4;
const FIELD_VOTING_START: u8 = 5;
const FIELD_VOTING_END: u8 = 6;
const FIELD_TOTAL_DEPOSIT: u8 = 7;
const FIELD_DEPOSITORS: u8 = 8;
const FIELD_VOTERS: u8 = 9;
const FIELD_CONTENT_LEN: u8 = 10;
const FIELD_CHANGES: u8 = 11;
const FIELD_SPEND_TO: u8 = 12;
const FIELD_SPEND_AMOUNT: u8 = 13;
/// The final tally (usei), one field per option: yes, abstain, no, no-with-veto.
const FIELD_TALLY: u8 = 14;

const CHANGE_PARAM: u8 = 0;
const CHANGE_VALUE: u8 = 1;

/// Slot keys: a tag byte, then fixed-width fields (proposal ids 8 bytes, addresses 20, list indices 4, field and
/// chunk indices 1 or 2). Injective by construction.
struct Key;

impl Key {
    fn build(tag: u8, id: u64, fill: impl FnOnce(&mut [u8; 32])) -> U256 {
        super::slot_key(tag, |b| {
            b[1..9].copy_from_slice(&id.to_be_bytes());
            fill(b);
        })
    }

    fn param(id: u8) -> U256 {
        Self::build(TAG_PARAM, 0, |b| b[31] = id)
    }

    fn count() -> U256 {
        Self::build(TAG_COUNT, 0, |_| ())
    }

    fn open_from() -> U256 {
        Self::build(TAG_OPEN_FROM, 0, |_| ())
    }

    fn field(id: u64, field: u8) -> U256 {
        Self::build(TAG_PROPOSAL, id, |b| b[31] = field)
    }

    fn content(id: u64, chunk: u16) -> U256 {
        Self::build(TAG_CONTENT, id, |b| b[30..32].copy_from_slice(&chunk.to_be_bytes()))
    }

    fn change(id: u64, index: u8, field: u8) -> U256 {
        Self::build(TAG_CHANGE, id, |b| {
            b[30] = index;
            b[31] = field;
        })
    }

    fn by_account(tag: u8, id: u64, who: Address) -> U256 {
        Self::build(tag, id, |b| b[9..29].copy_from_slice(who.as_slice()))
    }

    fn list(tag: u8, id: u64, index: u32) -> U256 {
        Self::build(tag, id, |b| b[28..32].copy_from_slice(&index.to_be_bytes()))
    }

    /// (proposal, voter) of a vote key.
    fn parse_vote(key: &U256) -> Option<(u64, Address)> {
        let b = key.to_be_bytes::<32>();
        (b[0] == TAG_VOTE)
            .then(|| (u64::from_be_bytes(b[1..9].try_into().expect("8 bytes")), Address::from_slice(&b[9..29])))
    }
}

fn as_u64(value: U256) -> u64 {
    value.saturating_to()
}

fn address_of(value: U256) -> Address {
    Address::from_slice(&value.to_be_bytes::<32>()[12..])
}

fn address_word(address: Address) -> U256 {
    U256::from_be_slice(address.as_slice())
}

/// Parameters of the governance module (genesis values; `pysei genesis` writes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) min_deposit: U256,
    pub(crate) max_deposit_period: u64,
    pub(crate) voting_period: u64,
    pub(crate) quorum: U256,
    pub(crate) threshold: U256,
    pub(crate) veto_threshold: U256,
}

impl Params {
    fn load<L: Ledger>(ledger: &mut L) -> Outcome<Self, L::Error> {
        if ledger.load(GOVERNANCE, Key::param(PARAM_ENABLED))?.is_zero() {
            return revert("governance: the module has no genesis state on this chain");
        }
        Ok(Self {
            min_deposit: ledger.load(GOVERNANCE, Key::param(PARAM_MIN_DEPOSIT))?,
            max_deposit_period: as_u64(ledger.load(GOVERNANCE, Key::param(PARAM_DEPOSIT_PERIOD))?),
            voting_period: as_u64(ledger.load(GOVERNANCE, Key::param(PARAM_VOTING_PERIOD))?),
            quorum: ledger.load(GOVERNANCE, Key::param(PARAM_QUORUM))?,
            threshold: ledger.load(GOVERNANCE, Key::param(PARAM_THRESHOLD))?,
            veto_threshold: ledger.load(GOVERNANCE, Key::param(PARAM_VETO))?,
        })
    }
}

/// The governance module's genesis slots; fails on a parameter outside its range (the ranges of `PARAMS`).
pub(crate) fn genesis(params: &Params) -> Result<super::Slots, String> {
    let values = [
        (PARAM_MIN_DEPOSIT, params.min_deposit),
        (PARAM_DEPOSIT_PERIOD, U256::from(params.max_deposit_period)),
        (PARAM_VOTING_PERIOD, U256::from(params.voting_period)),
        (PARAM_QUORUM, params.quorum),
        (PARAM_THRESHOLD, params.threshold),
        (PARAM_VETO, params.veto_threshold),
    ];
    let mut slots = vec![(Key::param(PARAM_ENABLED), U256::from(1))];
    for (id, value) in values {
        let param = PARAMS.iter().find(|p| p.module == GOVERNANCE && p.slot == Key::param(id)).expect("listed");
        param.check(value).map_err(|e| format!("governance: {e}"))?;
        slots.push((Key::param(id), value));
    }
    Ok(slots)
}

/// How a changeable parameter's value is written in a proposal and checked.
#[derive(Clone, Copy)]
enum Unit {
    /// A whole number (seconds, counts, usei), written as a decimal integer string.
    Integer,
    /// A fraction, written as a decimal string with at most 18 decimals ("0.334").
    Decimal,
}

/// A parameter that a parameter-change proposal may set: Cosmos's subspace and key, where it lives, its range.
pub(crate) struct Changeable {
    pub(crate) subspace: &'static str,
    pub(crate) key: &'static str,
    module: Address,
    slot: U256,
    unit: Unit,
    min: u128,
    max: u128,
}

const YEAR: u128 = 365 * 86_400;
const DEC: u128 = DEC_ONE as u128;

/// Every parameter governance can change. Values: seconds for times, usei for deposits, counts, and 18-decimal
/// fractions. The ranges keep a chain working: a zero voting period or an unreachable quorum is refused.
pub(crate) static PARAMS: std::sync::LazyLock<Vec<Changeable>> = std::sync::LazyLock::new(|| {
    let staking_param = |key, id, min, max| Changeable {
        subspace: "staking",
        key,
        module: STAKING,
        slot: staking::Key::param(id),
        unit: Unit::Integer,
        min,
        max,
    };
    let gov_param = |key, id, unit, min, max| Changeable {
        subspace: "gov",
        key,
        module: GOVERNANCE,
        slot: Key::param(id),
        unit,
        min,
        max,
    };
    let slashing_param = |key, id, unit, min, max| Changeable {
        subspace: "slashing",
        key,
        module: slashing::SLASHING,
        slot: slashing::Key::param(id),
        unit,
        min,
        max,
    };
    vec![
        staking_param("UnbondingTime", staking::PARAM_UNBONDING_TIME, 1, 10 * YEAR),
        staking_param("MaxEntries", staking::PARAM_MAX_ENTRIES, 1, u128::from(staking::ENTRY_LIMIT)),
        staking_param("MaxValidators", staking::PARAM_MAX_VALIDATORS, 1, 10_000),
        // At most the genesis supply of 10B SEI.
        gov_param("MinDeposit", PARAM_MIN_DEPOSIT, Unit::Integer, 1, 10_000_000_000 * 1_000_000),
        gov_param("MaxDepositPeriod", PARAM_DEPOSIT_PERIOD, Unit::Integer, 1, YEAR),
        gov_param("VotingPeriod", PARAM_VOTING_PERIOD, Unit::Integer, 1, YEAR),
        gov_param("Quorum", PARAM_QUORUM, Unit::Decimal, 1, DEC),
        gov_param("Threshold", PARAM_THRESHOLD, Unit::Decimal, 1, DEC),
        gov_param("VetoThreshold", PARAM_VETO, Unit::Decimal, 1, DEC),
        Changeable {
            subspace: "distribution",
            key: "CommunityTax",
            module: DISTRIBUTION,
            slot: distribution::Key::param(distribution::PARAM_COMMUNITY_TAX),
            unit: Unit::Decimal,
            min: 0,
            max: DEC,
        },
        // Usei minted per block (pysei's inflation, see the distribution module).
        Changeable {
            subspace: "distribution",
            key: "BlockReward",
            module: DISTRIBUTION,
            slot: distribution::Key::param(distribution::PARAM_BLOCK_REWARD),
            unit: Unit::Integer,
            min: 0,
            max: u128::MAX,
        },
        // A window of blocks (a change restarts every validator's window); fractions below 1 (see slashing).
        slashing_param("SignedBlocksWindow", slashing::PARAM_SIGNED_BLOCKS_WINDOW, Unit::Integer, 1, 1_000_000),
        slashing_param("MinSignedPerWindow", slashing::PARAM_MIN_SIGNED_PER_WINDOW, Unit::Decimal, 0, DEC),
        slashing_param("DowntimeJailDuration", slashing::PARAM_DOWNTIME_JAIL_DURATION, Unit::Integer, 0, YEAR),
        slashing_param(
            "SlashFractionDoubleSign",
            slashing::PARAM_SLASH_FRACTION_DOUBLE_SIGN,
            Unit::Decimal,
            0,
            u128::from(slashing::MAX_SLASH_FRACTION),
        ),
        slashing_param(
            "SlashFractionDowntime",
            slashing::PARAM_SLASH_FRACTION_DOWNTIME,
            Unit::Decimal,
            0,
            u128::from(slashing::MAX_SLASH_FRACTION),
        ),
    ]
});

impl Changeable {
    fn name(&self) -> String {
        format!("{}/{}", self.subspace, self.key)
    }

    fn check(&self, value: U256) -> Result<(), String> {
        if value < U256::from(self.min) || value > U256::from(self.max) {
            let show = |v: u128| match self.unit {
                Unit::Integer => v.to_string(),
                Unit::Decimal => format_dec(U256::from(v)),
            };
            return Err(format!(
                "{} must be within [{}, {}], not {}",
                self.name(),
                show(self.min),
                show(self.max),
                match self.unit {
                    Unit::Integer => value.to_string(),
                    Unit::Decimal => format_dec(value),
                }
            ));
        }
        Ok(())
    }

    fn parse(&self, text: &str) -> Result<U256, String> {
        let value = match self.unit {
            Unit::Integer => text.parse::<U256>().ok().filter(|_| text.bytes().all(|c| c.is_ascii_digit())),
            Unit::Decimal => parse_dec(text),
        };
        let Some(value) = value else {
            let want = match self.unit {
                Unit::Integer => "a whole number",
                Unit::Decimal => "a decimal with at most 18 decimals",
            };
            return Err(format!("{}: {text:?} is not {want}", self.name()));
        };
        self.check(value)?;
        Ok(value)
    }
}

/// A decimal string ("0.5", "1", ".25") as 18-decimal fixed point; None when malformed or over 18 decimals.
/// (Also staking's commission rates.)
pub(crate) fn parse_dec(text: &str) -> Option<U256> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if (int.is_empty() && frac.is_empty()) || frac.len() > 18 {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) || int.len() > 40 {
        return None;
    }
    let int = if int.is_empty() { U256::ZERO } else { int.parse::<U256>().ok()? };
    let frac = if frac.is_empty() { U256::ZERO } else { format!("{frac:0<18}").parse::<U256>().ok()? };
    int.checked_mul(U256::from(DEC_ONE))?.checked_add(frac)
}

/// 18-decimal fixed point as Cosmos prints a `Dec`: all 18 decimals.
fn format_dec(value: U256) -> String {
    let one = U256::from(DEC_ONE);
    format!("{}.{:0>18}", value / one, (value % one).to_string())
}

/// A proposal as submitted: Sei's JSON (`title`, `description`, `type`, `is_expedited`) plus pysei's fields for
/// the proposal types that carry data (`changes`; `recipient` and `amount`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Submission {
    title: String,
    description: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    is_expedited: bool,
    #[serde(default)]
    deposit: Option<String>,
    #[serde(default)]
    changes: Vec<ParamChange>,
    #[serde(default)]
    recipient: Option<String>,
    #[serde(default)]
    amount: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamChange {
    subspace: String,
    key: String,
    value: String,
}

/// What a valid submission carries besides its content.
enum Action {
    Text,
    Params(Vec<(usize, U256)>),
    Spend(Address, U256),
}

fn parse_submission(json: &str) -> Result<Action, String> {
    if json.len() > MAX_CONTENT {
        return Err(format!("proposal JSON is {} bytes, more than {MAX_CONTENT}", json.len()));
    }
    let s: Submission = serde_json::from_str(json).map_err(|e| format!("proposal JSON: {e}"))?;
    if s.title.trim().is_empty() || s.title.len() > MAX_TITLE {
        return Err(format!("proposal title must be 1 to {MAX_TITLE} bytes"));
    }
    if s.description.trim().is_empty() || s.description.len() > MAX_DESCRIPTION {
        return Err(format!("proposal description must be 1 to {MAX_DESCRIPTION} bytes"));
    }
    if s.is_expedited {
        return Err("expedited proposals are not supported on pysei".into());
    }
    if s.deposit.as_deref().is_some_and(|d| !d.is_empty()) {
        return Err("send the deposit as the call's value (wei, whole usei), not in the JSON".into());
    }
    let kind = if s.kind.is_empty() { "Text" } else { s.kind.as_str() };
    let extra = |name: &str, present: bool| -> Result<(), String> {
        if present {
            Err(format!("a {kind} proposal takes no {name:?}"))
        } else {
            Ok(())
        }
    };
    match kind {
        "Text" => {
            extra("changes", !s.changes.is_empty())?;
            extra("recipient", s.recipient.is_some() || s.amount.is_some())?;
            Ok(Action::Text)
        }
        "ParameterChange" => {
            extra("recipient", s.recipient.is_some() || s.amount.is_some())?;
            if s.changes.is_empty() || s.changes.len() > MAX_CHANGES {
                return Err(format!("a ParameterChange proposal needs 1 to {MAX_CHANGES} changes"));
            }
            let mut out: Vec<(usize, U256)> = Vec::new();
            for c in &s.changes {
                let Some(index) = PARAMS.iter().position(|p| p.subspace == c.subspace && p.key == c.key) else {
                    let known: Vec<String> = PARAMS.iter().map(Changeable::name).collect();
                    return Err(format!(
                        "unknown parameter {}/{}: governance can change {}",
                        c.subspace,
                        c.key,
                        known.join(", ")
                    ));
                };
                if out.iter().any(|(i, _)| *i == index) {
                    return Err(format!("parameter {} is changed twice", PARAMS[index].name()));
                }
                out.push((index, PARAMS[index].parse(&c.value)?));
            }
            Ok(Action::Params(out))
        }
        "CommunityPoolSpend" => {
            extra("changes", !s.changes.is_empty())?;
            let Some(to) = s.recipient.as_deref().and_then(|r| parse_address(r, "sei")) else {
                return Err("a CommunityPoolSpend proposal needs a \"recipient\" (sei1… or 0x…)".into());
            };
            let amount = s.amount.as_deref().and_then(|a| a.strip_suffix(USEI).unwrap_or(a).parse::<U256>().ok());
            let Some(amount) = amount.filter(|a| !a.is_zero()) else {
                return Err("a CommunityPoolSpend proposal needs a positive \"amount\" in usei".into());
            };
            Ok(Action::Spend(to, amount))
        }
        other => Err(format!("unknown proposal type {other:?}: Text, ParameterChange or CommunityPoolSpend")),
    }
}

/// Vote weights by option (yes, abstain, no, no-with-veto), 18-decimal fixed point summing to 1, packed into one
/// slot 64 bits each (1e18 < 2^64). A zero slot means "did not vote".
type Weights = [u64; 4];

fn pack(w: &Weights) -> U256 {
    w.iter().enumerate().fold(U256::ZERO, |acc, (i, x)| acc | (U256::from(*x) << (64 * i)))
}

fn unpack(v: U256) -> Weights {
    std::array::from_fn(|i| as_u64((v >> (64 * i)) & U256::from(u64::MAX)))
}

fn option_index<E>(option: i32) -> Outcome<usize, E> {
    match option {
        1..=4 => Ok(option as usize - 1),
        _ => revert(format!("vote option {option} is invalid: 1 yes, 2 abstain, 3 no, 4 no-with-veto")),
    }
}

fn weighted<E>(options: &[IGov::WeightedVoteOption]) -> Outcome<Weights, E> {
    if options.is_empty() {
        return revert("voteWeighted: give at least one option");
    }
    let mut w: Weights = [0; 4];
    for o in options {
        let i = option_index(o.option)?;
        if w[i] != 0 {
            return revert(format!("voteWeighted: option {} appears twice", o.option));
        }
        let Some(weight) = parse_dec(&o.weight).filter(|x| !x.is_zero() && *x <= U256::from(DEC_ONE)) else {
            return revert(format!("voteWeighted: weight {:?} must be a decimal in (0, 1]", o.weight));
        };
        w[i] = as_u64(weight);
    }
    if w.iter().map(|x| u128::from(*x)).sum::<u128>() != u128::from(DEC_ONE) {
        return revert("voteWeighted: the weights must sum to 1");
    }
    Ok(w)
}

fn weights_out(w: &Weights) -> Vec<IGov::WeightedVoteOption> {
    (0..4)
        .filter(|i| w[*i] != 0)
        .map(|i| IGov::WeightedVoteOption { option: i as i32 + 1, weight: format_dec(U256::from(w[i])) })
        .collect()
}

fn load_field<L: Ledger>(ledger: &mut L, id: u64, field: u8) -> Outcome<U256, L::Error> {
    ledger.load(GOVERNANCE, Key::field(id, field))
}

fn store_field<L: Ledger>(ledger: &mut L, id: u64, field: u8, value: U256) -> Outcome<(), L::Error> {
    ledger.store(GOVERNANCE, Key::field(id, field), value)
}

/// The status of proposal `id`; reverts when there is none.
fn existing<L: Ledger>(ledger: &mut L, id: u64) -> Outcome<u8, L::Error> {
    let status = as_u64(load_field(ledger, id, FIELD_STATUS)?) as u8;
    if status == 0 {
        revert(format!("proposal {id} does not exist"))
    } else {
        Ok(status)
    }
}

/// The value of a payable call in usei; reverts on a remainder below 1 usei.
fn whole_usei<E>(value: U256, op: &str) -> Outcome<U256, E> {
    let remainder = value % U256::from(WEI_PER_USEI);
    if !remainder.is_zero() {
        return revert(format!(
            "{op}: value has a remainder of {remainder} wei below 1 usei; send whole usei (multiples of 10^12 wei)"
        ));
    }
    Ok(value / U256::from(WEI_PER_USEI))
}

/// Adds `amount` usei from `who` to proposal `id` (the value already left the EVM ledger), and starts the voting
/// period when the deposits reach the minimum.
fn add_deposit<L: Ledger>(
    ledger: &mut L,
    params: &Params,
    id: u64,
    who: Address,
    amount: U256,
) -> Outcome<(), L::Error> {
    let key = Key::by_account(TAG_DEPOSIT, id, who);
    let mine = ledger.load(GOVERNANCE, key)?;
    if mine.is_zero() {
        let count = as_u64(load_field(ledger, id, FIELD_DEPOSITORS)?);
        let Ok(index) = u32::try_from(count) else { return revert("deposit: too many depositors") };
        ledger.store(GOVERNANCE, Key::list(TAG_DEPOSITOR, id, index), address_word(who))?;
        store_field(ledger, id, FIELD_DEPOSITORS, U256::from(count + 1))?;
    }
    ledger.store(GOVERNANCE, key, mine + amount)?;
    let total = load_field(ledger, id, FIELD_TOTAL_DEPOSIT)? + amount;
    store_field(ledger, id, FIELD_TOTAL_DEPOSIT, total)?;
    emit(ledger, GOVERNANCE, &IGov::ProposalDeposit { proposalID: id, depositor: who, amount });
    if total >= params.min_deposit && existing(ledger, id)? == STATUS_DEPOSIT {
        let now = ledger.now();
        store_field(ledger, id, FIELD_STATUS, U256::from(STATUS_VOTING))?;
        store_field(ledger, id, FIELD_VOTING_START, U256::from(now))?;
        store_field(ledger, id, FIELD_VOTING_END, U256::from(now.saturating_add(params.voting_period)))?;
    }
    Ok(())
}

fn store_content<L: Ledger>(ledger: &mut L, id: u64, content: &[u8]) -> Outcome<(), L::Error> {
    store_field(ledger, id, FIELD_CONTENT_LEN, U256::from(content.len()))?;
    for (i, chunk) in content.chunks(32).enumerate() {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        ledger.store(GOVERNANCE, Key::content(id, i as u16), U256::from_be_bytes(word))?;
    }
    Ok(())
}

fn load_content<L: Ledger>(ledger: &mut L, id: u64) -> Outcome<Vec<u8>, L::Error> {
    let len = as_u64(load_field(ledger, id, FIELD_CONTENT_LEN)?) as usize;
    let mut out = Vec::with_capacity(len + 32);
    for i in 0..len.div_ceil(32) {
        out.extend_from_slice(&ledger.load(GOVERNANCE, Key::content(id, i as u16))?.to_be_bytes::<32>());
    }
    out.truncate(len);
    Ok(out)
}

/// A tally: voting power by option and in all, in usei × 10^18 (stake times 18-decimal weights), and the bonded
/// tokens (usei) of the validators that count (not jailed).
struct Tally {
    results: [U256; 4],
    total: U256,
    bonded: U256,
}

impl Tally {
    fn usei(&self) -> [U256; 4] {
        self.results.map(|r| r / U256::from(DEC_ONE))
    }
}

/// The stake-weighted tally of proposal `id`'s recorded votes (Cosmos's `keeper.Tally`).
fn tally<L: Ledger>(ledger: &mut L, id: u64) -> Outcome<Tally, L::Error> {
    struct Val {
        index: u32,
        operator: Address,
        tokens: U256,
        deducted: U256,
        vote: Option<Weights>,
    }
    // Only the bonded set counts (Cosmos tallies bonded validators): unjailed, within `max_validators`.
    let mut vals = Vec::new();
    for b in staking::bonded_validators(ledger)? {
        let operator = staking::operator(ledger, b.index)?;
        vals.push(Val { index: b.index, operator, tokens: b.tokens, deducted: U256::ZERO, vote: None });
    }
    let mut results = [U256::ZERO; 4];
    let mut total = U256::ZERO;
    let voters = as_u64(load_field(ledger, id, FIELD_VOTERS)?) as u32;
    for i in 0..voters {
        let voter = address_of(ledger.load(GOVERNANCE, Key::list(TAG_VOTER, id, i))?);
        let w = unpack(ledger.load(GOVERNANCE, Key::by_account(TAG_VOTE, id, voter))?);
        for val in vals.iter_mut() {
            if val.operator == voter {
                val.vote = Some(w);
            }
            let stake = staking::delegation_amount(ledger, voter, val.index)?;
            if stake.is_zero() {
                continue;
            }
            val.deducted += stake;
            for (r, x) in results.iter_mut().zip(w) {
                *r += stake * U256::from(x);
            }
            total += stake * U256::from(DEC_ONE);
        }
    }
    let mut bonded = U256::ZERO;
    for val in vals {
        bonded += val.tokens;
        if let Some(w) = val.vote {
            let power = val.tokens.saturating_sub(val.deducted);
            for (r, x) in results.iter_mut().zip(w) {
                *r += power * U256::from(x);
            }
            total += power * U256::from(DEC_ONE);
        }
    }
    Ok(Tally { results, total, bonded })
}

/// (passes, burns the deposits) of a tally, by Cosmos's rules.
fn decide(t: &Tally, p: &Params) -> (bool, bool) {
    let one = U256::from(DEC_ONE);
    if t.bonded.is_zero() {
        return (false, false);
    }
    // total/10^18 / bonded < quorum/10^18
    if t.total < p.quorum * t.bonded {
        return (false, true);
    }
    let [yes, abstain, _, veto] = t.results;
    if abstain == t.total {
        return (false, false);
    }
    if veto * one > p.veto_threshold * t.total {
        return (false, true);
    }
    (yes * one > p.threshold * (t.total - abstain), false)
}

/// Refunds or burns proposal `id`'s deposits, each exactly once (the deposit slots are cleared).
fn settle_deposits<L: Ledger>(ledger: &mut L, id: u64, burn: bool) -> Outcome<(), L::Error> {
    let count = as_u64(load_field(ledger, id, FIELD_DEPOSITORS)?) as u32;
    let mut burned = U256::ZERO;
    for i in 0..count {
        let who = address_of(ledger.load(GOVERNANCE, Key::list(TAG_DEPOSITOR, id, i))?);
        let key = Key::by_account(TAG_DEPOSIT, id, who);
        let amount = ledger.load(GOVERNANCE, key)?;
        ledger.store(GOVERNANCE, key, U256::ZERO)?;
        if burn {
            burned += amount;
        } else {
            let Some(wei) = super::usei_to_wei(amount) else { return revert("deposit overflows") };
            ledger.add_balance(who, wei)?;
        }
    }
    if !burned.is_zero() {
        bank::burn(ledger, burned)?;
    }
    Ok(())
}

/// Applies a passed proposal; Err(reason) leaves the chain as it was and marks the proposal failed.
fn execute<L: Ledger>(ledger: &mut L, id: u64) -> Outcome<Result<(), String>, L::Error> {
    match as_u64(load_field(ledger, id, FIELD_KIND)?) as u8 {
        KIND_PARAMS => {
            let n = as_u64(load_field(ledger, id, FIELD_CHANGES)?) as u8;
            let mut changes = Vec::with_capacity(n.into());
            for i in 0..n {
                let index = as_u64(ledger.load(GOVERNANCE, Key::change(id, i, CHANGE_PARAM))?) as usize;
                let value = ledger.load(GOVERNANCE, Key::change(id, i, CHANGE_VALUE))?;
                let Some(param) = PARAMS.get(index) else { return Ok(Err(format!("unknown parameter #{index}"))) };
                // Checked again: the ranges are the code's, which may have changed since the submission.
                if let Err(e) = param.check(value) {
                    return Ok(Err(e));
                }
                changes.push((param, value));
            }
            for (param, value) in changes {
                ledger.store(param.module, param.slot, value)?;
            }
            Ok(Ok(()))
        }
        KIND_SPEND => {
            let to = address_of(load_field(ledger, id, FIELD_SPEND_TO)?);
            let amount = load_field(ledger, id, FIELD_SPEND_AMOUNT)?;
            // A pool too small fails the proposal (Cosmos: status failed), changing nothing.
            match distribution::community_pool_spend(ledger, to, amount) {
                Ok(()) => Ok(Ok(())),
                Err(Failure::Revert(reason)) => Ok(Err(reason)),
                Err(e) => Err(e),
            }
        }
        _ => Ok(Ok(())),
    }
}

/// Closes proposal `id` with `status`, the final tally and its deposits refunded or burned.
fn close<L: Ledger>(ledger: &mut L, id: u64, status: u8, tally: [U256; 4], burn: bool) -> Outcome<(), L::Error> {
    store_field(ledger, id, FIELD_STATUS, U256::from(status))?;
    for (i, amount) in tally.into_iter().enumerate() {
        store_field(ledger, id, FIELD_TALLY + i as u8, amount)?;
    }
    settle_deposits(ledger, id, burn)
}

/// The governance module's end-of-block logic, after staking's (so bonded tokens include this block's
/// delegations): (1) the block's new voters join their proposals' voter lists, in key order; (2) each open
/// proposal, in id order, whose deposit period ended without the minimum deposit is rejected and its deposits
/// burned, and each whose voting period ended is tallied, decided, executed if passed, and its deposits refunded
/// or burned. `changed` lists the block's changed slots of `0x…1006` as (key, value at the block's start, now).
pub(crate) fn end_block<L: Ledger>(ledger: &mut L, changed: &[(U256, U256, U256)]) -> Outcome<(), L::Error> {
    if ledger.load(GOVERNANCE, Key::param(PARAM_ENABLED))?.is_zero() {
        return Ok(());
    }
    let mut new_votes: Vec<(u64, Address)> = changed
        .iter()
        .filter(|(_, old, new)| old.is_zero() && !new.is_zero())
        .filter_map(|(key, _, _)| Key::parse_vote(key))
        .collect();
    new_votes.sort_unstable();
    for (id, voter) in new_votes {
        let count = as_u64(load_field(ledger, id, FIELD_VOTERS)?);
        ledger.store(GOVERNANCE, Key::list(TAG_VOTER, id, count as u32), address_word(voter))?;
        store_field(ledger, id, FIELD_VOTERS, U256::from(count + 1))?;
    }
    let params = Params::load(ledger)?;
    let now = ledger.now();
    let count = as_u64(ledger.load(GOVERNANCE, Key::count())?);
    let first_open = as_u64(ledger.load(GOVERNANCE, Key::open_from())?).max(1);
    let mut open_from = first_open;
    for id in first_open..=count {
        let status = as_u64(load_field(ledger, id, FIELD_STATUS)?) as u8;
        if status == STATUS_DEPOSIT && as_u64(load_field(ledger, id, FIELD_DEPOSIT_END)?) <= now {
            // Cosmos deletes such a proposal; pysei keeps it, rejected, so that its history stays readable.
            close(ledger, id, STATUS_REJECTED, [U256::ZERO; 4], true)?;
        } else if status == STATUS_VOTING && as_u64(load_field(ledger, id, FIELD_VOTING_END)?) <= now {
            let t = tally(ledger, id)?;
            let (passes, burn) = decide(&t, &params);
            let status = match passes {
                false => STATUS_REJECTED,
                true => match execute(ledger, id)? {
                    Ok(()) => STATUS_PASSED,
                    Err(_) => STATUS_FAILED,
                },
            };
            close(ledger, id, status, t.usei(), burn)?;
        }
        if open_from == id && as_u64(load_field(ledger, id, FIELD_STATUS)?) as u8 >= STATUS_PASSED {
            open_from = id + 1;
        }
    }
    if open_from != first_open {
        ledger.store(GOVERNANCE, Key::open_from(), U256::from(open_from))?;
    }
    Ok(())
}

fn coins(amount: U256) -> Vec<IGov::Coin> {
    if amount.is_zero() {
        vec![]
    } else {
        vec![IGov::Coin { amount, denom: USEI.into() }]
    }
}

fn tally_data(t: [U256; 4]) -> IGov::TallyResultData {
    let [yes, abstain, no, veto] = t.map(|x| x.to_string());
    IGov::TallyResultData { yes, abstain, no, noWithVeto: veto }
}

fn proposal_data<L: Ledger>(ledger: &mut L, id: u64) -> Outcome<IGov::ProposalData, L::Error> {
    let status = existing(ledger, id)?;
    let mut fields = [U256::ZERO; FIELD_TALLY as usize + 4];
    for (field, value) in fields.iter_mut().enumerate() {
        *value = load_field(ledger, id, field as u8)?;
    }
    let time = |field: u8| as_u64(fields[field as usize]) as i64;
    let tally_at = FIELD_TALLY as usize;
    let final_tally: [U256; 4] = fields[tally_at..tally_at + 4].try_into().expect("4 fields");
    Ok(IGov::ProposalData {
        id,
        status: status.into(),
        finalTallyResult: tally_data(final_tally),
        submitTime: time(FIELD_SUBMIT),
        depositEndTime: time(FIELD_DEPOSIT_END),
        totalDeposit: coins(fields[FIELD_TOTAL_DEPOSIT as usize]),
        votingStartTime: time(FIELD_VOTING_START),
        votingEndTime: time(FIELD_VOTING_END),
        isExpedited: false,
        content: load_content(ledger, id)?.into(),
    })
}

fn params_data(p: &Params) -> IGov::GovParams {
    IGov::GovParams {
        votingPeriod: p.voting_period,
        // Expedited proposals are not supported: no expedited parameters.
        expeditedVotingPeriod: 0,
        minDeposit: coins(p.min_deposit),
        maxDepositPeriod: p.max_deposit_period,
        minExpeditedDeposit: vec![],
        quorum: format_dec(p.quorum),
        threshold: format_dec(p.threshold),
        vetoThreshold: format_dec(p.veto_threshold),
        expeditedQuorum: String::new(),
        expeditedThreshold: String::new(),
    }
}

fn cast_vote<L: Ledger>(ledger: &mut L, call: &Call<'_>, id: u64, w: Weights) -> Outcome<(), L::Error> {
    call.mutating()?;
    let status = existing(ledger, id)?;
    if status != STATUS_VOTING {
        let why = if status == STATUS_DEPOSIT { "still in its deposit period" } else { "closed" };
        return revert(format!("vote: proposal {id} is {why}, not in its voting period"));
    }
    if as_u64(load_field(ledger, id, FIELD_VOTING_END)?) <= ledger.now() {
        return revert(format!("vote: the voting period of proposal {id} has ended"));
    }
    ledger.store(GOVERNANCE, Key::by_account(TAG_VOTE, id, call.caller), pack(&w))?;
    let [yes, abstain, no, veto] = w;
    emit(
        ledger,
        GOVERNANCE,
        &IGov::ProposalVote { proposalID: id, voter: call.caller, yes, abstain, no, noWithVeto: veto },
    );
    Ok(())
}

pub(crate) fn call<L: Ledger>(ledger: &mut L, call: &Call<'_>) -> Outcome<Bytes, L::Error> {
    let Ok(decoded) = IGov::IGovCalls::abi_decode(call.input) else {
        return revert("governance: malformed call data (unknown selector or bad ABI encoding)");
    };
    use IGov::IGovCalls as C;
    if !matches!(decoded, C::deposit(_) | C::submitProposal(_)) {
        call.nonpayable()?;
    }
    let params = Params::load(ledger)?;
    let out = match decoded {
        C::vote(c) => {
            let mut w: Weights = [0; 4];
            w[option_index(c.option)?] = DEC_ONE;
            cast_vote(ledger, call, c.proposalID, w)?;
            IGov::voteCall::abi_encode_returns(&true)
        }
        C::voteWeighted(c) => {
            let w = weighted(&c.options)?;
            cast_vote(ledger, call, c.proposalID, w)?;
            IGov::voteWeightedCall::abi_encode_returns(&true)
        }
        C::deposit(c) => {
            call.mutating()?;
            let id = c.proposalID;
            let status = existing(ledger, id)?;
            if status >= STATUS_PASSED {
                return revert(format!("deposit: proposal {id} is closed"));
            }
            if status == STATUS_DEPOSIT && as_u64(load_field(ledger, id, FIELD_DEPOSIT_END)?) <= ledger.now() {
                return revert(format!("deposit: the deposit period of proposal {id} has ended"));
            }
            let amount = whole_usei(call.value, "deposit")?;
            if amount.is_zero() {
                return revert("deposit: send a non-zero value");
            }
            // The value now sits in the proposal: it leaves the EVM ledger (see the module docs).
            ledger.sub_balance(GOVERNANCE, call.value)?;
            add_deposit(ledger, &params, id, call.caller, amount)?;
            IGov::depositCall::abi_encode_returns(&true)
        }
        C::submitProposal(c) => {
            call.mutating()?;
            let action = match parse_submission(&c.proposalJSON) {
                Ok(action) => action,
                Err(reason) => return revert(format!("submitProposal: {reason}")),
            };
            let amount = whole_usei(call.value, "submitProposal")?;
            let id = as_u64(ledger.load(GOVERNANCE, Key::count())?) + 1;
            ledger.store(GOVERNANCE, Key::count(), U256::from(id))?;
            let now = ledger.now();
            let (kind, kind_name) = match &action {
                Action::Text => (KIND_TEXT, "Text"),
                Action::Params(_) => (KIND_PARAMS, "ParameterChange"),
                Action::Spend(..) => (KIND_SPEND, "CommunityPoolSpend"),
            };
            store_field(ledger, id, FIELD_STATUS, U256::from(STATUS_DEPOSIT))?;
            store_field(ledger, id, FIELD_KIND, U256::from(kind))?;
            store_field(ledger, id, FIELD_PROPOSER, address_word(call.caller))?;
            store_field(ledger, id, FIELD_SUBMIT, U256::from(now))?;
            store_field(ledger, id, FIELD_DEPOSIT_END, U256::from(now.saturating_add(params.max_deposit_period)))?;
            store_content(ledger, id, c.proposalJSON.as_bytes())?;
            match action {
                Action::Text => {}
                Action::Params(changes) => {
                    store_field(ledger, id, FIELD_CHANGES, U256::from(changes.len()))?;
                    for (i, (index, value)) in changes.into_iter().enumerate() {
                        ledger.store(GOVERNANCE, Key::change(id, i as u8, CHANGE_PARAM), U256::from(index))?;
                        ledger.store(GOVERNANCE, Key::change(id, i as u8, CHANGE_VALUE), value)?;
                    }
                }
                Action::Spend(to, amount) => {
                    store_field(ledger, id, FIELD_SPEND_TO, address_word(to))?;
                    store_field(ledger, id, FIELD_SPEND_AMOUNT, amount)?;
                }
            }
            emit(
                ledger,
                GOVERNANCE,
                &IGov::ProposalSubmitted {
                    proposalID: id,
                    proposer: call.caller,
                    proposalType: kind_name.into(),
                    deposit: amount,
                },
            );
            if !amount.is_zero() {
                ledger.sub_balance(GOVERNANCE, call.value)?;
                add_deposit(ledger, &params, id, call.caller, amount)?;
            }
            IGov::submitProposalCall::abi_encode_returns(&id)
        }
        C::proposal(c) => IGov::proposalCall::abi_encode_returns(&proposal_data(ledger, c.proposalID)?),
        C::proposals(c) => {
            let count = as_u64(ledger.load(GOVERNANCE, Key::count())?);
            let start = match c.pageKey.len() {
                0 => 1,
                8 => u64::from_be_bytes(c.pageKey[..].try_into().expect("8 bytes")),
                _ => return revert("proposals: pageKey must be empty or the nextKey of the previous page"),
            };
            let mut out = Vec::new();
            let mut next = Bytes::new();
            for id in start.max(1)..=count {
                if out.len() == PAGE {
                    next = Bytes::copy_from_slice(&id.to_be_bytes());
                    break;
                }
                if c.proposalStatus != 0 && as_u64(load_field(ledger, id, FIELD_STATUS)?) != c.proposalStatus as u64 {
                    continue;
                }
                if c.voter != Address::ZERO
                    && ledger.load(GOVERNANCE, Key::by_account(TAG_VOTE, id, c.voter))?.is_zero()
                {
                    continue;
                }
                if c.depositor != Address::ZERO
                    && ledger.load(GOVERNANCE, Key::by_account(TAG_DEPOSIT, id, c.depositor))?.is_zero()
                {
                    continue;
                }
                out.push(proposal_data(ledger, id)?);
            }
            IGov::proposalsCall::abi_encode_returns(&IGov::proposalsReturn { proposals: out, nextKey: next })
        }
        C::getVote(c) => {
            existing(ledger, c.proposalID)?;
            let w = ledger.load(GOVERNANCE, Key::by_account(TAG_VOTE, c.proposalID, c.voter))?;
            if w.is_zero() {
                return revert(format!("{} has not voted on proposal {}", c.voter, c.proposalID));
            }
            IGov::getVoteCall::abi_encode_returns(&IGov::VoteData {
                proposalId: c.proposalID,
                voter: bank::sei_address(c.voter),
                options: weights_out(&unpack(w)),
            })
        }
        C::getDeposit(c) => {
            existing(ledger, c.proposalID)?;
            let amount = ledger.load(GOVERNANCE, Key::by_account(TAG_DEPOSIT, c.proposalID, c.depositor))?;
            IGov::getDepositCall::abi_encode_returns(&IGov::DepositData {
                proposalId: c.proposalID,
                depositor: bank::sei_address(c.depositor),
                amount: coins(amount),
            })
        }
        C::tallyResult(c) => {
            let status = existing(ledger, c.proposalID)?;
            let t = if status >= STATUS_PASSED {
                proposal_data(ledger, c.proposalID)?.finalTallyResult
            } else {
                // While voting: the tally as it would be now (votes of the current block count from its end).
                tally_data(tally(ledger, c.proposalID)?.usei())
            };
            IGov::tallyResultCall::abi_encode_returns(&t)
        }
        C::params(_) => IGov::paramsCall::abi_encode_returns(&params_data(&params)),
    };
    Ok(out.into())
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn decimals_parse_and_print_as_cosmos_dec() {
        assert_eq!(parse_dec("0.334"), Some(U256::from(334_000_000_000_000_000u64)));
        assert_eq!(parse_dec("1"), Some(U256::from(DEC_ONE)));
        assert_eq!(parse_dec(".5"), Some(U256::from(DEC_ONE / 2)));
        for bad in ["", ".", "1.0000000000000000001", "-1", "0,5", "1e3", " 1"] {
            assert_eq!(parse_dec(bad), None, "{bad:?}");
        }
        assert_eq!(format_dec(U256::from(DEC_ONE / 2)), "0.500000000000000000");
    }

    #[test]
    fn votes_pack_into_one_slot() {
        let w = [DEC_ONE / 4, 0, DEC_ONE / 2, DEC_ONE / 4];
        assert_eq!(unpack(pack(&w)), w);
        assert!(!pack(&[0, 0, 0, DEC_ONE]).is_zero());
    }

    #[test]
    fn submissions_are_checked() {
        let ok = r#"{"title":"t","description":"d","type":"ParameterChange",
            "changes":[{"subspace":"gov","key":"Quorum","value":"0.5"}]}"#;
        assert!(matches!(parse_submission(ok), Ok(Action::Params(c)) if c[0].1 == U256::from(DEC_ONE / 2)));
        assert!(matches!(parse_submission(r#"{"title":"t","description":"d"}"#), Ok(Action::Text)));
        let cases = [
            (
                r#"{"title":"t","description":"d","type":"ParameterChange","changes":[{"subspace":"gov","key":"Nope","value":"1"}]}"#,
                "unknown parameter gov/Nope",
            ),
            (
                r#"{"title":"t","description":"d","type":"ParameterChange","changes":[{"subspace":"staking","key":"MaxEntries","value":"0"}]}"#,
                "staking/MaxEntries must be within [1, 255], not 0",
            ),
            (
                r#"{"title":"t","description":"d","type":"ParameterChange","changes":[{"subspace":"gov","key":"Quorum","value":"1.5"}]}"#,
                "gov/Quorum must be within",
            ),
            (
                r#"{"title":"t","description":"d","type":"ParameterChange","changes":[{"subspace":"staking","key":"UnbondingTime","value":"1.5"}]}"#,
                "is not a whole number",
            ),
            (r#"{"title":"t","description":"d","type":"ParameterChange","changes":[]}"#, "needs 1 to 16 changes"),
            (r#"{"title":"","description":"d"}"#, "title must be"),
            (r#"{"title":"t","description":"d","is_expedited":true}"#, "expedited"),
            (r#"{"title":"t","description":"d","deposit":"10usei"}"#, "send the deposit as the call's value"),
            (r#"{"title":"t","description":"d","type":"Upgrade"}"#, "unknown proposal type"),
            (r#"{"title":"t","description":"d","colour":"red"}"#, "unknown field"),
            (r#"not json"#, "proposal JSON"),
        ];
        for (json, want) in cases {
            let err = parse_submission(json).err().unwrap_or_default();
            assert!(err.contains(want), "{json}: {err:?} lacks {want:?}");
        }
    }

    #[test]
    fn decisions_follow_cosmos_rules() {
        let dec = |x: f64| U256::from((x * 1e6) as u64) * U256::from(DEC_ONE / 1_000_000);
        let p = Params {
            min_deposit: U256::from(1),
            max_deposit_period: 1,
            voting_period: 1,
            quorum: dec(0.334),
            threshold: dec(0.5),
            veto_threshold: dec(0.334),
        };
        let t = |yes: u64, abstain: u64, no: u64, veto: u64, bonded: u64| {
            let results = [yes, abstain, no, veto].map(|x| U256::from(x) * U256::from(DEC_ONE));
            let total = results.iter().fold(U256::ZERO, |s, x| s + *x);
            Tally { results, total, bonded: U256::from(bonded) }
        };
        assert_eq!(decide(&t(33, 0, 0, 0, 100), &p), (false, true), "quorum missed: burn");
        assert_eq!(decide(&t(34, 0, 0, 0, 100), &p), (true, false));
        assert_eq!(decide(&t(0, 50, 0, 0, 100), &p), (false, false), "all abstain");
        assert_eq!(decide(&t(60, 0, 0, 35, 100), &p), (false, true), "vetoed: burn");
        assert_eq!(decide(&t(25, 10, 25, 0, 100), &p), (false, false), "yes not above half");
        assert_eq!(decide(&t(26, 10, 25, 0, 100), &p), (true, false));
        assert_eq!(decide(&t(10, 0, 0, 0, 0), &p), (false, false), "nothing bonded");
    }
}
