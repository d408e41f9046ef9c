//! The staking module at `0x…1005`, with Sei's precompile ABI: `delegate` is payable in wei and refuses a
//! remainder below 1 usei; `undelegate` and `redelegate` take usei.
//!
//! State layout (slots of `0x…1005`, see `Key`): parameters; validators by index (operator, bonded tokens,
//! commission, jailed, consensus key) and indices by operator and by consensus key; one delegation slot per
//! (delegator, validator); up to `max_entries` unbonding entries per (delegator, validator) and redelegation
//! entries per (delegator, source, destination), each with its amount, completion time and creation height;
//! the maturity queue; per validator the append-only list of its delegators (for slashing); the committee
//! record of each epoch.
//!
//! A transaction writes only its delegator's slots: a validator's bonded tokens are not updated by each
//! delegation (which would make every delegation to one validator conflict with every other) but at the end of
//! the block, from the block's changes to delegation slots. Likewise new unbonding entries enter the maturity
//! queue, and new delegators their validators' lists, at the end of the block. `end_block` runs, in this fixed
//! order, inside the block's execution and commit: (0) new delegators join their validators' lists, (1) bonded
//! tokens follow the block's delegation changes, (2) the block's new unbonding entries join
//! the queue in key order, (3) every entry whose completion time is at or before the block's time is paid out
//! to its delegator, oldest first, and removed — so each entry matures exactly once. Within a block, validator
//! queries see the tokens of the block's start.
//!
//! Every change of a delegation (delegate, undelegate, both sides of a redelegate) first settles the
//! delegation's pending rewards with the distribution module (`distribution::settle`, F1).
//!
//! Bonded and unbonding tokens leave the EVM ledger: the value a `delegate` call carries is taken out of the
//! module's account again at once (the account ends each call as it began, so delegations never conflict on
//! it), and maturity credits the delegator. So total supply = Σ EVM balances + Σ validator tokens + Σ
//! unbonding entries, which the property tests check.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{sol, SolCall, SolInterface};

use super::{
    bank::sei_address, bech32_address, emit, pair_slot, parse_address, revert, slot_key, usei_to_wei, validator_slot,
    Call, Ledger, Outcome, STAKING, WEI_PER_USEI,
};

sol! {
    /// Sei's staking precompile interface (`precompiles/staking/Staking.sol`) plus pysei's queries.
    #[sol(abi)]
    interface IStaking {
        struct Balance {
            uint256 amount;
            string denom;
        }

        struct DelegationDetails {
            string delegator_address;
            uint256 shares;
            uint256 decimals;
            string validator_address;
        }

        struct Delegation {
            Balance balance;
            DelegationDetails delegation;
        }

        struct UnbondingEntry {
            uint256 amount;
            uint64 completionTime;
        }

        struct Validator {
            string operatorAddress;
            address operator;
            uint256 tokens;
            uint256 commissionRate;
            bool jailed;
            bytes32 consensusPubkey;
            bool tombstoned;
        }

        function delegate(string valAddress) external payable returns (bool success);
        function redelegate(string srcAddress, string dstAddress, uint256 amount) external returns (bool success);
        function undelegate(string valAddress, uint256 amount) external returns (bool success);
        function delegation(address delegator, string valAddress) external view returns (Delegation delegation);
        function createValidator(string pubKeyHex, string moniker, string commissionRate, string commissionMaxRate, string commissionMaxChangeRate, uint256 minSelfDelegation) external payable returns (bool success);
        function editValidator(string moniker, string commissionRate, uint256 minSelfDelegation) external returns (bool success);

        // pysei queries
        function unbondingDelegation(address delegator, string valAddress) external view returns (UnbondingEntry[] entries);
        function validators() external view returns (Validator[] validators);
        function params() external view returns (uint64 unbondingTime, uint64 maxEntries, uint64 maxValidators, uint256 minCommissionRate);

        event Delegate(address indexed delegator, string validator, uint256 amount);
        event Undelegate(address indexed delegator, string validator, uint256 amount, uint64 completionTime);
        event Redelegate(address indexed delegator, string srcValidator, string dstValidator, uint256 amount, uint64 completionTime);
        event ValidatorCreated(address indexed creator, string validatorAddress, string moniker);
        event ValidatorEdited(address indexed editor, string validatorAddress, string moniker);
        /// pysei's (end of block, so a system log: see `records::system_tx_hash`): an unbonding entry matured
        /// and `amount` usei went back to the delegator.
        event UnbondingCompleted(address indexed delegator, string validator, uint256 amount);
    }
}

/// Decimal fractions (commission rates) are fixed point with 18 decimals, as Cosmos `Dec`.
pub(crate) const DEC_ONE: u64 = 1_000_000_000_000_000_000;

/// Slot keys: a tag byte, then fixed-width fields (addresses 20 bytes, validator indices 4, entry and field
/// indices 1). Injective by construction.
pub(crate) struct Key;

const TAG_PARAM: u8 = 1;
const TAG_VALIDATOR_COUNT: u8 = 2;
const TAG_VALIDATOR: u8 = 3;
const TAG_VALIDATOR_INDEX: u8 = 4;
const TAG_DELEGATION: u8 = 5;
const TAG_UNBONDING: u8 = 6;
const TAG_REDELEGATION: u8 = 7;
const TAG_QUEUE: u8 = 8;
const TAG_QUEUE_BOUNDS: u8 = 9;
const TAG_INCOMING_REDELEGATION: u8 = 10;
const TAG_CONSENSUS_KEY: u8 = 11;
const TAG_COMMITTEE_SIZE: u8 = 12;
const TAG_COMMITTEE: u8 = 13;
const TAG_DELEGATOR_COUNT: u8 = 14;
const TAG_DELEGATOR: u8 = 15;
const TAG_DELEGATOR_LISTED: u8 = 16;

pub(crate) const PARAM_ENABLED: u8 = 0;
pub(crate) const PARAM_UNBONDING_TIME: u8 = 1;
pub(crate) const PARAM_MAX_ENTRIES: u8 = 2;
pub(crate) const PARAM_MAX_VALIDATORS: u8 = 3;
pub(crate) const PARAM_MIN_COMMISSION: u8 = 4;
/// Blocks per epoch. Not governable: epoch k covers blocks k*E+1 ..= (k+1)*E, and consensus maps every slot to
/// its epoch's committee record by that rule, so a change mid-chain would re-map past and already-recorded
/// future slots to other committees (and records already written for the next epoch would cover other blocks).
pub(crate) const PARAM_EPOCH_BLOCKS: u8 = 5;

