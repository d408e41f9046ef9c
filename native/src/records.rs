//! The stored records of an executed block (its transactions with their receipts, and its logs), encoded once,
//! here, in the form the store keeps: msgpack arrays in the field order of `pysei.chain.block.TxRecord` and
//! `BlockLog` (msgspec `array_like` structs), which are the one definition of each record. Python decodes
//! these bytes with msgspec when it reads a record (RPC, the cold tier); nothing re-encodes them.
//!
//! A field added here and not there (or the reverse) fails loudly: msgspec rejects an array of the wrong
//! length, and `tests/test_records.py` decodes every record of real blocks.

use alloy_primitives::Bloom;
use rayon::prelude::*;
use revm::primitives::{keccak256, Address, Log, B256};

use crate::exec::{BlockOutput, OrderedTx, Reached, TxOutcome};

/// Why a block's records cannot be encoded (msgpack integers stop at 2^64, as Python's encoder did).
#[derive(Debug, thiserror::Error)]
#[error("transaction {index}: effective gas price {price} does not fit a stored record (over 2^64 - 1)")]
pub struct PriceOverflow {
    pub index: usize,
    pub price: u128,
}

/// One block's records, ready to store.
#[derive(Debug, Default)]
pub struct BlockRecords {
    /// `(transaction hash, encoded TxRecord)` of each included transaction, in block order.
    pub txs: Vec<(B256, Vec<u8>)>,
    /// The encoded `list[BlockLog]`; `None` when the block has no logs (the store keeps no entry then).
    pub logs: Option<Vec<u8>>,
    pub log_count: usize,
    /// The included transactions' encoded size, summed (the block's size counts it).
    pub raw_bytes: usize,
    /// The address index's entries (`pysei.state.store.ADDRESS_TXS`): address ‖ number (8) ‖ position (4) →
    /// transaction hash, for each address a transaction was sent from or to, created or reached internally.
    pub address_index: Vec<([u8; 32], B256)>,
    /// Contracts a transaction deployed (at top level if that succeeded, and by its internal creations that stayed)
    /// → that transaction (`pysei.state.store.CREATORS`).
    pub creators: Vec<(Address, B256)>,
}

/// One transaction's encodings: its `TxRecord`, its `BlockLog` entries and its address index keys.
struct Encoded {
    hash: B256,
    record: Vec<u8>,
    logs: Vec<u8>,
    index_keys: Vec<[u8; 32]>,
    /// The contracts it deployed, for the creators index.
    contracts: Vec<Address>,
}

/// A msgpack writer into memory. `rmp` writes each value; writing into a `Vec` cannot fail, hence the expects.
struct Writer(Vec<u8>);

impl Writer {
    fn array(&mut self, len: usize) -> &mut Self {
        rmp::encode::write_array_len(&mut self.0, len as u32).expect("writing to memory");
        self
    }

    fn bin(&mut self, bytes: &[u8]) -> &mut Self {
        rmp::encode::write_bin(&mut self.0, bytes).expect("writing to memory");
        self
    }

    fn uint(&mut self, value: u64) -> &mut Self {
        rmp::encode::write_uint(&mut self.0, value).expect("writing to memory");
        self
    }

    fn bool(&mut self, value: bool) -> &mut Self {
        rmp::encode::write_bool(&mut self.0, value).expect("writing to memory");
        self
    }

    fn address(&mut self, address: Option<&Address>) -> &mut Self {
        match address {
            Some(a) => self.bin(a.as_slice()),
            None => {
                rmp::encode::write_nil(&mut self.0).expect("writing to memory");
                self
            }
        }
    }

    /// `Log(address, topics, data)`.
    fn log(&mut self, log: &Log) -> &mut Self {
        self.array(3).bin(log.address.as_slice()).array(log.data.topics().len());
        for topic in log.data.topics() {
            self.bin(topic.as_slice());
        }
        self.bin(&log.data.data)
    }
}

/// One included transaction and where it sits in the block.
struct Included<'a> {
    tx: &'a OrderedTx<'a>,
    outcome: &'a TxOutcome,
    logs: &'a [Log],
    bloom: &'a Bloom,
    index: usize,
    first_log: usize,
}

