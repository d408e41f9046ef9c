//! The hot-state cache: the committed values of the accounts and storage slots that recent blocks wrote (hot
//! senders, token balances, pool reserves), kept in memory in front of LMDB so that the next blocks' reads of
//! them do not walk the B-tree.
//!
//! Exactness: the cache is written through by each block commit with the values the commit wrote, and
//! versioned by a generation. A commit first marks the cache invalid (a new generation), then commits LMDB
//! while a pool thread applies its writes to the cache, then validates the next generation. A snapshot records
//! the generation when it opens its read transaction (under the cache's lock, so no commit can start between the
//! two) and uses the cache only while that generation is still current and valid: a snapshot older than a
//! commit, or opened during one, reads LMDB. Historical views (`at`) never use it.
//!
//! Bounded: past `MAX_ENTRIES` accounts and slots it is emptied and refilled from the next commits (a
//! cache, not state: only speed depends on what it holds).

use std::sync::{Mutex, PoisonError, RwLock};

use alloy_primitives::map::HashMap;
use revm::{
    primitives::{Address, U256},
    state::AccountInfo,
};

use crate::db::StateChanges;

/// Accounts plus slots held at most (about 100 bytes each with the maps' overhead).
pub const MAX_ENTRIES: usize = 500_000;

#[derive(Default)]
struct Entries {
    generation: u64,
    /// False from the start of a commit until its writes are in the cache and in LMDB.
    valid: bool,
    /// True while a commit's writes are in the cache but not yet published (see `HotState::commit`).
    staged: bool,
    /// `None`: the account does not exist.
    accounts: HashMap<Address, Option<AccountInfo>>,
    /// Per account, so that wiping an account's storage is one removal.
    storage: HashMap<Address, HashMap<U256, U256>>,
    slots: usize,
}

/// The generation a snapshot may read the cache at (`None`: it may not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(Option<u64>);

impl Ticket {
    /// A view that never reads the cache (historical views, tests reading LMDB alone).
    pub const NONE: Self = Self(None);
}

#[derive(Default)]
pub struct HotState {
    entries: RwLock<Entries>,
    committing: Mutex<()>,
}

impl HotState {
    /// Runs `open` (which opens the snapshot's read transaction) and returns its result with the cache
    /// generation it may read; no commit starts meanwhile.
    pub fn open<T>(&self, open: impl FnOnce() -> T) -> (T, Ticket) {
        let entries = self.entries.read().expect("hot state lock");
        let opened = open();
        (opened, Ticket(entries.valid.then_some(entries.generation)))
    }

    /// Runs a commit's LMDB write (`write`) with the cache invalid throughout, so that no snapshot reads it, while
    /// a pool thread applies `changes` to it: the update overlaps the LMDB commit instead of following it (it was
    /// about a sixth of a 20,000-transaction block's commit). Then the cache is valid again, at a new generation,
    /// if `write` succeeded; otherwise it is emptied. `changes: None` (an edit behind the block commit's back, see
    /// `dev.rs`) empties it. Commits through here are serialized.
    pub fn commit<T, E>(&self, changes: Option<&StateChanges>, write: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let _commit = self.committing.lock().unwrap_or_else(PoisonError::into_inner);
        self.invalidate();
        let mut written = None;
        rayon::in_place_scope(|scope| {
            if let Some(changes) = changes {
                scope.spawn(|_| self.stage(changes));
            }
            written = Some(write());
        });
        let written = written.expect("the scope ran the write");
        self.publish(changes.is_some() && written.is_ok());
        written
    }

    fn invalidate(&self) {
        let mut entries = self.entries.write().expect("hot state lock");
        if entries.staged {
            // A commit staged its writes and never published them (it panicked): LMDB may lack them.
            entries.empty();
        }
        entries.generation += 1;
        entries.valid = false;
    }

    fn stage(&self, changes: &StateChanges) {
        let mut entries = self.entries.write().expect("hot state lock");
        if entries.accounts.len() + entries.slots + changes.accounts.len() + changes.storage.len() > MAX_ENTRIES {
            entries.empty();
        }
        entries.staged = true;
        if changes.accounts.len() + changes.storage.len() <= MAX_ENTRIES {
            entries.apply(changes);
        }
    }