const FIELD_OPERATOR: u8 = 0;
const FIELD_TOKENS: u8 = 1;
const FIELD_COMMISSION: u8 = 2;
const FIELD_JAILED: u8 = 3;
const FIELD_CONSENSUS_KEY: u8 = 4;
const FIELD_MAX_RATE: u8 = 5;
const FIELD_MAX_CHANGE_RATE: u8 = 6;
const FIELD_MIN_SELF_DELEGATION: u8 = 7;
const FIELD_COMMISSION_CHANGED_AT: u8 = 8;
const FIELD_MONIKER_LEN: u8 = 9;
/// The moniker's bytes, 32 per field from here (Cosmos caps a moniker at 70 bytes: three fields).
const FIELD_MONIKER: u8 = 10;
const MONIKER_MAX: usize = 70;
/// Seconds between two commission changes of a validator (Cosmos: once per 24 hours).
const COMMISSION_CHANGE_INTERVAL: u64 = 86_400;

const MEMBER_PUBKEY: u8 = 0;
const MEMBER_VALIDATOR: u8 = 1;
const MEMBER_POWER: u8 = 2;
/// Voting power is bonded tokens in whole SEI (Cosmos's power reduction of 10^6 usei).
const USEI_PER_POWER: u64 = 1_000_000;

const ENTRY_AMOUNT: u8 = 0;
const ENTRY_COMPLETION: u8 = 1;
/// The height of the block that created the entry: a slash for an infraction at or before it reaches the entry.
const ENTRY_HEIGHT: u8 = 2;

/// The hard cap on `max_entries` (the entry index is one byte; Sei's default is 7).
pub(crate) const ENTRY_LIMIT: u64 = 255;

impl Key {
    pub(crate) fn param(id: u8) -> U256 {
        slot_key(TAG_PARAM, |b| b[31] = id)
    }

    fn validator_count() -> U256 {
        slot_key(TAG_VALIDATOR_COUNT, |_| ())
    }

    fn validator(index: u32, field: u8) -> U256 {
        validator_slot(TAG_VALIDATOR, index, field)
    }

    fn validator_index(operator: Address) -> U256 {
        slot_key(TAG_VALIDATOR_INDEX, |b| b[1..21].copy_from_slice(operator.as_slice()))
    }

    /// Validator index + 1 by the first 31 bytes of its Ed25519 consensus key (the full key is in the record):
    /// two validators may not share a key.
    fn consensus_key(pubkey: &[u8; 32]) -> U256 {
        slot_key(TAG_CONSENSUS_KEY, |b| b[1..32].copy_from_slice(&pubkey[..31]))
    }

    pub(crate) fn delegation(delegator: Address, validator: u32) -> U256 {
        pair_slot(TAG_DELEGATION, delegator, validator)
    }

    /// The number of members of epoch `epoch`'s committee record, plus one (zero: no record yet).
    fn committee_size(epoch: u64) -> U256 {
        slot_key(TAG_COMMITTEE_SIZE, |b| b[24..32].copy_from_slice(&epoch.to_be_bytes()))
    }

    /// A field of the `position`-th member of epoch `epoch`'s committee record.
    fn committee_member(epoch: u64, position: u32, field: u8) -> U256 {
        slot_key(TAG_COMMITTEE, |b| {
            b[1..9].copy_from_slice(&epoch.to_be_bytes());
            b[9..13].copy_from_slice(&position.to_be_bytes());
            b[31] = field;
        })
    }

    fn unbonding(delegator: Address, validator: u32, entry: u8, field: u8) -> U256 {
        slot_key(TAG_UNBONDING, |b| {
            b[1..21].copy_from_slice(delegator.as_slice());
            b[21..25].copy_from_slice(&validator.to_be_bytes());
            b[25] = entry;
            b[26] = field;
        })
    }

    fn redelegation(delegator: Address, src: u32, dst: u32, entry: u8, field: u8) -> U256 {
        slot_key(TAG_REDELEGATION, |b| {
            b[1..21].copy_from_slice(delegator.as_slice());
            b[21..25].copy_from_slice(&src.to_be_bytes());
            b[25..29].copy_from_slice(&dst.to_be_bytes());
            b[29] = entry;
            b[30] = field;
        })
    }

    /// How many delegators validator `index` has ever had (its delegator list's length).
    fn delegator_count(index: u32) -> U256 {
        validator_slot(TAG_DELEGATOR_COUNT, index, 0)
    }

    /// The `position`-th delegator of validator `index`.
    fn delegator(index: u32, position: u64) -> U256 {
        slot_key(TAG_DELEGATOR, |b| {
            b[1..5].copy_from_slice(&index.to_be_bytes());
            b[24..32].copy_from_slice(&position.to_be_bytes());
        })
    }

    /// Nonzero once `delegator` is in validator `index`'s delegator list.
    fn delegator_listed(delegator: Address, index: u32) -> U256 {
        pair_slot(TAG_DELEGATOR_LISTED, delegator, index)
    }

    fn incoming_redelegation(delegator: Address, validator: u32) -> U256 {
        pair_slot(TAG_INCOMING_REDELEGATION, delegator, validator)
    }

    fn queue(position: u64) -> U256 {
        slot_key(TAG_QUEUE, |b| b[24..32].copy_from_slice(&position.to_be_bytes()))
    }

    fn queue_bound(which: u8) -> U256 {
        slot_key(TAG_QUEUE_BOUNDS, |b| b[31] = which)
    }

    fn tag(key: &U256) -> u8 {
        key.to_be_bytes::<32>()[0]
    }

    /// (delegator, validator, entry, field) of an unbonding key.
    fn parse_unbonding(key: &U256) -> (Address, u32, u8, u8) {
        let b = key.to_be_bytes::<32>();
        let validator = u32::from_be_bytes(b[21..25].try_into().expect("4 bytes"));
        (Address::from_slice(&b[1..21]), validator, b[25], b[26])
    }

    /// (delegator, source validator) of a redelegation key.
    fn parse_redelegation(key: &U256) -> (Address, u32) {
        let b = key.to_be_bytes::<32>();
        (Address::from_slice(&b[1..21]), u32::from_be_bytes(b[21..25].try_into().expect("4 bytes")))
    }

    /// The delegator of a delegation key.
    fn delegation_delegator(key: &U256) -> Address {
        Address::from_slice(&key.to_be_bytes::<32>()[1..21])
    }

    /// The validator of a delegation key.
    fn delegation_validator(key: &U256) -> u32 {
        let b = key.to_be_bytes::<32>();
        u32::from_be_bytes(b[21..25].try_into().expect("4 bytes"))
    }
}

fn as_u64(value: U256) -> u64 {
    value.saturating_to()
}

/// Parameters of the staking module (genesis values; `pysei genesis` writes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) unbonding_time: u64,
    pub(crate) max_entries: u64,
    pub(crate) max_validators: u64,
    pub(crate) min_commission_rate: U256,
    pub(crate) epoch_blocks: u64,
}

impl Params {
    fn load<L: Ledger>(ledger: &mut L) -> Outcome<Self, L::Error> {
        if ledger.load(STAKING, Key::param(PARAM_ENABLED))?.is_zero() {
            return revert("staking: the module has no genesis state on this chain");
        }
        Ok(Self {
            unbonding_time: as_u64(ledger.load(STAKING, Key::param(PARAM_UNBONDING_TIME))?),
            max_entries: as_u64(ledger.load(STAKING, Key::param(PARAM_MAX_ENTRIES))?).min(ENTRY_LIMIT),
            max_validators: as_u64(ledger.load(STAKING, Key::param(PARAM_MAX_VALIDATORS))?),
            min_commission_rate: ledger.load(STAKING, Key::param(PARAM_MIN_COMMISSION))?,
            epoch_blocks: as_u64(ledger.load(STAKING, Key::param(PARAM_EPOCH_BLOCKS))?),
        })
    }
}

