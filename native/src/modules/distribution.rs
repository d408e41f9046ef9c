//! The distribution module at `0x…1007`, with Sei's precompile ABI: the fees the fee collector took in during
//! a block and the block reward (minted, `block_reward_usei` per block, default 0) are split at the end of the
//! block: the community tax to the community pool, the rest across the bonded validators by voting power, each
//! validator's commission to its commission account and what is left to its delegators by stake.
//!
//! Delegators are paid lazily with the F1 fee-distribution scheme, never by a loop over delegators: each
//! validator has a cumulative reward ratio (reward per share of its stake since genesis), which only the end
//! of a block raises; a delegation records the ratio at its start, and its pending reward is `stake ×
//! (ratio now − ratio at start)`. Cosmos numbers the periods between two ratio changes and stores each
//! period's ratio, because it closes a period whenever a delegation changes; here the ratio changes only at
//! the end of a block and a delegation's stake only changes with a settlement, so the delegation stores the
//! starting ratio itself and no per-period table (nor its reference counting, a write shared by every
//! delegator of the validator) is needed. The ratio is per share (one share per usei today), so a slash that
//! lowers tokens per share would not change it.
//!
//! A transaction writes only its delegator's slots: settling a delegation (a withdrawal, and every
//! delegate/undelegate/redelegate first) pays the reward and moves the delegation's starting ratio to the
//! current one. The validator's outstanding rewards and the community pool are brought up to date at the end
//! of the block from the block's changed starting ratios (each one is a settlement of a stake that the block's
//! change set also shows), so withdrawals from one validator never conflict with each other.
//!
//! Amounts in the books (community pool, commission, outstanding rewards) are in units of 10^-30 usei
//! (10^-18 wei), integers, and the ratio in those units per share. Rounding, all toward zero, with every
//! remainder to the community pool, so the books always add up exactly: total supply × 10^30 = (Σ EVM
//! balances in usei + bonded + unbonding) × 10^30 + community pool + Σ commission + Σ outstanding rewards.
//! - the validators' shares: `(total − tax) × tokens / power`; the remainder of the split to the pool;
//! - the delegators' ratio step: `delegators' part / tokens`; the remainder (below one unit per share) to the pool;
//! - a withdrawal pays whole usei, as Sei; the part of a usei left over goes to the pool (as Cosmos does);
//! - commission is withdrawn in whole usei; the fraction stays in the validator's commission.
//!
//! State layout (slots of `0x…1007`, see `Key`): parameters, the community pool, per validator the ratio,
//! outstanding rewards and commission, per (delegator, validator) the starting ratio, per delegator its
//! withdraw address.
//!
//! What governance uses: `Key::param` with `PARAM_COMMUNITY_TAX`/`PARAM_BLOCK_REWARD` (parameter-change proposals
//! write those slots, see `governance::PARAMS`) and `community_pool_spend` (community-pool-spend proposals).

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{address, Address, Bytes, U256};
use alloy_sol_types::{sol, SolCall, SolInterface};

use super::{
    bank, emit, pair_slot, revert, slot_key, staking,
    staking::{find_validator, Validator, DEC_ONE},
    validator_slot, Call, Ledger, Outcome, DISTRIBUTION, STAKING, USEI, WEI_PER_USEI,
};

sol! {
    /// Sei's distribution precompile interface (`precompiles/distribution/Distribution.sol`) plus pysei's
    /// queries.
    #[sol(abi)]
    interface IDistr {
        struct Coin {
            uint256 amount;
            uint256 decimals;
            string denom;
        }

        struct Reward {
            Coin[] coins;
            string validator_address;
        }

        struct Rewards {
            Reward[] rewards;
            Coin[] total;
        }

        function setWithdrawAddress(address withdrawAddr) external returns (bool success);
        function withdrawDelegationRewards(string validator) external returns (bool success);
        function withdrawMultipleDelegationRewards(string[] validators) external returns (bool success);
        function withdrawValidatorCommission(string validator) external returns (bool success);
        function rewards(address delegatorAddress) external view returns (Rewards rewards);

        // pysei queries (exact amounts: usei with 30 decimals, the books' unit)
        function params() external view returns (uint256 communityTax, uint256 blockRewardUsei);
        function communityPool() external view returns (Coin[] pool);
        function validatorDistribution(string validator) external view returns (Coin[] outstandingRewards, Coin[] commission);
        function withdrawAddress(address delegator) external view returns (address withdrawAddr);

        event WithdrawAddressSet(address indexed delegator, address withdrawAddr);
        event DelegationRewardsWithdrawn(address indexed delegator, string validator, uint256 amount);
        event MultipleDelegationRewardsWithdrawn(address indexed delegator, string[] validators, uint256[] amounts);
        event ValidatorCommissionWithdrawn(string indexed validator, uint256 amount);
    }
}

