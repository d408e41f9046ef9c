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

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{
    map::{HashMap, HashSet},
    Bloom,
};
use revm::{
    bytecode::Bytecode,
    context::{
        result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction},
        BlockEnv, CfgEnv, Context, ContextSetters, ContextTr, Evm, Journal, JournalTr, TxEnv,
    },
    context_interface::{block::BlobExcessGasAndPrice, Block, Cfg, Transaction as _},
    database_interface::Database,
    handler::{
        instructions::EthInstructions, EthFrame, EvmTr, FrameResult, FrameTr, Handler, MainBuilder, MainContext,
    },
    interpreter::{interpreter::EthInterpreter, interpreter_action::FrameInit},
    primitives::{hardfork::SpecId, Address, Bytes, B256, KECCAK_EMPTY, U256},
    state::{AccountInfo, EvmState},
    ExecuteEvm,
};

use crate::{
    db::{StateChanges, StateReader, StoreError},
    decode::{decode_envelope, tx_env},
    precompiles::{HostRegistry, SeiPrecompiles},
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
    /// Return data, or revert data for a failed call.
    pub output: Bytes,
    /// Why the EVM halted (out of gas, invalid opcode…) when it did.
    pub halt: Option<String>,
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
    pub transactions_root: B256,
    pub receipts_root: B256,
    pub stats: ExecStats,
}

/// An input transaction: the EIP-2718 bytes and the sender recovered when it entered the node.
pub struct OrderedTx<'a> {
    pub raw: &'a [u8],
    pub sender: Address,
}

/// Collects the fee credit of the transaction being executed (see the module docs).
pub trait FeeSink {
    fn credit_fee(&mut self, amount: U256);
}

impl<T: FeeSink> FeeSink for &mut T {
    fn credit_fee(&mut self, amount: U256) {
        (**self).credit_fee(amount);
    }
}

/// The mainnet handler with one hook changed: the beneficiary reward becomes an add-only delta.
pub struct SeiHandler<EVM> {
    _evm: core::marker::PhantomData<EVM>,
}

impl<EVM> Default for SeiHandler<EVM> {
    fn default() -> Self {
        Self { _evm: core::marker::PhantomData }
    }
}

impl<EVM> Handler for SeiHandler<EVM>
where
    EVM: EvmTr<
        Context: ContextTr<Journal: JournalTr<State = EvmState>, Db: FeeSink>,
        Frame: FrameTr<FrameResult = FrameResult, FrameInit = FrameInit>,
    >,
{
    type Evm = EVM;
    type Error = EVMError<<<EVM::Context as ContextTr>::Db as Database>::Error, InvalidTransaction>;
    type HaltReason = HaltReason;

    fn reward_beneficiary(&self, evm: &mut Self::Evm, exec_result: &mut FrameResult) -> Result<(), Self::Error> {
        let ctx = evm.ctx();
        if ctx.cfg().is_fee_charge_disabled() {
            return Ok(());
        }
        let price = ctx.tx().effective_gas_price(u128::from(ctx.block().basefee()));
        let gas = exec_result.gas();
        let used = gas.used().saturating_sub(gas.reservoir());
        ctx.db_mut().credit_fee(U256::from(price) * U256::from(used));
        Ok(())
    }
}

/// A value in the block overlay; `dirty` when this block wrote it (else it is a cached read).
#[derive(Debug, Clone)]
struct Slot<T> {
    value: T,
    dirty: bool,
}

impl<T> Slot<T> {
    const fn clean(value: T) -> Self {
        Self { value, dirty: false }
    }

    const fn written(value: T) -> Self {
        Self { value, dirty: true }
    }
}