/// A genesis validator: its operator, self-delegation (usei), commission rate (18-decimal fixed point) and
/// Ed25519 consensus key, if it has one (only validators with a key sit in committees).
#[derive(Debug, Clone)]
pub(crate) struct GenesisValidator {
    pub(crate) operator: Address,
    pub(crate) self_delegation: U256,
    pub(crate) commission_rate: U256,
    pub(crate) consensus_key: Option<[u8; 32]>,
    /// Starts jailed (a genesis exported from a running chain carries jailed validators); the slashing module's
    /// genesis holds until when.
    pub(crate) jailed: bool,
}

/// The staking module's genesis slots, with the committee records of epochs 0 and 1. Fails on an invalid genesis
/// (duplicate operator or consensus key, commission out of bounds, zero self-delegation, zero epoch length).
pub(crate) fn genesis(params: &Params, validators: &[GenesisValidator]) -> Result<super::Slots, String> {
    if params.epoch_blocks == 0 {
        return Err("staking: epoch_blocks must be at least 1".into());
    }
    if params.max_entries == 0 || params.max_entries > ENTRY_LIMIT {
        return Err(format!("staking: max_entries must be within 1..={ENTRY_LIMIT}"));
    }
    if params.min_commission_rate > U256::from(DEC_ONE) {
        return Err("staking: min_commission_rate must be at most 1".into());
    }
    if validators.len() as u64 > u64::from(u32::MAX) {
        return Err("staking: too many validators".into());
    }
    let mut slots = vec![
        (Key::param(PARAM_ENABLED), U256::from(1)),
        (Key::param(PARAM_UNBONDING_TIME), U256::from(params.unbonding_time)),
        (Key::param(PARAM_MAX_ENTRIES), U256::from(params.max_entries)),
        (Key::param(PARAM_MAX_VALIDATORS), U256::from(params.max_validators)),
        (Key::param(PARAM_MIN_COMMISSION), params.min_commission_rate),
        (Key::param(PARAM_EPOCH_BLOCKS), U256::from(params.epoch_blocks)),
        (Key::validator_count(), U256::from(validators.len())),
    ];
    let mut seen = std::collections::HashSet::new();
    let mut seen_keys = std::collections::HashSet::new();
    for (i, v) in validators.iter().enumerate() {
        let index = i as u32;
        if !seen.insert(v.operator) {
            return Err(format!("staking: validator {} appears twice", v.operator));
        }
        if v.commission_rate < params.min_commission_rate || v.commission_rate > U256::from(DEC_ONE) {
            return Err(format!("staking: validator {} commission is outside [min_commission_rate, 1]", v.operator));
        }
        if v.self_delegation.is_zero() {
            return Err(format!("staking: validator {} needs a self-delegation", v.operator));
        }
        slots.extend([
            (Key::validator_index(v.operator), U256::from(index) + U256::from(1)),
            (Key::validator(index, FIELD_OPERATOR), U256::from_be_slice(v.operator.as_slice())),
            (Key::validator(index, FIELD_TOKENS), v.self_delegation),
            (Key::validator(index, FIELD_COMMISSION), v.commission_rate),
            (Key::delegation(v.operator, index), v.self_delegation),
            (Key::delegator_count(index), U256::from(1)),
            (Key::delegator(index, 0), U256::from_be_slice(v.operator.as_slice())),
            (Key::delegator_listed(v.operator, index), U256::from(1)),
        ]);
        if v.jailed {
            slots.push((Key::validator(index, FIELD_JAILED), U256::from(1)));
        }
        if let Some(pubkey) = v.consensus_key {
            // `Key::consensus_key` indexes the first 31 bytes: those must differ.
            if !seen_keys.insert(pubkey[..31].to_vec()) {
                return Err(format!("staking: validator {} reuses another validator's consensus key", v.operator));
            }
            slots.extend([
                (Key::consensus_key(&pubkey), U256::from(index) + U256::from(1)),
                (Key::validator(index, FIELD_CONSENSUS_KEY), U256::from_be_bytes(pubkey)),
            ]);
        }
    }
    // The committees of epoch 0 (genesis) and epoch 1 (blocks 1..=E) are the genesis bonded set, laid out by
    // the code that records them at every later boundary.
    let mut ledger = super::ScratchLedger::new(super::NoState);
    for (key, value) in &slots {
        ledger.store(STAKING, *key, *value).map_err(genesis_failure)?;
    }
    for epoch in [0, 1] {
        record_committee(&mut ledger, epoch).map_err(genesis_failure)?;
    }
    Ok(ledger.into_slots(STAKING))
}

fn genesis_failure<E: std::fmt::Debug>(failure: super::Failure<E>) -> String {
    match failure {
        super::Failure::Revert(reason) => format!("staking: {reason}"),
        super::Failure::Db(e) => format!("staking: {e:?}"),
    }
}

/// A validator named by its `seivaloper1…` (or `0x…`) operator address.
pub(crate) struct Validator {
    pub(crate) index: u32,
    pub(crate) name: String,
}

pub(crate) fn find_validator<L: Ledger>(ledger: &mut L, text: &str) -> Outcome<Validator, L::Error> {
    let Some(operator) = parse_address(text, "seivaloper") else {
        return revert(format!("{text:?} is not a validator address (seivaloper1… or 0x…)"));
    };
    match operated_by(ledger, operator)? {
        Some(v) => Ok(v),
        None => revert(format!("validator {} does not exist", valoper(operator))),
    }
}

/// The validator `operator` operates, if any.
pub(crate) fn operated_by<L: Ledger>(ledger: &mut L, operator: Address) -> Outcome<Option<Validator>, L::Error> {
    let index = ledger.load(STAKING, Key::validator_index(operator))?;
    Ok((!index.is_zero()).then(|| Validator { index: as_u64(index - U256::from(1)) as u32, name: valoper(operator) }))
}

pub(crate) fn valoper(operator: Address) -> String {
    bech32_address("seivaloper", operator)
}

fn check_not_jailed<L: Ledger>(ledger: &mut L, v: &Validator) -> Outcome<(), L::Error> {
    if is_jailed(ledger, v.index)? {
        revert(format!("validator {} is jailed", v.name))
    } else {
        Ok(())
    }
}

pub(crate) fn is_jailed<L: Ledger>(ledger: &mut L, index: u32) -> Outcome<bool, L::Error> {
    Ok(!ledger.load(STAKING, Key::validator(index, FIELD_JAILED))?.is_zero())
}