/// Sei's `fee_collector` module account: every block's COINBASE, so it receives every transaction's fee.
pub(crate) const FEE_COLLECTOR: Address = address!("f1829676db577682e944fc3493d451b67ff3e29f");

/// Book units per usei (10^30: 10^-18 wei).
const UNITS_PER_USEI: U256 = U256::from_limbs([0x4674_edea_4000_0000, 0xc_9f2c_9cd0, 0, 0]);

/// Sei's `rewards()` answers in usei with 18 decimals (a Cosmos `Dec`): book units / 10^12.
const SEI_DECIMALS: u64 = 18;
const BOOK_DECIMALS: u64 = 30;

/// Slot keys: a tag byte, then fixed-width fields, as `staking::Key`. Injective by construction.
pub(crate) struct Key;

const TAG_PARAM: u8 = 1;
const TAG_COMMUNITY_POOL: u8 = 2;
const TAG_VALIDATOR: u8 = 3;
const TAG_START: u8 = 4;
const TAG_WITHDRAW_ADDRESS: u8 = 5;

const PARAM_ENABLED: u8 = 0;
pub(crate) const PARAM_COMMUNITY_TAX: u8 = 1;
pub(crate) const PARAM_BLOCK_REWARD: u8 = 2;

const FIELD_RATIO: u8 = 0;
const FIELD_OUTSTANDING: u8 = 1;
const FIELD_COMMISSION: u8 = 2;

impl Key {
    pub(crate) fn param(id: u8) -> U256 {
        slot_key(TAG_PARAM, |b| b[31] = id)
    }

    fn community_pool() -> U256 {
        slot_key(TAG_COMMUNITY_POOL, |_| ())
    }

    fn validator(index: u32, field: u8) -> U256 {
        validator_slot(TAG_VALIDATOR, index, field)
    }

    /// The ratio at which `delegator`'s delegation to validator `index` last settled.
    fn start(delegator: Address, index: u32) -> U256 {
        pair_slot(TAG_START, delegator, index)
    }

    fn withdraw_address(delegator: Address) -> U256 {
        slot_key(TAG_WITHDRAW_ADDRESS, |b| b[1..21].copy_from_slice(delegator.as_slice()))
    }

    /// (delegator, validator) of a starting-ratio key, `None` for any other key.
    fn parse_start(key: &U256) -> Option<(Address, u32)> {
        let b = key.to_be_bytes::<32>();
        (b[0] == TAG_START).then(|| (Address::from_slice(&b[1..21]), u32::from_be_bytes([b[21], b[22], b[23], b[24]])))
    }
}

/// Parameters of the distribution module (genesis values, changeable by governance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    /// The share of each block's fees and reward that goes to the community pool (18-decimal fixed point;
    /// Sei keeps Cosmos's default, 0.02).
    pub(crate) community_tax: U256,
    /// Usei minted at the end of every block and distributed with the fees (0: no inflation).
    pub(crate) block_reward_usei: U256,
}

