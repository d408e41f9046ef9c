//! The slashing module at `0x…1014`, with Sei's precompile ABI (`precompiles/slashing/Slashing.sol`: `unjail`,
//! `params`, `signingInfo`, `signingInfos`) plus pysei's `slashingInfo` query.
//!
//! Consensus hands each block two inputs (`ConsensusInputs`), which the end of the block applies, after staking's
//! end of block and before distribution allocates the block's rewards (so a validator jailed here earns none of
//! them, and leaves the committee recorded at the next epoch boundary):
//! - evidence of a double sign (two conflicting votes, lane blocks or proposals): the validator with that
//!   consensus key, unless tombstoned, loses `slash_fraction_double_sign` of its stake (`staking::slash`), is
//!   jailed for good and tombstoned — later evidence against it is ignored and it can never unjail;
//! - the commit's signers: each member of the block's epoch committee that is not among them missed the block.
//!   Misses are kept in a sliding window of `signed_blocks_window` blocks (a bitmap, as Cosmos keeps it); once a
//!   whole window has been observed, more than `window × (1 − min_signed_per_window)` misses slash
//!   `slash_fraction_downtime`, jail the validator until `now + downtime_jail_duration` and restart its window.
//!
//! Slashed usei are burned (the bank's supply drops). End-of-block work has no receipt, so these events are not
//! logs: `slashingInfo` (and `pysei query signing-info`) shows jailing, tombstoning, misses and slashes.
//!
//! State layout (slots of `0x…1014`, see `Key`): parameters; per validator index its signing info (window start
//! and offset, misses, jailed-until, tombstone, slash count and total) and its missed-block bitmap.

use alloy_primitives::{address, Address, Bytes, U256};
use alloy_sol_types::{sol, SolCall, SolInterface};
use sha2::{Digest, Sha256};

use super::{
    bank, bech32_address, emit, parse_address, revert, slot_key, staking,
    staking::{Member, DEC_ONE},
    validator_slot, Call, ConsensusInputs, Ledger, Outcome,
};

pub(crate) const SLASHING: Address = address!("0000000000000000000000000000000000001014");

sol! {
    /// Sei's slashing precompile interface plus pysei's `slashingInfo` query and `Unjailed` event (Sei's
    /// slashing precompile emits no EVM events).
    #[sol(abi)]
    interface ISlashing {
        struct SlashingParams {
            int64 signedBlocksWindow;
            string minSignedPerWindow;
            uint64 downtimeJailDuration;
            string slashFractionDoubleSign;
            string slashFractionDowntime;
        }

        struct SigningInfo {
            string validatorAddress;
            int64 startHeight;
            int64 indexOffset;
            int64 jailedUntil;
            bool tombstoned;
            int64 missedBlocksCounter;
        }

        struct SigningInfosResponse {
            SigningInfo[] signingInfos;
            bytes nextKey;
        }

        function unjail() external returns (bool success);
        function params() external view returns (SlashingParams params);
        function signingInfo(string consAddress) external view returns (SigningInfo signingInfo);
        function signingInfos(bytes pageKey) external view returns (SigningInfosResponse response);

        // pysei query: a validator (seivaloper1…, 0x… operator or seivalcons1…) with its jail state and slashes.
        function slashingInfo(string validator) external view returns (SigningInfo signingInfo, string operatorAddress, bool jailed, uint64 slashCount, uint256 slashedUsei);

        event Unjailed(address indexed operator, string validator);
        /// pysei's (end of block, so a system log: see `records::system_tx_hash`): a slash and the jail that
        /// comes with it; `reason` is Cosmos's "double_sign" or "missing_signature".
        event Slashed(address indexed operator, string validator, string reason, uint256 slashedUsei, uint64 jailedUntil);
    }
}

/// Slot keys: a tag byte, then fixed-width fields, as `staking::Key`. Injective by construction.
pub(crate) struct Key;

const TAG_PARAM: u8 = 1;
const TAG_INFO: u8 = 2;
const TAG_MISSED: u8 = 3;

