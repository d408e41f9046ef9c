//! A stored transaction record (`records.rs`, `pysei.chain.block.TxRecord`) served as its JSON-RPC receipt,
//! straight from the record's msgpack bytes: the receipt path of `eth_getTransactionReceipt` and
//! `eth_getBlockReceipts`, which a load generator calls once per transaction. Built in Python (decode the record,
//! a dict of hex strings, the logs bloom, orjson) it cost the event loop about 30 µs a receipt.
//!
//! The JSON is byte for byte what `orjson.dumps(pysei.rpc.format.receipt_json(record))` gives (that function
//! stays the one readable definition of the shape, and the dict other callers use); `tests/test_records.py`
//! compares the two over random blocks. The logs bloom comes from the bits the kernel stored with the record
//! (`TxRecord.bloom_bits`): computed from the logs it costs a keccak per address and topic, about 1 µs each here.
//! Addresses are lower-case hex, as `pysei.rpc.codec.checksum` writes them.

use std::io::Write;

use alloy_primitives::{hex, Bloom, BloomInput};

/// Why stored bytes are not a transaction record.
#[derive(Debug, thiserror::Error)]
#[error("not a stored transaction record: {0}")]
pub struct BadRecord(&'static str);

/// The blob base fee every receipt reports (`pysei.rpc.format.BLOB_BASE_FEE`).
const BLOB_BASE_FEE: u64 = 1;

/// The fields of a `TxRecord` a receipt shows, borrowed from its encoding.
struct Record<'a> {
    hash: &'a [u8],
    sender: &'a [u8],
    to: Option<&'a [u8]>,
    tx_type: u64,
    block_number: u64,
    block_hash: &'a [u8],
    index: u64,
    success: bool,
    gas_used: u64,
    cumulative_gas_used: u64,
    effective_gas_price: u64,
    contract_address: Option<&'a [u8]>,
    logs: Vec<RecordLog<'a>>,
    first_log_index: u64,
    /// `TxRecord.bloom_bits`, absent from records written before it.
    bloom_bits: Option<&'a [u8]>,
}

struct RecordLog<'a> {
    address: &'a [u8],
    topics: Vec<&'a [u8]>,
    data: &'a [u8],
}

/// A msgpack reader over a record's bytes (`rmp` reads each value's header).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn array(&mut self) -> Result<usize, BadRecord> {
        rmp::decode::read_array_len(&mut self.0).map(|n| n as usize).map_err(|_| BadRecord("expected an array"))
    }

    fn bin(&mut self) -> Result<&'a [u8], BadRecord> {
        let len = rmp::decode::read_bin_len(&mut self.0).map_err(|_| BadRecord("expected bytes"))? as usize;
        if self.0.len() < len {
            return Err(BadRecord("truncated"));
        }
        let (value, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(value)
    }

    fn optional_bin(&mut self) -> Result<Option<&'a [u8]>, BadRecord> {
        if self.0.first() == Some(&0xc0) {
            self.0 = &self.0[1..];
            return Ok(None);
        }
        self.bin().map(Some)
    }

    fn uint(&mut self) -> Result<u64, BadRecord> {
        rmp::decode::read_int(&mut self.0).map_err(|_| BadRecord("expected an unsigned integer"))
    }

    fn bool(&mut self) -> Result<bool, BadRecord> {
        rmp::decode::read_bool(&mut self.0).map_err(|_| BadRecord("expected a boolean"))
    }

    fn record(&mut self) -> Result<Record<'a>, BadRecord> {
        // 16 fields before `internal` was added, 17 before `created` and `bloom_bits`, 19 since.
        let fields = self.array()?;
        if !matches!(fields, 16 | 17 | 19) {
            return Err(BadRecord("not a TxRecord layout (16, 17 or 19 fields)"));
        }
        let hash = self.bin()?;
        self.bin()?; // raw
        let mut record = Record {
            hash,
            sender: self.bin()?,
            to: self.optional_bin()?,
            tx_type: self.uint()?,
            block_number: self.uint()?,
            block_hash: self.bin()?,
            index: self.uint()?,
            success: self.bool()?,
            gas_used: self.uint()?,
            cumulative_gas_used: self.uint()?,
            effective_gas_price: self.uint()?,
            contract_address: self.optional_bin()?,
            logs: (0..self.array()?).map(|_| self.log()).collect::<Result<_, _>>()?,
            first_log_index: self.uint()?,
            bloom_bits: None,
        };
        if fields == 19 {
            self.bin()?; // output
            for _ in 0..self.array()? {
                self.bin()?; // internal
            }
            for _ in 0..self.array()? {
                // created: (contract, creator)
                if self.array()? != 2 {
                    return Err(BadRecord("a created entry is a (contract, creator) pair"));
                }
                self.bin()?;
                self.bin()?;
            }
            record.bloom_bits = self.optional_bin()?;
        }
        Ok(record)
    }

    fn log(&mut self) -> Result<RecordLog<'a>, BadRecord> {
        if self.array()? != 3 {
            return Err(BadRecord("a log is (address, topics, data)"));
        }
        let address = self.bin()?;
        let topics = (0..self.array()?).map(|_| self.bin()).collect::<Result<_, _>>()?;
        Ok(RecordLog { address, topics, data: self.bin()? })
    }
}

/// Compact JSON as orjson writes it; every string here is hex, so nothing needs escaping.
struct Json(Vec<u8>);

