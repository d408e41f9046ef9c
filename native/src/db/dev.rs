//! Development-network edits of committed state: anvil's `setBalance`/`setCode`/`setNonce`/`setStorageAt`
//! (amendments of the head block) and `evm_revert`/`anvil_reset` (rolling blocks back).
//!
//! Both keep the three consumers of change sets consistent (see `history.rs`) instead of bypassing them: an
//! amendment is merged into the head block's change set and history index, so historical reads and pruning see it
//! like any other change of that block, and it is applied to the commitment accumulator if the worker already
//! passed the block. A rollback undoes whole blocks from their change sets — restores each record's old value,
//! deletes the history entries and change sets the blocks added and subtracts them from the accumulator — so a
//! snapshot costs nothing at `evm_snapshot` time and a revert costs the size of what changed since, never a copy of
//! the store. Each runs in one write transaction while holding the store's `rewrite` lock, which the commitment
//! worker also takes.

use heed::{types::Bytes as RawBytes, Database, RwTxn};

use super::{history, Store, StoreError, TableWrite};
use crate::history::Change;

/// A state record to write, in the commitment's encoding (`a ‖ address`, `s ‖ address ‖ slot`, `c ‖ code_hash`):
/// `(key, value)`, where `None` deletes the record.
pub(crate) type RecordWrite = (Vec<u8>, Option<Vec<u8>>);

