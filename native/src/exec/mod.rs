//! The block executor: one call runs a whole ordered block on revm over a snapshot of the flat store and returns
//! receipts, the block's state changes and, on request, each transaction's read and write sets.
//!
//! Sei semantics that differ from Ethereum mainnet, on purpose:
//! - Execution trails ordering, so an ordered block may hold transactions that are invalid by the time they run
//!   (nonce already used, balance spent by an earlier one). They are *skipped* — left out of the executed block
//!   with a reason — rather than invalidating the block. Every node skips the same ones.
//! - The base fee is not burned: the whole `gas_used × effective_gas_price` goes to the block's fee collector
//!   (the beneficiary). The credit is an add-only delta kept beside the state and folded in at the end of the
//!   block, so fees never make two transactions conflict; a transaction that does read the collector sees the
//!   credits of all earlier ones, exactly as if each had been paid at once.
//!
//! Modules, one per concern: `handler` (Sei's revm handler and EVM type), `overlay` (the block's view of state
//! and its change set), `diff` (a transaction's journal reduced to a state diff), `builder` (block assembly:
//! outcomes, receipts, blooms), `roots` (ordered tries) and `api` (what the parallel executor builds on). This
//! file holds the block's input and output types and the sequential executor.

mod builder;
mod diff;
mod handler;
mod overlay;
mod roots;

pub(crate) mod api;

use alloy_consensus::ReceiptEnvelope;
use alloy_primitives::{Bloom, Log};
use revm::{
    context::{BlockEnv, CfgEnv, ContextSetters, TxEnv},
    context_interface::block::BlobExcessGasAndPrice,
    handler::Handler,
    primitives::{hardfork::SpecId, Address, Bytes, B256, U256},
    ExecuteEvm,
};

pub use self::handler::Reached;
use self::{
    builder::BlockBuilder,
    diff::{into_run, TxRun},
    handler::{build_evm, SeiHandler},
    overlay::BlockState,
};
use crate::{
    db::{StateChanges, StateReader, StoreError},
    decode::{decode_envelope, tx_env},
    precompiles::HostRegistry,
};

/// Everything a block executes in, apart from its transactions and the state.
#[derive(Debug, Clone)]
pub struct BlockParams {
    pub number: u64,
    pub timestamp: u64,
    pub gas_limit: u64,
    pub base_fee: u64,
    pub beneficiary: Address,
    pub prevrandao: B256,
    pub chain_id: u64,
    pub spec: SpecId,
    /// Precompiles the node defines (Sei's modules) on top of Ethereum's.
    pub host: HostRegistry,
    /// What consensus decided about this block (evidence, commit signers), for the modules' end of block.
    pub consensus: crate::modules::ConsensusInputs,
}

impl BlockParams {
    pub(crate) fn block_env(&self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            beneficiary: self.beneficiary,
            timestamp: U256::from(self.timestamp),
            gas_limit: self.gas_limit,
            basefee: self.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(self.prevrandao),
            // Sei runs Pectra without blobs; revm still wants a blob price from Cancun on, so excess is zero.
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, self.spec)),
            ..BlockEnv::default()
        }
    }

    pub(crate) fn cfg_env(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(self.spec);
        cfg.chain_id = self.chain_id;
        // EIP-7825's per-transaction cap only exists from Osaka; at Prague a transaction may use the whole block.
        cfg.tx_gas_limit_cap = Some(u64::MAX);
        cfg
    }
}

/// Where state reads and writes land: an account's fields or one storage slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    Account(Address),
    Storage(Address, U256),
}

/// What one transaction read and wrote (the parallel scheduler's raw material).
#[derive(Debug, Default, Clone)]
pub struct TxAccess {
    pub reads: Vec<Location>,
    pub writes: Vec<Location>,
    /// True when the transaction read the fee collector and so depends on every earlier fee credit.
    pub read_fee_collector: bool,
}

/// The outcome of one ordered transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOutcome {
    /// `Err(reason)` when the transaction was skipped (invalid at execution time); it leaves no trace.
    pub included: Result<(), String>,
    pub success: bool,
    pub gas_used: u64,
    pub cumulative_gas_used: u64,
    /// Index into `BlockOutput::receipts` (which holds the logs and bloom) for an included transaction.
    pub receipt: Option<usize>,
    pub contract_address: Option<Address>,
    /// The transaction's type, callee and fees (default for a skipped one).
    pub meta: TxMeta,
    /// Return data, or revert data for a failed call.
    pub output: Bytes,
    /// Why the EVM halted (out of gas, invalid opcode…) when it did.
    pub halt: Option<String>,
    /// The addresses it reached below its top-level frame, as its Parity trace names them (repeats kept; see
    /// `SeiHandler::into_reached`): with the sender, `to` and contract, what the address index files it under.
    pub reached: Vec<Reached>,
}

