//! The flat state store: LMDB (through heed), owned by this crate so that the environment is opened once per
//! process (LMDB forbids a second open; see native-evm-brief §5). No Merkle trie: accounts, code and storage are
//! plain keys, and the block commit writes state, blocks, receipts and indexes in one write transaction.
//!
//! Layout (all integers big-endian so LMDB's byte order is numeric order):
//! - `account`: address(20) → nonce(8) ‖ balance(32) ‖ code_hash(32)
//! - `code`: code_hash(32) → bytecode
//! - `storage`: address(20) ‖ slot(32) → value(32); zero values are deleted, never stored
//! - `block_hash`: number(8) → hash(32), read by BLOCKHASH
//! - `changes`: number(8) → the block's change set (`history::encode`): every record's old and new value;
//!   encoded on a pool thread while the commit writes the state when the executor supplied the old values
//!   (`KnownChanges`), else recorded from the write transaction's reads
//! - `history`: record key ‖ number(8) → the value the record held before that block (empty: absent); written
//!   from the change sets behind the commit (`index.rs`)
//! - `commitment`: number(8) → the LtHash digest of the state after that block (written by the commitment
//!   worker, trailing execution); `lthash`: `b"state"` → number(8) ‖ the 2048-byte accumulator at that block
//! - named tables that the Python node defines (blocks, transactions, logs, metadata), opaque bytes here.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex, RwLock},
};

mod dev;
mod index;

use crate::{
    history::{self, Recorder},
    hot::{HotState, Ticket},
};
use heed::{types::Bytes as RawBytes, Database, Env, EnvFlags, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};
use revm::{
    bytecode::Bytecode,
    primitives::{Address, B256, KECCAK_EMPTY, U256},
    state::AccountInfo,
};

pub(crate) type RawDb = Database<RawBytes, RawBytes>;

/// A failure of the store itself: always fatal for the block being executed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("lmdb: {0}")]
    Lmdb(#[from] heed::Error),
    #[error("corrupt {table} record for key {key}: {why}")]
    Corrupt { table: &'static str, key: String, why: &'static str },
    #[error("unknown table {0:?}")]
    UnknownTable(String),
    #[error("{0}")]
    ChangeSet(#[from] history::MalformedChangeSet),
    #[error("change set of block {0} is missing: the commitment cannot advance past it")]
    MissingChangeSet(u64),
    #[error("end of block: {0}")]
    EndBlock(String),
}

impl revm::database_interface::DBErrorMarker for StoreError {}

/// Reads of the committed state, as seen by one snapshot.
pub trait StateReader {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StoreError>;
    fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError>;
    fn code(&self, code_hash: B256) -> Result<Bytecode, StoreError>;
    fn block_hash(&self, number: u64) -> Result<B256, StoreError>;
}

impl<T: StateReader + ?Sized> StateReader for &T {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        (**self).account(address)
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        (**self).storage(address, slot)
    }

    fn code(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        (**self).code(code_hash)
    }

    fn block_hash(&self, number: u64) -> Result<B256, StoreError> {
        (**self).block_hash(number)
    }
}

/// The LMDB environment and its tables. Cheap to clone (the environment is reference-counted).
#[derive(Clone)]
pub struct Store {
    pub(crate) env: Env<WithoutTls>,
    account: RawDb,
    code: RawDb,
    storage: RawDb,
    block_hash: RawDb,
    pub(crate) changes: RawDb,
    history: RawDb,
    pub(crate) commitment: RawDb,
    pub(crate) lthash: RawDb,
    named: Arc<HashMap<String, RawDb>>,
    /// Analysed bytecode by hash, shared across blocks: jump-table analysis of a hot contract is paid once.
    code_cache: Arc<RwLock<HashMap<B256, Bytecode>>>,
    /// Held by whatever rewrites committed change sets (the dev edits in `dev.rs`) and by the commitment
    /// worker, which reads the accumulator and change sets before it writes: the two must not interleave.
    pub(crate) rewrite: Arc<Mutex<()>>,
    /// Recently written accounts and slots (see `hot.rs`).
    hot: Arc<HotState>,
}