impl Params {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.community_tax > U256::from(DEC_ONE) {
            return Err("distribution: community_tax must be within [0, 1]".into());
        }
        // A reward per block above the supply cap of U256 usei would overflow the books at once.
        if self.block_reward_usei > U256::from(u128::MAX) {
            return Err("distribution: block_reward_usei is too large".into());
        }
        Ok(())
    }

    /// The parameters in force, `None` on a chain without the module's genesis state.
    pub(crate) fn load<L: Ledger>(ledger: &mut L) -> Outcome<Option<Self>, L::Error> {
        if ledger.load(DISTRIBUTION, Key::param(PARAM_ENABLED))?.is_zero() {
            return Ok(None);
        }
        Ok(Some(Self {
            community_tax: ledger.load(DISTRIBUTION, Key::param(PARAM_COMMUNITY_TAX))?,
            block_reward_usei: ledger.load(DISTRIBUTION, Key::param(PARAM_BLOCK_REWARD))?,
        }))
    }

    fn genesis_slots(&self) -> super::Slots {
        vec![
            (Key::param(PARAM_ENABLED), U256::from(1)),
            (Key::param(PARAM_COMMUNITY_TAX), self.community_tax),
            (Key::param(PARAM_BLOCK_REWARD), self.block_reward_usei),
        ]
    }
}

/// The module's genesis slots.
pub(crate) fn genesis(params: &Params) -> Result<super::Slots, String> {
    params.validate()?;
    Ok(params.genesis_slots())
}

fn overflow<T, E>() -> Outcome<T, E> {
    revert("distribution: amount overflows")
}

fn add_to<L: Ledger>(ledger: &mut L, key: U256, amount: U256) -> Outcome<(), L::Error> {
    if amount.is_zero() {
        return Ok(());
    }
    let current = ledger.load(DISTRIBUTION, key)?;
    let Some(sum) = current.checked_add(amount) else { return overflow() };
    ledger.store(DISTRIBUTION, key, sum)
}

/// The community pool in whole usei (the books keep a fraction below that too).
#[cfg(test)]
pub(crate) fn community_pool_usei<L: Ledger>(ledger: &mut L) -> Outcome<U256, L::Error> {
    Ok(ledger.load(DISTRIBUTION, Key::community_pool())? / UNITS_PER_USEI)
}

/// Pays `usei` out of the community pool to `to` (a community-pool-spend proposal); reverts, changing
/// nothing, when the pool holds less.
pub(crate) fn community_pool_spend<L: Ledger>(ledger: &mut L, to: Address, usei: U256) -> Outcome<(), L::Error> {
    let pool = ledger.load(DISTRIBUTION, Key::community_pool())?;
    let Some(units) = usei.checked_mul(UNITS_PER_USEI) else { return overflow() };
    if units > pool {
        return revert(format!(
            "community pool spend: the pool holds {} usei, less than {usei} usei",
            pool / UNITS_PER_USEI
        ));
    }
    ledger.store(DISTRIBUTION, Key::community_pool(), pool - units)?;
    ledger.add_balance(to, usei * U256::from(WEI_PER_USEI))
}

/// Where `delegator`'s rewards are paid: its withdraw address, itself unless set.
fn withdraw_address<L: Ledger>(ledger: &mut L, delegator: Address) -> Outcome<Address, L::Error> {
    let word = ledger.load(DISTRIBUTION, Key::withdraw_address(delegator))?;
    Ok(if word.is_zero() { delegator } else { Address::from_slice(&word.to_be_bytes::<32>()[12..]) })
}

/// `stake × (ratio − start)` in book units: what a delegation has earned since its starting ratio.
fn earned<E>(stake: U256, ratio: U256, start: U256) -> Outcome<U256, E> {
    match stake.checked_mul(ratio.saturating_sub(start)) {
        Some(units) => Ok(units),
        None => overflow(),
    }
}

/// Settles `delegator`'s delegation to `v`: pays its pending reward in whole usei to the withdraw address and
/// moves its starting ratio to the current one. Returns the usei paid. Writes only the delegator's own slots
/// (and the recipient's balance); the books follow at the end of the block (`settle_block`). Staking calls it
/// before every change of a delegation.
pub(crate) fn settle<L: Ledger>(ledger: &mut L, delegator: Address, v: &Validator) -> Outcome<U256, L::Error> {
    Ok(settle_units(ledger, delegator, v)? / UNITS_PER_USEI)
}

