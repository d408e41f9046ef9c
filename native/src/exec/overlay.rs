//! The block overlay: the committed snapshot underneath, this block's writes on top. revm reads through it
//! (`Database`), each executed transaction's diff is applied to it, and at the end of the block it becomes the
//! sorted change set the store commits, with the value each changed record held before the block (the store's
//! change set and history index need it, and reading it again inside the commit's write transaction was most of
//! the commit's time).

use alloy_primitives::map::{Entry, HashMap, HashSet};
use revm::{
    bytecode::Bytecode,
    database_interface::Database,
    primitives::{Address, B256, U256},
    state::AccountInfo,
};

use super::{
    diff::{AccountChange, AccountDiff, TxDiff},
    handler::FeeSink,
    Location, TxAccess,
};
use crate::db::{Before, StateChanges, StateReader, StoreError};

/// A value in the block overlay; `dirty` when this block wrote it (else it is a cached read).
#[derive(Debug, Clone)]
struct Slot<T> {
    value: T,
    dirty: bool,
    /// For a written value, the committed one, when the block read it before writing (revm loads what it
    /// writes; the parallel executor's folds and the modules' end-of-block writes do not). A clean value is its
    /// own committed value, so it is kept only from the first write on.
    before: Option<T>,
}

impl<T> Slot<T> {
    const fn clean(value: T) -> Self {
        Self { value, dirty: false, before: None }
    }
}

/// Writes `value` into `map[key]`; the first write of a value read clean keeps that value as the committed one.
fn write<K: std::hash::Hash + Eq, T>(map: &mut HashMap<K, Slot<T>>, key: K, value: T) {
    match map.entry(key) {
        Entry::Occupied(mut entry) => {
            let slot = entry.get_mut();
            let read = std::mem::replace(&mut slot.value, value);
            if !slot.dirty {
                slot.before = Some(read);
                slot.dirty = true;
            }
        }
        Entry::Vacant(entry) => {
            entry.insert(Slot { value, dirty: true, before: None });
        }
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
        write(&mut self.accounts, address, Some(info));
        Ok(())
    }

    /// Writes a storage slot (end-of-block module logic).
    pub(crate) fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        write(self.storage.entry(address).or_default(), slot, value);
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
    pub(super) fn apply(&mut self, diff: TxDiff, mut writes: Option<&mut Vec<Location>>) -> Result<(), StoreError> {
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
                        write(&mut self.accounts, address, None);
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
                    write(&mut self.accounts, address, Some(info));
                    if let Some(w) = writes.as_mut() {
                        w.push(Location::Account(address));
                    }
                    if !storage.is_empty() {
                        let slots = self.storage.entry(address).or_default();
                        for (slot, value) in storage {
                            write(slots, slot, value);
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

    /// Credits the fees not yet folded to the collector's balance (after the last transaction: the end-of-block
    /// logic reads and spends the collector's balance as any other).
    pub(crate) fn fold_fees(&mut self) -> Result<(), StoreError> {
        if !self.fee_delta.is_zero() {
            let collector = self.fee_collector;
            let mut info = self.load_account(collector)?.unwrap_or_default();
            info.balance += std::mem::take(&mut self.fee_delta);
            write(&mut self.accounts, collector, Some(info));
        }
        Ok(())
    }

    /// Folds the fee delta into the collector and produces the change set to commit (sorted, so that the
    /// commit writes LMDB in key order and the digest is canonical), with the committed values before the block:
    /// those the block did not read are read here, through the same snapshot the block executed on.
    pub(super) fn into_changes(mut self) -> Result<(StateChanges, U256), StoreError> {
        self.fold_fees()?;
        let mut accounts: Vec<_> = self.accounts.into_iter().filter(|(_, s)| s.dirty).collect();
        accounts.sort_unstable_by_key(|(a, _)| *a);
        let mut wiped: Vec<_> = self.wiped.into_iter().collect();
        wiped.sort_unstable();
        let mut storage: Vec<_> = self
            .storage
            .into_iter()
            .flat_map(|(a, slots)| slots.into_iter().filter(|(_, s)| s.dirty).map(move |(k, s)| (a, k, s)))
            .collect();
        storage.sort_unstable_by_key(|(a, k, _)| (*a, *k));
        let reader = self.reader;
        let before = Before {
            accounts: accounts
                .iter_mut()
                .map(|(a, s)| s.before.take().map_or_else(|| reader.account(*a), Ok))
                .collect::<Result<_, _>>()?,
            // The commit wipes an account's stored slots before it writes the new ones, so for a wiped account
            // every slot it writes was absent (zero) just before.
            storage: storage
                .iter_mut()
                .map(|(a, k, s)| match s.before.take() {
                    _ if wiped.binary_search(a).is_ok() => Ok(U256::ZERO),
                    Some(value) => Ok(value),
                    None => reader.storage(*a, *k),
                })
                .collect::<Result<_, _>>()?,
        };
        let accounts: Vec<_> = accounts.into_iter().map(|(a, s)| (a, s.value)).collect();
        let storage: Vec<_> = storage.into_iter().map(|(a, k, s)| (a, k, s.value)).collect();
        // Only code that an account holds at the end of the block is state: a contract created and destroyed
        // within the block, or a 7702 delegation replaced by a later one, leaves nothing behind.
        let live: HashSet<B256> = accounts.iter().filter_map(|(_, info)| info.as_ref().map(|i| i.code_hash)).collect();
        let mut codes: Vec<_> = self.new_codes.into_iter().filter(|(h, _)| live.contains(h)).collect();
        codes.sort_unstable_by_key(|(h, _)| *h);
        let changes = StateChanges { accounts, wiped, storage, codes, before: Some(before) };
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
