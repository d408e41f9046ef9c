//! Sei's native modules behind their EVM precompiles: bank (`0x…1001`), staking (`0x…1005`), governance
//! (`0x…1006`), distribution (`0x…1007`) and slashing (`0x…1014`).
//!
//! A module keeps its state in the storage slots of its own precompile address, in the same flat store as every
//! contract. That one choice gives module state everything contract state already has: precompile calls read and
//! write it through revm's journal, so their writes revert with the call and land in the transaction's state
//! diff, the block's change set, the LtHash commitment and the history index; and under the parallel executor
//! the reads and writes go through the multi-version memory like any `SLOAD`/`SSTORE`, so transactions that touch
//! different slots (different delegators) never conflict. Keys are not hashed: each slot key is a fixed layout
//! (a tag byte, then addresses and indices, see `staking::Key`), which is injective (no collisions to argue
//! about) and lets end-of-block logic tell from a changed slot's key what it belongs to.
//!
//! Module logic is written once against `Ledger`: the journal implements it inside a precompile call
//! (`JournalLedger`), the block overlay at the end of a block (`exec::api::BlockState`).

pub(crate) mod bank;
pub(crate) mod distribution;
pub(crate) mod end_block;
pub(crate) mod governance;
pub(crate) mod slashing;
pub(crate) mod staking;

use std::collections::HashMap;

use alloy_primitives::{address, Address, Bytes, Log, U256};
use alloy_sol_types::{SolError, SolEvent};
use revm::{
    context::ContextError,
    context_interface::{journaled_state::account::JournaledAccountTr, Block, ContextTr, JournalTr},
    interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult},
};

pub(crate) const BANK: Address = address!("0000000000000000000000000000000000001001");
pub(crate) const STAKING: Address = address!("0000000000000000000000000000000000001005");
pub(crate) const GOVERNANCE: Address = address!("0000000000000000000000000000000000001006");
pub(crate) const DISTRIBUTION: Address = address!("0000000000000000000000000000000000001007");

pub(crate) use slashing::SLASHING;

/// The module precompiles, in address order.
pub(crate) const MODULES: [Address; 5] = [BANK, STAKING, GOVERNANCE, DISTRIBUTION, SLASHING];

/// Each module precompile's name, address and interface as a JSON ABI (functions, events, errors). Generated from
/// the `sol!` interfaces the precompiles decode calls and encode events with, so what is published is what they
/// accept and emit, end-of-block events (`UnbondingCompleted`, `Slashed`, …) included.
pub(crate) fn abis() -> [(&'static str, Address, alloy_json_abi::JsonAbi); 5] {
    [
        ("bank", BANK, bank::IBank::abi::contract()),
        ("staking", STAKING, staking::IStaking::abi::contract()),
        ("governance", GOVERNANCE, governance::IGov::abi::contract()),
        ("distribution", DISTRIBUTION, distribution::IDistr::abi::contract()),
        ("slashing", SLASHING, slashing::ISlashing::abi::contract()),
    ]
}

/// Wei per usei: SEI has 6 decimals natively and 18 in the EVM.
pub(crate) const WEI_PER_USEI: u64 = 1_000_000_000_000;
pub(crate) const USEI: &str = "usei";

/// The code every module address holds from genesis. A module's account must not be empty, or EIP-161 would
/// delete it (and its storage) when a call touches it; and Solidity checks `extcodesize` before calls that
/// return nothing. `INVALID`: the precompile answers first, the code never runs.
pub(crate) const MODULE_CODE: [u8; 1] = [0xfe];

/// Gas: a fixed charge per call plus EVM-like charges per state access (cold `SLOAD` and fresh `SSTORE`
/// prices), so that a call's cost grows with the state it touches and stays deterministic.
const GAS_BASE: u64 = 2_000;
const GAS_LOAD: u64 = 2_100;
const GAS_STORE: u64 = 20_000;
const GAS_LOG: u64 = 1_500;

/// Why a module operation did not complete: a revert with a reason for the caller, or a state read that failed
/// (under the parallel executor, also "blocked on a lower transaction"), which must reach the executor.
#[derive(Debug)]
pub(crate) enum Failure<E> {
    Revert(String),
    Db(E),
}

pub(crate) type Outcome<T, E> = Result<T, Failure<E>>;

pub(crate) fn revert<T, E>(reason: impl Into<String>) -> Outcome<T, E> {
    Err(Failure::Revert(reason.into()))
}

/// The state a module reads and writes: its own slots, account balances (wei) and logs.
pub(crate) trait Ledger {
    type Error;
    fn load(&mut self, module: Address, key: U256) -> Outcome<U256, Self::Error>;
    fn store(&mut self, module: Address, key: U256, value: U256) -> Outcome<(), Self::Error>;
    fn balance(&mut self, who: Address) -> Outcome<U256, Self::Error>;
    fn add_balance(&mut self, who: Address, wei: U256) -> Outcome<(), Self::Error>;
    /// Reverts when `who` holds less than `wei`.
    fn sub_balance(&mut self, who: Address, wei: U256) -> Outcome<(), Self::Error>;
    fn emit(&mut self, log: Log);
    /// The block's timestamp (seconds).
    fn now(&self) -> u64;
    /// The block's number (height).
    fn number(&self) -> u64;
}

/// One call into a module precompile.
pub(crate) struct Call<'a> {
    pub(crate) caller: Address,
    pub(crate) value: U256,
    pub(crate) input: &'a [u8],
    pub(crate) is_static: bool,
}