const PARAM_ENABLED: u8 = 0;
pub(crate) const PARAM_SIGNED_BLOCKS_WINDOW: u8 = 1;
pub(crate) const PARAM_MIN_SIGNED_PER_WINDOW: u8 = 2;
pub(crate) const PARAM_DOWNTIME_JAIL_DURATION: u8 = 3;
pub(crate) const PARAM_SLASH_FRACTION_DOUBLE_SIGN: u8 = 4;
pub(crate) const PARAM_SLASH_FRACTION_DOWNTIME: u8 = 5;

/// Height from which the validator's window counts (its first committee block, or its last reset).
const INFO_START_HEIGHT: u8 = 0;
/// Blocks observed in the window since the start.
const INFO_OFFSET: u8 = 1;
const INFO_MISSED: u8 = 2;
const INFO_JAILED_UNTIL: u8 = 3;
const INFO_TOMBSTONED: u8 = 4;
const INFO_SLASH_COUNT: u8 = 5;
const INFO_SLASHED: u8 = 6;
/// The window length the bitmap was kept for (a governance change of the window restarts it).
const INFO_WINDOW: u8 = 7;

/// Jailed-until of a tombstoned validator: never (Cosmos uses the year 9999).
const FOREVER: u64 = 253_402_300_799;

/// Bits per bitmap slot.
const WORD_BITS: u64 = 256;

impl Key {
    pub(crate) fn param(id: u8) -> U256 {
        slot_key(TAG_PARAM, |b| b[31] = id)
    }

    fn info(index: u32, field: u8) -> U256 {
        validator_slot(TAG_INFO, index, field)
    }

    fn missed(index: u32, word: u64) -> U256 {
        slot_key(TAG_MISSED, |b| {
            b[1..5].copy_from_slice(&index.to_be_bytes());
            b[24..32].copy_from_slice(&word.to_be_bytes());
        })
    }
}

fn as_u64(value: U256) -> u64 {
    value.saturating_to()
}

/// Parameters of the slashing module (genesis values, changeable by governance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) signed_blocks_window: u64,
    /// 18-decimal fractions, as Cosmos `Dec`.
    pub(crate) min_signed_per_window: U256,
    pub(crate) downtime_jail_duration: u64,
    pub(crate) slash_fraction_double_sign: U256,
    pub(crate) slash_fraction_downtime: U256,
}

/// The largest slash fraction: below 1, so that a slashed unbonding entry never drops to zero while it waits
/// in the maturity queue (a zero amount marks a free entry).
pub(crate) const MAX_SLASH_FRACTION: u64 = DEC_ONE - 1;

impl Params {
    fn validate(&self) -> Result<(), String> {
        if self.signed_blocks_window == 0 {
            return Err("slashing: signed_blocks_window must be at least 1".into());
        }
        if self.min_signed_per_window > U256::from(DEC_ONE) {
            return Err("slashing: min_signed_per_window must be within [0, 1]".into());
        }
        for (name, f) in [("double_sign", self.slash_fraction_double_sign), ("downtime", self.slash_fraction_downtime)]
        {
            if f > U256::from(MAX_SLASH_FRACTION) {
                return Err(format!("slashing: slash_fraction_{name} must be within [0, 1)"));
            }
        }
        Ok(())
    }

    /// The parameters in force, `None` on a chain without the module's genesis state.
    fn load<L: Ledger>(ledger: &mut L) -> Outcome<Option<Self>, L::Error> {
        if ledger.load(SLASHING, Key::param(PARAM_ENABLED))?.is_zero() {
            return Ok(None);
        }
        Ok(Some(Self {
            signed_blocks_window: as_u64(ledger.load(SLASHING, Key::param(PARAM_SIGNED_BLOCKS_WINDOW))?).max(1),
            min_signed_per_window: ledger.load(SLASHING, Key::param(PARAM_MIN_SIGNED_PER_WINDOW))?,
            downtime_jail_duration: as_u64(ledger.load(SLASHING, Key::param(PARAM_DOWNTIME_JAIL_DURATION))?),
            slash_fraction_double_sign: ledger.load(SLASHING, Key::param(PARAM_SLASH_FRACTION_DOUBLE_SIGN))?,
            slash_fraction_downtime: ledger.load(SLASHING, Key::param(PARAM_SLASH_FRACTION_DOWNTIME))?,
        }))
    }

    /// Misses allowed in a window: `window × (1 − min_signed_per_window)`, rounded down.
    fn max_missed(&self) -> u64 {
        let window = U256::from(self.signed_blocks_window);
        let min_signed = window * self.min_signed_per_window / U256::from(DEC_ONE);
        as_u64(window - min_signed.min(window))
    }
}

