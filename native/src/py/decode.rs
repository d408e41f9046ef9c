//! Transaction decoding as Python sees it: decoded fields as tuples in `pysei.chain.transaction.Transaction`
//! order.

use pyo3::{
    exceptions::PyValueError,
    prelude::*,
    types::{PyBytes, PyDict, PyList, PyString, PyTuple},
};
use revm::primitives::{keccak256, Address};

use super::conversions::big;
use crate::decode;

/// The fields of `pysei.chain.transaction.Transaction` in its order, less `raw` (index 11), which the callers
/// place themselves.
fn tx_fields<'py>(py: Python<'py>, d: &decode::DecodedTx) -> PyResult<Vec<Bound<'py, PyAny>>> {
    use alloy_consensus::Transaction as _;
    let e = &d.envelope;
    let sig = e.signature();
    let access_list: Vec<(Bound<'py, PyBytes>, Vec<Bound<'py, PyBytes>>)> = e
        .access_list()
        .map(|l| {
            l.iter()
                .map(|item| {
                    (
                        PyBytes::new(py, item.address.as_slice()),
                        item.storage_keys.iter().map(|k| PyBytes::new(py, k.as_slice())).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let to = e.to().map(|a| PyBytes::new(py, a.as_slice()));
    let v: u64 = match e {
        alloy_consensus::TxEnvelope::Legacy(tx) => match tx.tx().chain_id {
            Some(id) => 35 + 2 * id + u64::from(sig.v()),
            None => 27 + u64::from(sig.v()),
        },
        _ => u64::from(sig.v()),
    };
    let fields: Vec<Bound<'py, PyAny>> = vec![
        PyBytes::new(py, d.hash.as_slice()).into_any(),
        PyBytes::new(py, d.sender.as_slice()).into_any(),
        e.nonce().into_pyobject(py)?.into_any(),
        e.gas_limit().into_pyobject(py)?.into_any(),
        e.max_fee_per_gas().into_pyobject(py)?.into_any(),
        e.max_priority_fee_per_gas().unwrap_or(e.max_fee_per_gas()).into_pyobject(py)?.into_any(),
        big(e.value()).into_pyobject(py)?.into_any(),
        to.into_pyobject(py)?.into_any(),
        PyBytes::new(py, e.input()).into_any(),
        (e.tx_type() as u8).into_pyobject(py)?.into_any(),
        e.chain_id().into_pyobject(py)?.into_any(),
        v.into_pyobject(py)?.into_any(),
        big(sig.r()).into_pyobject(py)?.into_any(),
        big(sig.s()).into_pyobject(py)?.into_any(),
        access_list.into_pyobject(py)?.into_any(),
        e.gas_price().into_pyobject(py)?.into_any(),
    ];
    Ok(fields)
}

pub(super) fn tx_tuple<'py>(py: Python<'py>, d: &decode::DecodedTx) -> PyResult<Bound<'py, PyAny>> {
    let mut fields = tx_fields(py, d)?;
    fields.push(decode::intrinsic_gas(&d.envelope, d.sender).into_pyobject(py)?.into_any());
    Ok(PyTuple::new(py, fields)?.into_any())
}

/// What `ingest_batch` returns: (indices of the admitted entries, their transactions, their hashes as 0x-hex,
/// [(index, invalid params?, message)] of the refused ones).
type IngestResult<'py> = (Vec<usize>, Bound<'py, PyList>, Vec<String>, Vec<(usize, bool, String)>);

/// Ingest of a JSON-RPC batch of `eth_sendRawTransaction` parameters in one call: hex parsing, size, decoding,
/// sender recovery (in parallel, GIL released) and the node's rules (chain id, intrinsic gas, block gas limit),
/// see `decode::ingest_one`. Admitted entries come back as `make(*fields)` (the `Transaction` class, passed in so
/// the kernel imports nothing of pysei), with the sender replaced by `aliases[sender]` where present (a devnet's
/// impersonated accounts). Per-entry Python is left to the pool's bookkeeping.
#[pyfunction]
#[pyo3(signature = (params, *, chain_id, allow_unprotected, gas_limit, max_tx_size, make, aliases))]
#[allow(clippy::too_many_arguments)]
pub(super) fn ingest_batch<'py>(
    py: Python<'py>,
    params: Vec<Bound<'py, PyAny>>,
    chain_id: u64,
    allow_unprotected: bool,
    gas_limit: u64,
    max_tx_size: usize,
    make: &Bound<'py, PyAny>,
    aliases: &Bound<'py, PyDict>,
) -> PyResult<IngestResult<'py>> {
    let rules = decode::IngestRules { chain_id, allow_unprotected, gas_limit, max_tx_size };
    let inputs = params
        .iter()
        .map(|p| {
            if let Ok(text) = p.cast::<PyString>() {
                let chars = text.len()?;
                Ok(match text.to_str() {
                    Ok(text) => decode::RawInput::Hex { text, chars },
                    Err(_) => decode::RawInput::BadText { chars },
                })
            } else if let Ok(raw) = p.cast::<PyBytes>() {
                Ok(decode::RawInput::Bytes(raw.as_bytes()))
            } else {
                Ok(decode::RawInput::Other)
            }
        })
        .collect::<PyResult<Vec<_>>>()?;
    let outcomes = py.detach(|| decode::ingest_batch(&inputs, &rules));
    let mut indices = Vec::with_capacity(outcomes.len());
    let mut hashes = Vec::with_capacity(outcomes.len());
    let mut refused = Vec::new();
    let txs = PyList::empty(py);
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(admitted) => {
                let alias = match aliases.is_empty() {
                    true => None,
                    false => aliases.get_item(PyBytes::new(py, admitted.tx.sender.as_slice()))?,
                };
                let raw = PyBytes::new(py, &admitted.raw).into_any();
                txs.append(make_tx(py, make, &admitted.tx, raw, alias)?)?;
                indices.push(i);
                hashes.push(alloy_primitives::hex::encode_prefixed(admitted.tx.hash));
            }
            Err(decode::Refusal::InvalidParams(m)) => refused.push((i, true, m)),
            Err(decode::Refusal::Server(m)) => refused.push((i, false, m)),
        }
    }
    Ok((indices, txs, hashes, refused))
}

