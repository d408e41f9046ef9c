//! Per-block change sets: every record a block changed, with the value it held before and after.
//!
//! One change set feeds three consumers, so the commit records it once, inside the block's write transaction:
//! the LtHash commitment (subtract the old pair, add the new one), historical state queries (the `history`
//! index maps `key ‖ block` to the value the key held *before* that block), and pruning (which deletes exactly
//! the index entries a block added). Keys use the commitment's encoding (`pysei/state/commitment.py`):
//! `a ‖ address` → the 72-byte account record, `s ‖ address ‖ slot` → the 32-byte value, `c ‖ code_hash` → the
//! bytecode (code is content-addressed: it appears once, when first stored, and is never removed).

use alloy_primitives::map::HashMap;

pub const ACCOUNT: u8 = b'a';
pub const CODE: u8 = b'c';
pub const STORAGE: u8 = b's';

/// One record's change in a block; `None` means absent (no account, zero slot, no code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: Vec<u8>,
    pub old: Option<Vec<u8>>,
    pub new: Option<Vec<u8>>,
}

/// A malformed change-set blob: the store is corrupt.
#[derive(Debug, thiserror::Error)]
#[error("malformed change set: {0}")]
pub struct MalformedChangeSet(&'static str);

/// Collects a block's changes as the commit applies them. A key is recorded twice only when a storage wipe
/// (SELFDESTRUCT, or a contract created over old storage) deletes a slot that a later write sets again; that
/// change keeps its first old value and its last new value. Only wiped keys are indexed: every other key comes
/// once, and hashing 50,000 keys per block for nothing showed up in the commit's profile.
#[derive(Default)]
pub struct Recorder {
    changes: Vec<Change>,
    wiped: HashMap<Vec<u8>, usize>,
}

impl Recorder {
    /// A slot deleted by a storage wipe.
    pub fn record_wiped(&mut self, key: Vec<u8>, old: &[u8]) {
        self.wiped.insert(key.clone(), self.changes.len());
        self.changes.push(Change { key, old: Some(old.to_vec()), new: None });
    }

    pub fn record(&mut self, key: Vec<u8>, old: Option<Vec<u8>>, new: Option<Vec<u8>>) {
        if let Some(&i) = self.wiped.get(&key) {
            self.changes[i].new = new;
        } else {
            self.changes.push(Change { key, old, new });
        }
    }

    /// The net changes, without records that ended where they started.
    pub fn finish(self) -> Vec<Change> {
        self.changes.into_iter().filter(|c| c.old != c.new).collect()
    }
}

/// `count (u32 LE)`, then per change: `key_len (u8) ‖ key ‖ old ‖ new`, each value `0` (absent) or
/// `1 ‖ len (u32 LE) ‖ bytes`.
pub fn encode(changes: &[Change]) -> Vec<u8> {
    let value_len = |v: &Option<Vec<u8>>| v.as_ref().map_or(1, |v| 5 + v.len());
    let size: usize = changes.iter().map(|c| 1 + c.key.len() + value_len(&c.old) + value_len(&c.new)).sum();
    let mut out = Encoder::with_capacity(size);
    for c in changes {
        out.push(&c.key, c.old.as_deref(), c.new.as_deref());
    }
    out.finish()
}

/// Writes a change set entry by entry in `encode`'s format, for a writer that knows each change without first
/// collecting them as `Change`s (the commit, from the executor's old values).
pub struct Encoder {
    out: Vec<u8>,
    count: u32,
}

impl Encoder {
    /// An empty change set with room for `bytes` of entries.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut out = Vec::with_capacity(4 + bytes);
        out.extend_from_slice(&0u32.to_le_bytes());
        Self { out, count: 0 }
    }

    pub fn push(&mut self, key: &[u8], old: Option<&[u8]>, new: Option<&[u8]>) {
        self.out.push(key.len() as u8);
        self.out.extend_from_slice(key);
        for value in [old, new] {
            match value {
                None => self.out.push(0),
                Some(v) => {
                    self.out.push(1);
                    self.out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    self.out.extend_from_slice(v);
                }
            }
        }
        self.count += 1;
    }

    /// Changes pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out[..4].copy_from_slice(&self.count.to_le_bytes());
        self.out
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MalformedChangeSet> {
        if self.0.len() < n {
            return Err(MalformedChangeSet("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<usize, MalformedChangeSet> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize)
    }

    fn value(&mut self) -> Result<Option<Vec<u8>>, MalformedChangeSet> {
        match self.take(1)?[0] {
            0 => Ok(None),
            1 => {
                let n = self.u32()?;
                Ok(Some(self.take(n)?.to_vec()))
            }
            _ => Err(MalformedChangeSet("bad value tag")),
        }
    }
}

pub fn decode(blob: &[u8]) -> Result<Vec<Change>, MalformedChangeSet> {
    let mut r = Reader(blob);
    let count = r.u32()?;
    let mut changes = Vec::with_capacity(count.min(blob.len() / 11));
    for _ in 0..count {
        let key_len = r.take(1)?[0] as usize;
        let key = r.take(key_len)?.to_vec();
        let old = r.value()?;
        let new = r.value()?;
        changes.push(Change { key, old, new });
    }
    if !r.0.is_empty() {
        return Err(MalformedChangeSet("trailing bytes"));
    }
    Ok(changes)
}

/// The `history` index key: the record's key, then the block number (big-endian, so a cursor seek finds the
/// first change at or after a block).
pub fn index_key(key: &[u8], number: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 8);
    out.extend_from_slice(key);
    out.extend_from_slice(&number.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80))
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(
            changes in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 1..60), value(), value())
                    .prop_map(|(key, old, new)| Change { key, old, new }),
                0..20,
            )
        ) {
            let blob = encode(&changes);
            prop_assert_eq!(decode(&blob).unwrap(), changes);
            if !blob.is_empty() {
                prop_assert!(decode(&blob[..blob.len() - 1]).is_err());
            }
        }
    }

    #[test]
    fn recorder_keeps_first_old_and_last_new() {
        let mut r = Recorder::default();
        r.record_wiped(b"s1".to_vec(), b"old");
        r.record(b"s1".to_vec(), None, Some(b"new".to_vec()));
        r.record_wiped(b"s2".to_vec(), b"same");
        r.record(b"s2".to_vec(), None, Some(b"same".to_vec()));
        r.record(b"s3".to_vec(), None, Some(b"x".to_vec()));
        assert_eq!(
            r.finish(),
            vec![
                Change { key: b"s1".to_vec(), old: Some(b"old".to_vec()), new: Some(b"new".to_vec()) },
                Change { key: b"s3".to_vec(), old: None, new: Some(b"x".to_vec()) },
            ]
        );
    }
}
