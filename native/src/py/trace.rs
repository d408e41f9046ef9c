//! Tracing as Python sees it: debug_trace* and trace_* over a store snapshot (the work is in `crate::trace`).

use pyo3::{exceptions::PyValueError, prelude::*, pybacked::PyBackedBytes};
use revm::primitives::Address;

use super::{
    block::PyBlockEnv,
    call::{call_request, PyCallRequest},
    conversions::{b256, store_err},
    store::PyStore,
};
use crate::{exec::OrderedTx, trace};

fn tracer(kind: &str, options: &str) -> PyResult<trace::Tracer> {
    let invalid = |e: serde_json::Error| PyValueError::new_err(format!("invalid tracer options: {e}"));
    Ok(match kind {
        "geth" => trace::Tracer::Geth(serde_json::from_str(options).map_err(invalid)?),
        "parity" => trace::Tracer::ParityCalls,
        "replay" => trace::Tracer::ParityReplay(serde_json::from_str(options).map_err(invalid)?),
        other => return Err(PyValueError::new_err(format!("unknown tracer kind {other:?}"))),
    })
}

fn trace_err(e: trace::TraceError) -> PyErr {
    match e {
        trace::TraceError::Store(e) => store_err(e),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// Replays a committed block's transactions on the state after block `at` (its parent) and returns the JSON
/// traces of those from index `first` on. `kind`: "geth" (`options`: geth's tracer options as JSON), "parity"
/// (trace_transaction's flat traces) or "replay" (`options`: a JSON list of Parity trace types).
#[pyfunction]
#[pyo3(signature = (store, env, at, block_hash, raws, senders, hashes, first, kind, options, max_bytes))]
#[allow(clippy::too_many_arguments)]
pub(super) fn trace_block(
    py: Python<'_>,
    store: &PyStore,
    env: &PyBlockEnv,
    at: u64,
    block_hash: &[u8],
    raws: Vec<PyBackedBytes>,
    senders: &[u8],
    hashes: Vec<Vec<u8>>,
    first: usize,
    kind: &str,
    options: &str,
    max_bytes: usize,
) -> PyResult<Vec<String>> {
    let tracer = tracer(kind, options)?;
    if senders.len() != 20 * raws.len() || hashes.len() != raws.len() {
        return Err(PyValueError::new_err("one sender (20 bytes) and one hash per transaction"));
    }
    let block_hash = b256(block_hash)?;
    let txs = raws
        .iter()
        .zip(senders.chunks_exact(20))
        .zip(&hashes)
        .map(|((raw, sender), hash)| {
            Ok(trace::Traced { tx: OrderedTx { raw, sender: Address::from_slice(sender) }, hash: b256(hash)? })
        })
        .collect::<PyResult<Vec<_>>>()?;
    py.detach(|| {
        let snap = store.inner.view(Some(at))?;
        trace::trace_block(&snap, &env.inner, block_hash, &txs, first, &tracer, max_bytes)
    })
    .map_err(trace_err)
}

/// debug_traceCall: the call traced on the state after block `at` (None: the latest), as JSON.
#[pyfunction]
#[pyo3(signature = (store, env, request, at, kind, options, max_bytes))]
#[allow(clippy::too_many_arguments)]
pub(super) fn trace_call(
    py: Python<'_>,
    store: &PyStore,
    env: &PyBlockEnv,
    request: PyCallRequest,
    at: Option<u64>,
    kind: &str,
    options: &str,
    max_bytes: usize,
) -> PyResult<String> {
    let tracer = tracer(kind, options)?;
    let req = call_request(request)?;
    py.detach(|| {
        let snap = store.inner.view(at)?;
        trace::trace_call(&snap, &env.inner, &req, &tracer, max_bytes)
    })
    .map_err(trace_err)
}

/// `pysei bench exec`'s inspector check: `raws` replayed on the store's latest state as tracing replays them,
/// through revm's plain path or (`inspect`) its inspector path with a no-op inspector. Returns
/// `(gas_used, seconds)`; nothing is committed.
#[pyfunction]
#[pyo3(signature = (store, env, raws, senders, *, inspect))]
pub(super) fn replay_block(
    py: Python<'_>,
    store: &PyStore,
    env: &PyBlockEnv,
    raws: Vec<PyBackedBytes>,
    senders: &[u8],
    inspect: bool,
) -> PyResult<(u64, f64)> {
    if senders.len() != 20 * raws.len() {
        return Err(PyValueError::new_err("senders must be 20 bytes per transaction"));
    }
    py.detach(|| {
        let txs: Vec<OrderedTx<'_>> = raws
            .iter()
            .zip(senders.chunks_exact(20))
            .map(|(raw, sender)| OrderedTx { raw, sender: Address::from_slice(sender) })
            .collect();
        let snap = store.inner.view(None)?;
        crate::bench::run_replay(&snap, &env.inner, &txs, inspect)
    })
    .map_err(trace_err)
}