/// The block-level view of state: committed snapshot underneath, this block's writes on top.
pub struct BlockState<'r, R> {
    reader: &'r R,
    accounts: HashMap<Address, Slot<Option<AccountInfo>>>,
    /// Per account, so that wiping an account's storage is one removal.
    storage: HashMap<Address, HashMap<U256, Slot<U256>>>,
    /// Accounts whose committed storage no longer counts (destroyed or re-created in this block).
    wiped: HashSet<Address>,
    new_codes: HashMap<B256, Bytecode>,
    fee_collector: Address,
    /// Fee credits not yet folded into the collector's balance.
    fee_delta: U256,
    /// The running transaction's fee, credited after its state is applied.
    pub(crate) pending_fee: U256,
    fees_total: U256,
    record: Option<TxAccess>,
}

impl<'r, R: StateReader> BlockState<'r, R> {
    pub fn new(reader: &'r R, fee_collector: Address) -> Self {
        Self {
            reader,
            accounts: HashMap::default(),
            storage: HashMap::default(),
            wiped: HashSet::default(),
            new_codes: HashMap::default(),
            fee_collector,
            fee_delta: U256::ZERO,
            pending_fee: U256::ZERO,
            fees_total: U256::ZERO,
            record: None,
        }
    }

    pub(crate) fn start_recording(&mut self) {
        self.record = Some(TxAccess::default());
    }

    pub(crate) fn take_record(&mut self) -> Option<TxAccess> {
        self.record.take()
    }

    /// A balance, without the pending fee credits of the collector (end-of-block module logic).
    pub(crate) fn account_balance(&mut self, address: Address) -> Result<U256, StoreError> {
        Ok(self.load_account(address)?.map(|a| a.balance).unwrap_or_default())
    }

    /// Sets a balance (end-of-block module logic); the account is created if absent.
    pub(crate) fn set_balance(&mut self, address: Address, balance: U256) -> Result<(), StoreError> {
        let mut info = self.load_account(address)?.unwrap_or_default();
        info.balance = balance;
        self.accounts.insert(address, Slot::written(Some(info)));
        Ok(())
    }