/// What block assembly and the stored record keep of a decoded transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxMeta {
    /// EIP-2718 type (0 for legacy).
    pub tx_type: u8,
    /// The callee; `None` for a creation.
    pub to: Option<Address>,
    /// The address a creation deploys to.
    pub create_address: Option<Address>,
    /// The gas price of a legacy or access-list transaction, the fee cap of a dynamic-fee one.
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: Option<u128>,
}

impl TxMeta {
    /// The price per gas paid in a block with `base_fee` (EIP-1559; a legacy price is paid as is).
    pub fn effective_gas_price(&self, base_fee: u64) -> u128 {
        match self.max_priority_fee_per_gas {
            Some(tip) => self.max_fee_per_gas.min(u128::from(base_fee).saturating_add(tip)),
            None => self.max_fee_per_gas,
        }
    }
}

/// Per-block statistics for logs and metrics.
#[derive(Debug, Default, Clone)]
pub struct ExecStats {
    pub txs: usize,
    pub skipped: usize,
    pub gas_used: u64,
}

/// The result of executing a block.
#[derive(Debug)]
pub struct BlockOutput {
    pub outcomes: Vec<TxOutcome>,
    pub receipts: Vec<ReceiptEnvelope>,
    pub changes: StateChanges,
    pub access: Vec<TxAccess>,
    pub gas_used: u64,
    pub fees: U256,
    pub logs_bloom: Bloom,
    /// Logs of the modules' end-of-block logic, which belong to no transaction (see `records::system_tx_hash`).
    pub system_logs: Vec<Log>,
    pub transactions_root: B256,
    pub receipts_root: B256,
    pub stats: ExecStats,
}

/// An input transaction: the EIP-2718 bytes and the sender recovered when it entered the node.
pub struct OrderedTx<'a> {
    pub raw: &'a [u8],
    pub sender: Address,
}

/// The decoded form of an ordered transaction, or why it cannot be executed at all.
pub(crate) struct Prepared {
    pub(crate) env: TxEnv,
    pub(crate) meta: TxMeta,
}

pub(crate) fn prepare(tx: &OrderedTx<'_>) -> Result<Prepared, String> {
    let envelope = decode_envelope(tx.raw).map_err(|e| e.to_string())?;
    let env = tx_env(&envelope, tx.sender);
    let meta = TxMeta {
        tx_type: envelope.tx_type() as u8,
        to: env.kind.to().copied(),
        create_address: env.kind.is_create().then(|| tx.sender.create(env.nonce)),
        max_fee_per_gas: env.gas_price,
        max_priority_fee_per_gas: env.gas_priority_fee,
    };
    Ok(Prepared { env, meta })
}

/// Executes an ordered block sequentially. `record_access` also returns per-transaction read/write sets.
pub fn execute_block<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    txs: &[OrderedTx<'_>],
    record_access: bool,
) -> Result<BlockOutput, StoreError> {
    execute_prepared(reader, params, txs, txs.iter().map(prepare), record_access)
}