    fn publish(&self, valid: bool) {
        let mut entries = self.entries.write().expect("hot state lock");
        if valid {
            entries.staged = false;
            entries.generation += 1;
            entries.valid = true;
        } else {
            entries.empty();
            entries.generation += 1;
        }
    }

    pub fn account(&self, ticket: Ticket, address: &Address) -> Option<Option<AccountInfo>> {
        let g = ticket.0?;
        let entries = self.entries.read().expect("hot state lock");
        (entries.valid && entries.generation == g).then(|| entries.accounts.get(address).cloned()).flatten()
    }

    pub fn storage(&self, ticket: Ticket, address: &Address, slot: &U256) -> Option<U256> {
        let g = ticket.0?;
        let entries = self.entries.read().expect("hot state lock");
        if !(entries.valid && entries.generation == g) {
            return None;
        }
        entries.storage.get(address).and_then(|slots| slots.get(slot)).copied()
    }
}

impl Entries {
    /// Drops every entry (the generation goes on counting); the cache is invalid until a commit publishes.
    fn empty(&mut self) {
        self.accounts.clear();
        self.storage.clear();
        self.slots = 0;
        self.staged = false;
        self.valid = false;
    }

    /// The store's commit order: wipes, then accounts (a deleted account loses its storage), then slots.
    fn apply(&mut self, changes: &StateChanges) {
        for address in &changes.wiped {
            self.wipe(address);
        }
        for (address, info) in &changes.accounts {
            // As the store decodes a record: fields only, the code is looked up by hash.
            let info = info.as_ref().map(|i| AccountInfo {
                balance: i.balance,
                nonce: i.nonce,
                code_hash: i.code_hash,
                code: None,
                account_id: None,
            });
            if info.is_none() {
                self.wipe(address);
            }
            self.accounts.insert(*address, info);
        }
        for (address, slot, value) in &changes.storage {
            if self.storage.entry(*address).or_default().insert(*slot, *value).is_none() {
                self.slots += 1;
            }
        }
    }