    /// Writes a storage slot (end-of-block module logic).
    pub(crate) fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.storage.entry(address).or_default().insert(slot, Slot::written(value));
    }

    /// This block's changes to `address`'s storage so far: (slot, value at the block's start, value now).
    pub(crate) fn changed_storage(&self, address: Address) -> Result<Vec<(U256, U256, U256)>, StoreError> {
        let Some(slots) = self.storage.get(&address) else { return Ok(Vec::new()) };
        let wiped = self.wiped.contains(&address);
        let mut out = Vec::new();
        for (slot, value) in slots.iter().filter(|(_, s)| s.dirty) {
            let before = if wiped { U256::ZERO } else { self.reader.storage(address, *slot)? };
            if before != value.value {
                out.push((*slot, before, value.value));
            }
        }
        Ok(out)
    }

    fn load_account(&mut self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        if let Some(slot) = self.accounts.get(&address) {
            return Ok(slot.value.clone());
        }
        let info = self.reader.account(address)?;
        self.accounts.insert(address, Slot::clean(info.clone()));
        Ok(info)
    }

    /// Applies one transaction's state diff (what `CacheDB::commit` does with a journal, plus EIP-161 deletions
    /// and the fee delta). With `writes`, also lists the locations written.
    fn apply(&mut self, diff: TxDiff, mut writes: Option<&mut Vec<Location>>) -> Result<(), StoreError> {
        for AccountDiff { address, change } in diff.0 {
            if address == self.fee_collector {
                // The transaction saw committed balance + pending delta, so what it leaves already includes it.
                self.fee_delta = U256::ZERO;
            }
            match change {
                AccountChange::Cleared { destructed, .. } => {
                    // SELFDESTRUCT, or EIP-161: a touched account left empty ceases to exist.
                    // Through the reader: when a parallel run is folded in, the overlay has not loaded it yet.
                    let existed = self.load_account(address)?.is_some();
                    if existed || destructed {
                        self.accounts.insert(address, Slot::written(None));
                        self.wipe(address);
                        if let Some(w) = writes.as_mut() {
                            w.push(Location::Account(address));
                        }
                    }
                }
                AccountChange::Written { info, created, code, storage } => {
                    if created {
                        self.wipe(address);
                    }
                    if let Some(code) = code {
                        self.new_codes.entry(info.code_hash).or_insert(code);
                    }
                    self.accounts.insert(address, Slot::written(Some(info)));
                    if let Some(w) = writes.as_mut() {
                        w.push(Location::Account(address));
                    }
                    if !storage.is_empty() {
                        let slots = self.storage.entry(address).or_default();
                        for (slot, value) in storage {
                            slots.insert(slot, Slot::written(value));
                            if let Some(w) = writes.as_mut() {
                                w.push(Location::Storage(address, slot));
                            }
                        }
                    }
                }
            }
        }
        self.fee_delta += self.pending_fee;
        self.fees_total += self.pending_fee;
        self.pending_fee = U256::ZERO;
        Ok(())
    }

    fn wipe(&mut self, address: Address) {
        self.wiped.insert(address);
        self.storage.remove(&address);
    }

    /// Folds the fee delta into the collector and produces the change set to commit (sorted, so that the
    /// commit writes LMDB in key order and the digest is canonical).
    fn into_changes(mut self) -> Result<(StateChanges, U256), StoreError> {
        if !self.fee_delta.is_zero() {
            let collector = self.fee_collector;
            let mut info = self.load_account(collector)?.unwrap_or_default();
            info.balance += self.fee_delta;
            self.accounts.insert(collector, Slot::written(Some(info)));
        }
        let mut accounts: Vec<_> =
            self.accounts.into_iter().filter(|(_, s)| s.dirty).map(|(a, s)| (a, s.value)).collect();
        accounts.sort_unstable_by_key(|(a, _)| *a);
        let mut wiped: Vec<_> = self.wiped.into_iter().collect();
        wiped.sort_unstable();
        let mut storage: Vec<_> = self
            .storage
            .into_iter()
            .flat_map(|(a, slots)| slots.into_iter().filter(|(_, s)| s.dirty).map(move |(k, s)| (a, k, s.value)))
            .collect();
        storage.sort_unstable_by_key(|(a, k, _)| (*a, *k));
        // Only code that an account holds at the end of the block is state: a contract created and destroyed
        // within the block, or a 7702 delegation replaced by a later one, leaves nothing behind.
        let live: HashSet<B256> = accounts.iter().filter_map(|(_, info)| info.as_ref().map(|i| i.code_hash)).collect();
        let mut codes: Vec<_> = self.new_codes.into_iter().filter(|(h, _)| live.contains(h)).collect();
        codes.sort_unstable_by_key(|(h, _)| *h);
        let changes = StateChanges { accounts, wiped, storage, codes };
        Ok((changes, self.fees_total))
    }
}

impl<R> FeeSink for BlockState<'_, R> {
    fn credit_fee(&mut self, amount: U256) {
        self.pending_fee += amount;
    }
}

impl<R: StateReader> Database for BlockState<'_, R> {
    type Error = StoreError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        let mut info = self.load_account(address)?;
        if let Some(record) = self.record.as_mut() {
            record.reads.push(Location::Account(address));
        }
        if address == self.fee_collector && !self.fee_delta.is_zero() {
            if let Some(record) = self.record.as_mut() {
                record.read_fee_collector = true;
            }
            let mut with_fees = info.unwrap_or_default();
            with_fees.balance += self.fee_delta;
            info = Some(with_fees);
        }
        Ok(info)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, StoreError> {
        if let Some(code) = self.new_codes.get(&code_hash) {
            return Ok(code.clone());
        }
        self.reader.code(code_hash)
    }

    fn storage(&mut self, address: Address, slot: U256) -> Result<U256, StoreError> {
        if let Some(record) = self.record.as_mut() {
            record.reads.push(Location::Storage(address, slot));
        }
        if let Some(value) = self.storage.get(&address).and_then(|slots| slots.get(&slot)) {
            return Ok(value.value);
        }
        let value = if self.wiped.contains(&address) { U256::ZERO } else { self.reader.storage(address, slot)? };
        self.storage.entry(address).or_default().insert(slot, Slot::clean(value));
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StoreError> {
        self.reader.block_hash(number)
    }
}