impl Call<'_> {
    pub(crate) fn nonpayable<E>(&self) -> Outcome<(), E> {
        if self.value.is_zero() {
            Ok(())
        } else {
            revert("method is not payable")
        }
    }

    pub(crate) fn mutating<E>(&self) -> Outcome<(), E> {
        if self.is_static {
            revert("cannot change state in a static call")
        } else {
            Ok(())
        }
    }
}

/// Emits `event` from `module`.
pub(crate) fn emit<L: Ledger, T: SolEvent>(ledger: &mut L, module: Address, event: &T) {
    ledger.emit(Log { address: module, data: event.encode_log_data() });
}

/// The precompile's journal as a `Ledger`, counting accesses for gas.
pub(crate) struct JournalLedger<'c, CTX> {
    ctx: &'c mut CTX,
    gas: u64,
}

impl<CTX: ContextTr> JournalLedger<'_, CTX> {
    fn db<T>(r: Result<T, <CTX::Db as revm::Database>::Error>) -> Outcome<T, <CTX::Db as revm::Database>::Error> {
        r.map_err(Failure::Db)
    }
}

impl<CTX: ContextTr> Ledger for JournalLedger<'_, CTX> {
    type Error = <CTX::Db as revm::Database>::Error;

    fn load(&mut self, module: Address, key: U256) -> Outcome<U256, Self::Error> {
        self.gas += GAS_LOAD;
        // The journal reads slots only of loaded accounts: a module may read another's (staking settles
        // rewards in distribution's slots; governance tallies staking's delegations).
        Self::db(self.ctx.journal_mut().load_account(module))?;
        Ok(Self::db(self.ctx.journal_mut().sload(module, key))?.data)
    }

    fn store(&mut self, module: Address, key: U256, value: U256) -> Outcome<(), Self::Error> {
        self.gas += GAS_STORE;
        // Loaded and touched: only touched accounts' writes reach the transaction's state diff.
        Self::db(self.ctx.journal_mut().load_account(module))?;
        self.ctx.journal_mut().touch_account(module);
        Self::db(self.ctx.journal_mut().sstore(module, key, value))?;
        Ok(())
    }

    fn balance(&mut self, who: Address) -> Outcome<U256, Self::Error> {
        self.gas += GAS_LOAD;
        Ok(Self::db(self.ctx.journal_mut().load_account(who))?.data.info.balance)
    }

    fn add_balance(&mut self, who: Address, wei: U256) -> Outcome<(), Self::Error> {
        self.gas += GAS_STORE;
        let mut account = Self::db(self.ctx.journal_mut().load_account_mut(who))?;
        if account.data.incr_balance(wei) {
            Ok(())
        } else {
            revert("balance overflow")
        }
    }

    fn sub_balance(&mut self, who: Address, wei: U256) -> Outcome<(), Self::Error> {
        self.gas += GAS_STORE;
        let mut account = Self::db(self.ctx.journal_mut().load_account_mut(who))?;
        if account.data.decr_balance(wei) {
            Ok(())
        } else {
            revert("insufficient balance")
        }
    }

    fn emit(&mut self, log: Log) {
        self.gas += GAS_LOG;
        self.ctx.journal_mut().log(log);
    }

    fn now(&self) -> u64 {
        self.ctx.block().timestamp().saturating_to()
    }

    fn number(&self) -> u64 {
        self.ctx.block().number().saturating_to()
    }
}