impl Included<'_> {
    /// The `TxRecord`, this transaction's `BlockLog` entries and its address index keys.
    fn encode(&self, hash: B256, number: u64, block_hash: &B256, base_fee: u64) -> Result<Encoded, PriceOverflow> {
        let o = self.outcome;
        let price = o.meta.effective_gas_price(base_fee);
        let price = u64::try_from(price).map_err(|_| PriceOverflow { index: self.index, price })?;
        let mut record = Writer(Vec::with_capacity(self.tx.raw.len() + 160 + 128 * self.logs.len()));
        record
            .array(19)
            .bin(hash.as_slice())
            .bin(self.tx.raw)
            .bin(self.tx.sender.as_slice())
            .address(o.meta.to.as_ref())
            .uint(u64::from(o.meta.tx_type))
            .uint(number)
            .bin(block_hash.as_slice())
            .uint(self.index as u64)
            .bool(o.success)
            .uint(o.gas_used)
            .uint(o.cumulative_gas_used)
            .uint(price)
            .address(o.contract_address.as_ref())
            .array(self.logs.len());
        for log in self.logs {
            record.log(log);
        }
        record.uint(self.first_log as u64).bin(&o.output);
        // `internal`: the other addresses the transaction reached (the address index's keys), once each, sorted.
        let mut reached: Vec<&Address> = o
            .reached
            .iter()
            .map(Reached::address)
            .filter(|a| **a != self.tx.sender && Some(**a) != o.meta.to && Some(**a) != o.contract_address)
            .collect();
        reached.sort_unstable();
        reached.dedup();
        record.array(reached.len());
        for address in &reached {
            record.bin(address.as_slice());
        }
        // `created`: the contracts its internal creations made that stayed, and their creators, sorted. An address
        // names its creator (it is derived from it), so a contract made twice in one transaction is listed once.
        let mut created: Vec<(&Address, &Address)> = o
            .reached
            .iter()
            .filter_map(|r| match r {
                Reached::Created { address, creator } => Some((address, creator)),
                Reached::Address(_) => None,
            })
            .collect();
        created.sort_unstable();
        created.dedup();
        record.array(created.len());
        for (address, creator) in &created {
            record.array(2).bin(address.as_slice()).bin(creator.as_slice());
        }
        record.bin(&bloom_bits(self.bloom));
        let mut logs = Writer(Vec::with_capacity(160 * self.logs.len()));
        for (i, log) in self.logs.iter().enumerate() {
            logs.array(4).log(log).bin(hash.as_slice()).uint(self.index as u64).uint((self.first_log + i) as u64);
        }
        // The address index files the transaction under its sender, recipient, created contract and `internal`.
        let mut addresses: Vec<&Address> = [Some(&self.tx.sender), o.meta.to.as_ref(), o.contract_address.as_ref()]
            .into_iter()
            .flatten()
            .chain(reached)
            .collect();
        addresses.sort_unstable();
        addresses.dedup();
        let index_keys = addresses
            .into_iter()
            .map(|a| {
                let mut key = [0u8; 32];
                key[..20].copy_from_slice(a.as_slice());
                key[20..28].copy_from_slice(&number.to_be_bytes());
                key[28..].copy_from_slice(&(self.index as u32).to_be_bytes());
                key
            })
            .collect();
        // The creators index: a top-level deployment if it succeeded (a failed one's receipt names the address all
        // the same), and the internal creations that stayed.
        let top = o.contract_address.filter(|_| o.success);
        let contracts = top.into_iter().chain(created.iter().map(|(address, _)| **address)).collect();
        Ok(Encoded { hash, record: record.0, logs: logs.0, index_keys, contracts })
    }
}

/// `TxRecord.bloom_bits`: the positions of `bloom`'s set bits (bit `p` is bit `p % 8` of byte `p / 8`), two
/// big-endian bytes each, ascending; `receipts.rs` rebuilds the bloom from them.
pub(crate) fn bloom_bits(bloom: &Bloom) -> Vec<u8> {
    let mut bits = Vec::new();
    for (i, byte) in bloom.iter().enumerate().filter(|(_, b)| **b != 0) {
        for bit in (0..8).filter(|bit| byte & (1 << bit) != 0) {
            bits.extend_from_slice(&((i * 8 + bit) as u16).to_be_bytes());
        }
    }
    bits
}

/// The transaction hash a block's system logs (its modules' end-of-block logs) are filed under: no transaction
/// has it (it is no keccak of a transaction's bytes that decode), it is the same on every node, and it differs per
/// block. Like Polygon's state-sync receipts, such a log's `transactionIndex` is one past the block's last
/// transaction, and `eth_getTransactionReceipt` of its hash is null.
pub fn system_tx_hash(number: u64) -> B256 {
    let mut preimage = b"pysei/end-block/".to_vec();
    preimage.extend_from_slice(&number.to_be_bytes());
    keccak256(preimage)
}

/// Encodes the records of `output`, the execution of `txs` as block `number` (hash `block_hash`, base fee
/// `base_fee`). Transactions are hashed and encoded on the rayon pool.
pub fn encode_block(
    output: &BlockOutput,
    txs: &[OrderedTx<'_>],
    number: u64,
    block_hash: B256,
    base_fee: u64,
) -> Result<BlockRecords, PriceOverflow> {
    let mut included = Vec::with_capacity(output.receipts.len());
    let mut log_count = 0;
    for (tx, outcome) in txs.iter().zip(&output.outcomes) {
        if let Some(r) = outcome.receipt {
            let receipt = &output.receipts[r];
            let (logs, bloom) = (receipt.logs(), receipt.logs_bloom());
            included.push(Included { tx, outcome, logs, bloom, index: included.len(), first_log: log_count });
            log_count += logs.len();
        }
    }
    let encoded: Vec<Encoded> = included
        .par_iter()
        .map(|inc| inc.encode(keccak256(inc.tx.raw), number, &block_hash, base_fee))
        .collect::<Result<_, _>>()?;
    let raw_bytes = included.iter().map(|inc| inc.tx.raw.len()).sum();
    let system = &output.system_logs;
    let total = log_count + system.len();
    let logs = (total > 0).then(|| {
        let mut all = Writer(Vec::with_capacity(5 + encoded.iter().map(|e| e.logs.len()).sum::<usize>()));
        all.array(total);
        for e in &encoded {
            all.0.extend_from_slice(&e.logs);
        }
        let hash = system_tx_hash(number);
        for (i, log) in system.iter().enumerate() {
            all.array(4).log(log).bin(hash.as_slice()).uint(included.len() as u64).uint((log_count + i) as u64);
        }
        all.0
    });
    let address_index = encoded.iter().flat_map(|e| e.index_keys.iter().map(|k| (*k, e.hash))).collect();
    let creators = encoded.iter().flat_map(|e| e.contracts.iter().map(|a| (*a, e.hash))).collect();
    let txs = encoded.into_iter().map(|e| (e.hash, e.record)).collect();
    Ok(BlockRecords { txs, logs, log_count: total, raw_bytes, address_index, creators })
}