/// A table entry read back: `(key, value)`.
pub type Entry = (Vec<u8>, Vec<u8>);

/// State changes of a block, in the form the commit writes them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StateChanges {
    /// New account records; `None` deletes the account (EIP-161 or SELFDESTRUCT) together with its storage.
    pub accounts: Vec<(Address, Option<AccountInfo>)>,
    /// Accounts whose storage is wiped before `storage` is applied (re-created or self-destructed).
    pub wiped: Vec<Address>,
    /// Storage writes; a zero value deletes the slot.
    pub storage: Vec<(Address, U256, U256)>,
    /// Newly deployed code.
    pub codes: Vec<(B256, Bytecode)>,
    /// What `accounts` and `storage` held before the block, entry for entry, when the executor knows it (it read
    /// them through the snapshot the block executed on, which is the state the commit applies to: the node
    /// commits each block before the next executes, and edits state only with the pipeline paused). `None`
    /// (genesis, snapshots, edits), or entries appended after execution (an allocation beside a result): the
    /// commit reads them.
    pub before: Option<Before>,
}

/// The committed values of a change set's entries before its block (see `StateChanges::before`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Before {
    pub accounts: Vec<Option<AccountInfo>>,
    /// A slot of an account the block wiped is zero here: the commit deletes the stored slots first.
    pub storage: Vec<U256>,
}

impl StateChanges {
    /// keccak256 over a canonical encoding of the changes (entries are sorted by the executor): a cheap
    /// fingerprint for comparing two executions of one block (the benchmark checks parallel against sequential
    /// with it). Not the state commitment, which is the LtHash in `commitment.rs`.
    pub fn digest(&self) -> B256 {
        let mut buf = Vec::with_capacity(64 * (self.accounts.len() + self.storage.len()));
        for address in &self.wiped {
            buf.push(0);
            buf.extend_from_slice(address.as_slice());
        }
        for (address, info) in &self.accounts {
            buf.push(1);
            buf.extend_from_slice(address.as_slice());
            match info {
                Some(info) => buf.extend_from_slice(&encode_account(info)),
                None => buf.push(0),
            }
        }
        for (address, slot, value) in &self.storage {
            buf.push(2);
            buf.extend_from_slice(&storage_key(address, slot));
            buf.extend_from_slice(&value.to_be_bytes::<32>());
        }
        for (hash, _) in &self.codes {
            buf.push(3);
            buf.extend_from_slice(hash.as_slice());
        }
        revm::primitives::keccak256(&buf)
    }
}

/// A state record in the commitment's encoding: `(key, value)`.
pub type Record = (Vec<u8>, Vec<u8>);

/// A put or delete in one of the node's named tables, committed with the block.
pub struct TableWrite {
    pub table: String,
    pub key: Vec<u8>,
    /// `None` deletes the key.
    pub value: Option<Vec<u8>>,
}

/// A put into one of the node's named tables, borrowed (the kernel's own encoded records).
pub struct TablePut<'a> {
    pub table: &'a str,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

pub fn encode_account(info: &AccountInfo) -> [u8; 72] {
    let mut out = [0u8; 72];
    out[..8].copy_from_slice(&info.nonce.to_be_bytes());
    out[8..40].copy_from_slice(&info.balance.to_be_bytes::<32>());
    out[40..].copy_from_slice(info.code_hash.as_slice());
    out
}

pub fn decode_account(address: &Address, raw: &[u8]) -> Result<AccountInfo, StoreError> {
    if raw.len() != 72 {
        return Err(StoreError::Corrupt { table: "account", key: address.to_string(), why: "length != 72" });
    }
    let nonce = u64::from_be_bytes(raw[..8].try_into().expect("8 bytes"));
    let balance = U256::from_be_slice(&raw[8..40]);
    let code_hash = B256::from_slice(&raw[40..72]);
    Ok(AccountInfo { balance, nonce, code_hash, code: None, account_id: None })
}

fn account_key(address: &Address) -> Vec<u8> {
    prefixed(history::ACCOUNT, address.as_slice())
}

fn prefixed(prefix: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(prefix);
    out.extend_from_slice(key);
    out
}

fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