/// Runs the module precompile at `address`, if there is one: `None` for any other address.
pub(crate) fn run<CTX: ContextTr>(ctx: &mut CTX, inputs: &CallInputs) -> Option<InterpreterResult> {
    let module = inputs.bytecode_address;
    if !MODULES.contains(&module) {
        return None;
    }
    if inputs.target_address != module {
        // DELEGATECALL or CALLCODE would run the module as another account, with that account's value: refused,
        // as Sei refuses them.
        let reason = "module precompiles cannot be called with DELEGATECALL or CALLCODE";
        let output = alloy_sol_types::Revert::from(reason).abi_encode().into();
        return Some(InterpreterResult::new(InstructionResult::Revert, output, Gas::new(inputs.gas_limit)));
    }
    let input = inputs.input.bytes(ctx);
    let call = Call { caller: inputs.caller, value: inputs.call_value(), input: &input, is_static: inputs.is_static };
    let mut ledger = JournalLedger { ctx, gas: GAS_BASE };
    let outcome = match module {
        BANK => bank::call(&mut ledger, &call),
        GOVERNANCE => governance::call(&mut ledger, &call),
        DISTRIBUTION => distribution::call(&mut ledger, &call),
        SLASHING => slashing::call(&mut ledger, &call),
        _ => staking::call(&mut ledger, &call),
    };
    let used = ledger.gas;
    let mut gas = Gas::new(inputs.gas_limit);
    let (result, output) = match outcome {
        Ok(output) => (InstructionResult::Return, output),
        Err(Failure::Revert(reason)) => {
            (InstructionResult::Revert, alloy_sol_types::Revert::from(reason).abi_encode().into())
        }
        Err(Failure::Db(err)) => {
            // As revm's own opcodes do: park the error in the context, where the handler takes it and ends the
            // transaction with it (the parallel executor's "blocked on a lower transaction" travels this way).
            *ledger.ctx.error() = Err(ContextError::Db(err));
            (InstructionResult::FatalExternalError, Bytes::new())
        }
    };
    if !gas.record_regular_cost(used) {
        gas.spend_all();
        return Some(InterpreterResult::new(InstructionResult::PrecompileOOG, Bytes::new(), gas));
    }
    Some(InterpreterResult::new(result, output, gas))
}

/// A module slot key: `tag` in the first byte, then the fixed-width fields `fill` writes (see `staking::Key`).
pub(crate) fn slot_key(tag: u8, fill: impl FnOnce(&mut [u8; 32])) -> U256 {
    let mut b = [0u8; 32];
    b[0] = tag;
    fill(&mut b);
    U256::from_be_bytes(b)
}

/// `tag` ‖ validator index (4 bytes) ‖ … ‖ `field` (last byte): a field of a per-validator record.
pub(crate) fn validator_slot(tag: u8, index: u32, field: u8) -> U256 {
    slot_key(tag, |b| {
        b[1..5].copy_from_slice(&index.to_be_bytes());
        b[31] = field;
    })
}

/// `tag` ‖ address (20 bytes) ‖ validator index (4 bytes): a per-(delegator, validator) record.
pub(crate) fn pair_slot(tag: u8, who: Address, index: u32) -> U256 {
    slot_key(tag, |b| {
        b[1..21].copy_from_slice(who.as_slice());
        b[21..25].copy_from_slice(&index.to_be_bytes());
    })
}

