//! Block assembly: folds transaction runs into the block in order (state, outcomes, receipts, blooms, roots).
//! Sequential and parallel execution both build their output here.

use std::sync::mpsc;

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{map::HashMap, Address, Bloom};
use revm::{
    context::result::ExecutionResult,
    primitives::{Bytes, B256},
};

use rayon::prelude::*;

use super::{
    diff::TxRun,
    handler::halt_name,
    overlay::BlockState,
    roots::{block_node, ordered_trie_root_with, BLOCK},
    BlockOutput, ExecStats, TxAccess, TxMeta, TxOutcome,
};
use crate::db::{StateReader, StoreError};

/// Folds transaction runs into the block, in block order. Sequential and parallel execution both build their
/// output here, so the two can only differ in which runs they feed in, never in how a block is assembled.
///
/// Receipts, blooms and the two roots are sealed at the end, on all cores (`finish`): in the parallel executor the
/// thread that folds transactions in order is the bottleneck, so it only keeps what sealing needs. The sequential
/// executor seals ahead instead (`sealing_ahead`).
pub(crate) struct BlockBuilder<'t> {
    outcomes: Vec<TxOutcome>,
    access: Vec<TxAccess>,
    record_access: bool,
    /// The included transactions' EIP-2718 encodings (the transactions trie takes them without re-encoding).
    included_raws: Vec<&'t [u8]>,
    /// Each included transaction's type, receipt without bloom, and bloom when the executor computed it.
    /// Those not yet handed to `ahead`.
    plain_receipts: Vec<(u8, Receipt, Option<Bloom>)>,
    cumulative: u64,
    ahead: Option<Ahead>,
}

/// Blocks of `BLOCK` included transactions sealed while the block still executes: their receipts completed and
/// encoded, and their subtrees of both tries encoded (`roots::block_node`), by jobs on the pool. The sequential
/// executor leaves the other cores idle until the end of the block, where sealing all of it took about a quarter
/// of a 20,000-transaction block's time.
struct Ahead {
    send: mpsc::Sender<(usize, std::thread::Result<SealedBlock>)>,
    replies: mpsc::Receiver<(usize, std::thread::Result<SealedBlock>)>,
    spawned: usize,
}

struct SealedBlock {
    receipts: Vec<ReceiptEnvelope>,
    encoded: Vec<Vec<u8>>,
    receipts_node: Option<Vec<u8>>,
    transactions_node: Option<Vec<u8>>,
}

impl SealedBlock {
    /// Block `h`: the receipts and EIP-2718 transaction encodings of its `BLOCK` transactions.
    fn seal(h: usize, plain: Vec<(u8, Receipt, Option<Bloom>)>, raws: &[Vec<u8>]) -> Self {
        let mut memo = BloomMemo::default();
        let (receipts, encoded): (Vec<_>, Vec<_>) = plain.into_iter().map(|p| seal_receipt(&mut memo, p)).unzip();
        let receipts_node = block_node(h, &encoded);
        Self { receipts, encoded, receipts_node, transactions_node: block_node(h, raws) }
    }
}