    fn wipe(&mut self, address: &Address) {
        if let Some(slots) = self.storage.remove(address) {
            self.slots -= slots.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use revm::primitives::KECCAK_EMPTY;

    use super::*;
    use crate::db::{StateReader, Store};

    /// One block's writes over a small universe (4 accounts × 4 slots), so that blocks overwrite each other.
    #[derive(Debug, Clone)]
    enum Write {
        Account(u8, Option<(u64, u64)>),
        Wipe(u8),
        Slot(u8, u8, u64),
    }

    fn write() -> impl Strategy<Value = Write> {
        prop_oneof![
            (0u8..4, proptest::option::of((0u64..3, 0u64..1000))).prop_map(|(a, v)| Write::Account(a, v)),
            (0u8..4).prop_map(Write::Wipe),
            // Zero deletes the slot.
            (0u8..4, 0u8..4, prop_oneof![Just(0u64), 1u64..5]).prop_map(|(a, s, v)| Write::Slot(a, s, v)),
        ]
    }

    fn address(a: u8) -> Address {
        Address::with_last_byte(0x40 + a)
    }

    type Model = (BTreeMap<u8, Option<(u64, u64)>>, BTreeMap<(u8, u8), u64>);

    /// The changes as the executor would produce them (sorted, one entry per key) and the model after them.
    fn block(writes: &[Write], model: &mut Model) -> StateChanges {
        let (accounts, slots) = model;
        let mut changes = StateChanges::default();
        let (mut acc, mut wiped, mut sto) = (BTreeMap::new(), std::collections::BTreeSet::new(), BTreeMap::new());
        for w in writes {
            match w {
                Write::Account(a, v) => {
                    acc.insert(*a, *v);
                }
                Write::Wipe(a) => {
                    wiped.insert(*a);
                    sto.retain(|(x, _), _| x != a);
                }
                Write::Slot(a, s, v) => {
                    sto.insert((*a, *s), *v);
                }
            }
        }
        for a in &wiped {
            slots.retain(|(x, _), _| x != a);
            changes.wiped.push(address(*a));
        }
        for (a, v) in &acc {
            accounts.insert(*a, *v);
            if v.is_none() {
                slots.retain(|(x, _), _| x != a);
            }
            let info = v.map(|(nonce, balance)| AccountInfo {
                nonce,
                balance: U256::from(balance),
                code_hash: KECCAK_EMPTY,
                code: None,
                account_id: None,
            });
            changes.accounts.push((address(*a), info));
        }
        for ((a, s), v) in &sto {
            if *v == 0 {
                slots.remove(&(*a, *s));
            } else {
                slots.insert((*a, *s), *v);
            }
            changes.storage.push((address(*a), U256::from(*s), U256::from(*v)));
        }
        changes
    }

    fn check(reader: &impl StateReader, model: &Model) -> Result<(), TestCaseError> {
        for a in 0..4 {
            let got = reader.account(address(a)).expect("read").map(|i| (i.nonce, i.balance.to::<u64>()));
            prop_assert_eq!(got, model.0.get(&a).copied().flatten(), "account {}", a);
            for s in 0..4 {
                let got = reader.storage(address(a), U256::from(s)).expect("read");
                prop_assert_eq!(got, U256::from(model.1.get(&(a, s)).copied().unwrap_or(0)), "slot {} {}", a, s);
            }
        }
        Ok(())
    }

    /// A commit whose LMDB write failed, or panicked after its writes reached the cache, leaves none of them to
    /// be read: the cache is emptied (at once on failure, by the next commit after a panic).
    #[test]
    fn a_failed_or_panicked_commit_leaves_nothing_behind() {
        let hot = HotState::default();
        let one = block(&[Write::Account(0, Some((1, 7)))], &mut Model::default());
        let lost = block(&[Write::Account(0, Some((2, 9))), Write::Slot(1, 1, 3)], &mut Model::default());
        let read = |hot: &HotState| {
            let ((), ticket) = hot.open(|| ());
            (hot.account(ticket, &address(0)), hot.storage(ticket, &address(1), &U256::from(1)))
        };
        hot.commit(Some(&one), || Ok::<_, ()>(())).expect("commit");
        assert_eq!(read(&hot).0.flatten().map(|i| i.nonce), Some(1));
        assert_eq!(hot.commit(Some(&lost), || Err::<(), _>("write failed")), Err("write failed"));
        assert_eq!(read(&hot), (None, None));
        hot.commit(Some(&one), || Ok::<_, ()>(())).expect("commit");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hot.commit(Some(&lost), || -> Result<(), ()> { panic!("write panicked") })
        }));
        assert!(panicked.is_err());
        assert_eq!(read(&hot), (None, None), "invalid until the next commit");
        hot.commit(Some(&StateChanges::default()), || Ok::<_, ()>(())).expect("commit");
        assert_eq!(read(&hot), (None, None), "the staged writes are gone");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// After random commits, reads through the cache equal reads of LMDB alone and the model; a snapshot
        /// opened before a commit goes on reading the state it opened on.
        #[test]
        fn cache_is_coherent_with_lmdb(blocks in proptest::collection::vec(proptest::collection::vec(write(), 0..8), 1..8)) {
            let dir = std::env::temp_dir().join(format!("pysei-hot-{}-{:?}", std::process::id(), std::thread::current().id()));
            let _ = std::fs::remove_dir_all(&dir);
            let store = Store::open(&dir, 1 << 24, &[], false).expect("open");
            let mut model = Model::default();
            for (number, writes) in blocks.iter().enumerate() {
                let before = store.snapshot().expect("snapshot");
                let old = model.clone();
                let changes = block(writes, &mut model);
                store.commit(number as u64, &changes, &[], &[], &[], &[]).expect("commit");
                check(&before, &old)?;
                check(&store.snapshot().expect("snapshot"), &model)?;
                check(&store.snapshot_uncached().expect("snapshot"), &model)?;
            }
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