/// Storage slots (key, value) of one module account.
pub(crate) type Slots = Vec<(U256, U256)>;

/// The module accounts' genesis storage: bank supply (usei), staking parameters and validators, distribution,
/// governance and slashing parameters. `jailed_until` gives, for each validator that starts jailed (by index
/// into `validators`), until when.
pub(crate) fn genesis(
    total_supply_usei: U256,
    params: &staking::Params,
    validators: &[staking::GenesisValidator],
    distribution: &distribution::Params,
    gov: &governance::Params,
    slashing: &slashing::Params,
    jailed_until: &[(u32, u64)],
) -> Result<Vec<(Address, Slots)>, String> {
    let bonded = validators.iter().fold(U256::ZERO, |sum, v| sum + v.self_delegation);
    if bonded > total_supply_usei {
        return Err("self-delegations exceed the total supply".into());
    }
    Ok(vec![
        (BANK, bank::genesis(total_supply_usei)),
        (STAKING, staking::genesis(params, validators)?),
        (DISTRIBUTION, distribution::genesis(distribution)?),
        (GOVERNANCE, governance::genesis(gov)?),
        (SLASHING, slashing::genesis(slashing, jailed_until)?),
    ])
}

/// End-of-block logic of every module, in this fixed order: (1) distribution books the block's reward
/// settlements, (2) staking (delegator lists, bonded tokens, unbonding queue, maturities), (3) slashing applies
/// what consensus decided about the block (`consensus`: double-sign evidence, the commit's signers), (4)
/// distribution splits the block's fees and reward over the new bonded stake, (5) governance (tallies over the
/// bonded tokens just updated; passed parameter changes and community-pool spends), (6) at an epoch boundary
/// staking records the next epoch's committee, after every change of the block. `changed` yields the block's
/// changed slots of a module address as (key, value at the block's start, value now); each module's are taken
/// before any end-of-block write.
pub(crate) fn end_block<L: Ledger>(
    ledger: &mut L,
    changed: impl Fn(&mut L, Address) -> Outcome<Vec<(U256, U256, U256)>, L::Error>,
    consensus: &ConsensusInputs,
) -> Outcome<(), L::Error> {
    let staking_changes = changed(ledger, STAKING)?;
    let distribution_changes = changed(ledger, DISTRIBUTION)?;
    let governance_changes = changed(ledger, GOVERNANCE)?;
    distribution::settle_block(ledger, &distribution_changes, &staking_changes)?;
    staking::end_block(ledger, &staking_changes)?;
    slashing::end_block(ledger, consensus)?;
    distribution::allocate(ledger)?;
    governance::end_block(ledger, &governance_changes)?;
    staking::record_committee_at_boundary(ledger)
}

/// What consensus misbehaved in, as evidence in a block says: a validator by its consensus key, the height of
/// the infraction and its kind (each one is a double sign: two conflicting signed messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Infraction {
    pub pubkey: [u8; 32],
    pub height: u64,
    pub kind: InfractionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfractionKind {
    DoubleVote,
    LaneEquivocation,
    ConflictingProposals,
}

impl InfractionKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "double-vote" => Some(Self::DoubleVote),
            "lane-equivocation" => Some(Self::LaneEquivocation),
            "conflicting-proposals" => Some(Self::ConflictingProposals),
            _ => None,
        }
    }
}

/// A block's consensus inputs, carried from ordering to execution: evidence of misbehaviour, and the consensus
/// keys that signed the block's commit certificate (`None`: no downtime tracking, as on the devnet's sequencer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsensusInputs {
    pub evidence: Vec<Infraction>,
    pub signers: Option<Vec<[u8; 32]>>,
}

/// Module slots in a map, with no balances: the genesis layout is computed through the same `Ledger` code the
/// chain runs (the committee records of epochs 0 and 1), and Python's queries read committed module state
/// through it (over a snapshot).
pub(crate) struct ScratchLedger<R> {
    reader: R,
    slots: HashMap<(Address, U256), U256>,
}