impl Ahead {
    /// Hands block `h` to the pool. A panic in the job is sent back as the reply and raised again by `wait`
    /// on this thread, as a panic in a scope's job would be.
    fn spawn(&mut self, h: usize, plain: Vec<(u8, Receipt, Option<Bloom>)>, raws: Vec<Vec<u8>>) {
        let send = self.send.clone();
        rayon::spawn(move || {
            let sealed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SealedBlock::seal(h, plain, &raws)));
            // The receiver is gone only when the block failed before `finish`: nothing waits for this one.
            let _ = send.send((h, sealed));
        });
        self.spawned += 1;
    }

    /// Every block sealed ahead, in order. Waited for on the executing thread: a pool job that waited for other
    /// pool jobs could wait forever on a one-thread pool.
    fn wait(self) -> Vec<SealedBlock> {
        let mut blocks: Vec<Option<SealedBlock>> = (0..self.spawned).map(|_| None).collect();
        for _ in 0..self.spawned {
            let (h, sealed) = self.replies.recv().expect("each job replies once");
            match sealed {
                Ok(sealed) => blocks[h] = Some(sealed),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        blocks.into_iter().map(|b| b.expect("every spawned block replied")).collect()
    }
}

impl<'t> BlockBuilder<'t> {
    pub(crate) fn new(n: usize, record_access: bool) -> Self {
        Self {
            outcomes: Vec::with_capacity(n),
            access: Vec::with_capacity(if record_access { n } else { 0 }),
            record_access,
            included_raws: Vec::with_capacity(n),
            plain_receipts: Vec::with_capacity(n),
            cumulative: 0,
            ahead: None,
        }
    }

    /// Seals each block of `BLOCK` included transactions on the pool as soon as it is complete (see `Ahead`).
    /// Off when the calling thread is itself a pool thread (a job must not wait for jobs) or when the pool has a
    /// single thread (there is no idle core to seal on).
    pub(crate) fn sealing_ahead(mut self) -> Self {
        if rayon::current_thread_index().is_none() && rayon::current_num_threads() > 1 {
            let (send, replies) = mpsc::channel();
            self.ahead = Some(Ahead { send, replies, spawned: 0 });
        }
        self
    }

    pub(crate) const fn cumulative_gas(&self) -> u64 {
        self.cumulative
    }

    pub(crate) const fn records_access(&self) -> bool {
        self.record_access
    }

    /// Appends the run of `raw` (decoded into `meta`) to the block,
    /// applying its state changes to `state`.
    pub(crate) fn push<R: StateReader>(
        &mut self,
        state: &mut BlockState<'_, R>,
        raw: &'t [u8],
        meta: TxMeta,
        run: TxRun,
        record: Option<TxAccess>,
    ) -> Result<(), StoreError> {
        let (result, diff, fee, reached, bloom) = match run {
            TxRun::Skipped(reason) => {
                self.outcomes.push(TxOutcome {
                    included: Err(reason),
                    success: false,
                    gas_used: 0,
                    cumulative_gas_used: self.cumulative,
                    receipt: None,
                    contract_address: None,
                    meta: TxMeta::default(),
                    output: Bytes::new(),
                    halt: None,
                    reached: Vec::new(),
                });
                if self.record_access {
                    self.access.push(TxAccess::default());
                }
                return Ok(());
            }
            TxRun::Executed { result, diff, fee, reached, bloom } => (result, diff, fee, reached, bloom),
        };
        let mut record = if self.record_access { Some(record.unwrap_or_default()) } else { None };
        state.pending_fee = fee;
        state.apply(diff, record.as_mut().map(|r| &mut r.writes))?;
        self.access.extend(record);
        let gas_used = result.gas().tx_gas_used();
        self.cumulative += gas_used;
        // As geth does, a creation's receipt names the address even when the creation failed.
        let (success, output, halt) = match &result {
            ExecutionResult::Success { output, .. } => (true, output.data().clone(), None),
            ExecutionResult::Revert { output, .. } => (false, output.clone(), None),
            ExecutionResult::Halt { reason, .. } => (false, Bytes::new(), Some(halt_name(reason))),
        };
        self.outcomes.push(TxOutcome {
            included: Ok(()),
            success,
            gas_used,
            cumulative_gas_used: self.cumulative,
            receipt: Some(self.included_raws.len()),
            contract_address: meta.create_address,
            meta,
            output,
            halt,
            reached,
        });
        let receipt = Receipt {
            status: Eip658Value::Eip658(success),
            cumulative_gas_used: self.cumulative,
            logs: result.into_logs(),
        };
        self.plain_receipts.push((meta.tx_type, receipt, bloom));
        self.included_raws.push(raw);
        if let Some(ahead) = self.ahead.as_mut() {
            if self.plain_receipts.len() == BLOCK {
                let h = ahead.spawned;
                let plain = std::mem::replace(&mut self.plain_receipts, Vec::with_capacity(BLOCK));
                // Copied (about 30 kB a block) so that the job owns what it hashes.
                let raws = self.included_raws[h * BLOCK..].iter().map(|raw| raw.to_vec()).collect();
                ahead.spawn(h, plain, raws);
            }
        }
        Ok(())
    }

    /// Runs the modules' end-of-block logic (for the block of `params`), folds the fee delta, sorts the change set
    /// and completes receipts, blooms and roots.
    pub(crate) fn finish<R: StateReader>(
        mut self,
        mut state: BlockState<'_, R>,
        mut stats: ExecStats,
        params: &super::BlockParams,
    ) -> Result<BlockOutput, StoreError> {
        let system_logs = crate::modules::end_block::run(&mut state, params)?;
        stats.skipped = self.outcomes.iter().filter(|o| o.included.is_err()).count();
        stats.gas_used = self.cumulative;
        let plain_receipts = std::mem::take(&mut self.plain_receipts);
        let included_raws = &self.included_raws;
        let ahead = self.ahead.take().map(Ahead::wait).unwrap_or_default();
        // The change set (which reads the committed values the block wrote without reading them) and the
        // sealing (hashing) are independent: the first on this thread while the pool seals.
        let mut sealed = None;
        let changes = rayon::in_place_scope(|scope| {
            scope.spawn(|_| {
                let (tail_receipts, tail_encoded) = seal_receipts(plain_receipts);
                let mut receipts = Vec::with_capacity(included_raws.len());
                let mut encoded = Vec::with_capacity(included_raws.len());
                let (mut receipts_nodes, mut transactions_nodes) = (Vec::new(), Vec::new());
                for block in ahead {
                    receipts.extend(block.receipts);
                    encoded.extend(block.encoded);
                    receipts_nodes.push(block.receipts_node);
                    transactions_nodes.push(block.transactions_node);
                }
                receipts.extend(tail_receipts);
                encoded.extend(tail_encoded);
                let (receipts_root, transactions_root) = rayon::join(
                    || ordered_trie_root_with(&encoded, &receipts_nodes),
                    || ordered_trie_root_with(included_raws, &transactions_nodes),
                );
                sealed = Some((receipts, receipts_root, transactions_root));
            });
            state.into_changes()
        });
        let (receipts, receipts_root, transactions_root) = sealed.expect("the scope ran the sealing");
        let (changes, fees) = changes?;
        // System logs have no receipt (the receipts trie is the transactions'), but the block's bloom covers
        // them, so a log filter that skips blocks by their bloom still finds them.
        let logs_bloom = receipts
            .iter()
            .fold(alloy_primitives::logs_bloom(&system_logs), |bloom, receipt| bloom | *receipt.logs_bloom());
        Ok(BlockOutput {
            outcomes: self.outcomes,
            receipts_root,
            receipts,
            changes,
            access: self.access,
            gas_used: self.cumulative,
            fees,
            logs_bloom,
            system_logs,
            transactions_root,
            stats,
        })
    }
}

/// Completes each receipt with its bloom (computed here when the executor did not) and encodes it as the receipts
/// trie takes it, on all cores: a bloom costs a keccak per new address or topic.
fn seal_receipts(plain: Vec<(u8, Receipt, Option<Bloom>)>) -> (Vec<ReceiptEnvelope>, Vec<Vec<u8>>) {
    plain.into_par_iter().map_init(BloomMemo::default, seal_receipt).unzip()
}

/// A receipt with its bloom, and its EIP-2718 encoding (the receipts trie's item).
fn seal_receipt(
    memo: &mut BloomMemo,
    (tx_type, receipt, bloom): (u8, Receipt, Option<Bloom>),
) -> (ReceiptEnvelope, Vec<u8>) {
    let logs_bloom = bloom.unwrap_or_else(|| memo.logs_bloom(&receipt.logs));
    let receipt = wrap_receipt(tx_type, ReceiptWithBloom { receipt, logs_bloom });
    let mut encoded = Vec::with_capacity(receipt.encode_2718_len());
    receipt.encode_2718(&mut encoded);
    (receipt, encoded)
}

/// Bloom bits by input, for one block: the emitting contract and the event signature repeat in almost every
/// log of a block, and each bloom input otherwise costs a keccak. Addresses and topics are kept apart: a topic can
/// hold any 32 bytes, so no key built from an address can be told from every topic.
#[derive(Default)]
pub(crate) struct BloomMemo {
    addresses: HashMap<Address, Bloom>,
    topics: HashMap<B256, Bloom>,
}

fn bloom_of(input: &[u8]) -> Bloom {
    let mut bloom = Bloom::ZERO;
    bloom.accrue(alloy_primitives::BloomInput::Raw(input));
    bloom
}

impl BloomMemo {
    pub(crate) fn logs_bloom(&mut self, logs: &[alloy_primitives::Log]) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in logs {
            bloom |= *self.addresses.entry(log.address).or_insert_with(|| bloom_of(log.address.as_slice()));
            for topic in log.topics() {
                bloom |= *self.topics.entry(*topic).or_insert_with(|| bloom_of(topic.as_slice()));
            }
        }
        bloom
    }
}

