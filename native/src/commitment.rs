//! The LtHash state commitment (Sei's and Solana's lattice hash), computed from each block's change set.
//!
//! The consensus encoding of the state into key/value pairs is specified in `pysei/state/commitment.py`, and
//! `pysei/state/lthash.py` is the reference implementation (numpy, Firedancer test vectors). This is the same
//! function in Rust because the node's commitment worker runs it on every block: it must not hold the GIL, and
//! a block of 20,000 ERC-20 transfers changes ~60,000 records. Tests check both against each other.

use heed::{RoTxn, RwTxn, WithoutTls};
use rayon::prelude::*;
use revm::primitives::B256;

use crate::{
    db::{Store, StoreError},
    history::{self, Change},
};

pub const LANES: usize = 1024;
pub const BYTES: usize = 2 * LANES;

/// 1024 lanes of u16 added and subtracted modulo 2^16: a multiset hash whose sum is order independent.
#[derive(Clone, PartialEq, Eq)]
pub struct LtHash(pub Box<[u16; LANES]>);

impl Default for LtHash {
    fn default() -> Self {
        Self(Box::new([0; LANES]))
    }
}

impl std::fmt::Debug for LtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LtHash({})", self.digest())
    }
}

impl LtHash {
    /// The element of one key/value pair: BLAKE3 XOF of `u32le(len key) ‖ key ‖ u32le(len value) ‖ value`.
    pub fn element(key: &[u8], value: &[u8]) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&(key.len() as u32).to_le_bytes());
        hasher.update(key);
        hasher.update(&(value.len() as u32).to_le_bytes());
        hasher.update(value);
        Self::from_xof(&hasher)
    }

    fn from_xof(hasher: &blake3::Hasher) -> Self {
        let mut out = [0u8; BYTES];
        hasher.finalize_xof().fill(&mut out);
        Self::from_bytes(&out).expect("2048 bytes")
    }

    pub fn add(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    pub fn sub(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_sub(*b);
        }
    }

    pub fn to_bytes(&self) -> [u8; BYTES] {
        let mut out = [0u8; BYTES];
        for (bytes, lane) in out.chunks_exact_mut(2).zip(self.0.iter()) {
            bytes.copy_from_slice(&lane.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(raw: &[u8]) -> Option<Self> {
        if raw.len() != BYTES {
            return None;
        }
        let mut lanes = Box::new([0u16; LANES]);
        for (lane, bytes) in lanes.iter_mut().zip(raw.chunks_exact(2)) {
            *lane = u16::from_le_bytes([bytes[0], bytes[1]]);
        }
        Some(Self(lanes))
    }

    /// BLAKE3-256 of the 2048-byte little-endian vector: the 32-byte commitment.
    pub fn digest(&self) -> alloy_primitives::B256 {
        alloy_primitives::B256::from(*blake3::hash(&self.to_bytes()).as_bytes())
    }

    /// Applies a block's changes: subtracts each record's old pair and adds its new one. Elements are hashed on
    /// the rayon pool (BLAKE3 XOF dominates; the lane sums are cheap), and the sum is order independent, so the
    /// result does not depend on how the work was split.
    pub fn apply(&mut self, changes: &[Change]) {
        let (added, removed) = changes
            .par_iter()
            .fold(
                || (LtHash::default(), LtHash::default()),
                |(mut added, mut removed), c| {
                    if c.old != c.new {
                        if let Some(old) = c.old.as_deref().filter(|v| !v.is_empty()) {
                            removed.add(&LtHash::element(&c.key, old));
                        }
                        if let Some(new) = c.new.as_deref().filter(|v| !v.is_empty()) {
                            added.add(&LtHash::element(&c.key, new));
                        }
                    }
                    (added, removed)
                },
            )
            .reduce(
                || (LtHash::default(), LtHash::default()),
                |(mut a1, mut r1), (a2, r2)| {
                    a1.add(&a2);
                    r1.add(&r2);
                    (a1, r1)
                },
            );
        self.add(&added);
        self.sub(&removed);
    }
}

/// The commitment worker's side of the store: the accumulator and the per-block digests live in the store's
/// `lthash` and `commitment` tables, advanced here from the change sets the block commit wrote.
impl Store {
    /// The block whose state the commitment accumulator is at, and the accumulator.
    pub fn commitment_state(&self) -> Result<Option<(u64, LtHash)>, StoreError> {
        self.accumulator(&self.env.read_txn()?)
    }

    pub(crate) fn accumulator(&self, txn: &RoTxn<WithoutTls>) -> Result<Option<(u64, LtHash)>, StoreError> {
        match self.lthash.get(txn, b"state")? {
            None => Ok(None),
            Some(raw) => {
                let corrupt = || StoreError::Corrupt { table: "lthash", key: "state".into(), why: "length != 2056" };
                let number = u64::from_be_bytes(raw.get(..8).ok_or_else(corrupt)?.try_into().expect("8 bytes"));
                Ok(Some((number, LtHash::from_bytes(&raw[8..]).ok_or_else(corrupt)?)))
            }
        }
    }

    pub(crate) fn put_accumulator(&self, wtxn: &mut RwTxn, number: u64, acc: &LtHash) -> Result<(), StoreError> {
        let mut state = number.to_be_bytes().to_vec();
        state.extend_from_slice(&acc.to_bytes());
        Ok(self.lthash.put(wtxn, b"state", &state)?)
    }

    /// The state commitment (LtHash digest) after block `number`, once the worker has computed it.
    pub fn commitment(&self, number: u64) -> Result<Option<B256>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.commitment.get(&rtxn, &number.to_be_bytes())?.map(B256::from_slice))
    }

    /// Advances the commitment accumulator through block `target`, applying each block's change set in order,
    /// and records each block's digest. Idempotent and restartable: the accumulator and the digests are
    /// written in one transaction, so after a crash it resumes from the last block it recorded. Returns the
    /// digests it computed. One caller at a time (the node's commitment worker).
    pub fn advance_commitment(&self, target: u64) -> Result<Vec<(u64, B256)>, StoreError> {
        let _rewrite = self.rewrite.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (mut next, mut acc) = match self.commitment_state()? {
            Some((number, acc)) => (number + 1, acc),
            // A new store: the chain starts at its first change set (genesis, usually block 0).
            None => {
                let rtxn = self.env.read_txn()?;
                match self.changes.first(&rtxn)? {
                    Some((first, _)) => (u64::from_be_bytes(first.try_into().expect("8-byte key")), LtHash::default()),
                    None => return Ok(Vec::new()),
                }
            }
        };
        let mut digests = Vec::new();
        while next <= target {
            let blob = self.change_set(next)?.ok_or(StoreError::MissingChangeSet(next))?;
            acc.apply(&history::decode(&blob)?);
            digests.push((next, acc.digest()));
            next += 1;
        }
        if let Some(&(last, _)) = digests.last() {
            let mut wtxn = self.env.write_txn()?;
            // The same change sets feed the history index, which trails the block commit too (`db/index.rs`).
            self.index_history(&mut wtxn, last)?;
            self.put_commitments(&mut wtxn, &digests)?;
            self.put_accumulator(&mut wtxn, last, &acc)?;
            wtxn.commit()?;
        }
        Ok(digests)
    }

    /// Records commitments computed elsewhere (a verified snapshot's recent blocks), for headers that carry them.
    pub(crate) fn put_commitments(&self, wtxn: &mut RwTxn, commitments: &[(u64, B256)]) -> Result<(), StoreError> {
        for (number, digest) in commitments {
            self.commitment.put(wtxn, &number.to_be_bytes(), digest.as_slice())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Firedancer's vectors: the lanes of the raw (unprefixed) elements of "hello" and "world!".
    #[test]
    fn raw_elements_match_firedancer() {
        let hello = LtHash::from_xof(blake3::Hasher::new().update(b"hello"));
        assert_eq!(hello.0[..4], [0x8FEA, 0x3D16, 0x86B3, 0x9282]);
        assert_eq!(hello.0[LANES - 1], 0x9924);
        let world = LtHash::from_xof(blake3::Hasher::new().update(b"world!"));
        assert_eq!(world.0[..4], [0x56DC, 0x1D98, 0x5420, 0x810D]);
        assert_eq!(world.0[LANES - 1], 0x171F);
        let mut sum = hello.clone();
        sum.add(&world);
        sum.sub(&hello);
        assert_eq!(sum, world);
        assert_eq!(LtHash::from_bytes(&hello.to_bytes()).unwrap(), hello);
    }

    #[test]
    fn add_then_remove_is_identity_and_order_free() {
        let c = |k: &[u8], old: Option<&[u8]>, new: Option<&[u8]>| Change {
            key: k.to_vec(),
            old: old.map(<[u8]>::to_vec),
            new: new.map(<[u8]>::to_vec),
        };
        let mut a = LtHash::default();
        a.apply(&[c(b"x", None, Some(b"1")), c(b"y", None, Some(b"2"))]);
        let mut b = LtHash::default();
        b.apply(&[c(b"y", None, Some(b"2"))]);
        b.apply(&[c(b"x", None, Some(b"1"))]);
        assert_eq!(a, b);
        a.apply(&[c(b"x", Some(b"1"), None), c(b"y", Some(b"2"), Some(b"3")), c(b"y", Some(b"3"), None)]);
        assert_eq!(a, LtHash::default());
    }
}