/// `settle` at the end of a block, after `settle_block` took the block's settlements into the books (a slash
/// changes delegations there): the books follow at once.
pub(crate) fn settle_in_end_block<L: Ledger>(
    ledger: &mut L,
    delegator: Address,
    v: &Validator,
) -> Outcome<(), L::Error> {
    let units = settle_units(ledger, delegator, v)?;
    let key = Key::validator(v.index, FIELD_OUTSTANDING);
    let outstanding = ledger.load(DISTRIBUTION, key)?;
    let Some(left) = outstanding.checked_sub(units) else {
        return revert("distribution: a settlement exceeds the validator's outstanding rewards");
    };
    ledger.store(DISTRIBUTION, key, left)?;
    add_to(ledger, Key::community_pool(), units % UNITS_PER_USEI)
}

/// `settle`, returning the book units earned (whole usei of them paid).
fn settle_units<L: Ledger>(ledger: &mut L, delegator: Address, v: &Validator) -> Outcome<U256, L::Error> {
    let ratio = ledger.load(DISTRIBUTION, Key::validator(v.index, FIELD_RATIO))?;
    let start_key = Key::start(delegator, v.index);
    let start = ledger.load(DISTRIBUTION, start_key)?;
    if ratio == start {
        return Ok(U256::ZERO);
    }
    let stake = staking::delegation_amount(ledger, delegator, v.index)?;
    let units = earned(stake, ratio, start)?;
    let usei = units / UNITS_PER_USEI;
    ledger.store(DISTRIBUTION, start_key, ratio)?;
    if !usei.is_zero() {
        let to = withdraw_address(ledger, delegator)?;
        ledger.add_balance(to, usei * U256::from(WEI_PER_USEI))?;
        emit(
            ledger,
            DISTRIBUTION,
            &IDistr::DelegationRewardsWithdrawn { delegator, validator: v.name.clone(), amount: usei },
        );
    }
    Ok(units)
}

fn coins(amount: U256, decimals: u64) -> Vec<IDistr::Coin> {
    if amount.is_zero() {
        vec![]
    } else {
        vec![IDistr::Coin { amount, decimals: U256::from(decimals), denom: USEI.into() }]
    }
}

fn withdraw_delegation<L: Ledger>(ledger: &mut L, delegator: Address, text: &str) -> Outcome<U256, L::Error> {
    let v = find_validator(ledger, text)?;
    if staking::delegation_amount(ledger, delegator, v.index)?.is_zero() {
        return revert(format!("withdraw: {delegator} has no delegation to {}", v.name));
    }
    settle(ledger, delegator, &v)
}

