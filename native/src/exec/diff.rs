//! A transaction's run reduced to what folding it into the block needs: its per-account state diff, built
//! from revm's finalized journal where the transaction ran.

use alloy_primitives::Bloom;
use revm::{
    bytecode::Bytecode,
    context::result::{EVMError, ExecutionResult, InvalidTransaction},
    primitives::{Address, KECCAK_EMPTY, U256},
    state::{AccountInfo, EvmState},
};

use super::handler::{skip_reason, Reached};

/// What a transaction did to one account.
pub(crate) enum AccountChange {
    /// SELFDESTRUCT (`destructed`), or touched and left empty (EIP-161 removes it if it existed).
    Cleared { destructed: bool, created: bool },
    /// The account's new fields (without code), its code when deployed, and the slots whose value changed.
    Written { info: AccountInfo, created: bool, code: Option<Bytecode>, storage: Vec<(U256, U256)> },
}

pub(crate) struct AccountDiff {
    pub(crate) address: Address,
    pub(crate) change: AccountChange,
}

impl AccountDiff {
    fn created(&self) -> bool {
        matches!(
            self.change,
            AccountChange::Cleared { created: true, .. } | AccountChange::Written { created: true, .. }
        )
    }
}

/// A transaction's finalized journal reduced to what folding it into the block needs. Built where the
/// transaction ran, so that a parallel worker does this work and frees the journal on its own thread.
pub(crate) struct TxDiff(pub(crate) Vec<AccountDiff>);

impl TxDiff {
    pub(crate) fn from_journal(state: EvmState) -> Self {
        let mut diff = Vec::with_capacity(state.len());
        for (address, account) in state {
            if !account.is_touched() {
                continue;
            }
            let created = account.is_created();
            let destructed = account.is_selfdestructed();
            if destructed || account.is_empty() {
                diff.push(AccountDiff { address, change: AccountChange::Cleared { destructed, created } });
                continue;
            }
            let storage = account
                .storage
                .into_iter()
                .filter(|(_, v)| v.is_changed())
                .map(|(k, v)| (k, v.present_value))
                .collect();
            let mut info = account.info;
            let code = info.code.take().filter(|code| info.code_hash != KECCAK_EMPTY && !code.is_empty());
            diff.push(AccountDiff { address, change: AccountChange::Written { info, created, code, storage } });
        }
        Self(diff)
    }
}

/// What running one ordered transaction produced, before it is folded into the block.
// Almost every run is `Executed`, so boxing it would only add an allocation per transaction.
#[allow(clippy::large_enum_variant)]
pub(crate) enum TxRun {
    /// Not included: undecodable, invalid at its position, or over the block's remaining gas.
    Skipped(String),
    /// Executed: the EVM result, its state diff, the fee owed to the collector, the addresses it reached below
    /// its top-level frame (for the address index; repeats kept) and, when the executor already computed it
    /// (parallel workers do), the logs bloom.
    Executed { result: ExecutionResult, diff: TxDiff, fee: U256, reached: Vec<Reached>, bloom: Option<Bloom> },
}

/// Converts revm's verdict on a transaction into a run: invalid transactions are skipped, store failures are
/// fatal for the block. `reached`: the addresses it reached (`SeiHandler::into_reached`); a creation whose
/// contract a revert undid is kept as a plain address there.
pub(crate) fn into_run<E: std::fmt::Display>(
    result: Result<ExecutionResult, EVMError<E, InvalidTransaction>>,
    state: EvmState,
    fee: U256,
    mut reached: Vec<Reached>,
) -> Result<TxRun, E> {
    match result {
        Ok(result) => {
            let diff = TxDiff::from_journal(state);
            for reach in &mut reached {
                if let Reached::Created { address, .. } = *reach {
                    if !diff.0.iter().any(|d| d.address == address && d.created()) {
                        *reach = Reached::Address(address);
                    }
                }
            }
            Ok(TxRun::Executed { result, diff, fee, reached, bloom: None })
        }
        Err(EVMError::Transaction(err)) => Ok(TxRun::Skipped(skip_reason(&err))),
        Err(EVMError::Database(err)) => Err(err),
        Err(other) => Ok(TxRun::Skipped(other.to_string())),
    }
}