impl Json {
    fn key(&mut self, key: &str) -> &mut Self {
        if !matches!(self.0.last(), Some(b'{') | None) {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
        self
    }

    /// Python's `hex(n)`.
    fn quantity(&mut self, value: u64) -> &mut Self {
        write!(self.0, "\"{value:#x}\"").expect("writing to memory");
        self
    }

    /// `"0x" + bytes.hex()`.
    fn data(&mut self, bytes: &[u8]) -> &mut Self {
        let start = self.0.len();
        self.0.extend_from_slice(b"\"0x");
        self.0.resize(start + 3 + 2 * bytes.len(), 0);
        hex::encode_to_slice(bytes, &mut self.0[start + 3..]).expect("the buffer has twice the input's length");
        self.0.push(b'"');
        self
    }

    fn optional_data(&mut self, bytes: Option<&[u8]>) -> &mut Self {
        match bytes {
            Some(b) => self.data(b),
            None => {
                self.0.extend_from_slice(b"null");
                self
            }
        }
    }
}

/// The receipt's logs bloom: from the stored bits, or (an older record) from its logs, a keccak per input.
fn logs_bloom(r: &Record<'_>) -> Result<Bloom, BadRecord> {
    if let Some(bits) = r.bloom_bits {
        return bloom_from_bits(bits);
    }
    let mut bloom = Bloom::ZERO;
    for log in &r.logs {
        bloom.accrue(BloomInput::Raw(log.address));
        log.topics.iter().for_each(|t| bloom.accrue(BloomInput::Raw(t)));
    }
    Ok(bloom)
}

/// The bloom whose set bits `records::bloom_bits` listed.
fn bloom_from_bits(bits: &[u8]) -> Result<Bloom, BadRecord> {
    if !bits.len().is_multiple_of(2) {
        return Err(BadRecord("bloom bits of odd length"));
    }
    let mut bloom = Bloom::ZERO;
    for pair in bits.chunks_exact(2) {
        let bit = usize::from(u16::from_be_bytes([pair[0], pair[1]]));
        let byte = bloom.get_mut(bit / 8).ok_or(BadRecord("bloom bit out of range"))?;
        *byte |= 1 << (bit % 8);
    }
    Ok(bloom)
}

/// The receipt JSON of the stored record `record`, and the block number it sits in.
pub fn receipt_json(record: &[u8]) -> Result<(u64, Vec<u8>), BadRecord> {
    let r = Reader(record).record()?;
    let log_bytes: usize = r.logs.iter().map(|l| 400 + 2 * l.data.len() + 70 * l.topics.len()).sum();
    let mut out = Json(Vec::with_capacity(1200 + log_bytes));
    out.0.push(b'{');
    out.key("type").quantity(r.tx_type);
    out.key("transactionHash").data(r.hash);
    out.key("transactionIndex").quantity(r.index);
    out.key("blockHash").data(r.block_hash);
    out.key("blockNumber").quantity(r.block_number);
    out.key("from").data(r.sender);
    out.key("to").optional_data(r.to);
    out.key("cumulativeGasUsed").quantity(r.cumulative_gas_used);
    out.key("gasUsed").quantity(r.gas_used);
    out.key("effectiveGasPrice").quantity(r.effective_gas_price);
    out.key("blobGasPrice").quantity(BLOB_BASE_FEE);
    out.key("contractAddress").optional_data(r.contract_address);
    out.key("logs").0.push(b'[');
    for (i, log) in r.logs.iter().enumerate() {
        if i > 0 {
            out.0.push(b',');
        }
        out.0.push(b'{');
        out.key("address").data(log.address);
        out.key("topics").0.push(b'[');
        for (j, topic) in log.topics.iter().enumerate() {
            if j > 0 {
                out.0.push(b',');
            }
            out.data(topic);
        }
        out.0.push(b']');
        out.key("data").data(log.data);
        out.key("blockNumber").quantity(r.block_number);
        out.key("blockHash").data(r.block_hash);
        out.key("transactionHash").data(r.hash);
        out.key("transactionIndex").quantity(r.index);
        out.key("logIndex").quantity(r.first_log_index + i as u64);
        out.key("removed").0.extend_from_slice(b"false}");
    }
    out.0.push(b']');
    out.key("logsBloom").data(logs_bloom(&r)?.as_slice());
    out.key("status").0.extend_from_slice(if r.success { b"\"0x1\"" } else { b"\"0x0\"" });
    out.0.push(b'}');
    Ok((r.block_number, out.0))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::records::bloom_bits;

    proptest! {
        /// The stored bits give back the bloom they were taken from.
        #[test]
        fn bloom_bits_round_trip(bytes in proptest::collection::vec(any::<u8>(), 256)) {
            let bloom = Bloom::from_slice(&bytes);
            prop_assert_eq!(bloom_from_bits(&bloom_bits(&bloom)).unwrap(), bloom);
        }

        /// Bytes that are not a record are an error, never a panic.
        #[test]
        fn garbage_is_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = receipt_json(&bytes);
        }
    }

    #[test]
    fn bad_bloom_bits_are_refused() {
        assert!(bloom_from_bits(&[0x08, 0x00]).is_err()); // bit 2048
        assert!(bloom_from_bits(&[0x01]).is_err());
        assert!(receipt_json(&[0x93, 0x01, 0x02, 0x03]).is_err()); // three integers
    }
}
