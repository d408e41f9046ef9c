//! Multi-version memory: every location's writes by transaction index and incarnation.
//!
//! A read by transaction `i` sees the write of the highest `j < i`, or the committed store when there is none;
//! an ESTIMATE marks a write that is about to be redone, and reading one means "wait for `j`". Reads are
//! recorded with the version they saw, and validation at commit re-reads them: a transaction is valid while
//! every read would still see the same version. Fees are locations too (`Key::Fee(i)`), written by every transaction and
//! read only by one that reads the fee collector, so they conflict with nothing else; they live in an array of
//! their own rather than in the shared map, since every transaction writes one.

use std::sync::Mutex;

use alloy_primitives::map::HashMap;
use revm::{
    bytecode::Bytecode,
    primitives::{Address, B256, U256},
    state::AccountInfo,
};

pub(crate) type TxIdx = usize;
pub(crate) type Incarnation = u32;
/// Which write a read saw: transaction and incarnation.
pub(crate) type Version = (TxIdx, Incarnation);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Account(Address),
    Storage(Address, U256),
    /// The fee transaction `i` owes the collector (an add-only credit).
    Fee(TxIdx),
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Account(Option<AccountInfo>),
    Storage(U256),
    Fee(U256),
}

#[derive(Debug)]
enum Entry {
    Written(Incarnation, Value),
    Estimate,
}

/// What a read found.
pub(crate) enum Read {
    Value(Version, Value),
    /// The closest lower writer is being redone: the reader depends on it.
    Estimate(TxIdx),
    /// No lower transaction wrote it: read the committed store.
    Absent,
}

/// Where a recorded read came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Store,
    Version(Version),
}

const SHARDS: usize = 64;
/// Marks the version of a write rebased at commit: never equal to an executed incarnation's (those stay below
/// `MAX_INCARNATIONS`), and the transaction runs no more incarnations once it is being committed.
const REBASED: Incarnation = 1 << 31;

/// Writers of one location, sorted by transaction index. Almost every location has one or two writers, for
/// which a small vector beats a B-tree (allocation and traversal showed up in profiles).
#[derive(Debug, Default)]
struct Versions(Vec<(TxIdx, Entry)>);

impl Versions {
    fn below(&self, tx: TxIdx) -> Option<&(TxIdx, Entry)> {
        let end = self.0.partition_point(|(j, _)| *j < tx);
        end.checked_sub(1).map(|i| &self.0[i])
    }

    fn insert(&mut self, tx: TxIdx, entry: Entry) {
        match self.0.binary_search_by_key(&tx, |(j, _)| *j) {
            Ok(i) => self.0[i].1 = entry,
            Err(i) => self.0.insert(i, (tx, entry)),
        }
    }

    fn get_mut(&mut self, tx: TxIdx) -> Option<&mut Entry> {
        self.0.binary_search_by_key(&tx, |(j, _)| *j).ok().map(|i| &mut self.0[i].1)
    }

    fn remove(&mut self, tx: TxIdx) {
        if let Ok(i) = self.0.binary_search_by_key(&tx, |(j, _)| *j) {
            self.0.remove(i);
        }
    }
}

pub(crate) struct MvMemory {
    shards: Vec<Mutex<HashMap<Key, Versions>>>,
    /// `Key::Fee(i)` for every transaction `i`: `None` until it executed.
    fees: Vec<Mutex<Option<Entry>>>,
    last_writes: Vec<Mutex<Vec<Key>>>,
    last_reads: Vec<Mutex<Vec<(Key, Origin)>>>,
    /// Code deployed in this block, by hash (the store does not have it yet).
    codes: Mutex<HashMap<B256, Bytecode>>,
}

