//! The database one speculative incarnation executes against: multi-version memory over the committed store,
//! recording every read with the version it saw.

use alloy_primitives::map::HashMap;
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, Database},
    primitives::{Address, B256, U256},
    state::AccountInfo,
};

use super::mv::{Key, MvMemory, Origin, Read, TxIdx, Value};
use crate::{
    db::{StateReader, StoreError},
    exec::api::{AccountChange, AccountDiff, FeeSink, TxDiff},
};

/// Why an incarnation stopped reading.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VmError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// It read an estimate of a lower transaction's write.
    #[error("blocked by transaction {0}")]
    Blocked(TxIdx),
}

impl DBErrorMarker for VmError {}

/// A parallel run cannot reproduce sequential semantics for this block (pre-Cancun SELFDESTRUCT of an existing
/// account wipes storage the multi-version memory cannot see); the block runs sequentially instead.
#[derive(Debug)]
pub(crate) struct NeedsSequential;

pub(crate) struct VmDb<'a, R> {
    reader: &'a R,
    mv: &'a MvMemory,
    collector: Address,
    pub(crate) tx: TxIdx,
    pub(crate) reads: Vec<(Key, Origin)>,
    /// The value each account had when first read: writes that leave an account as it was are not published.
    read_accounts: HashMap<Address, Option<AccountInfo>>,
    pub(crate) fee: U256,
    pub(crate) read_collector: bool,
}

impl<'a, R: StateReader> VmDb<'a, R> {
    pub(crate) fn new(reader: &'a R, mv: &'a MvMemory, collector: Address) -> Self {
        Self {
            reader,
            mv,
            collector,
            tx: 0,
            reads: Vec::new(),
            read_accounts: HashMap::default(),
            fee: U256::ZERO,
            read_collector: false,
        }
    }

    pub(crate) fn reset(&mut self, tx: TxIdx) {
        self.tx = tx;
        self.reads.clear();
        self.read_accounts.clear();
        self.fee = U256::ZERO;
        self.read_collector = false;
    }

    /// The fee collector's balance as transaction `tx` sees it: the value last written (or committed) plus
    /// every fee credited since, each read as a location of its own.
    fn add_fees(&mut self, origin: Origin, value: Option<AccountInfo>) -> Result<Option<AccountInfo>, VmError> {
        self.read_collector = true;
        // A writer's own fee is credited after its write, so the sum starts at the writer.
        let from = match origin {
            Origin::Version((writer, _)) => writer,
            Origin::Store => 0,
        };
        let mut sum = U256::ZERO;
        for k in from..self.tx {
            match self.mv.read(&Key::Fee(k), self.tx) {
                Read::Estimate(j) => return Err(VmError::Blocked(j)),
                Read::Value(version, Value::Fee(fee)) => {
                    sum += fee;
                    self.reads.push((Key::Fee(k), Origin::Version(version)));
                }
                _ => self.reads.push((Key::Fee(k), Origin::Store)),
            }
        }
        if sum.is_zero() {
            return Ok(value);
        }
        let mut info = value.unwrap_or_else(|| AccountInfo { code: None, ..AccountInfo::default() });
        info.balance += sum;
        Ok(Some(info))
    }

    /// What this incarnation publishes: changed accounts (EIP-161 and SELFDESTRUCT deletions included), changed
    /// slots and its fee.
    pub(crate) fn write_set(&self, diff: &TxDiff, fee: U256) -> Result<Vec<(Key, Value)>, NeedsSequential> {
        let mut writes = Vec::with_capacity(diff.0.len() + 2);
        for AccountDiff { address, change } in &diff.0 {
            let before = self.read_accounts.get(address).cloned().flatten();
            match change {
                AccountChange::Cleared { destructed: true, created: false } => return Err(NeedsSequential),
                AccountChange::Cleared { destructed: true, created: true } => {
                    writes.push((Key::Account(*address), Value::Account(None)));
                }
                AccountChange::Cleared { destructed: false, .. } => {
                    if before.is_some() {
                        writes.push((Key::Account(*address), Value::Account(None)));
                    }
                }
                AccountChange::Written { info, storage, .. } => {
                    let unchanged = before.as_ref().is_some_and(|b| {
                        b.balance == info.balance && b.nonce == info.nonce && b.code_hash == info.code_hash
                    });
                    if !unchanged {
                        writes.push((Key::Account(*address), Value::Account(Some(info.clone()))));
                    }
                    for (slot, value) in storage {
                        writes.push((Key::Storage(*address, *slot), Value::Storage(*value)));
                    }
                }
            }
        }
        writes.push((Key::Fee(self.tx), Value::Fee(fee)));
        Ok(writes)
    }
}

impl<R: StateReader> Database for VmDb<'_, R> {
    type Error = VmError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, VmError> {
        let key = Key::Account(address);
        let (origin, mut value) = match self.mv.read(&key, self.tx) {
            Read::Estimate(j) => return Err(VmError::Blocked(j)),
            Read::Value(version, Value::Account(info)) => (Origin::Version(version), info),
            Read::Value(..) => unreachable!("account keys hold accounts"),
            Read::Absent => (Origin::Store, self.reader.account(address)?),
        };
        self.reads.push((key, origin));
        if address == self.collector {
            value = self.add_fees(origin, value)?;
        }
        self.read_accounts.insert(address, value.clone());
        Ok(value)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, VmError> {
        match self.mv.code(&code_hash) {
            Some(code) => Ok(code),
            None => Ok(self.reader.code(code_hash)?),
        }
    }

    fn storage(&mut self, address: Address, slot: U256) -> Result<U256, VmError> {
        let key = Key::Storage(address, slot);
        let (origin, value) = match self.mv.read(&key, self.tx) {
            Read::Estimate(j) => return Err(VmError::Blocked(j)),
            Read::Value(version, Value::Storage(v)) => (Origin::Version(version), v),
            Read::Value(..) => unreachable!("storage keys hold slots"),
            Read::Absent => (Origin::Store, self.reader.storage(address, slot)?),
        };
        self.reads.push((key, origin));
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, VmError> {
        Ok(self.reader.block_hash(number)?)
    }
}

impl<R> FeeSink for VmDb<'_, R> {
    fn credit_fee(&mut self, amount: U256) {
        self.fee += amount;
    }
}