/// Jails (out of the bonded set and the next committee records) or unjails validator `index`.
pub(crate) fn set_jailed<L: Ledger>(ledger: &mut L, index: u32, jailed: bool) -> Outcome<(), L::Error> {
    ledger.store(STAKING, Key::validator(index, FIELD_JAILED), U256::from(jailed))
}

/// The validator whose Ed25519 consensus key is `pubkey`, if any.
pub(crate) fn by_consensus_key<L: Ledger>(ledger: &mut L, pubkey: &[u8; 32]) -> Outcome<Option<u32>, L::Error> {
    let index = ledger.load(STAKING, Key::consensus_key(pubkey))?;
    if index.is_zero() {
        return Ok(None);
    }
    let index = as_u64(index - U256::from(1)) as u32;
    // The index is by the first 31 bytes: the whole key must match.
    let key = ledger.load(STAKING, Key::validator(index, FIELD_CONSENSUS_KEY))?;
    Ok((key == U256::from_be_bytes(*pubkey)).then_some(index))
}

/// Validator `index`'s consensus key, if it has one.
pub(crate) fn consensus_key<L: Ledger>(ledger: &mut L, index: u32) -> Outcome<Option<[u8; 32]>, L::Error> {
    let key = ledger.load(STAKING, Key::validator(index, FIELD_CONSENSUS_KEY))?;
    Ok((!key.is_zero()).then(|| key.to_be_bytes::<32>()))
}

/// Appends `delegator` to validator `index`'s delegator list unless it is there: the list only grows, so that
/// a slash can walk every delegation and entry of the validator (delegations are keyed by delegator).
fn list_delegator<L: Ledger>(ledger: &mut L, delegator: Address, index: u32) -> Outcome<(), L::Error> {
    let listed = Key::delegator_listed(delegator, index);
    if !ledger.load(STAKING, listed)?.is_zero() {
        return Ok(());
    }
    let count = as_u64(ledger.load(STAKING, Key::delegator_count(index))?);
    ledger.store(STAKING, Key::delegator(index, count), U256::from_be_slice(delegator.as_slice()))?;
    ledger.store(STAKING, Key::delegator_count(index), U256::from(count + 1))?;
    ledger.store(STAKING, listed, U256::from(1))
}

/// `amount × fraction` (18 decimals), rounded down.
fn part(amount: U256, fraction: U256) -> U256 {
    amount * fraction / U256::from(DEC_ONE)
}

/// Slashes `fraction` (18 decimals, below 1) of validator `index`'s stake for an infraction at height
/// `infraction_height`: each delegation to it, each unbonding entry from it created at or after that height,
/// and for each such redelegation from it the stake it moved (taken from the destination delegation, as
/// Cosmos does). Every delegation changed is settled first (F1, at the end of the block). Returns the usei
/// slashed, which the caller burns. Walks the validator's delegator list (and, per delegator, its
/// redelegation entries to every validator): slashing is rare, so a walk here is cheap overall.
pub(crate) fn slash<L: Ledger>(
    ledger: &mut L,
    index: u32,
    fraction: U256,
    infraction_height: u64,
) -> Outcome<U256, L::Error> {
    let params = Params::load(ledger)?;
    let validators = validator_count(ledger)?;
    let count = as_u64(ledger.load(STAKING, Key::delegator_count(index))?);
    let mut slashed = U256::ZERO;
    let mut tokens_cut: std::collections::BTreeMap<u32, U256> = std::collections::BTreeMap::new();
    for position in 0..count {
        let word = ledger.load(STAKING, Key::delegator(index, position))?;
        let delegator = Address::from_slice(&word.to_be_bytes::<32>()[12..]);
        let cut = cut_delegation(ledger, delegator, index, |amount| part(amount, fraction))?;
        *tokens_cut.entry(index).or_default() += cut;
        slashed += cut;
        for entry in 0..params.max_entries as u8 {
            let amount_key = Key::unbonding(delegator, index, entry, ENTRY_AMOUNT);
            let amount = ledger.load(STAKING, amount_key)?;
            let height = as_u64(ledger.load(STAKING, Key::unbonding(delegator, index, entry, ENTRY_HEIGHT))?);
            if !amount.is_zero() && height >= infraction_height {
                // Below the whole entry (fraction < 1): the entry stays, still queued for maturity.
                let cut = part(amount, fraction);
                ledger.store(STAKING, amount_key, amount - cut)?;
                slashed += cut;
            }
        }
        let now = ledger.now();
        for dst in (0..validators).filter(|dst| *dst != index) {
            for entry in 0..params.max_entries as u8 {
                let completion =
                    as_u64(ledger.load(STAKING, Key::redelegation(delegator, index, dst, entry, ENTRY_COMPLETION))?);
                if completion <= now {
                    continue;
                }
                let height =
                    as_u64(ledger.load(STAKING, Key::redelegation(delegator, index, dst, entry, ENTRY_HEIGHT))?);
                if height < infraction_height {
                    continue;
                }
                let moved = ledger.load(STAKING, Key::redelegation(delegator, index, dst, entry, ENTRY_AMOUNT))?;
                let want = part(moved, fraction);
                let cut = cut_delegation(ledger, delegator, dst, |amount| want.min(amount))?;
                *tokens_cut.entry(dst).or_default() += cut;
                slashed += cut;
            }
        }
    }
    for (validator, cut) in tokens_cut {
        let key = Key::validator(validator, FIELD_TOKENS);
        let tokens = ledger.load(STAKING, key)?;
        let Some(left) = tokens.checked_sub(cut) else { return revert("slash exceeds the validator's tokens") };
        ledger.store(STAKING, key, left)?;
    }
    Ok(slashed)
}

/// Lowers `delegator`'s delegation to validator `index` by `cut(amount)` after settling its rewards; returns
/// the cut.
fn cut_delegation<L: Ledger>(
    ledger: &mut L,
    delegator: Address,
    index: u32,
    cut: impl FnOnce(U256) -> U256,
) -> Outcome<U256, L::Error> {
    let key = Key::delegation(delegator, index);
    let amount = ledger.load(STAKING, key)?;
    let cut = cut(amount);
    if cut.is_zero() {
        return Ok(cut);
    }
    let v = Validator { index, name: valoper(operator(ledger, index)?) };
    super::distribution::settle_in_end_block(ledger, delegator, &v)?;
    ledger.store(STAKING, key, amount - cut)?;
    Ok(cut)
}

/// The usei `who` has delegated to validator `index` (its shares: one per usei).
pub(crate) fn delegation_amount<L: Ledger>(ledger: &mut L, who: Address, index: u32) -> Outcome<U256, L::Error> {
    ledger.load(STAKING, Key::delegation(who, index))
}

/// How many validators there are (indices `0..count`).
pub(crate) fn validator_count<L: Ledger>(ledger: &mut L) -> Outcome<u32, L::Error> {
    Ok(as_u64(ledger.load(STAKING, Key::validator_count())?) as u32)
}

/// The operator of validator `index`.
pub(crate) fn operator<L: Ledger>(ledger: &mut L, index: u32) -> Outcome<Address, L::Error> {
    let word = ledger.load(STAKING, Key::validator(index, FIELD_OPERATOR))?;
    Ok(Address::from_slice(&word.to_be_bytes::<32>()[12..]))
}