pub(crate) fn call<L: Ledger>(ledger: &mut L, call: &Call<'_>) -> Outcome<Bytes, L::Error> {
    let Ok(decoded) = IDistr::IDistrCalls::abi_decode(call.input) else {
        return revert("distribution: malformed call data (unknown selector or bad ABI encoding)");
    };
    use IDistr::IDistrCalls as C;
    call.nonpayable()?;
    let Some(params) = Params::load(ledger)? else {
        return revert("distribution: the module has no genesis state on this chain");
    };
    let out = match decoded {
        C::setWithdrawAddress(c) => {
            call.mutating()?;
            if c.withdrawAddr.is_zero() {
                return revert("setWithdrawAddress: the zero address cannot receive rewards");
            }
            // The delegator itself is the default: store nothing for it.
            let word =
                if c.withdrawAddr == call.caller { U256::ZERO } else { U256::from_be_slice(c.withdrawAddr.as_slice()) };
            ledger.store(DISTRIBUTION, Key::withdraw_address(call.caller), word)?;
            emit(
                ledger,
                DISTRIBUTION,
                &IDistr::WithdrawAddressSet { delegator: call.caller, withdrawAddr: c.withdrawAddr },
            );
            IDistr::setWithdrawAddressCall::abi_encode_returns(&true)
        }
        C::withdrawDelegationRewards(c) => {
            call.mutating()?;
            let usei = withdraw_delegation(ledger, call.caller, &c.validator)?;
            if usei.is_zero() {
                // `settle` logs only payments; an explicit withdrawal is logged even when it pays nothing.
                let v = find_validator(ledger, &c.validator)?;
                emit(
                    ledger,
                    DISTRIBUTION,
                    &IDistr::DelegationRewardsWithdrawn { delegator: call.caller, validator: v.name, amount: usei },
                );
            }
            IDistr::withdrawDelegationRewardsCall::abi_encode_returns(&true)
        }
        C::withdrawMultipleDelegationRewards(c) => {
            call.mutating()?;
            if c.validators.is_empty() {
                return revert("withdrawMultipleDelegationRewards: no validators given");
            }
            let mut amounts = Vec::with_capacity(c.validators.len());
            for text in &c.validators {
                amounts.push(withdraw_delegation(ledger, call.caller, text)?);
            }
            emit(
                ledger,
                DISTRIBUTION,
                &IDistr::MultipleDelegationRewardsWithdrawn {
                    delegator: call.caller,
                    validators: c.validators,
                    amounts,
                },
            );
            IDistr::withdrawMultipleDelegationRewardsCall::abi_encode_returns(&true)
        }
        C::withdrawValidatorCommission(c) => {
            call.mutating()?;
            let v = find_validator(ledger, &c.validator)?;
            let operator = staking::operator(ledger, v.index)?;
            if operator != call.caller {
                return revert(format!("withdrawValidatorCommission: only the operator of {} may withdraw it", v.name));
            }
            let key = Key::validator(v.index, FIELD_COMMISSION);
            let commission = ledger.load(DISTRIBUTION, key)?;
            let usei = commission / UNITS_PER_USEI;
            if usei.is_zero() {
                return revert(format!("withdrawValidatorCommission: {} has no commission to withdraw", v.name));
            }
            ledger.store(DISTRIBUTION, key, commission % UNITS_PER_USEI)?;
            let to = withdraw_address(ledger, operator)?;
            ledger.add_balance(to, usei * U256::from(WEI_PER_USEI))?;
            // An indexed string is logged as its hash.
            let validator = alloy_primitives::keccak256(v.name.as_bytes());
            emit(ledger, DISTRIBUTION, &IDistr::ValidatorCommissionWithdrawn { validator, amount: usei });
            IDistr::withdrawValidatorCommissionCall::abi_encode_returns(&true)
        }
        C::rewards(c) => {
            // As Cosmos's DelegationTotalRewards: one entry per delegation, amounts in usei with 18 decimals.
            let per_usei_18 = UNITS_PER_USEI / U256::from(DEC_ONE);
            let mut rewards = Vec::new();
            let mut total = U256::ZERO;
            for index in 0..staking::validator_count(ledger)? {
                let stake = staking::delegation_amount(ledger, c.delegatorAddress, index)?;
                if stake.is_zero() {
                    continue;
                }
                let ratio = ledger.load(DISTRIBUTION, Key::validator(index, FIELD_RATIO))?;
                let start = ledger.load(DISTRIBUTION, Key::start(c.delegatorAddress, index))?;
                let amount = earned(stake, ratio, start)? / per_usei_18;
                total += amount;
                let operator = staking::operator(ledger, index)?;
                rewards.push(IDistr::Reward {
                    coins: coins(amount, SEI_DECIMALS),
                    validator_address: staking::valoper(operator),
                });
            }
            IDistr::rewardsCall::abi_encode_returns(&IDistr::Rewards { rewards, total: coins(total, SEI_DECIMALS) })
        }
        C::params(_) => IDistr::paramsCall::abi_encode_returns(&IDistr::paramsReturn {
            communityTax: params.community_tax,
            blockRewardUsei: params.block_reward_usei,
        }),
        C::communityPool(_) => {
            let pool = ledger.load(DISTRIBUTION, Key::community_pool())?;
            IDistr::communityPoolCall::abi_encode_returns(&coins(pool, BOOK_DECIMALS))
        }
        C::validatorDistribution(c) => {
            let v = find_validator(ledger, &c.validator)?;
            let outstanding = ledger.load(DISTRIBUTION, Key::validator(v.index, FIELD_OUTSTANDING))?;
            let commission = ledger.load(DISTRIBUTION, Key::validator(v.index, FIELD_COMMISSION))?;
            IDistr::validatorDistributionCall::abi_encode_returns(&IDistr::validatorDistributionReturn {
                outstandingRewards: coins(outstanding, BOOK_DECIMALS),
                commission: coins(commission, BOOK_DECIMALS),
            })
        }
        C::withdrawAddress(c) => {
            IDistr::withdrawAddressCall::abi_encode_returns(&withdraw_address(ledger, c.delegator)?)
        }
    };
    Ok(out.into())
}