fn wrap_receipt(tx_type: u8, receipt: ReceiptWithBloom<Receipt>) -> ReceiptEnvelope {
    match tx_type {
        1 => ReceiptEnvelope::Eip2930(receipt),
        2 => ReceiptEnvelope::Eip1559(receipt),
        4 => ReceiptEnvelope::Eip7702(receipt),
        _ => ReceiptEnvelope::Legacy(receipt),
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, Log, LogData};
    use proptest::prelude::*;

    use super::*;

    /// A topic that is an address's 20 bytes behind `0x34` and eleven zero bytes gets its own bloom bits, not
    /// the address's (the memo once keyed both by one 32-byte array, and these two keys were equal).
    #[test]
    fn a_topic_is_not_taken_for_an_address() {
        let address = Address::repeat_byte(0xaa);
        let mut topic = B256::ZERO;
        topic[0] = 0x34;
        topic[12..].copy_from_slice(address.as_slice());
        let logs = [
            Log { address, data: LogData::new_unchecked(vec![], Default::default()) },
            Log { address: Address::ZERO, data: LogData::new_unchecked(vec![topic], Default::default()) },
        ];
        assert_eq!(BloomMemo::default().logs_bloom(&logs), alloy_primitives::logs_bloom(logs.iter()));
    }

    proptest! {
        /// The memoised bloom equals alloy's, whatever the mix of repeated and fresh addresses and topics.
        #[test]
        fn bloom_memo_matches_alloy(logs in proptest::collection::vec(
            (0u8..4, proptest::collection::vec(0u8..6, 0..4), proptest::collection::vec(any::<u8>(), 0..40)), 0..12)
        ) {
            let logs: Vec<Log> = logs
                .into_iter()
                .map(|(a, topics, data)| Log {
                    address: Address::with_last_byte(a),
                    data: LogData::new_unchecked(topics.into_iter().map(B256::with_last_byte).collect(), data.into()),
                })
                .collect();
            let mut memo = BloomMemo::default();
            // Twice, so the second pass runs entirely from the memo.
            for _ in 0..2 {
                let expected = alloy_primitives::logs_bloom(logs.iter());
                prop_assert_eq!(memo.logs_bloom(&logs), expected);
            }
        }
    }
}