/// A change set whose old values the executor supplied one for one (`StateChanges::before`) and that needs no
/// read of the store: no storage wipe and no deleted account (their stored slots are read to be deleted). Its
/// change set can then be encoded apart from the writes, and yields the same bytes as recording them.
struct KnownChanges<'a> {
    changes: &'a StateChanges,
    before: &'a Before,
}

impl<'a> KnownChanges<'a> {
    fn of(changes: &'a StateChanges) -> Option<Self> {
        let before = changes.before.as_ref()?;
        let one_for_one =
            before.accounts.len() == changes.accounts.len() && before.storage.len() == changes.storage.len();
        let reads = !changes.wiped.is_empty() || changes.accounts.iter().any(|(_, info)| info.is_none());
        (one_for_one && !reads).then_some(Self { changes, before })
    }

    /// `(address, old record, new record)` of each account whose record changes.
    fn accounts(&self) -> impl Iterator<Item = (&'a Address, Option<[u8; 72]>, [u8; 72])> + 'a {
        self.changes.accounts.iter().zip(&self.before.accounts).filter_map(|((address, info), old)| {
            let new = encode_account(info.as_ref()?);
            let old = old.as_ref().map(encode_account);
            (old != Some(new)).then_some((address, old, new))
        })
    }

    /// `(address, slot, old, new)` of each slot whose value changes (zero: absent).
    fn storage(&self) -> impl Iterator<Item = (&'a Address, &'a U256, U256, U256)> + 'a {
        self.changes
            .storage
            .iter()
            .zip(&self.before.storage)
            .filter(|((_, _, new), old)| new != *old)
            .map(|((address, slot, new), old)| (address, slot, *old, *new))
    }