pub(crate) type SeiContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()>;
/// revm with Sei's precompile provider; the inspector slot is the hook for tracing.
pub type SeiEvm<DB, INSP = ()> = Evm<
    SeiContext<DB>,
    INSP,
    EthInstructions<EthInterpreter, SeiContext<DB>>,
    SeiPrecompiles,
    EthFrame<EthInterpreter>,
>;

pub(crate) fn build_evm<DB: Database>(db: DB, block: BlockEnv, cfg: CfgEnv, host: &HostRegistry) -> SeiEvm<DB> {
    let spec = cfg.spec;
    Context::mainnet()
        .with_db(db)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet()
        .with_precompiles(SeiPrecompiles::with_host(spec, host.clone()))
}

fn halt_name(reason: &HaltReason) -> String {
    format!("{reason:?}")
}

/// Why a transaction cannot be included, in the words geth uses where there is one.
pub(crate) fn skip_reason(err: &InvalidTransaction) -> String {
    match err {
        InvalidTransaction::NonceTooLow { tx, state } => {
            format!("nonce too low: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: balance {balance}, tx cost {fee}")
        }
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: gas {gas_limit}, minimum needed {initial_gas}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => "max fee per gas less than block base fee".into(),
        other => other.to_string(),
    }
}

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
    /// Executed: the EVM result, its state diff, the fee owed to the collector and, when the executor already
    /// computed it (parallel workers do), the logs bloom.
    Executed { result: ExecutionResult, diff: TxDiff, fee: U256, bloom: Option<Bloom> },
}

/// The root of an ordered trie (key = RLP of the index, as for transactions and receipts), built from the
/// encodings in index order as they arrive. Index 0 (RLP `0x80`) sorts after indices 1..=127, so it is held
/// back until the 129th item or the end; otherwise leaves go into the hash builder at once.
#[derive(Default)]
struct OrderedTrie {
    builder: alloy_trie::HashBuilder,
    first: Option<Vec<u8>>,
    count: usize,
}

impl OrderedTrie {
    fn push(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        let index = self.count;
        self.count += 1;
        let mut value = Vec::new();
        encode(&mut value);
        if index == 0 {
            self.first = Some(value);
            return;
        }
        if index == 0x80 {
            self.release_first();
        }
        self.add(index, &value);
    }

    fn release_first(&mut self) {
        if let Some(first) = self.first.take() {
            self.add(0, &first);
        }
    }

    fn add(&mut self, index: usize, value: &[u8]) {
        let key = alloy_rlp::encode_fixed_size(&index);
        self.builder.add_leaf(alloy_trie::Nibbles::unpack(&key), value);
    }

    fn root(mut self) -> B256 {
        if self.count == 0 {
            return alloy_trie::EMPTY_ROOT_HASH;
        }
        self.release_first();
        self.builder.root()
    }
}

/// Receipts with their blooms, the block bloom and the receipts trie, built in block order.
#[derive(Default)]
struct ReceiptsBuilder {
    memo: BloomMemo,
    receipts: Vec<ReceiptEnvelope>,
    logs_bloom: Bloom,
    trie: OrderedTrie,
}

impl ReceiptsBuilder {
    fn push(&mut self, tx_type: u8, receipt: Receipt, bloom: Option<Bloom>) {
        let logs_bloom = bloom.unwrap_or_else(|| self.memo.logs_bloom(&receipt.logs));
        self.logs_bloom |= logs_bloom;
        let receipt = wrap_receipt(tx_type, ReceiptWithBloom { receipt, logs_bloom });
        self.trie.push(|buf| receipt.encode_2718(buf));
        self.receipts.push(receipt);
    }
}

