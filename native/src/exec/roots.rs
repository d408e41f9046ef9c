//! Ordered tries (transactions and receipts roots), built leaf by leaf as the block's items arrive.

use revm::primitives::B256;

/// The root of an ordered trie (key = RLP of the index, as for transactions and receipts), built from the
/// encodings in index order as they arrive. Index 0 (RLP `0x80`) sorts after indices 1..=127, so it is held
/// back until the 129th item or the end; otherwise leaves go into the hash builder at once.
#[derive(Default)]
pub(super) struct OrderedTrie {
    builder: alloy_trie::HashBuilder,
    first: Option<Vec<u8>>,
    count: usize,
}

impl OrderedTrie {
    pub(super) fn push(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        let index = self.count;
        self.count += 1;
        let mut value = Vec::new();
        encode(&mut value);
        if index == 0 {
            self.first = Some(value);
            return;
        }
        if index == 0x80 {
            self.release_first();
        }
        self.add(index, &value);
    }

    fn release_first(&mut self) {
        if let Some(first) = self.first.take() {
            self.add(0, &first);
        }
    }

    fn add(&mut self, index: usize, value: &[u8]) {
        let key = alloy_rlp::encode_fixed_size(&index);
        self.builder.add_leaf(alloy_trie::Nibbles::unpack(&key), value);
    }

    pub(super) fn root(mut self) -> B256 {
        if self.count == 0 {
            return alloy_trie::EMPTY_ROOT_HASH;
        }
        self.release_first();
        self.builder.root()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::OrderedTrie;

    proptest! {
        /// The ordered trie built as items arrive has alloy's root, for every length around the index-0 quirk.
        #[test]
        fn ordered_trie_matches_alloy(items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..300)) {
            let mut trie = OrderedTrie::default();
            for item in &items {
                trie.push(|buf| buf.extend_from_slice(item));
            }
            let expected = alloy_trie::root::ordered_trie_root_with_encoder(&items, |item, buf| buf.extend_from_slice(item));
            prop_assert_eq!(trie.root(), expected);
        }
    }
}