    /// The change set of the accounts and storage (`history::encode`'s format); code is appended by the writer.
    fn encode(&self) -> history::Encoder {
        let mut out =
            history::Encoder::with_capacity(180 * self.changes.accounts.len() + 130 * self.changes.storage.len());
        for (address, old, new) in self.accounts() {
            out.push(&account_key(address), old.as_ref().map(<[u8; 72]>::as_slice), Some(&new));
        }
        let value = |v: U256| (!v.is_zero()).then(|| v.to_be_bytes::<32>());
        for (address, slot, old, new) in self.storage() {
            let key = prefixed(history::STORAGE, &storage_key(address, slot));
            out.push(
                &key,
                value(old).as_ref().map(<[u8; 32]>::as_slice),
                value(new).as_ref().map(<[u8; 32]>::as_slice),
            );
        }
        out
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path` with the node's named tables.
    ///
    /// `sync = false` skips the fsync at commit (MDB_NOSYNC): a process crash still loses nothing, since the
    /// pages are in the OS cache, but a power loss may lose recent blocks.
    pub fn open(path: &Path, map_size: usize, tables: &[String], sync: bool) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(heed::Error::Io)?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size).max_dbs(12 + tables.len() as u32).max_readers(512);
        if !sync {
            // SAFETY: NO_SYNC only changes durability on power loss, not memory safety.
            unsafe { options.flags(EnvFlags::NO_SYNC) };
        }
        // SAFETY: the environment is opened once per process: `Store` is the only owner, created by the node's
        // state layer once, and heed refuses a second open of the same path within its own environments.
        let env = unsafe { options.open(path)? };
        let mut wtxn = env.write_txn()?;
        let account = env.create_database(&mut wtxn, Some("account"))?;
        let code = env.create_database(&mut wtxn, Some("code"))?;
        let storage = env.create_database(&mut wtxn, Some("storage"))?;
        let block_hash = env.create_database(&mut wtxn, Some("block_hash"))?;
        let changes = env.create_database(&mut wtxn, Some("changes"))?;
        let history = env.create_database(&mut wtxn, Some("history"))?;
        let commitment = env.create_database(&mut wtxn, Some("commitment"))?;
        let lthash = env.create_database(&mut wtxn, Some("lthash"))?;
        let mut named = HashMap::new();
        for name in tables {
            named.insert(name.clone(), env.create_database(&mut wtxn, Some(name.as_str()))?);
        }
        let store = Self {
            env: env.clone(),
            account,
            code,
            storage,
            block_hash,
            changes,
            history,
            commitment,
            lthash,
            named: Arc::new(named),
            code_cache: Arc::default(),
            rewrite: Arc::default(),
            hot: Arc::default(),
        };
        store.init_history_index(&mut wtxn)?;
        wtxn.commit()?;
        Ok(store)
    }

    /// A consistent read view of the committed state (an LMDB read transaction).
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let (txn, ticket) = self.hot.open(|| self.env.clone().static_read_txn());
        Ok(Snapshot { txn: txn?, store: self.clone(), at: None, ticket })
    }

    /// The current state read from LMDB alone (tests compare it with reads through the hot-state cache).
    #[cfg(test)]
    pub fn snapshot_uncached(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot { ticket: Ticket::NONE, ..self.snapshot()? })
    }

    /// The current state, or the state after block `at`.
    pub fn view(&self, at: Option<u64>) -> Result<Snapshot, StoreError> {
        match at {
            Some(number) => self.snapshot_at(number),
            None => self.snapshot(),
        }
    }

    /// A read view of the state as it was after block `number`, from the history index, which it first brings up
    /// to the newest change set the view sees (`index.rs`). The caller checks that `number` is not above the head
    /// and not below the pruning horizon (the index holds nothing for those).
    pub fn snapshot_at(&self, number: u64) -> Result<Snapshot, StoreError> {
        loop {
            let snapshot = Snapshot { at: Some(number), ticket: Ticket::NONE, ..self.snapshot()? };
            if self.history_complete(&snapshot.txn)? {
                return Ok(snapshot);
            }
            drop(snapshot);
            self.catch_up_history()?;
        }
    }

    fn table(&self, name: &str) -> Result<RawDb, StoreError> {
        self.named.get(name).copied().ok_or_else(|| StoreError::UnknownTable(name.to_string()))
    }

    fn apply_changes(&self, wtxn: &mut RwTxn, changes: &StateChanges, rec: &mut Recorder) -> Result<(), StoreError> {
        // Used only when it matches the entries one for one; otherwise every old value is read.
        let before = changes
            .before
            .as_ref()
            .filter(|b| b.accounts.len() == changes.accounts.len() && b.storage.len() == changes.storage.len());
        for address in &changes.wiped {
            self.wipe_storage(wtxn, address, rec)?;
        }
        for (i, (address, info)) in changes.accounts.iter().enumerate() {
            let key = account_key(address);
            let old = match before {
                Some(before) => before.accounts[i].as_ref().map(|info| encode_account(info).to_vec()),
                None => self.account.get(wtxn, address.as_slice())?.map(<[u8]>::to_vec),
            };
            match info {
                Some(info) => {
                    let new = encode_account(info);
                    if old.as_deref() != Some(new.as_slice()) {
                        self.account.put(wtxn, address.as_slice(), &new)?;
                        rec.record(key, old, Some(new.to_vec()));
                    }
                }
                None => {
                    rec.record(key, old, None);
                    self.account.delete(wtxn, address.as_slice())?;
                    self.wipe_storage(wtxn, address, rec)?;
                }
            }
        }
        for (i, (address, slot, value)) in changes.storage.iter().enumerate() {
            let key = storage_key(address, slot);
            let old = match before {
                Some(before) => {
                    Some(before.storage[i]).filter(|v| !v.is_zero()).map(|v| v.to_be_bytes::<32>().to_vec())
                }
                None => self.storage.get(wtxn, &key)?.map(<[u8]>::to_vec),
            };
            if value.is_zero() {
                rec.record(prefixed(history::STORAGE, &key), old, None);
                self.storage.delete(wtxn, &key)?;
            } else {
                let new = value.to_be_bytes::<32>();
                if old.as_deref() != Some(new.as_slice()) {
                    self.storage.put(wtxn, &key, &new)?;
                    rec.record(prefixed(history::STORAGE, &key), old, Some(new.to_vec()));
                }
            }
        }
        for (hash, code) in self.put_codes(wtxn, &changes.codes)? {
            rec.record(prefixed(history::CODE, hash.as_slice()), None, Some(code.original_bytes().to_vec()));
        }
        Ok(())
    }

    /// Writes the code in `codes` that is new to the store and returns it: code is content-addressed, so only
    /// bytecode the store did not hold is a change.
    fn put_codes<'c>(
        &self,
        wtxn: &mut RwTxn,
        codes: &'c [(B256, Bytecode)],
    ) -> Result<Vec<&'c (B256, Bytecode)>, StoreError> {
        let mut new = Vec::new();
        for entry in codes {
            let (hash, code) = entry;
            if self.code.get(wtxn, hash.as_slice())?.is_none() {
                self.code.put(wtxn, hash.as_slice(), code.original_byte_slice())?;
                new.push(entry);
            }
        }
        Ok(new)
    }

    /// `apply_changes` for a change set whose old values are all known (`KnownChanges`), without recording:
    /// the caller encodes the change set meanwhile. Returns the code that was new to the store.
    fn write_known<'c>(
        &self,
        wtxn: &mut RwTxn,
        known: &KnownChanges<'c>,
    ) -> Result<Vec<&'c (B256, Bytecode)>, StoreError> {
        for (address, _, new) in known.accounts() {
            self.account.put(wtxn, address.as_slice(), &new)?;
        }
        for (address, slot, _, new) in known.storage() {
            let key = storage_key(address, slot);
            if new.is_zero() {
                self.storage.delete(wtxn, &key)?;
            } else {
                self.storage.put(wtxn, &key, &new.to_be_bytes::<32>())?;
            }
        }
        self.put_codes(wtxn, &known.changes.codes)
    }

    fn wipe_storage(&self, wtxn: &mut RwTxn, address: &Address, rec: &mut Recorder) -> Result<(), StoreError> {
        let mut iter = self.storage.prefix_iter_mut(wtxn, address.as_slice())?;
        while let Some((key, value)) = iter.next().transpose()? {
            rec.record_wiped(prefixed(history::STORAGE, key), value);
            // SAFETY: the iterator is not used to hold references to the deleted entry (key and value were
            // copied by the recorder above).
            unsafe { iter.del_current()? };
        }
        Ok(())
    }

    /// Writes block `number`'s state changes, its change set (the history index follows it: `index.rs`),
    /// canonical block hashes and the node's records (blocks, receipts, indexes; `writes` and `puts`) in one
    /// atomic LMDB write transaction: a crash leaves either all of it or none. Returns the number of records the
    /// block changed.
    pub fn commit(
        &self,
        number: u64,
        changes: &StateChanges,
        hashes: &[(u64, B256)],
        writes: &[TableWrite],
        puts: &[TablePut<'_>],
        commitments: &[(u64, B256)],
    ) -> Result<usize, StoreError> {
        // The hot-state cache is invalid from before LMDB commits until it holds the block's writes.
        self.hot.commit(Some(changes), || self.write_block(number, changes, hashes, writes, puts, commitments))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_block(
        &self,
        number: u64,
        changes: &StateChanges,
        hashes: &[(u64, B256)],
        writes: &[TableWrite],
        puts: &[TablePut<'_>],
        commitments: &[(u64, B256)],
    ) -> Result<usize, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.put_commitments(&mut wtxn, commitments)?;
        let (change_set, changed) = match KnownChanges::of(changes) {
            // Nothing in the change set needs a read of the store: it is encoded on the pool while this thread
            // writes the state (for a 20k-transaction block, megabytes of change set beside ~50k puts).
            Some(known) => {
                let mut encoded = None;
                let written = rayon::in_place_scope(|scope| {
                    scope.spawn(|_| encoded = Some(known.encode()));
                    self.write_known(&mut wtxn, &known)
                });
                let mut encoded = encoded.expect("the encoding job ran");
                for (hash, code) in written? {
                    encoded.push(&prefixed(history::CODE, hash.as_slice()), None, Some(code.original_byte_slice()));
                }
                let changed = encoded.len();
                (encoded.finish(), changed)
            }
            None => {
                let mut rec = Recorder::default();
                self.apply_changes(&mut wtxn, changes, &mut rec)?;
                let changed = rec.finish();
                (history::encode(&changed), changed.len())
            }
        };
        self.changes.put(&mut wtxn, &number.to_be_bytes(), &change_set)?;
        for (number, hash) in hashes {
            self.block_hash.put(&mut wtxn, &number.to_be_bytes(), hash.as_slice())?;
        }
        self.put_writes(&mut wtxn, writes)?;
        for put in puts {
            self.table(put.table)?.put(&mut wtxn, put.key, put.value)?;
        }
        wtxn.commit()?;
        Ok(changed)
    }

    /// The raw change set of block `number`, while it is in the hot store.
    pub fn change_set(&self, number: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.changes.get(&rtxn, &number.to_be_bytes())?.map(<[u8]>::to_vec))
    }

    /// Deletes the history index entries that block `number` added (its change set `blob`, which may come from
    /// the cold tier) and, if still hot, the change set itself: state before that block is then unavailable.
    pub fn prune_history(&self, number: u64, blob: &[u8]) -> Result<(), StoreError> {
        let changed = history::decode(blob)?;
        let _rewrite = self.rewrite.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wtxn = self.env.write_txn()?;
        // Entries not written yet would be written after their deletion.
        self.index_history(&mut wtxn, number)?;
        for c in changed.iter().filter(|c| c.key[0] != history::CODE) {
            self.history.delete(&mut wtxn, &history::index_key(&c.key, number))?;
        }
        self.changes.delete(&mut wtxn, &number.to_be_bytes())?;
        wtxn.commit()?;
        Ok(())
    }

    /// Writes to the node's tables and deletes hot change sets in one transaction that commits no block: the cold
    /// tier swaps a segment's hot records (change sets included, once it holds a copy) for its index this way, so
    /// a crash leaves one or the other, never neither. The dropped change sets are indexed first (`index.rs`).
    pub fn write_tables(&self, writes: &[TableWrite], drop_change_sets: &[u64]) -> Result<(), StoreError> {
        let _rewrite = self.rewrite.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wtxn = self.env.write_txn()?;
        // A change set leaves the hot store indexed (the index is built from hot change sets only).
        if let Some(&newest) = drop_change_sets.iter().max() {
            self.index_history(&mut wtxn, newest)?;
        }
        self.put_writes(&mut wtxn, writes)?;
        for n in drop_change_sets {
            self.changes.delete(&mut wtxn, &n.to_be_bytes())?;
        }
        wtxn.commit()?;
        Ok(())
    }

    fn put_writes(&self, wtxn: &mut RwTxn, writes: &[TableWrite]) -> Result<(), StoreError> {
        for write in writes {
            let db = self.table(&write.table)?;
            match &write.value {
                Some(value) => db.put(wtxn, &write.key, value)?,
                None => {
                    db.delete(wtxn, &write.key)?;
                }
            }
        }
        Ok(())
    }

    /// `(table, entries, bytes)` of every table, the kernel's and the node's, sorted by name; bytes are the
    /// table's branch, leaf and overflow pages times the page size (free pages of the file are not counted).
    pub fn table_stats(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let kernel = [
            ("account", self.account),
            ("code", self.code),
            ("storage", self.storage),
            ("block_hash", self.block_hash),
            ("changes", self.changes),
            ("history", self.history),
            ("commitment", self.commitment),
            ("lthash", self.lthash),
        ];
        let tables = kernel.iter().map(|(n, db)| ((*n).to_string(), *db));
        let mut out = tables
            .chain(self.named.iter().map(|(n, db)| (n.clone(), *db)))
            .map(|(name, db)| {
                let s = db.stat(&rtxn)?;
                let pages = (s.branch_pages + s.leaf_pages + s.overflow_pages) as u64;
                Ok((name, s.entries as u64, pages * u64::from(s.page_size)))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort();
        Ok(out)
    }

    /// Point read of a named table.
    pub fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.table(table)?;
        let rtxn = self.env.read_txn()?;
        Ok(db.get(&rtxn, key)?.map(<[u8]>::to_vec))
    }

    /// Point reads of many keys in one read transaction.
    pub fn get_many(&self, table: &str, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let db = self.table(table)?;
        let rtxn = self.env.read_txn()?;
        keys.iter().map(|k| Ok(db.get(&rtxn, k)?.map(<[u8]>::to_vec))).collect()
    }

    /// Up to `limit` entries of a named table with keys in `[start, end)`, in key order or, with `reverse`,
    /// from the last one down (an index scan: the node's address index pages through an address's transactions).
    pub fn scan(
        &self,
        table: &str,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let db = self.table(table)?;
        let rtxn = self.env.read_txn()?;
        let range = (std::ops::Bound::Included(start), std::ops::Bound::Excluded(end));
        let copy = |item: Result<(&[u8], &[u8]), heed::Error>| item.map(|(k, v)| (k.to_vec(), v.to_vec()));
        let out: Result<Vec<_>, heed::Error> = if reverse {
            db.rev_range(&rtxn, &range)?.take(limit).map(copy).collect()
        } else {
            db.range(&rtxn, &range)?.take(limit).map(copy).collect()
        };
        Ok(out?)
    }

    /// Every record of the state as the commitment encodes it (`history` keys: `a ‖ address` → account record,
    /// `c ‖ code_hash` → code, `s ‖ address ‖ slot` → value), from one snapshot: snapshots export it and a
    /// commitment recomputed from scratch hashes it.
    pub fn state_records(&self) -> Result<Vec<Record>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for (prefix, db) in
            [(history::ACCOUNT, self.account), (history::CODE, self.code), (history::STORAGE, self.storage)]
        {
            for item in db.iter(&rtxn)? {
                let (k, v) = item?;
                out.push((prefixed(prefix, k), v.to_vec()));
            }
        }
        Ok(out)
    }

    /// Every account and every storage slot, in key order: for snapshots and for tests that compare whole
    /// states. Reads one consistent snapshot.
    #[allow(clippy::type_complexity)]
    pub fn dump(&self) -> Result<(Vec<(Address, AccountInfo)>, Vec<(Address, U256, U256)>), StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut accounts = Vec::new();
        for item in self.account.iter(&rtxn)? {
            let (k, v) = item?;
            let address = Address::from_slice(k);
            accounts.push((address, decode_account(&address, v)?));
        }
        let mut storage = Vec::new();
        for item in self.storage.iter(&rtxn)? {
            let (k, v) = item?;
            storage.push((Address::from_slice(&k[..20]), U256::from_be_slice(&k[20..]), U256::from_be_slice(v)));
        }
        Ok((accounts, storage))
    }
}

/// One LMDB read transaction plus the store's shared code cache; with `at`, the state after that block.
pub struct Snapshot {
    txn: RoTxn<'static, WithoutTls>,
    store: Store,
    at: Option<u64>,
    /// Whether and at which generation this view may read the hot-state cache.
    ticket: Ticket,
}

impl Snapshot {
    /// The value the record `prefix ‖ key` held after block `at`: the old value recorded by the first change
    /// after it, if any; otherwise (or for a view of the current state) the value is unchanged since and `None`
    /// is returned. The current-state view returns before building any key: execution reads through it.
    fn historical(&self, prefix: u8, key: &[u8]) -> Result<Option<Option<&[u8]>>, StoreError> {
        let Some(at) = self.at else { return Ok(None) };
        let record = prefixed(prefix, key);
        let probe = history::index_key(&record, at + 1);
        Ok(match self.store.history.get_greater_than_or_equal_to(&self.txn, &probe)? {
            Some((k, v)) if k.len() == probe.len() && k.starts_with(&record) => Some((!v.is_empty()).then_some(v)),
            _ => None,
        })
    }
}

impl StateReader for Snapshot {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        if let Some(hot) = self.store.hot.account(self.ticket, &address) {
            return Ok(hot);
        }
        let raw = match self.historical(history::ACCOUNT, address.as_slice())? {
            Some(old) => old,
            None => self.store.account.get(&self.txn, address.as_slice())?,
        };
        raw.map(|raw| decode_account(&address, raw)).transpose()
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        if let Some(hot) = self.store.hot.storage(self.ticket, &address, &slot) {
            return Ok(hot);
        }
        let key = storage_key(&address, &slot);
        let raw = match self.historical(history::STORAGE, &key)? {
            Some(old) => old,
            None => self.store.storage.get(&self.txn, &key)?,
        };
        Ok(raw.map_or(U256::ZERO, U256::from_be_slice))
    }

    fn code(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        if code_hash == KECCAK_EMPTY || code_hash.is_zero() {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.store.code_cache.read().expect("code cache lock").get(&code_hash) {
            return Ok(code.clone());
        }
        let raw = self.store.code.get(&self.txn, code_hash.as_slice())?.ok_or_else(|| StoreError::Corrupt {
            table: "code",
            key: code_hash.to_string(),
            why: "account refers to missing code",
        })?;
        let code = Bytecode::new_raw(raw.to_vec().into());
        self.store.code_cache.write().expect("code cache lock").insert(code_hash, code.clone());
        Ok(code)
    }

    fn block_hash(&self, number: u64) -> Result<B256, StoreError> {
        Ok(self.store.block_hash.get(&self.txn, &number.to_be_bytes())?.map_or(B256::ZERO, B256::from_slice))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use revm::{
        bytecode::Bytecode,
        primitives::{Address, Bytes, U256},
        state::AccountInfo,
    };

    use super::{dev::tests::open, Before, StateChanges, StateReader};

    /// `(address, nonce, balance)` accounts and `(address, slot, value)` slots.
    type Entries = (Vec<(u8, u8, u8)>, Vec<(u8, u8, u8)>);

    fn account(nonce: u8, balance: u8) -> AccountInfo {
        AccountInfo { nonce: nonce.into(), balance: U256::from(balance), ..AccountInfo::default() }
    }

    /// Entries over a few addresses, so that a block's entries often meet the stored ones (and often leave them
    /// as they were).
    fn entries() -> impl Strategy<Value = Entries> {
        let accounts = proptest::collection::btree_map(1u8..6, (0u8..3, 0u8..3), 0..5)
            .prop_map(|m| m.into_iter().map(|(a, (n, b))| (a, n, b)).collect());
        let slots = proptest::collection::btree_map((1u8..6, 0u8..3), 0u8..3, 0..8)
            .prop_map(|m| m.into_iter().map(|((a, s), v)| (a, s, v)).collect());
        (accounts, slots)
    }

    fn changes((accounts, slots): &Entries, code: Option<u8>) -> StateChanges {
        StateChanges {
            accounts: accounts.iter().map(|&(a, n, b)| (Address::repeat_byte(a), Some(account(n, b)))).collect(),
            storage: slots.iter().map(|&(a, s, v)| (Address::repeat_byte(a), U256::from(s), U256::from(v))).collect(),
            codes: code
                .map(|c| {
                    let code = Bytecode::new_raw(Bytes::from(vec![0x60, c, 0x00]));
                    vec![(code.hash_slow(), code)]
                })
                .unwrap_or_default(),
            ..StateChanges::default()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A block whose old values come from the executor (encoded apart from the writes) leaves the same state,
        /// the same change set, byte for byte, and the same count as one whose old values the commit reads.
        #[test]
        fn known_old_values_give_the_same_change_set(
            genesis in entries(),
            block in entries(),
            codes in (proptest::option::of(0u8..2), proptest::option::of(0u8..2)),
        ) {
            let (_a, known) = open();
            let (_b, read) = open();
            for store in [&known, &read] {
                store.commit(0, &changes(&genesis, codes.0), &[], &[], &[], &[]).unwrap();
            }
            let mut with_before = changes(&block, codes.1);
            let view = known.snapshot().unwrap();
            with_before.before = Some(Before {
                accounts: with_before.accounts.iter().map(|(a, _)| view.account(*a).unwrap()).collect(),
                storage: with_before.storage.iter().map(|(a, s, _)| view.storage(*a, *s).unwrap()).collect(),
            });
            drop(view);
            let counted = known.commit(1, &with_before, &[], &[], &[], &[]).unwrap();
            prop_assert_eq!(counted, read.commit(1, &changes(&block, codes.1), &[], &[], &[], &[]).unwrap());
            prop_assert_eq!(known.change_set(1).unwrap(), read.change_set(1).unwrap());
            prop_assert_eq!(known.dump().unwrap(), read.dump().unwrap());
        }
    }
}