/// The module's genesis slots: the parameters, and the jailed-until time of each validator that starts jailed
/// (`(validator index, jailed until)`).
pub(crate) fn genesis(params: &Params, jailed: &[(u32, u64)]) -> Result<super::Slots, String> {
    params.validate()?;
    let mut slots = vec![
        (Key::param(PARAM_ENABLED), U256::from(1)),
        (Key::param(PARAM_SIGNED_BLOCKS_WINDOW), U256::from(params.signed_blocks_window)),
        (Key::param(PARAM_MIN_SIGNED_PER_WINDOW), params.min_signed_per_window),
        (Key::param(PARAM_DOWNTIME_JAIL_DURATION), U256::from(params.downtime_jail_duration)),
        (Key::param(PARAM_SLASH_FRACTION_DOUBLE_SIGN), params.slash_fraction_double_sign),
        (Key::param(PARAM_SLASH_FRACTION_DOWNTIME), params.slash_fraction_downtime),
    ];
    slots.extend(jailed.iter().map(|(index, until)| (Key::info(*index, INFO_JAILED_UNTIL), U256::from(*until))));
    Ok(slots)
}

pub(crate) fn is_tombstoned<L: Ledger>(ledger: &mut L, index: u32) -> Outcome<bool, L::Error> {
    Ok(!ledger.load(SLASHING, Key::info(index, INFO_TOMBSTONED))?.is_zero())
}

/// Slashes `fraction` of validator `index` for an infraction at `height`, burns it and records it; jails the
/// validator until `jailed_until`.
fn punish<L: Ledger>(
    ledger: &mut L,
    index: u32,
    fraction: U256,
    height: u64,
    jailed_until: u64,
    reason: &str,
) -> Outcome<(), L::Error> {
    let slashed = staking::slash(ledger, index, fraction, height)?;
    let operator = staking::operator(ledger, index)?;
    let event = ISlashing::Slashed {
        operator,
        validator: staking::valoper(operator),
        reason: reason.into(),
        slashedUsei: slashed,
        jailedUntil: jailed_until,
    };
    emit(ledger, SLASHING, &event);
    bank::burn(ledger, slashed)?;
    staking::set_jailed(ledger, index, true)?;
    ledger.store(SLASHING, Key::info(index, INFO_JAILED_UNTIL), U256::from(jailed_until))?;
    let count = ledger.load(SLASHING, Key::info(index, INFO_SLASH_COUNT))?;
    ledger.store(SLASHING, Key::info(index, INFO_SLASH_COUNT), count + U256::from(1))?;
    let total = ledger.load(SLASHING, Key::info(index, INFO_SLASHED))?;
    ledger.store(SLASHING, Key::info(index, INFO_SLASHED), total + slashed)
}

/// The slashing module's end of block (see the module docs): evidence in block order, then the commit's
/// signers against the block's epoch committee.
pub(crate) fn end_block<L: Ledger>(ledger: &mut L, consensus: &ConsensusInputs) -> Outcome<(), L::Error> {
    let Some(params) = Params::load(ledger)? else { return Ok(()) };
    let number = ledger.number();
    for infraction in &consensus.evidence {
        // Evidence of a height not reached yet cannot be genuine.
        if infraction.height > number {
            continue;
        }
        let Some(index) = staking::by_consensus_key(ledger, &infraction.pubkey)? else { continue };
        if is_tombstoned(ledger, index)? {
            continue;
        }
        punish(ledger, index, params.slash_fraction_double_sign, infraction.height, FOREVER, "double_sign")?;
        ledger.store(SLASHING, Key::info(index, INFO_TOMBSTONED), U256::from(1))?;
    }
    let Some(signers) = &consensus.signers else { return Ok(()) };
    let epoch = staking::epoch_of(number, staking::epoch_blocks(ledger)?);
    let Some(committee) = staking::committee(ledger, epoch)? else { return Ok(()) };
    let signers: std::collections::HashSet<&[u8; 32]> = signers.iter().collect();
    for Member { pubkey, index, .. } in committee {
        if staking::is_jailed(ledger, index)? {
            continue;
        }
        track_liveness(ledger, &params, index, !signers.contains(&pubkey))?;
    }
    Ok(())
}