/// A validator of the bonded set: its index, bonded tokens (usei) and commission rate (18 decimals).
pub(crate) struct Bonded {
    pub(crate) index: u32,
    pub(crate) tokens: U256,
    pub(crate) commission_rate: U256,
}

/// The bonded set: the `max_validators` unjailed validators with the most tokens (ties by index), in that
/// order. Empty when the module has no genesis state.
pub(crate) fn bonded_validators<L: Ledger>(ledger: &mut L) -> Outcome<Vec<Bonded>, L::Error> {
    if ledger.load(STAKING, Key::param(PARAM_ENABLED))?.is_zero() {
        return Ok(Vec::new());
    }
    let max = as_u64(ledger.load(STAKING, Key::param(PARAM_MAX_VALIDATORS))?);
    let count = as_u64(ledger.load(STAKING, Key::validator_count())?) as u32;
    let mut set = Vec::new();
    for index in 0..count {
        let tokens = ledger.load(STAKING, Key::validator(index, FIELD_TOKENS))?;
        if tokens.is_zero() || !ledger.load(STAKING, Key::validator(index, FIELD_JAILED))?.is_zero() {
            continue;
        }
        let commission_rate = ledger.load(STAKING, Key::validator(index, FIELD_COMMISSION))?;
        set.push(Bonded { index, tokens, commission_rate });
    }
    set.sort_by(|a, b| b.tokens.cmp(&a.tokens).then(a.index.cmp(&b.index)));
    set.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    Ok(set)
}

/// A member of an epoch's committee: its consensus key, validator index and voting power (whole SEI bonded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) pubkey: [u8; 32],
    pub(crate) index: u32,
    pub(crate) power: U256,
}

/// The epoch of block (slot) `number`: epoch k covers blocks k*E+1 ..= (k+1)*E; genesis (block 0) is epoch 0.
pub(crate) fn epoch_of(number: u64, epoch_blocks: u64) -> u64 {
    number.saturating_sub(1) / epoch_blocks.max(1)
}

/// Blocks per epoch.
pub(crate) fn epoch_blocks<L: Ledger>(ledger: &mut L) -> Outcome<u64, L::Error> {
    Ok(Params::load(ledger)?.epoch_blocks)
}

/// At the end of a block b with b % E == 0 (the last block of epoch b/E - 1), records the committee of epoch
/// b/E + 1: decided one epoch ahead, so that consensus knows the committee of the epoch after the one it runs.
pub(crate) fn record_committee_at_boundary<L: Ledger>(ledger: &mut L) -> Outcome<(), L::Error> {
    if ledger.load(STAKING, Key::param(PARAM_ENABLED))?.is_zero() {
        return Ok(());
    }
    let epoch_blocks = epoch_blocks(ledger)?;
    let number = ledger.number();
    if number.is_multiple_of(epoch_blocks) {
        record_committee(ledger, number / epoch_blocks + 1)?;
    }
    Ok(())
}

/// Writes epoch `epoch`'s committee record from the bonded set now, unless it exists (records are never
/// overwritten, so a committed record is final): the bonded validators that have a consensus key and a voting
/// power of at least 1, ordered by consensus key (the order consensus uses).
fn record_committee<L: Ledger>(ledger: &mut L, epoch: u64) -> Outcome<(), L::Error> {
    if !ledger.load(STAKING, Key::committee_size(epoch))?.is_zero() {
        return Ok(());
    }
    let mut members = Vec::new();
    for b in bonded_validators(ledger)? {
        let key = ledger.load(STAKING, Key::validator(b.index, FIELD_CONSENSUS_KEY))?;
        let power = b.tokens / U256::from(USEI_PER_POWER);
        if !key.is_zero() && !power.is_zero() {
            members.push(Member { pubkey: key.to_be_bytes::<32>(), index: b.index, power });
        }
    }
    members.sort_by_key(|m| m.pubkey);
    for (position, m) in members.iter().enumerate() {
        let position = position as u32;
        ledger.store(STAKING, Key::committee_member(epoch, position, MEMBER_PUBKEY), U256::from_be_bytes(m.pubkey))?;
        ledger.store(STAKING, Key::committee_member(epoch, position, MEMBER_VALIDATOR), U256::from(m.index))?;
        ledger.store(STAKING, Key::committee_member(epoch, position, MEMBER_POWER), m.power)?;
    }
    ledger.store(STAKING, Key::committee_size(epoch), U256::from(members.len()) + U256::from(1))
}

/// Epoch `epoch`'s committee record, or None when it is not recorded (yet).
pub(crate) fn committee<L: Ledger>(ledger: &mut L, epoch: u64) -> Outcome<Option<Vec<Member>>, L::Error> {
    let size = as_u64(ledger.load(STAKING, Key::committee_size(epoch))?);
    if size == 0 {
        return Ok(None);
    }
    let mut members = Vec::with_capacity(size as usize - 1);
    for position in 0..(size - 1) as u32 {
        let pubkey = ledger.load(STAKING, Key::committee_member(epoch, position, MEMBER_PUBKEY))?.to_be_bytes::<32>();
        let index = as_u64(ledger.load(STAKING, Key::committee_member(epoch, position, MEMBER_VALIDATOR))?) as u32;
        let power = ledger.load(STAKING, Key::committee_member(epoch, position, MEMBER_POWER))?;
        members.push(Member { pubkey, index, power });
    }
    Ok(Some(members))
}

/// Every change of a delegation first settles its pending rewards (F1: a delegation's stake is constant
/// between two settlements), see `distribution::settle`.
fn add_delegation<L: Ledger>(ledger: &mut L, who: Address, v: &Validator, amount: U256) -> Outcome<(), L::Error> {
    super::distribution::settle(ledger, who, v)?;
    let key = Key::delegation(who, v.index);
    let current = ledger.load(STAKING, key)?;
    ledger.store(STAKING, key, current + amount)
}

fn sub_delegation<L: Ledger>(
    ledger: &mut L,
    who: Address,
    v: &Validator,
    amount: U256,
    op: &str,
) -> Outcome<(), L::Error> {
    let key = Key::delegation(who, v.index);
    let current = ledger.load(STAKING, key)?;
    if amount > current {
        return revert(format!("{op}: amount {amount} usei exceeds the delegation of {current} usei to {}", v.name));
    }
    super::distribution::settle(ledger, who, v)?;
    ledger.store(STAKING, key, current - amount)
}

/// The call's value as whole usei, bonded: it leaves the EVM ledger (see the module docs). Sei refuses a value
/// with a remainder below 1 usei rather than truncating it.
fn bond_value<L: Ledger>(ledger: &mut L, call: &Call<'_>, op: &str) -> Outcome<U256, L::Error> {
    let remainder = call.value % U256::from(WEI_PER_USEI);
    if !remainder.is_zero() {
        return revert(format!(
            "{op}: value has a remainder of {remainder} wei below 1 usei; send whole usei (multiples of 10^12 wei)"
        ));
    }
    let amount = call.value / U256::from(WEI_PER_USEI);
    positive(amount, op)?;
    ledger.sub_balance(STAKING, call.value)?;
    Ok(amount)
}