/// `execute_block` with the transactions already decoded (`prepared`, one per transaction, in order).
pub(crate) fn execute_prepared<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    txs: &[OrderedTx<'_>],
    prepared: impl Iterator<Item = Result<Prepared, String>>,
    record_access: bool,
) -> Result<BlockOutput, StoreError> {
    let mut state = BlockState::new(reader, params.beneficiary);
    let mut builder = BlockBuilder::new(txs.len(), record_access).sealing_ahead();
    {
        let mut evm = build_evm(&mut state, params.block_env(), params.cfg_env(), &params.host);
        for (tx, prepared) in txs.iter().zip(prepared) {
            let fitted = prepared.and_then(|p| {
                if builder.cumulative_gas().saturating_add(p.env.gas_limit) > params.gas_limit {
                    Err("gas limit reached: transaction does not fit in the block".to_string())
                } else {
                    Ok(p)
                }
            });
            let prepared = match fitted {
                Ok(p) => p,
                Err(reason) => {
                    let db = &mut *evm.ctx.journaled_state.database;
                    builder.push(db, tx.raw, TxMeta::default(), TxRun::Skipped(reason), None)?;
                    continue;
                }
            };
            if record_access {
                evm.ctx.journaled_state.database.start_recording();
            }
            evm.ctx.set_tx(prepared.env);
            let mut handler = SeiHandler::default();
            let result = handler.run(&mut evm);
            let journal = evm.finalize();
            let state = &mut *evm.ctx.journaled_state.database;
            let fee = std::mem::take(&mut state.pending_fee);
            let record = state.take_record();
            let run = into_run(result, journal, fee, handler.into_reached())?;
            builder.push(state, tx.raw, prepared.meta, run, record)?;
        }
    }
    builder.finish(state, ExecStats { txs: txs.len(), ..ExecStats::default() }, params)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        decode::decode_and_recover,
        precompiles::{HostCall, HostOutput, HostPrecompile},
        testutil::{block_params, Key, MemReader, CHAIN, COLLECTOR},
    };
    use revm::state::AccountInfo;

    fn params() -> BlockParams {
        block_params(30_000_000)
    }

    fn run(reader: &MemReader, params: &BlockParams, raws: &[Vec<u8>]) -> BlockOutput {
        let senders: Vec<Address> = raws.iter().map(|r| decode_and_recover(r).expect("valid tx").sender).collect();
        let txs: Vec<OrderedTx<'_>> =
            raws.iter().zip(&senders).map(|(raw, sender)| OrderedTx { raw, sender: *sender }).collect();
        execute_block(reader, params, &txs, true).expect("execution")
    }

    fn account(out: &BlockOutput, address: Address) -> Option<AccountInfo> {
        out.changes.accounts.iter().find(|(a, _)| *a == address).and_then(|(_, i)| i.clone())
    }

    /// The whole fee (base fee included) goes to the collector: 21000 × min(2 gwei, 1 gwei + 1 gwei).
    #[test]
    fn transfer_pays_full_fee_to_collector() {
        let alice = Key::new(1);
        let bob = Address::with_last_byte(0xb0);
        let mut reader = MemReader::default();
        reader.fund(alice.address, U256::from(10u128.pow(18)));
        let out = run(&reader, &params(), &[alice.sign(CHAIN, 0, Some(bob), 5, &[], 21_000)]);
        let fee = U256::from(21_000u64 * 2_000_000_000);
        assert_eq!(out.fees, fee);
        assert_eq!(account(&out, COLLECTOR).expect("collector").balance, fee);
        assert_eq!(account(&out, bob).expect("bob").balance, U256::from(5));
        let sender = account(&out, alice.address).expect("alice");
        assert_eq!((sender.nonce, sender.balance), (1, U256::from(10u128.pow(18)) - fee - U256::from(5)));
    }

    /// A replayed nonce is skipped with geth's message and leaves no trace; the block goes on.
    #[test]
    fn invalid_transaction_is_skipped() {
        let alice = Key::new(1);
        let mut reader = MemReader::default();
        reader.fund(alice.address, U256::from(10u128.pow(18)));
        let tx = alice.sign(CHAIN, 0, Some(Address::with_last_byte(1)), 1, &[], 21_000);
        let out = run(&reader, &params(), &[tx.clone(), tx]);
        assert!(out.outcomes[0].included.is_ok());
        assert_eq!(out.outcomes[1].included, Err("nonce too low: next nonce 1, tx nonce 0".to_string()));
        assert_eq!(out.gas_used, 21_000);
        assert!(out.access[1].writes.is_empty());
    }

    /// A transaction that reads the collector's balance sees every earlier fee although fees are deferred.
    #[test]
    fn reading_the_collector_sees_earlier_fees() {
        let alice = Key::new(1);
        let probe = Address::with_last_byte(0xc0);
        let mut reader = MemReader::default();
        reader.fund(alice.address, U256::from(10u128.pow(18)));
        // COINBASE BALANCE PUSH0 SSTORE STOP: stores the collector's balance in slot 0.
        reader.deploy(probe, &[0x41, 0x31, 0x5f, 0x55, 0x00]);
        let raws = [
            alice.sign(CHAIN, 0, Some(Address::with_last_byte(1)), 1, &[], 21_000),
            alice.sign(CHAIN, 1, Some(probe), 0, &[], 100_000),
        ];
        let out = run(&reader, &params(), &raws);
        let first_fee = U256::from(21_000u64 * 2_000_000_000);
        let stored = out.changes.storage.iter().find(|(a, s, _)| *a == probe && s.is_zero()).expect("slot 0");
        assert_eq!(stored.2, first_fee);
        assert!(out.access[1].read_fee_collector);
        assert!(!out.access[0].read_fee_collector);
    }

    /// A transaction whose gas limit does not fit in what is left of the block is skipped.
    #[test]
    fn block_gas_limit_skips() {
        let alice = Key::new(1);
        let mut reader = MemReader::default();
        reader.fund(alice.address, U256::from(10u128.pow(18)));
        let mut p = params();
        p.gas_limit = 50_000;
        let raws = [
            alice.sign(CHAIN, 0, Some(Address::with_last_byte(1)), 1, &[], 30_000),
            alice.sign(CHAIN, 1, Some(Address::with_last_byte(1)), 1, &[], 30_000),
        ];
        let out = run(&reader, &p, &raws);
        assert!(out.outcomes[0].included.is_ok());
        assert!(out.outcomes[1].included.as_ref().unwrap_err().starts_with("gas limit reached"));
    }

    /// A block large enough to be sealed ahead (three complete blocks of 256, a partial one) has alloy's roots,
    /// and its receipts in order; a skipped transaction shifts every later index.
    #[test]
    fn roots_of_a_block_sealed_ahead() {
        use alloy_eips::eip2718::Encodable2718;
        let keys: Vec<Key> = (1..=4).map(Key::new).collect();
        let mut reader = MemReader::default();
        for key in &keys {
            reader.fund(key.address, U256::from(10u128.pow(20)));
        }
        let mut raws: Vec<Vec<u8>> = (0..900u64)
            .map(|i| keys[i as usize % 4].sign(CHAIN, i / 4, Some(Address::with_last_byte(i as u8)), i, &[], 21_000))
            .collect();
        raws.insert(300, raws[0].clone());
        let out = run(&reader, &block_params(100_000_000), &raws);
        assert_eq!(out.receipts.len(), 900);
        assert!(out.outcomes[300].included.is_err());
        let included: Vec<&Vec<u8>> =
            raws.iter().zip(&out.outcomes).filter(|(_, o)| o.included.is_ok()).map(|(r, _)| r).collect();
        let tx_root =
            alloy_trie::root::ordered_trie_root_with_encoder(&included, |raw, buf| buf.extend_from_slice(raw));
        let receipts_root =
            alloy_trie::root::ordered_trie_root_with_encoder(&out.receipts, |r, buf| r.encode_2718(buf));
        assert_eq!((out.transactions_root, out.receipts_root), (tx_root, receipts_root));
        let cumulative: Vec<u64> = out.receipts.iter().map(|r| r.cumulative_gas_used()).collect();
        assert_eq!(cumulative, (1..=900).map(|i| i * 21_000).collect::<Vec<u64>>());
        for outcome in out.outcomes.iter().filter(|o| o.included.is_ok()) {
            let receipt = &out.receipts[outcome.receipt.expect("an included transaction has a receipt")];
            assert_eq!(receipt.cumulative_gas_used(), outcome.cumulative_gas_used);
        }
    }

    struct Reverse;

    impl HostPrecompile for Reverse {
        fn call(&self, call: &HostCall) -> HostOutput {
            HostOutput { output: call.input.iter().rev().copied().collect(), gas_used: 100, reverted: false }
        }
    }

    /// A host-defined precompile is called like a built-in one and charged its gas.
    #[test]
    fn host_precompile_runs() {
        let alice = Key::new(1);
        let addr = Address::with_last_byte(0x01).create(0x1001);
        let mut reader = MemReader::default();
        reader.fund(alice.address, U256::from(10u128.pow(18)));
        let mut p = params();
        p.host.register(addr, Arc::new(Reverse));
        let out = run(&reader, &p, &[alice.sign(CHAIN, 0, Some(addr), 0, &[1, 2, 3], 100_000)]);
        let o = &out.outcomes[0];
        assert!(o.success);
        assert_eq!(o.output.as_ref(), &[3, 2, 1]);
        // 21000 + 3 non-zero calldata bytes × 16 + the precompile's 100.
        assert_eq!(o.gas_used, 21_000 + 48 + 100);
    }
}