/// Records whether validator `index` missed this block in its window, and jails it for downtime when it
/// missed too many of a whole window.
fn track_liveness<L: Ledger>(ledger: &mut L, params: &Params, index: u32, missed: bool) -> Outcome<(), L::Error> {
    let window = params.signed_blocks_window;
    if as_u64(ledger.load(SLASHING, Key::info(index, INFO_WINDOW))?) != window {
        // First observed, or the window length changed: a fresh window of the new length.
        reset_window(ledger, index)?;
        ledger.store(SLASHING, Key::info(index, INFO_WINDOW), U256::from(window))?;
    }
    let offset = as_u64(ledger.load(SLASHING, Key::info(index, INFO_OFFSET))?);
    let position = offset % window;
    let word_key = Key::missed(index, position / WORD_BITS);
    let word = ledger.load(SLASHING, word_key)?;
    let bit = U256::from(1) << (position % WORD_BITS) as usize;
    let was_missed = !(word & bit).is_zero();
    let mut count = as_u64(ledger.load(SLASHING, Key::info(index, INFO_MISSED))?);
    if missed != was_missed {
        ledger.store(SLASHING, word_key, word ^ bit)?;
        count = if missed { count + 1 } else { count - 1 };
        ledger.store(SLASHING, Key::info(index, INFO_MISSED), U256::from(count))?;
    }
    let observed = offset + 1;
    ledger.store(SLASHING, Key::info(index, INFO_OFFSET), U256::from(observed))?;
    if observed >= window && count > params.max_missed() {
        let until = ledger.now().saturating_add(params.downtime_jail_duration);
        let number = ledger.number();
        punish(ledger, index, params.slash_fraction_downtime, number, until, "missing_signature")?;
        reset_window(ledger, index)?;
    }
    Ok(())
}

/// Clears validator `index`'s window: no misses, counting from this block.
fn reset_window<L: Ledger>(ledger: &mut L, index: u32) -> Outcome<(), L::Error> {
    let window = as_u64(ledger.load(SLASHING, Key::info(index, INFO_WINDOW))?);
    for word in 0..window.div_ceil(WORD_BITS) {
        let key = Key::missed(index, word);
        if !ledger.load(SLASHING, key)?.is_zero() {
            ledger.store(SLASHING, key, U256::ZERO)?;
        }
    }
    let number = ledger.number();
    ledger.store(SLASHING, Key::info(index, INFO_START_HEIGHT), U256::from(number))?;
    ledger.store(SLASHING, Key::info(index, INFO_OFFSET), U256::ZERO)?;
    ledger.store(SLASHING, Key::info(index, INFO_MISSED), U256::ZERO)
}

/// A consensus key's Cosmos consensus address, `seivalcons1…`: the first 20 bytes of its SHA-256.
fn valcons(pubkey: &[u8; 32]) -> String {
    bech32_address("seivalcons", Address::from_slice(&Sha256::digest(pubkey)[..20]))
}

/// The validator named by `text`: `seivalcons1…` (its consensus address), `seivaloper1…` or `0x…` (operator).
fn find<L: Ledger>(ledger: &mut L, text: &str) -> Outcome<u32, L::Error> {
    if text.starts_with("seivalcons1") {
        let Some(consensus) = parse_address(text, "seivalcons") else {
            return revert(format!("{text:?} is not a consensus address"));
        };
        for index in 0..staking::validator_count(ledger)? {
            if let Some(key) = staking::consensus_key(ledger, index)? {
                if Sha256::digest(key)[..20] == consensus[..] {
                    return Ok(index);
                }
            }
        }
        return revert(format!("no validator has the consensus address {text}"));
    }
    Ok(staking::find_validator(ledger, text)?.index)
}

fn signing_info<L: Ledger>(ledger: &mut L, index: u32) -> Outcome<ISlashing::SigningInfo, L::Error> {
    let field = |ledger: &mut L, f| {
        Ok::<_, super::Failure<L::Error>>(as_u64(ledger.load(SLASHING, Key::info(index, f))?) as i64)
    };
    Ok(ISlashing::SigningInfo {
        validatorAddress: staking::consensus_key(ledger, index)?.as_ref().map(valcons).unwrap_or_default(),
        startHeight: field(ledger, INFO_START_HEIGHT)?,
        indexOffset: field(ledger, INFO_OFFSET)?,
        jailedUntil: field(ledger, INFO_JAILED_UNTIL)?,
        tombstoned: is_tombstoned(ledger, index)?,
        missedBlocksCounter: field(ledger, INFO_MISSED)?,
    })
}

