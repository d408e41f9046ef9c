//! The Python binding (`pysei._native`): a thin layer that converts arguments, releases the GIL for the work,
//! and converts results. Logic lives in the other modules; `pysei/execution/native.py` is its only importer.
//!
//! One module per concern: `store` (the LMDB store), `block` (block parameters, execution and its result),
//! `decode` (transaction decoding), `call` (the simulator), `trace` (tracers), `modules` (the modules' genesis)
//! and `conversions` (Python values ↔ kernel types).
//! This file registers them as the `_native` module.

mod block;
mod call;
mod conversions;
mod decode;
mod modules;
mod store;
mod trace;

use pyo3::{prelude::*, types::PyBytes};
use revm::primitives::keccak256;

/// The 2048-bit bloom of `(address, [topics])` logs (a receipt's `logsBloom`).
#[pyfunction]
fn logs_bloom<'py>(py: Python<'py>, logs: Vec<(Vec<u8>, Vec<Vec<u8>>)>) -> Bound<'py, PyBytes> {
    let mut bloom = alloy_primitives::Bloom::ZERO;
    for (address, topics) in &logs {
        bloom.accrue(alloy_primitives::BloomInput::Raw(address));
        for topic in topics {
            bloom.accrue(alloy_primitives::BloomInput::Raw(topic));
        }
    }
    PyBytes::new(py, bloom.as_slice())
}

/// `(block number, receipt JSON)` of a stored transaction record (see `receipts.rs`).
#[pyfunction]
fn receipt_json<'py>(py: Python<'py>, record: &[u8]) -> PyResult<(u64, Bound<'py, PyBytes>)> {
    let (number, json) =
        crate::receipts::receipt_json(record).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok((number, PyBytes::new(py, &json)))
}

#[pyfunction]
fn keccak<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, keccak256(data).as_slice())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<store::PyStore>()?;
    m.add_class::<block::PyBlockEnv>()?;
    m.add_class::<block::PyBlockResult>()?;
    m.add_class::<block::PyBlockRecords>()?;
    m.add_function(wrap_pyfunction!(decode::decode_transactions, m)?)?;
    m.add_function(wrap_pyfunction!(decode::decode_with_senders, m)?)?;
    m.add_function(wrap_pyfunction!(decode::recover_transactions, m)?)?;
    m.add_function(wrap_pyfunction!(decode::ingest_batch, m)?)?;
    m.add_function(wrap_pyfunction!(decode::recovery_limit, m)?)?;
    m.add_function(wrap_pyfunction!(block::execute_block, m)?)?;
    m.add_function(wrap_pyfunction!(call::call, m)?)?;
    m.add_function(wrap_pyfunction!(call::estimate_gas, m)?)?;
    m.add_function(wrap_pyfunction!(call::create_access_list, m)?)?;
    m.add_function(wrap_pyfunction!(keccak, m)?)?;
    m.add_function(wrap_pyfunction!(block::execute_in_memory, m)?)?;
    m.add_function(wrap_pyfunction!(logs_bloom, m)?)?;
    m.add_function(wrap_pyfunction!(receipt_json, m)?)?;
    m.add_function(wrap_pyfunction!(modules::module_genesis, m)?)?;
    m.add_function(wrap_pyfunction!(modules::committee, m)?)?;
    m.add_function(wrap_pyfunction!(modules::epoch_blocks, m)?)?;
    m.add_function(wrap_pyfunction!(modules::precompile_abis, m)?)?;
    m.add("MODULE_CODE", PyBytes::new(m.py(), &crate::modules::MODULE_CODE))?;
    m.add_function(wrap_pyfunction!(trace::trace_block, m)?)?;
    m.add_function(wrap_pyfunction!(trace::trace_call, m)?)?;
    m.add_function(wrap_pyfunction!(trace::replay_block, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