impl<R: crate::db::StateReader> ScratchLedger<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self { reader, slots: HashMap::new() }
    }

    /// The slots written to `module`, in key order.
    pub(crate) fn into_slots(self, module: Address) -> Slots {
        let mut slots: Slots =
            self.slots.into_iter().filter(|((a, _), _)| *a == module).map(|((_, k), v)| (k, v)).collect();
        slots.sort_unstable();
        slots
    }
}

impl<R: crate::db::StateReader> Ledger for ScratchLedger<R> {
    type Error = crate::db::StoreError;

    fn load(&mut self, module: Address, key: U256) -> Outcome<U256, Self::Error> {
        match self.slots.get(&(module, key)) {
            Some(value) => Ok(*value),
            None => self.reader.storage(module, key).map_err(Failure::Db),
        }
    }

    fn store(&mut self, module: Address, key: U256, value: U256) -> Outcome<(), Self::Error> {
        self.slots.insert((module, key), value);
        Ok(())
    }

    fn balance(&mut self, who: Address) -> Outcome<U256, Self::Error> {
        Ok(self.reader.account(who).map_err(Failure::Db)?.map(|a| a.balance).unwrap_or_default())
    }

    fn add_balance(&mut self, _who: Address, _wei: U256) -> Outcome<(), Self::Error> {
        revert("no balances change outside a block")
    }

    fn sub_balance(&mut self, _who: Address, _wei: U256) -> Outcome<(), Self::Error> {
        revert("no balances change outside a block")
    }

    fn emit(&mut self, _log: Log) {}

    fn now(&self) -> u64 {
        0
    }

    fn number(&self) -> u64 {
        0
    }
}

/// The state before genesis: nothing.
pub(crate) struct NoState;

impl crate::db::StateReader for NoState {
    fn account(&self, _: Address) -> Result<Option<revm::state::AccountInfo>, crate::db::StoreError> {
        Ok(None)
    }

    fn storage(&self, _: Address, _: U256) -> Result<U256, crate::db::StoreError> {
        Ok(U256::ZERO)
    }

    fn code(&self, _: alloy_primitives::B256) -> Result<revm::bytecode::Bytecode, crate::db::StoreError> {
        Ok(revm::bytecode::Bytecode::default())
    }

    fn block_hash(&self, _: u64) -> Result<alloy_primitives::B256, crate::db::StoreError> {
        Ok(alloy_primitives::B256::ZERO)
    }
}

/// A validator or account named as Sei names it: bech32 with the given prefix (`sei`, `seivaloper`) over the
/// 20 address bytes, or a `0x` hex address. pysei has no separate Cosmos key: the bech32 form carries the EVM
/// address itself.
pub(crate) fn parse_address(text: &str, hrp: &str) -> Option<Address> {
    if let Some(hex) = text.strip_prefix("0x") {
        return hex.parse().ok();
    }
    let (prefix, data) = bech32::decode(text).ok()?;
    (prefix.as_str() == hrp && data.len() == 20).then(|| Address::from_slice(&data))
}

pub(crate) fn bech32_address(hrp: &str, address: Address) -> String {
    let hrp = bech32::Hrp::parse(hrp).expect("a valid prefix");
    bech32::encode::<bech32::Bech32>(hrp, address.as_slice()).expect("20 bytes fit bech32")
}

/// Amounts in usei as wei.
pub(crate) fn usei_to_wei(usei: U256) -> Option<U256> {
    usei.checked_mul(U256::from(WEI_PER_USEI))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn bech32_round_trip() {
        let a = Address::with_last_byte(0x42);
        let text = bech32_address("seivaloper", a);
        assert!(text.starts_with("seivaloper1"));
        assert_eq!(parse_address(&text, "seivaloper"), Some(a));
        assert_eq!(parse_address(&text, "sei"), None);
        assert_eq!(parse_address(&format!("{a:#x}"), "seivaloper"), Some(a));
        assert_eq!(parse_address("seivaloper1garbage", "seivaloper"), None);
    }
}