impl Store {
    /// The table and table key of a record key.
    fn record_table<'k>(&self, key: &'k [u8]) -> Result<(Database<RawBytes, RawBytes>, &'k [u8]), StoreError> {
        let (db, len) = match key.first() {
            Some(&history::ACCOUNT) => (self.account, 20),
            Some(&history::STORAGE) => (self.storage, 52),
            Some(&history::CODE) => (self.code, 32),
            _ => return Err(StoreError::UnknownTable(format!("record key {}", hex(key)))),
        };
        if key.len() != 1 + len {
            return Err(StoreError::Corrupt { table: "record", key: hex(key), why: "wrong key length" });
        }
        Ok((db, &key[1..]))
    }

    fn put_record(&self, wtxn: &mut RwTxn, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        let (db, k) = self.record_table(key)?;
        match value {
            Some(v) => db.put(wtxn, k, v)?,
            None => {
                db.delete(wtxn, k)?;
            }
        }
        Ok(())
    }

    /// Writes `records` into the state as part of block `head` (the newest committed block): the head's change
    /// set and history index absorb them, and so does the commitment accumulator if it already reached the head.
    /// Returns each record's previous value, in order (what undoes the amendment).
    pub fn amend_head(&self, head: u64, records: &[RecordWrite]) -> Result<Vec<RecordWrite>, StoreError> {
        self.behind_hot_state(|| self.amend_head_records(head, records))
    }

    fn amend_head_records(&self, head: u64, records: &[RecordWrite]) -> Result<Vec<RecordWrite>, StoreError> {
        let _rewrite = self.rewrite.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wtxn = self.env.write_txn()?;
        // The head's entries are rewritten below: they must exist first.
        self.index_history(&mut wtxn, head)?;
        let key = head.to_be_bytes();
        let blob = self.changes.get(&wtxn, &key)?.ok_or(StoreError::MissingChangeSet(head))?;
        let mut block = history::decode(blob)?;
        if self.changes.get_greater_than(&wtxn, &key)?.is_some() {
            return Err(StoreError::Corrupt { table: "changes", key: head.to_string(), why: "not the head block" });
        }
        let mut previous = Vec::with_capacity(records.len());
        let mut delta = Vec::new();
        for (record, new) in records {
            let (db, k) = self.record_table(record)?;
            let old = db.get(&wtxn, k)?.map(<[u8]>::to_vec);
            previous.push((record.clone(), old.clone()));
            if old == *new {
                continue;
            }
            self.put_record(&mut wtxn, record, new.as_deref())?;
            delta.push(Change { key: record.clone(), old: old.clone(), new: new.clone() });
            // Dev edits are a handful of records against change sets of any size: a linear search is enough.
            match block.iter_mut().find(|c| c.key == *record) {
                // The history entry already holds the value before the block.
                Some(change) => change.new = new.clone(),
                None => {
                    if record[0] != history::CODE {
                        let index = history::index_key(record, head);
                        self.history.put(&mut wtxn, &index, old.as_deref().unwrap_or_default())?;
                    }
                    block.push(Change { key: record.clone(), old, new: new.clone() });
                }
            }
        }
        // A record edited back to its value before the block is no change of the block at all.
        let mut kept = Vec::with_capacity(block.len());
        for change in block {
            if change.old == change.new {
                if change.key[0] != history::CODE {
                    self.history.delete(&mut wtxn, &history::index_key(&change.key, head))?;
                }
            } else {
                kept.push(change);
            }
        }
        self.changes.put(&mut wtxn, &key, &history::encode(&kept))?;
        if let Some((at, mut acc)) = self.accumulator(&wtxn)? {
            if at >= head {
                acc.apply(&delta);
                self.put_accumulator(&mut wtxn, at, &acc)?;
                self.commitment.put(&mut wtxn, &key, acc.digest().as_slice())?;
            }
        }
        wtxn.commit()?;
        Ok(previous)
    }

    /// Undoes blocks `to + 1 ..= head` (all still hot) from their change sets, deletes what the kernel recorded
    /// for them (change sets, history entries, block hashes, commitments), moves the commitment accumulator back
    /// to block `to` and applies the node's table `writes` (its block records and head mark), in one transaction.
    pub fn rollback(&self, to: u64, head: u64, writes: &[TableWrite]) -> Result<(), StoreError> {
        self.behind_hot_state(|| self.rollback_blocks(to, head, writes))
    }

    /// Runs a dev edit, which writes state records behind the block commit's back: the hot-state cache (see
    /// `hot.rs`) is invalid while it runs and emptied after it, so no read is served a value the edit replaced.
    fn behind_hot_state<T>(&self, edit: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.hot.commit(None, edit)
    }

    fn rollback_blocks(&self, to: u64, head: u64, writes: &[TableWrite]) -> Result<(), StoreError> {
        let _rewrite = self.rewrite.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wtxn = self.env.write_txn()?;
        // The undone blocks' entries are deleted below: they must exist first.
        self.index_history(&mut wtxn, head)?;
        let mut undone: Vec<(u64, Vec<Change>)> = Vec::with_capacity(head.saturating_sub(to) as usize);
        for number in (to + 1..=head).rev() {
            let key = number.to_be_bytes();
            let blob = self.changes.get(&wtxn, &key)?.ok_or(StoreError::MissingChangeSet(number))?;
            let changes = history::decode(blob)?;
            // Newest first, so that a key recorded twice (a storage wipe, then a write) ends at its first old value.
            for change in changes.iter().rev() {
                self.put_record(&mut wtxn, &change.key, change.old.as_deref())?;
                if change.key[0] != history::CODE {
                    self.history.delete(&mut wtxn, &history::index_key(&change.key, number))?;
                }
            }
            self.changes.delete(&mut wtxn, &key)?;
            self.block_hash.delete(&mut wtxn, &key)?;
            self.commitment.delete(&mut wtxn, &key)?;
            undone.push((number, changes));
        }
        self.rewind_history_index(&mut wtxn, to)?;
        if let Some((at, mut acc)) = self.accumulator(&wtxn)? {
            if at > to {
                for (_, changes) in undone.iter().filter(|(number, _)| *number <= at) {
                    let inverse: Vec<Change> = changes
                        .iter()
                        .map(|c| Change { key: c.key.clone(), old: c.new.clone(), new: c.old.clone() })
                        .collect();
                    acc.apply(&inverse);
                }
                self.put_accumulator(&mut wtxn, to, &acc)?;
            }
        }
        self.put_writes(&mut wtxn, writes)?;
        wtxn.commit()?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(super) mod tests {
    use proptest::prelude::*;
    use revm::primitives::{Address, U256};

    use super::*;
    use crate::{commitment::LtHash, StateChanges, StateReader};

    pub(in crate::db) fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 30, &[], true).unwrap();
        (dir, store)
    }

    fn storage_record(address: u8, slot: u8, value: u8) -> RecordWrite {
        let mut key = vec![history::STORAGE];
        key.extend_from_slice(Address::repeat_byte(address).as_slice());
        key.extend_from_slice(&U256::from(slot).to_be_bytes::<32>());
        (key, (value != 0).then(|| U256::from(value).to_be_bytes::<32>().to_vec()))
    }

    /// A block's storage writes as the executor produces them: one final value per slot.
    pub(in crate::db) fn block(writes: &[(u8, u8, u8)]) -> StateChanges {
        let last: std::collections::BTreeMap<(u8, u8), u8> = writes.iter().map(|&(a, s, v)| ((a, s), v)).collect();
        StateChanges {
            storage: last
                .into_iter()
                .map(|((a, s), v)| (Address::repeat_byte(a), U256::from(s), U256::from(v)))
                .collect(),
            ..StateChanges::default()
        }
    }

    fn scratch_digest(store: &Store) -> alloy_primitives::B256 {
        let mut acc = LtHash::default();
        for (key, value) in store.state_records().unwrap() {
            acc.add(&LtHash::element(&key, &value));
        }
        acc.digest()
    }

    type Writes = Vec<(u8, u8, u8)>;

    fn blocks() -> impl Strategy<Value = Vec<Writes>> {
        proptest::collection::vec(proptest::collection::vec((1u8..4, 0u8..4, 0u8..4), 0..6), 1..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Amending the head and rolling back leaves exactly the state, history and commitment that executing
        /// only the kept blocks (with the amendment folded into the last kept one) would have left.
        #[test]
        fn amend_then_rollback_matches_a_replay(
            chain in blocks(),
            amend in proptest::collection::vec((1u8..4, 0u8..4, 0u8..4), 0..4),
            keep in 0usize..6,
        ) {
            let keep = keep.min(chain.len() - 1) as u64;
            let (_a, store) = open();
            let (_b, reference) = open();
            for (number, writes) in chain.iter().enumerate() {
                let number = number as u64;
                store.commit(number, &block(writes), &[], &[], &[], &[]).unwrap();
                store.advance_commitment(number).unwrap();
                if number <= keep {
                    reference.commit(number, &block(writes), &[], &[], &[], &[]).unwrap();
                }
                if number == keep {
                    let records: Vec<RecordWrite> = amend.iter().map(|&(a, s, v)| storage_record(a, s, v)).collect();
                    store.amend_head(number, &records).unwrap();
                    reference.commit(number + 1, &block(&amend), &[], &[], &[], &[]).unwrap();
                }
            }
            let head = chain.len() as u64 - 1;
            store.rollback(keep, head, &[]).unwrap();
            prop_assert_eq!(store.dump().unwrap(), reference.dump().unwrap());
            let (at, acc) = store.commitment_state().unwrap().unwrap();
            prop_assert_eq!(at, keep);
            prop_assert_eq!(acc.digest(), scratch_digest(&store));
            prop_assert_eq!(store.commitment(keep).unwrap(), Some(acc.digest()));
            prop_assert_eq!(store.commitment(keep + 1).unwrap(), None);
            // Historical reads of every kept block agree with the reference, which saw the amendment as a block
            // of its own after `keep`.
            for number in 0..keep {
                for a in 1u8..4 {
                    for s in 0u8..4 {
                        let (address, slot) = (Address::repeat_byte(a), U256::from(s));
                        prop_assert_eq!(
                            store.view(Some(number)).unwrap().storage(address, slot).unwrap(),
                            reference.view(Some(number)).unwrap().storage(address, slot).unwrap()
                        );
                    }
                }
            }
            // The chain continues from the rolled-back head, and the worker picks up from there.
            store.commit(keep + 1, &block(&[(1, 1, 1)]), &[], &[], &[], &[]).unwrap();
            store.advance_commitment(keep + 1).unwrap();
            prop_assert_eq!(store.commitment(keep + 1).unwrap(), Some(scratch_digest(&store)));
        }
    }

    #[test]
    fn amending_a_block_that_is_not_the_head_is_refused() {
        let (_dir, store) = open();
        store.commit(0, &block(&[(1, 1, 1)]), &[], &[], &[], &[]).unwrap();
        store.commit(1, &block(&[(1, 1, 2)]), &[], &[], &[], &[]).unwrap();
        assert!(store.amend_head(0, &[storage_record(1, 1, 3)]).is_err());
        assert!(store.amend_head(2, &[storage_record(1, 1, 3)]).is_err());
        assert!(store.amend_head(1, &[(vec![b'x', 1], None)]).is_err());
    }
}
