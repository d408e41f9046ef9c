//! The history index (`history`: record key ‖ block → the value before that block), built from the change sets
//! behind the block commit rather than inside it.
//!
//! Why: a block of 20,000 ERC-20 transfers changes ~50,000 records, and inserting their index entries was about
//! half of the block commit, which sits between executing one block and the next. The change set, committed
//! with the block, already holds everything the index needs, so the commitment worker (which reads the same
//! change sets, trailing execution) writes the entries, and anything that needs them complete first brings them
//! up to date itself:
//! - a historical read (`snapshot_at`) waits for nothing: if the index is behind the newest change set its read
//!   transaction sees, it indexes the missing blocks and reads again;
//! - a dev edit, a rollback, pruning and the cold tier's removal of change sets index first, so they find the
//!   entries they rewrite or delete, and no change set leaves the hot store unindexed.
//!
//! `lthash[b"history"]` holds the next block to index; it is written in the same transaction as the entries, so
//! after a crash indexing resumes where it stopped. Blocks below the first hot change set are never indexed here:
//! either they were indexed before their change set moved to the cold tier, or the store starts above them (a
//! snapshot or state sync).

use heed::{RoTxn, RwTxn, WithoutTls};

use super::{history, Store, StoreError};

const NEXT_KEY: &[u8] = b"history";

fn block_number(raw: &[u8], table: &'static str) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = raw.try_into().map_err(|_| StoreError::Corrupt {
        table,
        key: format!("{raw:02x?}"),
        why: "a block number is 8 bytes",
    })?;
    Ok(u64::from_be_bytes(bytes))
}

impl Store {
    /// At open: a store written before the index trailed the commit was indexed at each commit, so it starts at
    /// its newest change set + 1; a new store at block 0 (raised to its first change set when it has one).
    pub(super) fn init_history_index(&self, wtxn: &mut RwTxn) -> Result<(), StoreError> {
        if self.lthash.get(wtxn, NEXT_KEY)?.is_some() {
            return Ok(());
        }
        let next = match self.changes.last(wtxn)? {
            Some((last, _)) => block_number(last, "changes")? + 1,
            None => 0,
        };
        Ok(self.lthash.put(wtxn, NEXT_KEY, &next.to_be_bytes())?)
    }

    /// The first block whose change set is not indexed yet, and the newest hot change set's block.
    fn history_progress(&self, txn: &RoTxn<WithoutTls>) -> Result<(u64, Option<u64>), StoreError> {
        let next = match self.lthash.get(txn, NEXT_KEY)? {
            Some(raw) => block_number(raw, "lthash")?,
            None => 0,
        };
        let first = match self.changes.first(txn)? {
            Some((key, _)) => block_number(key, "changes")?,
            None => return Ok((next, None)),
        };
        let last = self.changes.last(txn)?.map(|(key, _)| block_number(key, "changes")).transpose()?;
        Ok((next.max(first), last))
    }

    /// Whether every hot change set that `txn` sees is indexed.
    pub(super) fn history_complete(&self, txn: &RoTxn<WithoutTls>) -> Result<bool, StoreError> {
        let (next, last) = self.history_progress(txn)?;
        Ok(last.is_none_or(|last| last < next))
    }

    /// Indexes the change sets of the blocks not yet indexed, through `target` (or the newest hot change set),
    /// inside `wtxn`. The caller holds the `rewrite` lock.
    pub(crate) fn index_history(&self, wtxn: &mut RwTxn, target: u64) -> Result<(), StoreError> {
        let (next, Some(last)) = self.history_progress(wtxn)? else { return Ok(()) };
        let through = target.min(last);
        if through < next {
            return Ok(());
        }
        for number in next..=through {
            let blob = self.changes.get(wtxn, &number.to_be_bytes())?.ok_or(StoreError::MissingChangeSet(number))?;
            let changed = history::decode(blob)?;
            for c in changed.iter().filter(|c| c.key[0] != history::CODE) {
                self.history.put(wtxn, &history::index_key(&c.key, number), c.old.as_deref().unwrap_or_default())?;
            }
        }
        Ok(self.lthash.put(wtxn, NEXT_KEY, &(through + 1).to_be_bytes())?)
    }

    /// After blocks above `to` were rolled back (their entries deleted): indexing resumes at `to + 1`.
    pub(super) fn rewind_history_index(&self, wtxn: &mut RwTxn, to: u64) -> Result<(), StoreError> {
        let (next, _) = self.history_progress(wtxn)?;
        if next > to + 1 {
            self.lthash.put(wtxn, NEXT_KEY, &(to + 1).to_be_bytes())?;
        }
        Ok(())
    }

    /// Indexes every hot change set not yet indexed, in a transaction of its own.
    pub(super) fn catch_up_history(&self) -> Result<(), StoreError> {
        let _rewrite = self.rewrite.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wtxn = self.env.write_txn()?;
        self.index_history(&mut wtxn, u64::MAX)?;
        wtxn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use revm::primitives::{Address, U256};

    use crate::{
        db::dev::tests::{block, open},
        StateReader, Store,
    };

    fn state_at(store: &Store, number: Option<u64>) -> Vec<U256> {
        let view = store.view(number).unwrap();
        (1u8..4)
            .flat_map(|a| (0u8..4).map(move |s| (Address::repeat_byte(a), U256::from(s))))
            .map(|(address, slot)| view.storage(address, slot).unwrap())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// However far the index trails the commits (the worker ran after some blocks, never, or all), reads at
        /// every past block return the state right after that block, pruning deletes what its block added, and a
        /// rollback leaves the index able to go on.
        #[test]
        fn reads_at_past_blocks_whatever_the_index_lag(
            chain in proptest::collection::vec(
                (proptest::collection::vec((1u8..4, 0u8..4, 0u8..4), 0..6), any::<bool>()), 2..8),
            prune in any::<bool>(),
        ) {
            let (_dir, store) = open();
            let mut after = Vec::new();
            for (number, (writes, advance)) in chain.iter().enumerate() {
                store.commit(number as u64, &block(writes), &[], &[], &[], &[]).unwrap();
                if *advance {
                    store.advance_commitment(number as u64).unwrap();
                }
                after.push(state_at(&store, None));
            }
            let head = chain.len() as u64 - 1;
            for number in 0..head {
                prop_assert_eq!(&state_at(&store, Some(number)), &after[number as usize]);
            }
            if prune {
                let blob = store.change_set(0).unwrap().unwrap();
                store.prune_history(0, &blob).unwrap();
                prop_assert!(store.history.len(&store.env.read_txn().unwrap()).unwrap() as usize
                    <= chain.iter().skip(1).map(|(w, _)| w.len()).sum::<usize>());
            }
            store.rollback(0, head, &[]).unwrap();
            store.commit(1, &block(&[(1, 1, 9)]), &[], &[], &[], &[]).unwrap();
            prop_assert_eq!(&state_at(&store, Some(0)), &after[0]);
        }
    }
}