/// End of block, first step (before staking's): brings the books up to date with the block's settlements.
/// `changed` is the block's changed slots of `0x…1007` and `staking_changed` those of `0x…1005`, both as
/// (key, value at the block's start, value now). Each changed starting ratio is a settlement of the stake the
/// delegation had at the block's start (a stake only changes after a settlement, and the ratio is constant
/// within a block, so any later settlement in the block paid nothing): the validator's outstanding rewards
/// lose what it earned, and the part of a usei it did not pay goes to the community pool.
pub(crate) fn settle_block<L: Ledger>(
    ledger: &mut L,
    changed: &[(U256, U256, U256)],
    staking_changed: &[(U256, U256, U256)],
) -> Outcome<(), L::Error> {
    let stake_before: HashMap<U256, U256> = staking_changed.iter().map(|(k, old, _)| (*k, *old)).collect();
    // Per validator, in index order: book units settled.
    let mut settled: BTreeMap<u32, U256> = BTreeMap::new();
    let mut dust = U256::ZERO;
    let mut starts: Vec<_> = changed.iter().filter_map(|(k, old, _)| Key::parse_start(k).map(|d| (d, *old))).collect();
    starts.sort_unstable();
    for ((delegator, index), start) in starts {
        let ratio = ledger.load(DISTRIBUTION, Key::validator(index, FIELD_RATIO))?;
        let stake_key = staking::Key::delegation(delegator, index);
        let stake = match stake_before.get(&stake_key) {
            Some(old) => *old,
            None => ledger.load(STAKING, stake_key)?,
        };
        let units = earned(stake, ratio, start)?;
        *settled.entry(index).or_default() += units;
        dust += units % UNITS_PER_USEI;
    }
    for (index, units) in settled {
        let key = Key::validator(index, FIELD_OUTSTANDING);
        let outstanding = ledger.load(DISTRIBUTION, key)?;
        let Some(left) = outstanding.checked_sub(units) else {
            return revert("distribution: settlements exceed a validator's outstanding rewards");
        };
        ledger.store(DISTRIBUTION, key, left)?;
    }
    add_to(ledger, Key::community_pool(), dust)
}

/// End of block, last step (after staking's, so the power is the block's new bonded stake): takes the fee
/// collector's balance, mints the block reward, and splits both (rounding in the module docs).
pub(crate) fn allocate<L: Ledger>(ledger: &mut L) -> Outcome<(), L::Error> {
    let Some(params) = Params::load(ledger)? else { return Ok(()) };
    let fees = ledger.balance(FEE_COLLECTOR)?;
    if !fees.is_zero() {
        ledger.sub_balance(FEE_COLLECTOR, fees)?;
    }
    if !params.block_reward_usei.is_zero() {
        let supply = bank::supply(ledger)?;
        let Some(minted) = supply.checked_add(params.block_reward_usei) else { return overflow() };
        ledger.store(super::BANK, bank::SUPPLY, minted)?;
    }
    // Wei → book units is × 10^18; usei → book units × 10^30.
    let wei_units = UNITS_PER_USEI / U256::from(WEI_PER_USEI);
    let Some(total) = fees
        .checked_mul(wei_units)
        .zip(params.block_reward_usei.checked_mul(UNITS_PER_USEI))
        .and_then(|(f, r)| f.checked_add(r))
    else {
        return overflow();
    };
    if total.is_zero() {
        return Ok(());
    }
    let tax = total * params.community_tax / U256::from(DEC_ONE);
    let for_validators = total - tax;
    let bonded = staking::bonded_validators(ledger)?;
    let power = bonded.iter().fold(U256::ZERO, |sum, v| sum + v.tokens);
    let mut paid = U256::ZERO;
    if !power.is_zero() {
        for v in &bonded {
            let Some(share) = for_validators.checked_mul(v.tokens).map(|x| x / power) else { return overflow() };
            let commission = share * v.commission_rate / U256::from(DEC_ONE);
            let step = (share - commission) / v.tokens;
            let credited = step * v.tokens;
            add_to(ledger, Key::validator(v.index, FIELD_RATIO), step)?;
            add_to(ledger, Key::validator(v.index, FIELD_OUTSTANDING), credited)?;
            add_to(ledger, Key::validator(v.index, FIELD_COMMISSION), commission)?;
            paid += commission + credited;
        }
    }
    // The tax and every rounding remainder (all of it when no validator is bonded).
    add_to(ledger, Key::community_pool(), total - paid)
}