/// A fraction as Cosmos prints a `Dec`: 18 decimals.
fn dec_string(value: U256) -> String {
    let one = U256::from(DEC_ONE);
    format!("{}.{:018}", value / one, (value % one).to::<u64>())
}

pub(crate) fn call<L: Ledger>(ledger: &mut L, call: &Call<'_>) -> Outcome<Bytes, L::Error> {
    let Ok(decoded) = ISlashing::ISlashingCalls::abi_decode(call.input) else {
        return revert("slashing: malformed call data (unknown selector or bad ABI encoding)");
    };
    use ISlashing::ISlashingCalls as C;
    call.nonpayable()?;
    let Some(params) = Params::load(ledger)? else {
        return revert("slashing: the module has no genesis state on this chain");
    };
    let out = match decoded {
        C::unjail(_) => {
            call.mutating()?;
            unjail(ledger, call.caller)?;
            ISlashing::unjailCall::abi_encode_returns(&true)
        }
        C::params(_) => ISlashing::paramsCall::abi_encode_returns(&ISlashing::SlashingParams {
            signedBlocksWindow: params.signed_blocks_window as i64,
            minSignedPerWindow: dec_string(params.min_signed_per_window),
            downtimeJailDuration: params.downtime_jail_duration,
            slashFractionDoubleSign: dec_string(params.slash_fraction_double_sign),
            slashFractionDowntime: dec_string(params.slash_fraction_downtime),
        }),
        C::signingInfo(c) => {
            let index = find(ledger, &c.consAddress)?;
            ISlashing::signingInfoCall::abi_encode_returns(&signing_info(ledger, index)?)
        }
        C::signingInfos(_) => {
            // One page: every validator with a consensus key.
            let mut infos = Vec::new();
            for index in 0..staking::validator_count(ledger)? {
                if staking::consensus_key(ledger, index)?.is_some() {
                    infos.push(signing_info(ledger, index)?);
                }
            }
            ISlashing::signingInfosCall::abi_encode_returns(&ISlashing::SigningInfosResponse {
                signingInfos: infos,
                nextKey: Bytes::new(),
            })
        }
        C::slashingInfo(c) => {
            let index = find(ledger, &c.validator)?;
            let operator = staking::operator(ledger, index)?;
            ISlashing::slashingInfoCall::abi_encode_returns(&ISlashing::slashingInfoReturn {
                signingInfo: signing_info(ledger, index)?,
                operatorAddress: staking::valoper(operator),
                jailed: staking::is_jailed(ledger, index)?,
                slashCount: as_u64(ledger.load(SLASHING, Key::info(index, INFO_SLASH_COUNT))?),
                slashedUsei: ledger.load(SLASHING, Key::info(index, INFO_SLASHED))?,
            })
        }
    };
    Ok(out.into())
}

/// `unjail`, by the validator's operator, once its jail time has passed; a tombstoned validator stays jailed.
fn unjail<L: Ledger>(ledger: &mut L, operator: Address) -> Outcome<(), L::Error> {
    let Some(index) = staking::operated_by(ledger, operator)?.map(|v| v.index) else {
        return revert(format!("unjail: {operator} is not a validator operator"));
    };
    let name = staking::valoper(operator);
    if !staking::is_jailed(ledger, index)? {
        return revert(format!("unjail: validator {name} is not jailed"));
    }
    if is_tombstoned(ledger, index)? {
        return revert(format!("unjail: validator {name} is tombstoned (double sign) and can never be unjailed"));
    }
    let until = as_u64(ledger.load(SLASHING, Key::info(index, INFO_JAILED_UNTIL))?);
    if ledger.now() < until {
        return revert(format!("unjail: validator {name} is jailed until {until} (block time now {})", ledger.now()));
    }
    staking::set_jailed(ledger, index, false)?;
    emit(ledger, SLASHING, &ISlashing::Unjailed { operator, validator: name });
    Ok(())
}