fn parse_rate<E>(text: &str, what: &str) -> Outcome<U256, E> {
    match super::governance::parse_dec(text) {
        Some(rate) if rate <= U256::from(DEC_ONE) => Ok(rate),
        _ => revert(format!("{what}: {text:?} is not a decimal within [0, 1] with at most 18 decimals")),
    }
}

fn check_moniker<E>(moniker: &str) -> Outcome<(), E> {
    if moniker.is_empty() || moniker.len() > MONIKER_MAX {
        return revert(format!("moniker must be 1 to {MONIKER_MAX} bytes, not {}", moniker.len()));
    }
    Ok(())
}

fn store_moniker<L: Ledger>(ledger: &mut L, index: u32, moniker: &str) -> Outcome<(), L::Error> {
    ledger.store(STAKING, Key::validator(index, FIELD_MONIKER_LEN), U256::from(moniker.len()))?;
    for (i, chunk) in moniker.as_bytes().chunks(32).enumerate() {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        ledger.store(STAKING, Key::validator(index, FIELD_MONIKER + i as u8), U256::from_be_bytes(word))?;
    }
    Ok(())
}

fn load_moniker<L: Ledger>(ledger: &mut L, index: u32) -> Outcome<String, L::Error> {
    let len = as_u64(ledger.load(STAKING, Key::validator(index, FIELD_MONIKER_LEN))?) as usize;
    let mut bytes = Vec::with_capacity(len);
    for i in 0..len.div_ceil(32) {
        bytes.extend(ledger.load(STAKING, Key::validator(index, FIELD_MONIKER + i as u8))?.to_be_bytes::<32>());
    }
    bytes.truncate(len);
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `createValidator`: the caller becomes the operator of a new validator, bonded with the call's value as its
/// self-delegation, under Cosmos's rules for the commission (min ≤ rate ≤ max rate ≤ 1, max change ≤ max rate)
/// and the minimum self-delegation. It joins the bonded set at the end of the block.
fn create_validator<L: Ledger>(
    ledger: &mut L,
    call: &Call<'_>,
    params: &Params,
    c: &IStaking::createValidatorCall,
) -> Outcome<(), L::Error> {
    let operator = call.caller;
    if let Some(v) = operated_by(ledger, operator)? {
        return revert(format!("createValidator: {operator} already operates validator {}", v.name));
    }
    let hex = c.pubKeyHex.strip_prefix("0x").unwrap_or(&c.pubKeyHex);
    let mut pubkey = [0u8; 32];
    if hex.len() != 64 || alloy_primitives::hex::decode_to_slice(hex, &mut pubkey).is_err() {
        return revert("createValidator: pubKeyHex must be an Ed25519 public key, 64 hex characters");
    }
    if !ledger.load(STAKING, Key::consensus_key(&pubkey))?.is_zero() {
        return revert("createValidator: this consensus key belongs to another validator");
    }
    check_moniker(&c.moniker)?;
    let rate = parse_rate(&c.commissionRate, "commissionRate")?;
    let max_rate = parse_rate(&c.commissionMaxRate, "commissionMaxRate")?;
    let max_change = parse_rate(&c.commissionMaxChangeRate, "commissionMaxChangeRate")?;
    if rate < params.min_commission_rate {
        return revert("createValidator: commissionRate is below the minimum commission rate");
    }
    if rate > max_rate {
        return revert("createValidator: commissionRate exceeds commissionMaxRate");
    }
    if max_change > max_rate {
        return revert("createValidator: commissionMaxChangeRate exceeds commissionMaxRate");
    }
    positive(c.minSelfDelegation, "createValidator: minSelfDelegation")?;
    let count = validator_count(ledger)?;
    let Some(next) = count.checked_add(1) else { return revert("createValidator: too many validators") };
    let amount = bond_value(ledger, call, "createValidator")?;
    if amount < c.minSelfDelegation {
        return revert(format!(
            "createValidator: self-delegation of {amount} usei is below minSelfDelegation {}",
            c.minSelfDelegation
        ));
    }
    let index = count;
    ledger.store(STAKING, Key::validator_count(), U256::from(next))?;
    ledger.store(STAKING, Key::validator_index(operator), U256::from(next))?;
    ledger.store(STAKING, Key::consensus_key(&pubkey), U256::from(next))?;
    ledger.store(STAKING, Key::validator(index, FIELD_OPERATOR), U256::from_be_slice(operator.as_slice()))?;
    ledger.store(STAKING, Key::validator(index, FIELD_CONSENSUS_KEY), U256::from_be_bytes(pubkey))?;
    ledger.store(STAKING, Key::validator(index, FIELD_COMMISSION), rate)?;
    ledger.store(STAKING, Key::validator(index, FIELD_MAX_RATE), max_rate)?;
    ledger.store(STAKING, Key::validator(index, FIELD_MAX_CHANGE_RATE), max_change)?;
    ledger.store(STAKING, Key::validator(index, FIELD_MIN_SELF_DELEGATION), c.minSelfDelegation)?;
    ledger.store(STAKING, Key::validator(index, FIELD_COMMISSION_CHANGED_AT), U256::from(ledger.now()))?;
    store_moniker(ledger, index, &c.moniker)?;
    let v = Validator { index, name: valoper(operator) };
    add_delegation(ledger, operator, &v, amount)?;
    emit(
        ledger,
        STAKING,
        &IStaking::ValidatorCreated { creator: operator, validatorAddress: v.name, moniker: c.moniker.clone() },
    );
    Ok(())
}

/// `editValidator`, by the validator's operator: "" keeps the moniker or the commission, 0 the minimum
/// self-delegation. A commission change stays within the max rate, moves by at most the max change rate and
/// happens at most once a day; the minimum self-delegation only rises, and not above the self-delegation.
fn edit_validator<L: Ledger>(
    ledger: &mut L,
    call: &Call<'_>,
    params: &Params,
    c: &IStaking::editValidatorCall,
) -> Outcome<(), L::Error> {
    let Some(v) = operated_by(ledger, call.caller)? else {
        return revert(format!("editValidator: {} operates no validator", call.caller));
    };
    if !c.moniker.is_empty() {
        check_moniker(&c.moniker)?;
        store_moniker(ledger, v.index, &c.moniker)?;
    }
    if !c.commissionRate.is_empty() {
        let new = parse_rate(&c.commissionRate, "commissionRate")?;
        let current = ledger.load(STAKING, Key::validator(v.index, FIELD_COMMISSION))?;
        let max_rate = ledger.load(STAKING, Key::validator(v.index, FIELD_MAX_RATE))?;
        let max_change = ledger.load(STAKING, Key::validator(v.index, FIELD_MAX_CHANGE_RATE))?;
        let changed_at = as_u64(ledger.load(STAKING, Key::validator(v.index, FIELD_COMMISSION_CHANGED_AT))?);
        let now = ledger.now();
        if now < changed_at.saturating_add(COMMISSION_CHANGE_INTERVAL) {
            return revert("editValidator: the commission may change once every 24 hours");
        }
        if new < params.min_commission_rate {
            return revert("editValidator: commissionRate is below the minimum commission rate");
        }
        // Genesis validators have no recorded max rates: theirs are 1 and 1 (any change within [min, 1]).
        let (max_rate, max_change) =
            if max_rate.is_zero() { (U256::from(DEC_ONE), U256::from(DEC_ONE)) } else { (max_rate, max_change) };
        if new > max_rate {
            return revert("editValidator: commissionRate exceeds the validator's max rate");
        }
        if new.abs_diff(current) > max_change {
            return revert("editValidator: the commission change exceeds the validator's max change rate");
        }
        ledger.store(STAKING, Key::validator(v.index, FIELD_COMMISSION), new)?;
        ledger.store(STAKING, Key::validator(v.index, FIELD_COMMISSION_CHANGED_AT), U256::from(now))?;
    }
    if !c.minSelfDelegation.is_zero() {
        let current = ledger.load(STAKING, Key::validator(v.index, FIELD_MIN_SELF_DELEGATION))?;
        if c.minSelfDelegation <= current {
            return revert("editValidator: minSelfDelegation can only increase");
        }
        if c.minSelfDelegation > delegation_amount(ledger, call.caller, v.index)? {
            return revert("editValidator: minSelfDelegation exceeds the validator's self-delegation");
        }
        ledger.store(STAKING, Key::validator(v.index, FIELD_MIN_SELF_DELEGATION), c.minSelfDelegation)?;
    }
    let moniker = load_moniker(ledger, v.index)?;
    emit(ledger, STAKING, &IStaking::ValidatorEdited { editor: call.caller, validatorAddress: v.name, moniker });
    Ok(())
}

fn positive<E>(amount: U256, op: &str) -> Outcome<(), E> {
    if amount.is_zero() {
        revert(format!("{op}: amount must be positive"))
    } else {
        Ok(())
    }
}

pub(crate) fn call<L: Ledger>(ledger: &mut L, call: &Call<'_>) -> Outcome<Bytes, L::Error> {
    let Ok(decoded) = IStaking::IStakingCalls::abi_decode(call.input) else {
        return revert("staking: malformed call data (unknown selector or bad ABI encoding)");
    };
    use IStaking::IStakingCalls as C;
    if !matches!(decoded, C::delegate(_) | C::createValidator(_)) {
        call.nonpayable()?;
    }
    let params = Params::load(ledger)?;
    let out = match decoded {
        C::delegate(c) => {
            call.mutating()?;
            let v = find_validator(ledger, &c.valAddress)?;
            check_not_jailed(ledger, &v)?;
            let amount = bond_value(ledger, call, "delegate")?;
            add_delegation(ledger, call.caller, &v, amount)?;
            emit(ledger, STAKING, &IStaking::Delegate { delegator: call.caller, validator: v.name, amount });
            IStaking::delegateCall::abi_encode_returns(&true)
        }
        C::undelegate(c) => {
            call.mutating()?;
            positive(c.amount, "undelegate")?;
            let v = find_validator(ledger, &c.valAddress)?;
            sub_delegation(ledger, call.caller, &v, c.amount, "undelegate")?;
            let mut free = None;
            for entry in 0..params.max_entries as u8 {
                if ledger.load(STAKING, Key::unbonding(call.caller, v.index, entry, ENTRY_AMOUNT))?.is_zero() {
                    free = Some(entry);
                    break;
                }
            }
            let Some(entry) = free else {
                return revert(format!(
                    "undelegate: too many unbonding entries for this delegator and validator {} (at most {})",
                    v.name, params.max_entries
                ));
            };
            let completion = ledger.now().saturating_add(params.unbonding_time);
            ledger.store(STAKING, Key::unbonding(call.caller, v.index, entry, ENTRY_AMOUNT), c.amount)?;
            ledger.store(
                STAKING,
                Key::unbonding(call.caller, v.index, entry, ENTRY_COMPLETION),
                U256::from(completion),
            )?;
            let height = U256::from(ledger.number());
            ledger.store(STAKING, Key::unbonding(call.caller, v.index, entry, ENTRY_HEIGHT), height)?;
            emit(
                ledger,
                STAKING,
                &IStaking::Undelegate {
                    delegator: call.caller,
                    validator: v.name,
                    amount: c.amount,
                    completionTime: completion,
                },
            );
            IStaking::undelegateCall::abi_encode_returns(&true)
        }
        C::redelegate(c) => {
            call.mutating()?;
            positive(c.amount, "redelegate")?;
            let src = find_validator(ledger, &c.srcAddress)?;
            let dst = find_validator(ledger, &c.dstAddress)?;
            if src.index == dst.index {
                return revert("redelegate: source and destination are the same validator");
            }
            check_not_jailed(ledger, &dst)?;
            let now = ledger.now();
            // As Cosmos: stake that arrived by redelegation cannot move on until that redelegation matures.
            if as_u64(ledger.load(STAKING, Key::incoming_redelegation(call.caller, src.index))?) > now {
                return revert(format!(
                    "redelegate: a redelegation to {} is still maturing; it must complete before redelegating from it",
                    src.name
                ));
            }
            let mut free = None;
            for entry in 0..params.max_entries as u8 {
                let completion = ledger
                    .load(STAKING, Key::redelegation(call.caller, src.index, dst.index, entry, ENTRY_COMPLETION))?;
                if as_u64(completion) <= now {
                    free = Some(entry);
                    break;
                }
            }
            let Some(entry) = free else {
                return revert(format!(
                    "redelegate: too many maturing redelegations from {} to {} (at most {})",
                    src.name, dst.name, params.max_entries
                ));
            };
            sub_delegation(ledger, call.caller, &src, c.amount, "redelegate")?;
            add_delegation(ledger, call.caller, &dst, c.amount)?;
            let completion = now.saturating_add(params.unbonding_time);
            ledger.store(
                STAKING,
                Key::redelegation(call.caller, src.index, dst.index, entry, ENTRY_AMOUNT),
                c.amount,
            )?;
            ledger.store(
                STAKING,
                Key::redelegation(call.caller, src.index, dst.index, entry, ENTRY_COMPLETION),
                U256::from(completion),
            )?;
            let height = U256::from(ledger.number());
            ledger.store(STAKING, Key::redelegation(call.caller, src.index, dst.index, entry, ENTRY_HEIGHT), height)?;
            ledger.store(STAKING, Key::incoming_redelegation(call.caller, dst.index), U256::from(completion))?;
            emit(
                ledger,
                STAKING,
                &IStaking::Redelegate {
                    delegator: call.caller,
                    srcValidator: src.name,
                    dstValidator: dst.name,
                    amount: c.amount,
                    completionTime: completion,
                },
            );
            IStaking::redelegateCall::abi_encode_returns(&true)
        }
        C::createValidator(c) => {
            call.mutating()?;
            create_validator(ledger, call, &params, &c)?;
            IStaking::createValidatorCall::abi_encode_returns(&true)
        }
        C::editValidator(c) => {
            call.mutating()?;
            edit_validator(ledger, call, &params, &c)?;
            IStaking::editValidatorCall::abi_encode_returns(&true)
        }
        C::delegation(c) => {
            let v = find_validator(ledger, &c.valAddress)?;
            let amount = ledger.load(STAKING, Key::delegation(c.delegator, v.index))?;
            let delegation = IStaking::Delegation {
                balance: IStaking::Balance { amount, denom: super::USEI.into() },
                // One share per usei, with Cosmos's 18 share decimals (a slash cuts the delegation itself: the rate stays 1).
                delegation: IStaking::DelegationDetails {
                    delegator_address: sei_address(c.delegator),
                    shares: amount * U256::from(DEC_ONE),
                    decimals: U256::from(18),
                    validator_address: v.name,
                },
            };
            IStaking::delegationCall::abi_encode_returns(&delegation)
        }
        C::unbondingDelegation(c) => {
            let v = find_validator(ledger, &c.valAddress)?;
            let mut entries = Vec::new();
            for entry in 0..params.max_entries as u8 {
                let amount = ledger.load(STAKING, Key::unbonding(c.delegator, v.index, entry, ENTRY_AMOUNT))?;
                if !amount.is_zero() {
                    let completion =
                        ledger.load(STAKING, Key::unbonding(c.delegator, v.index, entry, ENTRY_COMPLETION))?;
                    entries.push(IStaking::UnbondingEntry { amount, completionTime: as_u64(completion) });
                }
            }
            IStaking::unbondingDelegationCall::abi_encode_returns(&entries)
        }
        C::validators(_) => {
            let count = as_u64(ledger.load(STAKING, Key::validator_count())?) as u32;
            let mut out = Vec::with_capacity(count as usize);
            for index in 0..count {
                let operator = operator(ledger, index)?;
                out.push(IStaking::Validator {
                    operatorAddress: valoper(operator),
                    operator,
                    tokens: ledger.load(STAKING, Key::validator(index, FIELD_TOKENS))?,
                    commissionRate: ledger.load(STAKING, Key::validator(index, FIELD_COMMISSION))?,
                    jailed: is_jailed(ledger, index)?,
                    consensusPubkey: ledger.load(STAKING, Key::validator(index, FIELD_CONSENSUS_KEY))?.into(),
                    tombstoned: super::slashing::is_tombstoned(ledger, index)?,
                });
            }
            IStaking::validatorsCall::abi_encode_returns(&out)
        }
        C::params(_) => IStaking::paramsCall::abi_encode_returns(&IStaking::paramsReturn {
            unbondingTime: params.unbonding_time,
            maxEntries: params.max_entries,
            maxValidators: params.max_validators,
            minCommissionRate: params.min_commission_rate,
        }),
    };
    Ok(out.into())
}

/// The staking module's end-of-block logic (order in the module docs). `changed` lists the block's changed
/// slots of `0x…1005` as (key, value at the block's start, value now), in any order.
pub(crate) fn end_block<L: Ledger>(ledger: &mut L, changed: &[(U256, U256, U256)]) -> Outcome<(), L::Error> {
    if ledger.load(STAKING, Key::param(PARAM_ENABLED))?.is_zero() {
        return Ok(());
    }
    let mut changed = changed.to_vec();
    changed.sort_unstable_by_key(|(k, _, _)| *k);
    // (0) Delegators join their validators' lists (for slashing): whoever delegated, or holds an entry (a
    // delegation made and undone within the block shows only its entry).
    for (key, _, new) in &changed {
        let pair = match Key::tag(key) {
            TAG_DELEGATION => Some((Key::delegation_delegator(key), Key::delegation_validator(key))),
            TAG_UNBONDING => Some(Key::parse_unbonding(key)).map(|(d, v, _, _)| (d, v)),
            TAG_REDELEGATION => Some(Key::parse_redelegation(key)),
            _ => None,
        };
        if let Some((delegator, index)) = pair.filter(|_| !new.is_zero()) {
            list_delegator(ledger, delegator, index)?;
        }
    }
    // (1) Bonded tokens follow the delegations.
    let mut deltas: std::collections::BTreeMap<u32, (U256, U256)> = std::collections::BTreeMap::new();
    for (key, old, new) in &changed {
        if Key::tag(key) == TAG_DELEGATION {
            let d = deltas.entry(Key::delegation_validator(key)).or_default();
            d.0 += *new;
            d.1 += *old;
        }
    }
    for (index, (added, removed)) in deltas {
        let key = Key::validator(index, FIELD_TOKENS);
        let tokens = ledger.load(STAKING, key)?;
        ledger.store(STAKING, key, tokens + added - removed)?;
    }
    // (2) New unbonding entries join the queue.
    let first_tail = as_u64(ledger.load(STAKING, Key::queue_bound(1))?);
    let mut tail = first_tail;
    for (key, old, new) in &changed {
        if Key::tag(key) == TAG_UNBONDING {
            let (delegator, validator, entry, field) = Key::parse_unbonding(key);
            if field == ENTRY_AMOUNT && old.is_zero() && !new.is_zero() {
                ledger.store(STAKING, Key::queue(tail), Key::unbonding(delegator, validator, entry, ENTRY_AMOUNT))?;
                tail += 1;
            }
        }
    }
    if tail != first_tail {
        ledger.store(STAKING, Key::queue_bound(1), U256::from(tail))?;
    }
    // (3) Matured entries are paid out, oldest first.
    let now = ledger.now();
    let first_head = as_u64(ledger.load(STAKING, Key::queue_bound(0))?);
    let mut head = first_head;
    while head < tail {
        let amount_key = ledger.load(STAKING, Key::queue(head))?;
        let (delegator, validator, entry, _) = Key::parse_unbonding(&amount_key);
        let completion_key = Key::unbonding(delegator, validator, entry, ENTRY_COMPLETION);
        if as_u64(ledger.load(STAKING, completion_key)?) > now {
            break;
        }
        let amount = ledger.load(STAKING, amount_key)?;
        let Some(wei) = usei_to_wei(amount) else { return revert("unbonding amount overflows") };
        ledger.add_balance(delegator, wei)?;
        let name = valoper(operator(ledger, validator)?);
        emit(ledger, STAKING, &IStaking::UnbondingCompleted { delegator, validator: name, amount });
        ledger.store(STAKING, amount_key, U256::ZERO)?;
        ledger.store(STAKING, completion_key, U256::ZERO)?;
        ledger.store(STAKING, Key::unbonding(delegator, validator, entry, ENTRY_HEIGHT), U256::ZERO)?;
        ledger.store(STAKING, Key::queue(head), U256::ZERO)?;
        head += 1;
    }
    if head != first_head {
        ledger.store(STAKING, Key::queue_bound(0), U256::from(head))?;
    }
    Ok(())
}