/// When receipts and tries are built: as each transaction is pushed (the parallel executor folds in a thread of
/// its own, concurrently with execution), or at the end with the two tries on two cores (sequential).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sealing {
    AsPushed,
    AtEnd,
}

/// Folds transaction runs into the block, in block order. Sequential and parallel execution both build their
/// output here, so the two can only differ in which runs they feed in, never in how a block is assembled.
pub(crate) struct BlockBuilder<'t> {
    outcomes: Vec<TxOutcome>,
    access: Vec<TxAccess>,
    record_access: bool,
    sealing: Sealing,
    /// With `Sealing::AtEnd`: what the receipts and the transactions trie are built from.
    included_raws: Vec<&'t [u8]>,
    plain_receipts: Vec<(u8, Receipt, Option<Bloom>)>,
    /// With `Sealing::AsPushed`: receipts and the transactions trie so far.
    receipts: ReceiptsBuilder,
    transactions: OrderedTrie,
    included: usize,
    cumulative: u64,
}

impl<'t> BlockBuilder<'t> {
    pub(crate) fn new(n: usize, record_access: bool, sealing: Sealing) -> Self {
        let deferred = if sealing == Sealing::AtEnd { n } else { 0 };
        Self {
            outcomes: Vec::with_capacity(n),
            access: Vec::with_capacity(if record_access { n } else { 0 }),
            record_access,
            sealing,
            included_raws: Vec::with_capacity(deferred),
            plain_receipts: Vec::with_capacity(deferred),
            receipts: ReceiptsBuilder { receipts: Vec::with_capacity(n - deferred), ..ReceiptsBuilder::default() },
            transactions: OrderedTrie::default(),
            included: 0,
            cumulative: 0,
        }
    }

    pub(crate) const fn cumulative_gas(&self) -> u64 {
        self.cumulative
    }

    pub(crate) const fn records_access(&self) -> bool {
        self.record_access
    }

    /// Appends the run of `raw` (of EIP-2718 type `tx_type`; `create_address` for a creation) to the block,
    /// applying its state changes to `state`.
    pub(crate) fn push<R: StateReader>(
        &mut self,
        state: &mut BlockState<'_, R>,
        raw: &'t [u8],
        tx_type: u8,
        create_address: Option<Address>,
        run: TxRun,
        record: Option<TxAccess>,
    ) -> Result<(), StoreError> {
        let (result, diff, fee, bloom) = match run {
            TxRun::Skipped(reason) => {
                self.outcomes.push(TxOutcome {
                    included: Err(reason),
                    success: false,
                    gas_used: 0,
                    cumulative_gas_used: self.cumulative,
                    receipt: None,
                    contract_address: None,
                    output: Bytes::new(),
                    halt: None,
                });
                if self.record_access {
                    self.access.push(TxAccess::default());
                }
                return Ok(());
            }
            TxRun::Executed { result, diff, fee, bloom } => (result, diff, fee, bloom),
        };
        let mut record = if self.record_access { Some(record.unwrap_or_default()) } else { None };
        state.pending_fee = fee;
        state.apply(diff, record.as_mut().map(|r| &mut r.writes))?;
        self.access.extend(record);
        let gas_used = result.gas().tx_gas_used();
        self.cumulative += gas_used;
        // As geth does, a creation's receipt names the address even when the creation failed.
        let (success, output, halt) = match &result {
            ExecutionResult::Success { output, .. } => (true, output.data().clone(), None),
            ExecutionResult::Revert { output, .. } => (false, output.clone(), None),
            ExecutionResult::Halt { reason, .. } => (false, Bytes::new(), Some(halt_name(reason))),
        };
        self.outcomes.push(TxOutcome {
            included: Ok(()),
            success,
            gas_used,
            cumulative_gas_used: self.cumulative,
            receipt: Some(self.included),
            contract_address: create_address,
            output,
            halt,
        });
        self.included += 1;
        let receipt = Receipt {
            status: Eip658Value::Eip658(success),
            cumulative_gas_used: self.cumulative,
            logs: result.into_logs(),
        };
        match self.sealing {
            Sealing::AsPushed => {
                self.receipts.push(tx_type, receipt, bloom);
                // The raw bytes are the EIP-2718 encodings: the trie takes them without re-encoding.
                self.transactions.push(|buf| buf.extend_from_slice(raw));
            }
            Sealing::AtEnd => {
                self.plain_receipts.push((tx_type, receipt, bloom));
                self.included_raws.push(raw);
            }
        }
        Ok(())
    }