/// Decodes and sender-recovers raw transactions (in parallel, GIL released). Per input: a tuple of fields in
/// `pysei.chain.transaction.Transaction` order followed by the intrinsic gas, or an error string.
#[pyfunction]
pub(super) fn decode_transactions<'py>(py: Python<'py>, raws: Vec<Vec<u8>>) -> PyResult<Bound<'py, PyList>> {
    let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
    let decoded = py.detach(|| decode::decode_batch(&refs));
    let items = decoded
        .iter()
        .map(|d| match d {
            Ok(d) => tx_tuple(py, d),
            Err(e) => Ok(e.to_string().into_pyobject(py)?.into_any()),
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// Decodes and sender-recovers raw transactions (in parallel, GIL released), each built as `make(*fields)`
/// (`make` being `pysei.chain.transaction.Transaction`), or an error string: a validator's committed cars, whose
/// transactions it must recover itself and then only executes (so no intrinsic gas, no Python tuple per entry).
#[pyfunction]
pub(super) fn recover_transactions<'py>(
    py: Python<'py>,
    raws: Vec<Bound<'py, PyBytes>>,
    make: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let refs: Vec<&[u8]> = raws.iter().map(|r| r.as_bytes()).collect();
    let decoded = py.detach(|| decode::decode_batch(&refs));
    let items = PyList::empty(py);
    for (d, raw) in decoded.iter().zip(&raws) {
        match d {
            Ok(d) => items.append(make_tx(py, make, d, raw.clone().into_any(), None)?)?,
            Err(e) => items.append(e.to_string())?,
        }
    }
    Ok(items)
}

/// Decodes transactions whose senders are already known (read back from the store, or forwarded by the
/// validator that recovered them): no signature recovery. Each comes back as `make(*fields)`, `make` being
/// `pysei.chain.transaction.Transaction`; raises ValueError on bytes that do not decode.
#[pyfunction]
pub(super) fn decode_with_senders<'py>(
    py: Python<'py>,
    raws: Vec<Bound<'py, PyBytes>>,
    senders: &[u8],
    make: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    if senders.len() != raws.len() * 20 {
        return Err(PyValueError::new_err("senders must be 20 bytes per transaction"));
    }
    let txs = PyList::empty(py);
    for (raw, sender) in raws.iter().zip(senders.chunks_exact(20)) {
        let bytes = raw.as_bytes();
        let envelope = decode::decode_envelope(bytes).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let d = decode::DecodedTx { hash: keccak256(bytes), envelope, sender: Address::from_slice(sender) };
        txs.append(make_tx(py, make, &d, raw.clone().into_any(), None)?)?;
    }
    Ok(txs)
}

/// `make(*fields)` in `Transaction` order, with `raw` in its place and the sender replaced by `sender` if given.
fn make_tx<'py>(
    py: Python<'py>,
    make: &Bound<'py, PyAny>,
    d: &decode::DecodedTx,
    raw: Bound<'py, PyAny>,
    sender: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut fields = tx_fields(py, d)?;
    if let Some(sender) = sender {
        fields[1] = sender;
    }
    fields.insert(11, raw);
    make.call1(PyTuple::new(py, fields)?)
}

/// The sender-recovery limit of `pysei bench ingest`: `raws` decoded and sender-recovered on `threads` threads
/// (GIL released), nothing else; returns seconds.
#[pyfunction]
pub(super) fn recovery_limit(py: Python<'_>, raws: Vec<Vec<u8>>, threads: usize) -> f64 {
    let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
    py.detach(|| crate::bench::recover_all(&refs, threads))
}