#[cfg(test)]
mod unit_tests {
    use std::collections::HashMap;

    use alloy_primitives::Log;

    use super::*;
    use crate::modules::Failure;

    /// Module slots and balances in maps: the API other modules call, without a chain around it.
    #[derive(Default)]
    struct MapLedger {
        slots: HashMap<(Address, U256), U256>,
        balances: HashMap<Address, U256>,
    }

    impl Ledger for MapLedger {
        type Error = ();

        fn load(&mut self, module: Address, key: U256) -> Outcome<U256, ()> {
            Ok(self.slots.get(&(module, key)).copied().unwrap_or_default())
        }

        fn store(&mut self, module: Address, key: U256, value: U256) -> Outcome<(), ()> {
            self.slots.insert((module, key), value);
            Ok(())
        }

        fn balance(&mut self, who: Address) -> Outcome<U256, ()> {
            Ok(self.balances.get(&who).copied().unwrap_or_default())
        }

        fn add_balance(&mut self, who: Address, wei: U256) -> Outcome<(), ()> {
            *self.balances.entry(who).or_default() += wei;
            Ok(())
        }

        fn sub_balance(&mut self, who: Address, wei: U256) -> Outcome<(), ()> {
            let balance = self.balances.entry(who).or_default();
            *balance = balance.checked_sub(wei).ok_or(Failure::Revert("insufficient balance".into()))?;
            Ok(())
        }

        fn emit(&mut self, _log: Log) {}

        fn now(&self) -> u64 {
            0
        }

        fn number(&self) -> u64 {
            0
        }
    }

    fn reason<T: std::fmt::Debug>(outcome: Outcome<T, ()>) -> String {
        match outcome {
            Err(Failure::Revert(reason)) => reason,
            other => panic!("expected a revert, got {other:?}"),
        }
    }

    #[test]
    fn community_pool_spend_pays_whole_usei_or_reverts_changing_nothing() {
        let mut ledger = MapLedger::default();
        let to = Address::with_last_byte(7);
        let pool = U256::from(120_000u64) * UNITS_PER_USEI + U256::from(5u64);
        ledger.store(DISTRIBUTION, Key::community_pool(), pool).expect("store");
        assert_eq!(community_pool_usei(&mut ledger).expect("pool"), U256::from(120_000u64));
        let refused = reason(community_pool_spend(&mut ledger, to, U256::from(120_001u64)));
        assert!(refused.contains("holds 120000 usei, less than 120001 usei"), "{refused}");
        assert_eq!(ledger.load(DISTRIBUTION, Key::community_pool()).expect("pool"), pool);
        community_pool_spend(&mut ledger, to, U256::from(100_000u64)).expect("spend");
        assert_eq!(ledger.balances[&to], U256::from(100_000u64) * U256::from(WEI_PER_USEI));
        let left = ledger.load(DISTRIBUTION, Key::community_pool()).expect("pool");
        assert_eq!(left, U256::from(20_000u64) * UNITS_PER_USEI + U256::from(5u64));
    }
}
