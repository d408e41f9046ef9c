//! The flat state store: LMDB (through heed), owned by this crate so that the environment is opened once per
//! process (LMDB forbids a second open; see native-evm-brief §5). No Merkle trie: accounts, code and storage are
//! plain keys, and the block commit writes state, blocks, receipts and indexes in one write transaction.
//!
//! Layout (all integers big-endian so LMDB's byte order is numeric order):
//! - `account`: address(20) → nonce(8) ‖ balance(32) ‖ code_hash(32)
//! - `code`: code_hash(32) → bytecode
//! - `storage`: address(20) ‖ slot(32) → value(32); zero values are deleted, never stored
//! - `block_hash`: number(8) → hash(32), read by BLOCKHASH
//! - named tables that the Python node defines (blocks, transactions, logs, metadata), opaque bytes here.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, RwLock},
};

use heed::{types::Bytes as RawBytes, Database, Env, EnvFlags, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};
use revm::{
    bytecode::Bytecode,
    primitives::{Address, B256, KECCAK_EMPTY, U256},
    state::AccountInfo,
};

type RawDb = Database<RawBytes, RawBytes>;

/// A failure of the store itself: always fatal for the block being executed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("lmdb: {0}")]
    Lmdb(#[from] heed::Error),
    #[error("corrupt {table} record for key {key}: {why}")]
    Corrupt { table: &'static str, key: String, why: &'static str },
    #[error("unknown table {0:?}")]
    UnknownTable(String),
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
    env: Env<WithoutTls>,
    account: RawDb,
    code: RawDb,
    storage: RawDb,
    block_hash: RawDb,
    named: Arc<HashMap<String, RawDb>>,
    /// Analysed bytecode by hash, shared across blocks: jump-table analysis of a hot contract is paid once.
    code_cache: Arc<RwLock<HashMap<B256, Bytecode>>>,
}

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
}

impl StateChanges {
    /// keccak256 over a canonical encoding of the changes (entries are sorted by the executor). Until the LtHash
    /// commitment lands this chains into the header's `stateRoot`: equal on every node for equal blocks, but not
    /// a commitment to the whole state.
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

/// A put or delete in one of the node's named tables, committed with the block.
pub struct TableWrite {
    pub table: String,
    pub key: Vec<u8>,
    /// `None` deletes the key.
    pub value: Option<Vec<u8>>,
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

fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

impl Store {
    /// Opens (creating if needed) the store at `path` with the node's named tables.
    ///
    /// `sync = false` skips the fsync at commit (MDB_NOSYNC): a process crash still loses nothing, since the
    /// pages are in the OS cache, but a power loss may lose recent blocks.
    pub fn open(path: &Path, map_size: usize, tables: &[String], sync: bool) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(heed::Error::Io)?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size).max_dbs(8 + tables.len() as u32).max_readers(512);
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
        let mut named = HashMap::new();
        for name in tables {
            named.insert(name.clone(), env.create_database(&mut wtxn, Some(name.as_str()))?);
        }
        wtxn.commit()?;
        Ok(Self { env, account, code, storage, block_hash, named: Arc::new(named), code_cache: Arc::default() })
    }

    /// A consistent read view of the committed state (an LMDB read transaction).
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot { txn: self.env.clone().static_read_txn()?, store: self.clone() })
    }

    fn table(&self, name: &str) -> Result<RawDb, StoreError> {
        self.named.get(name).copied().ok_or_else(|| StoreError::UnknownTable(name.to_string()))
    }

    fn apply_changes(&self, wtxn: &mut RwTxn, changes: &StateChanges) -> Result<(), StoreError> {
        for address in &changes.wiped {
            self.wipe_storage(wtxn, address)?;
        }
        for (address, info) in &changes.accounts {
            match info {
                Some(info) => self.account.put(wtxn, address.as_slice(), &encode_account(info))?,
                None => {
                    self.account.delete(wtxn, address.as_slice())?;
                    self.wipe_storage(wtxn, address)?;
                }
            }
        }
        for (address, slot, value) in &changes.storage {
            let key = storage_key(address, slot);
            if value.is_zero() {
                self.storage.delete(wtxn, &key)?;
            } else {
                self.storage.put(wtxn, &key, &value.to_be_bytes::<32>())?;
            }
        }
        for (hash, code) in &changes.codes {
            self.code.put(wtxn, hash.as_slice(), code.original_byte_slice())?;
        }
        Ok(())
    }

    fn wipe_storage(&self, wtxn: &mut RwTxn, address: &Address) -> Result<(), StoreError> {
        let mut iter = self.storage.prefix_iter_mut(wtxn, address.as_slice())?;
        while iter.next().transpose()?.is_some() {
            // SAFETY: the iterator is not used to hold references to the deleted entry.
            unsafe { iter.del_current()? };
        }
        Ok(())
    }

    /// Writes a block's state changes, canonical block hashes and the node's records (blocks, receipts,
    /// indexes) in one atomic LMDB write transaction: a crash leaves either all of it or none.
    pub fn commit(
        &self,
        changes: &StateChanges,
        hashes: &[(u64, B256)],
        writes: &[TableWrite],
    ) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.apply_changes(&mut wtxn, changes)?;
        for (number, hash) in hashes {
            self.block_hash.put(&mut wtxn, &number.to_be_bytes(), hash.as_slice())?;
        }
        for write in writes {
            let db = self.table(&write.table)?;
            match &write.value {
                Some(value) => db.put(&mut wtxn, &write.key, value)?,
                None => {
                    db.delete(&mut wtxn, &write.key)?;
                }
            }
        }
        wtxn.commit()?;
        Ok(())
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

/// One LMDB read transaction plus the store's shared code cache.
pub struct Snapshot {
    txn: RoTxn<'static, WithoutTls>,
    store: Store,
}

impl StateReader for Snapshot {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        match self.store.account.get(&self.txn, address.as_slice())? {
            Some(raw) => decode_account(&address, raw).map(Some),
            None => Ok(None),
        }
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        Ok(self.store.storage.get(&self.txn, &storage_key(&address, &slot))?.map_or(U256::ZERO, U256::from_be_slice))
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
