//! End-of-block module logic over the block overlay: it runs after the block's last transaction, inside the same
//! execution call, so its writes join the block's change set (commitment, history) in the same commit, and the
//! sequential and parallel executors, which both fold into a `BlockState`, run it identically.

use alloy_primitives::{Address, Log, U256};
use revm::Database;

use super::{revert, Failure, Ledger, Outcome};
use crate::{
    db::{StateReader, StoreError},
    exec::{api::BlockState, BlockParams},
};

struct OverlayLedger<'s, 'r, R> {
    state: &'s mut BlockState<'r, R>,
    now: u64,
    number: u64,
    logs: Vec<Log>,
}

impl<R: StateReader> Ledger for OverlayLedger<'_, '_, R> {
    type Error = StoreError;

    fn load(&mut self, module: Address, key: U256) -> Outcome<U256, StoreError> {
        self.state.storage(module, key).map_err(Failure::Db)
    }

    fn store(&mut self, module: Address, key: U256, value: U256) -> Outcome<(), StoreError> {
        self.state.set_storage(module, key, value);
        Ok(())
    }

    fn balance(&mut self, who: Address) -> Outcome<U256, StoreError> {
        Ok(self.state.basic(who).map_err(Failure::Db)?.map(|a| a.balance).unwrap_or_default())
    }

    fn add_balance(&mut self, who: Address, wei: U256) -> Outcome<(), StoreError> {
        let balance = self.state.account_balance(who).map_err(Failure::Db)?;
        let Some(balance) = balance.checked_add(wei) else { return revert("balance overflow") };
        self.state.set_balance(who, balance).map_err(Failure::Db)
    }

    fn sub_balance(&mut self, who: Address, wei: U256) -> Outcome<(), StoreError> {
        let balance = self.state.account_balance(who).map_err(Failure::Db)?;
        let Some(balance) = balance.checked_sub(wei) else { return revert("insufficient balance") };
        self.state.set_balance(who, balance).map_err(Failure::Db)
    }

    /// End-of-block work belongs to no transaction: its logs become the block's system logs (stored after the
    /// transactions' logs, under the block's system transaction hash; see `records::system_tx_hash`).
    fn emit(&mut self, log: Log) {
        self.logs.push(log);
    }

    fn now(&self) -> u64 {
        self.now
    }

    fn number(&self) -> u64 {
        self.number
    }
}

/// Runs every module's end-of-block logic on `state` for the block of `params`; returns the logs it emitted (the
/// block's system logs: slashes, jails, matured unbondings…), in emission order.
pub(crate) fn run<R: StateReader>(state: &mut BlockState<'_, R>, params: &BlockParams) -> Result<Vec<Log>, StoreError> {
    // The distribution module pays out the block's fees: they must be in the collector's balance first.
    state.fold_fees()?;
    let mut ledger = OverlayLedger { state, now: params.timestamp, number: params.number, logs: Vec::new() };
    let changed = |l: &mut OverlayLedger<'_, '_, R>, module| l.state.changed_storage(module).map_err(Failure::Db);
    match super::end_block(&mut ledger, changed, &params.consensus) {
        Ok(()) => Ok(ledger.logs),
        Err(Failure::Db(e)) => Err(e),
        // Only an impossible overflow gets here; failing the block beats committing a wrong state.
        Err(Failure::Revert(reason)) => Err(StoreError::EndBlock(reason)),
    }
}