    /// Runs the modules' end-of-block logic (at block time `now`), folds the fee delta, sorts the change set and
    /// completes receipts, blooms and roots.
    pub(crate) fn finish<R: StateReader>(
        mut self,
        mut state: BlockState<'_, R>,
        mut stats: ExecStats,
        now: u64,
    ) -> Result<BlockOutput, StoreError> {
        crate::modules::end_block::run(&mut state, now)?;
        stats.skipped = self.outcomes.iter().filter(|o| o.included.is_err()).count();
        stats.gas_used = self.cumulative;
        let (changes, fees) = state.into_changes()?;
        let plain_receipts = std::mem::take(&mut self.plain_receipts);
        let included_raws = std::mem::take(&mut self.included_raws);
        let (mut receipts, mut transactions) = (self.receipts, self.transactions);
        // The receipts (blooms, trie) and the transactions trie are independent: one on each core.
        rayon::join(
            || plain_receipts.into_iter().for_each(|(ty, r, bloom)| receipts.push(ty, r, bloom)),
            || included_raws.iter().for_each(|raw| transactions.push(|buf| buf.extend_from_slice(raw))),
        );
        Ok(BlockOutput {
            outcomes: self.outcomes,
            receipts_root: receipts.trie.root(),
            receipts: receipts.receipts,
            changes,
            access: self.access,
            gas_used: self.cumulative,
            fees,
            logs_bloom: receipts.logs_bloom,
            transactions_root: transactions.root(),
            stats,
        })
    }
}

/// Converts revm's verdict on a transaction into a run: invalid transactions are skipped, store failures are
/// fatal for the block.
pub(crate) fn into_run<E: std::fmt::Display>(
    result: Result<ExecutionResult, EVMError<E, InvalidTransaction>>,
    state: EvmState,
    fee: U256,
) -> Result<TxRun, E> {
    match result {
        Ok(result) => Ok(TxRun::Executed { result, diff: TxDiff::from_journal(state), fee, bloom: None }),
        Err(EVMError::Transaction(err)) => Ok(TxRun::Skipped(skip_reason(&err))),
        Err(EVMError::Database(err)) => Err(err),
        Err(other) => Ok(TxRun::Skipped(other.to_string())),
    }
}

/// The decoded form of an ordered transaction, or why it cannot be executed at all.
pub(crate) struct Prepared {
    pub(crate) env: TxEnv,
    pub(crate) tx_type: u8,
    pub(crate) create_address: Option<Address>,
}

pub(crate) fn prepare(tx: &OrderedTx<'_>) -> Result<Prepared, String> {
    let envelope = decode_envelope(tx.raw).map_err(|e| e.to_string())?;
    let env = tx_env(&envelope, tx.sender);
    let create_address = env.kind.is_create().then(|| tx.sender.create(env.nonce));
    Ok(Prepared { env, tx_type: envelope.tx_type() as u8, create_address })
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
    let mut builder = BlockBuilder::new(txs.len(), record_access, Sealing::AtEnd);
    {
        let mut evm = build_evm(&mut state, params.block_env(), params.cfg_env(), &params.host);
        for (tx, prepared) in txs.iter().zip(prepared) {
            let prepared = match prepared {
                Ok(p) => p,
                Err(reason) => {
                    builder.push(evm.ctx.journaled_state.database, tx.raw, 0, None, TxRun::Skipped(reason), None)?;
                    continue;
                }
            };
            if builder.cumulative_gas().saturating_add(prepared.env.gas_limit) > params.gas_limit {
                let reason = "gas limit reached: transaction does not fit in the block".to_string();
                builder.push(evm.ctx.journaled_state.database, tx.raw, 0, None, TxRun::Skipped(reason), None)?;
                continue;
            }
            if record_access {
                evm.ctx.journaled_state.database.start_recording();
            }
            evm.ctx.set_tx(prepared.env);
            let result = SeiHandler::default().run(&mut evm);
            let journal = evm.finalize();
            let state = &mut *evm.ctx.journaled_state.database;
            let fee = std::mem::take(&mut state.pending_fee);
            let record = state.take_record();
            let run = into_run(result, journal, fee)?;
            builder.push(state, tx.raw, prepared.tx_type, prepared.create_address, run, record)?;
        }
    }
    builder.finish(state, ExecStats { txs: txs.len(), ..ExecStats::default() }, params.timestamp)
}