impl MvMemory {
    pub(crate) fn new(n: usize) -> Self {
        // About three locations a transaction (sender, recipient or a slot or two), spread over the shards.
        let per_shard = 3 * n / SHARDS + 16;
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_capacity_and_hasher(per_shard, Default::default())))
                .collect(),
            fees: (0..n).map(|_| Mutex::default()).collect(),
            last_writes: (0..n).map(|_| Mutex::default()).collect(),
            last_reads: (0..n).map(|_| Mutex::default()).collect(),
            codes: Mutex::default(),
        }
    }

    /// Addresses and hashed slots are already uniformly distributed: a byte of each picks the shard without
    /// hashing the key a second time (the shard's map hashes it anyway).
    fn shard(&self, key: &Key) -> &Mutex<HashMap<Key, Versions>> {
        let byte = match key {
            Key::Account(address) => address[19],
            Key::Storage(address, slot) => address[19] ^ slot.byte(0) ^ slot.byte(31),
            Key::Fee(_) => unreachable!("fees live in their own array"),
        };
        &self.shards[usize::from(byte) % SHARDS]
    }

    pub(crate) fn read(&self, key: &Key, tx: TxIdx) -> Read {
        if let Key::Fee(k) = key {
            if *k >= tx {
                return Read::Absent;
            }
            return match &*self.fees[*k].lock().expect("mv fee") {
                None => Read::Absent,
                Some(Entry::Estimate) => Read::Estimate(*k),
                Some(Entry::Written(inc, value)) => Read::Value((*k, *inc), value.clone()),
            };
        }
        let shard = self.shard(key).lock().expect("mv shard");
        match shard.get(key).and_then(|versions| versions.below(tx)) {
            None => Read::Absent,
            Some((j, Entry::Estimate)) => Read::Estimate(*j),
            Some((j, Entry::Written(inc, value))) => Read::Value((*j, *inc), value.clone()),
        }
    }

    fn write(&self, key: Key, tx: TxIdx, entry: Entry) {
        if let Key::Fee(k) = key {
            *self.fees[k].lock().expect("mv fee") = Some(entry);
            return;
        }
        self.shard(&key).lock().expect("mv shard").entry(key).or_default().insert(tx, entry);
    }

    fn mark_estimate(&self, key: &Key, tx: TxIdx) {
        if let Key::Fee(k) = key {
            if let Some(entry) = self.fees[*k].lock().expect("mv fee").as_mut() {
                *entry = Entry::Estimate;
            }
            return;
        }
        if let Some(entry) = self.shard(key).lock().expect("mv shard").get_mut(key).and_then(|v| v.get_mut(tx)) {
            *entry = Entry::Estimate;
        }
    }

    fn erase(&self, key: &Key, tx: TxIdx) {
        if let Key::Fee(k) = key {
            *self.fees[*k].lock().expect("mv fee") = None;
            return;
        }
        if let Some(versions) = self.shard(key).lock().expect("mv shard").get_mut(key) {
            versions.remove(tx);
        }
    }

    pub(crate) fn code(&self, hash: &B256) -> Option<Bytecode> {
        self.codes.lock().expect("mv codes").get(hash).cloned()
    }

    /// Publishes code deployed by an incarnation (before its account, so that a reader finds both).
    pub(crate) fn add_code(&self, hash: B256, code: &Bytecode) {
        self.codes.lock().expect("mv codes").entry(hash).or_insert_with(|| code.clone());
    }

    /// Publishes an incarnation's reads and writes, dropping what its previous incarnation wrote and this one
    /// did not.
    pub(crate) fn record(&self, tx: TxIdx, inc: Incarnation, reads: Vec<(Key, Origin)>, writes: Vec<(Key, Value)>) {
        *self.last_reads[tx].lock().expect("mv reads") = reads;
        let mut last = self.last_writes[tx].lock().expect("mv writes");
        let previous = std::mem::take(&mut *last);
        for (key, value) in writes {
            self.write(key, tx, Entry::Written(inc, value));
            last.push(key);
        }
        // Write sets are a handful of keys: a linear scan beats building sets.
        for stale in previous.iter().filter(|k| !last.contains(k)) {
            self.erase(stale, tx);
        }
    }

    /// Marks the writes of an aborted incarnation as estimates, so readers wait instead of reading stale values.
    pub(crate) fn convert_writes_to_estimates(&self, tx: TxIdx) {
        for key in self.last_writes[tx].lock().expect("mv writes").iter() {
            self.mark_estimate(key, tx);
        }
    }

    /// True when every read of `tx`'s last incarnation would still see the same version.
    pub(crate) fn validate_read_set(&self, tx: TxIdx) -> bool {
        let reads = self.last_reads[tx].lock().expect("mv reads");
        reads.iter().all(|(key, origin)| match (self.read(key, tx), origin) {
            (Read::Absent, Origin::Store) => true,
            (Read::Value(version, _), Origin::Version(seen)) => version == *seen,
            _ => false,
        })
    }

    /// The last incarnation's reads (for access sets).
    /// The keys `tx` read whose version is no longer the one it saw.
    pub(crate) fn stale_reads(&self, tx: TxIdx) -> Vec<Key> {
        let reads = self.last_reads[tx].lock().expect("mv reads");
        reads
            .iter()
            .filter(|(key, origin)| match (self.read(key, tx), origin) {
                (Read::Absent, Origin::Store) => false,
                (Read::Value(version, _), Origin::Version(seen)) => version != *seen,
                _ => true,
            })
            .map(|(key, _)| *key)
            .collect()
    }

    /// Rewrites `tx`'s write of `key` as `value`, computed at commit from the final value `seen` that `tx`'s read
    /// of `key` is now taken to have seen (a lazy credit). The write gets a version of its own, so that readers
    /// of the speculative one go stale.
    pub(crate) fn rebase(&self, tx: TxIdx, key: Key, value: Value, seen: Origin) {
        let mut shard = self.shard(&key).lock().expect("mv shard");
        let versions = shard.entry(key).or_default();
        let inc = match versions.get_mut(tx) {
            Some(Entry::Written(inc, _)) => *inc,
            _ => 0,
        };
        versions.insert(tx, Entry::Written(inc | REBASED, value));
        drop(shard);
        let mut writes = self.last_writes[tx].lock().expect("mv writes");
        if !writes.contains(&key) {
            writes.push(key);
        }
        drop(writes);
        for (read, origin) in self.last_reads[tx].lock().expect("mv reads").iter_mut() {
            if *read == key {
                *origin = seen;
            }
        }
    }

    pub(crate) fn take_reads(&self, tx: TxIdx) -> Vec<(Key, Origin)> {
        std::mem::take(&mut *self.last_reads[tx].lock().expect("mv reads"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(n: u64) -> Key {
        Key::Storage(Address::ZERO, U256::from(n))
    }

    #[test]
    fn reads_see_the_closest_lower_writer() {
        let mv = MvMemory::new(4);
        assert!(matches!(mv.read(&slot(1), 3), Read::Absent));
        mv.record(0, 0, vec![], vec![(slot(1), Value::Storage(U256::from(10)))]);
        mv.record(2, 0, vec![], vec![(slot(1), Value::Storage(U256::from(30)))]);
        assert!(matches!(mv.read(&slot(1), 0), Read::Absent));
        assert!(matches!(mv.read(&slot(1), 2), Read::Value((0, 0), Value::Storage(v)) if v == U256::from(10)));
        assert!(matches!(mv.read(&slot(1), 3), Read::Value((2, 0), Value::Storage(v)) if v == U256::from(30)));
    }

    #[test]
    fn estimates_block_and_new_incarnations_invalidate() {
        let mv = MvMemory::new(3);
        mv.record(0, 0, vec![], vec![(slot(1), Value::Storage(U256::from(1)))]);
        mv.record(1, 0, vec![(slot(1), Origin::Version((0, 0)))], vec![]);
        assert!(mv.validate_read_set(1));
        mv.convert_writes_to_estimates(0);
        assert!(matches!(mv.read(&slot(1), 1), Read::Estimate(0)));
        assert!(!mv.validate_read_set(1));
        // Re-executed with the same location: the version changed.
        mv.record(0, 1, vec![], vec![(slot(1), Value::Storage(U256::from(2)))]);
        assert!(!mv.validate_read_set(1));
        // A location the previous incarnation wrote and this one does not disappears.
        mv.record(0, 2, vec![], vec![(slot(2), Value::Storage(U256::from(5)))]);
        assert!(matches!(mv.read(&slot(1), 1), Read::Absent));
    }
}
