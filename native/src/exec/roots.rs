//! Ordered tries (the transactions and receipts roots): the Merkle Patricia trie keyed by the RLP of each item's
//! index, computed at the end of the block with its subtrees hashed on all cores.
//!
//! Hand-written rather than alloy-trie's `HashBuilder` (which the tests compare it with): the hash builder takes
//! leaves one at a time in key order on one thread, and for a 20,000-transaction block the two roots were a third
//! of the block's execution time. The keys of an ordered trie are known in advance and prefix-free (an RLP integer
//! is self-delimiting), so the trie can be split at its branch nodes and each subtree hashed independently.
//!
//! Most of a large block's trie can even be hashed before the block ends: items `256·h … 256·h + 255` (`h` in
//! 1..=255) have the keys `0x82 h l`, the only keys under the nibbles `[8, 2, h >> 4, h & 15]`, so their subtree is
//! complete, and final, as soon as those 256 items exist, whatever the block's final count (`block_node`).

use alloy_primitives::keccak256;
use alloy_rlp::{Encodable, Header};
use rayon::prelude::*;
use revm::primitives::B256;

/// Below this many leaves a subtree is hashed on the current thread: splitting further costs more than it saves.
const PARALLEL_LEAVES: usize = 512;

/// Items per block of the trie that `block_node` encodes ahead.
pub(crate) const BLOCK: usize = 256;

/// Encoded block subtrees by block number `h` (`None`: not encoded ahead; the root encodes it).
pub(crate) type Blocks = [Option<Vec<u8>>];

/// The root of the ordered trie of `items` (item `i` under the key RLP(`i`)), as Ethereum's transactions and
/// receipts roots are defined, taking the subtrees of the blocks in `blocks` as `block_node` encoded them from
/// the same items.
pub(crate) fn ordered_trie_root_with<T: AsRef<[u8]> + Sync>(items: &[T], blocks: &Blocks) -> B256 {
    if items.is_empty() {
        return alloy_trie::EMPTY_ROOT_HASH;
    }
    let mut leaves: Vec<(Vec<u8>, &[u8])> =
        items.iter().enumerate().map(|(i, item)| (key_nibbles(i), item.as_ref())).collect();
    leaves.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    keccak256(node(&leaves, 0, blocks))
}

/// The encoded subtree of block `h`: `items` are items `BLOCK·h …` of the trie, all `BLOCK` of them. `None` for a
/// block whose keys are not the three-byte `0x82 h l` (`h` 0, or past 255) or that is not complete.
pub(crate) fn block_node<T: AsRef<[u8]>>(h: usize, items: &[T]) -> Option<Vec<u8>> {
    if !(1..=255).contains(&h) || items.len() != BLOCK {
        return None;
    }
    let leaves: Vec<(Vec<u8>, &[u8])> =
        items.iter().enumerate().map(|(j, item)| (key_nibbles(h * BLOCK + j), item.as_ref())).collect();
    Some(node(&leaves, 4, &[]))
}

/// The nibbles of RLP(`index`), the trie key of item `index`.
fn key_nibbles(index: usize) -> Vec<u8> {
    alloy_rlp::encode_fixed_size(&index).iter().flat_map(|b| [b >> 4, b & 0x0f]).collect()
}

/// The RLP encoding of the node holding `leaves` (sorted, all sharing their first `depth` nibbles).
fn node(leaves: &[(Vec<u8>, &[u8])], depth: usize, blocks: &Blocks) -> Vec<u8> {
    let (first, last) = (&leaves[0].0, &leaves[leaves.len() - 1].0);
    // All leaves share `[8, 2, h1, h2]`, the prefix of block h's keys and of no others: these are block h, whole.
    if depth == 4 && leaves.len() == BLOCK && first.len() == 6 && first[..2] == [8, 2] {
        if let Some(Some(encoded)) = blocks.get(usize::from(first[2] << 4 | first[3])) {
            return encoded.clone();
        }
    }
    if leaves.len() == 1 {
        return list(&[&path(&first[depth..], true), &string(leaves[0].1)]);
    }
    // Sorted keys: what the first and the last share, all share.
    let shared = first[depth..].iter().zip(&last[depth..]).take_while(|(a, b)| a == b).count();
    if shared > 0 {
        let child = reference(node(leaves, depth + shared, blocks));
        return list(&[&path(&first[depth..depth + shared], false), &child]);
    }
    // A branch: no key ends here (RLP integers are prefix-free), so its value slot is empty.
    let groups: Vec<&[(Vec<u8>, &[u8])]> = leaves.chunk_by(|a, b| a.0[depth] == b.0[depth]).collect();
    let hashed = |group: &&[(Vec<u8>, &[u8])]| (group[0].0[depth], reference(node(group, depth + 1, blocks)));
    let children: Vec<(u8, Vec<u8>)> = if leaves.len() >= PARALLEL_LEAVES {
        groups.par_iter().map(hashed).collect()
    } else {
        groups.iter().map(hashed).collect()
    };
    let empty = [alloy_rlp::EMPTY_STRING_CODE];
    let mut slots: [&[u8]; 17] = [&empty; 17];
    for (nibble, child) in &children {
        slots[usize::from(*nibble)] = child;
    }
    list(&slots)
}