/// Bloom bits by input, for one block: the emitting contract and the event signature repeat in almost every
/// log of a block, and each bloom input otherwise costs a keccak.
#[derive(Default)]
pub(crate) struct BloomMemo {
    bits: HashMap<B256, Bloom>,
}

impl BloomMemo {
    fn accrue(&mut self, bloom: &mut Bloom, input: &[u8]) {
        let mut key = B256::ZERO;
        key[32 - input.len()..].copy_from_slice(input);
        // Addresses (20 bytes) and topics (32 bytes) cannot collide: the key also encodes the length.
        key[0] ^= input.len() as u8;
        let bits = self.bits.entry(key).or_insert_with(|| {
            let mut b = Bloom::ZERO;
            b.accrue(alloy_primitives::BloomInput::Raw(input));
            b
        });
        *bloom |= *bits;
    }

    pub(crate) fn logs_bloom(&mut self, logs: &[alloy_primitives::Log]) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in logs {
            self.accrue(&mut bloom, log.address.as_slice());
            for topic in log.topics() {
                self.accrue(&mut bloom, topic.as_slice());
            }
        }
        bloom
    }
}

fn wrap_receipt(tx_type: u8, receipt: ReceiptWithBloom<Receipt>) -> ReceiptEnvelope {
    match tx_type {
        1 => ReceiptEnvelope::Eip2930(receipt),
        2 => ReceiptEnvelope::Eip1559(receipt),
        4 => ReceiptEnvelope::Eip7702(receipt),
        _ => ReceiptEnvelope::Legacy(receipt),
    }
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
    use alloy_primitives::{Log, LogData};
    use proptest::prelude::*;

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

    proptest! {
        /// The ordered trie built as items arrive has alloy's root, for every length around the index-0 quirk.
        #[test]
        fn ordered_trie_matches_alloy(items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..300)) {
            let mut trie = OrderedTrie::default();
            for item in &items {
                trie.push(|buf| buf.extend_from_slice(item));
            }
            let expected = alloy_trie::root::ordered_trie_root_with_encoder(&items, |item, buf| buf.extend_from_slice(item));
            prop_assert_eq!(trie.root(), expected);
        }

        /// The memoised bloom equals alloy's, whatever the mix of repeated and fresh addresses and topics.
        #[test]
        fn bloom_memo_matches_alloy(logs in proptest::collection::vec(
            (0u8..4, proptest::collection::vec(0u8..6, 0..4), proptest::collection::vec(any::<u8>(), 0..40)), 0..12)
        ) {
            let logs: Vec<Log> = logs
                .into_iter()
                .map(|(a, topics, data)| Log {
                    address: Address::with_last_byte(a),
                    data: LogData::new_unchecked(topics.into_iter().map(B256::with_last_byte).collect(), data.into()),
                })
                .collect();
            let mut memo = BloomMemo::default();
            // Twice, so the second pass runs entirely from the memo.
            for _ in 0..2 {
                let expected = alloy_primitives::logs_bloom(logs.iter());
                prop_assert_eq!(memo.logs_bloom(&logs), expected);
            }
        }
    }
}