/// How a parent refers to a child node: inline when its encoding is shorter than a hash, else by its hash.
fn reference(encoded: Vec<u8>) -> Vec<u8> {
    if encoded.len() < 32 {
        encoded
    } else {
        string(keccak256(&encoded).as_slice())
    }
}

/// A node's partial path in hex-prefix encoding (the yellow paper's HP), as an RLP string.
fn path(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2 } else { 0 } + (nibbles.len() % 2) as u8;
    let mut packed = Vec::with_capacity(1 + nibbles.len() / 2);
    let rest = if nibbles.len() % 2 == 1 {
        packed.push(flag << 4 | nibbles[0]);
        &nibbles[1..]
    } else {
        packed.push(flag << 4);
        nibbles
    };
    packed.extend(rest.chunks(2).map(|pair| pair[0] << 4 | pair[1]));
    string(&packed)
}

fn string(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 5);
    bytes.encode(&mut out);
    out
}

/// An RLP list of already encoded items.
fn list(items: &[&[u8]]) -> Vec<u8> {
    let payload_length = items.iter().map(|i| i.len()).sum();
    let mut out = Vec::with_capacity(payload_length + 5);
    Header { list: true, payload_length }.encode(&mut out);
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{block_node, ordered_trie_root_with, BLOCK};

    fn ordered_trie_root(items: &[Vec<u8>]) -> revm::primitives::B256 {
        ordered_trie_root_with(items, &[])
    }

    fn alloy_root(items: &[Vec<u8>]) -> revm::primitives::B256 {
        alloy_trie::root::ordered_trie_root_with_encoder(items, |item, buf| buf.extend_from_slice(item))
    }

    proptest! {
        /// alloy's root for every length around the index-0 quirk (RLP(0) = 0x80 sorts after 1..=127) and for
        /// items short enough to be inlined in their parent.
        #[test]
        fn ordered_trie_matches_alloy(items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..300)) {
            prop_assert_eq!(ordered_trie_root(&items), alloy_root(&items));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Sizes where subtrees are hashed in parallel, and the two- and three-byte index keys.
        #[test]
        fn large_tries_match_alloy(len in 500usize..70_000, size in 1usize..120) {
            let items: Vec<Vec<u8>> = (0..len).map(|i| (i as u32).to_le_bytes().repeat(size.div_ceil(4))).collect();
            prop_assert_eq!(ordered_trie_root(&items), alloy_root(&items));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// With any of the complete blocks encoded ahead, the root is alloy's: around the first block (256) and
        /// with a partial last block.
        #[test]
        fn blocks_encoded_ahead_give_the_same_root(
            len in 1usize..2_000, size in 1usize..60, ahead in proptest::collection::vec(any::<bool>(), 8),
        ) {
            let items: Vec<Vec<u8>> = (0..len).map(|i| (i as u32).to_le_bytes().repeat(size.div_ceil(4))).collect();
            let blocks: Vec<Option<Vec<u8>>> = (0..ahead.len())
                .map(|h| {
                    let chunk = items.get(h * BLOCK..((h + 1) * BLOCK).min(len)).unwrap_or_default();
                    block_node(h, chunk).filter(|_| ahead[h])
                })
                .collect();
            prop_assert_eq!(ordered_trie_root_with(&items, &blocks), alloy_root(&items));
        }
    }

    /// Only complete blocks with three-byte keys are encoded ahead.
    #[test]
    fn block_node_refuses_partial_and_irregular_blocks() {
        let items = vec![vec![1u8; 40]; BLOCK];
        assert!(block_node(0, &items).is_none());
        assert!(block_node(256, &items).is_none());
        assert!(block_node(3, &items[1..]).is_none());
        assert!(block_node(3, &items).is_some());
    }

    #[test]
    fn empty_trie() {
        assert_eq!(ordered_trie_root(&[]), alloy_trie::EMPTY_ROOT_HASH);
    }
}
