//! Block execution as Python sees it: `BlockEnv` (a block's parameters), `execute_block` and its
//! `BlockResult`, and the in-memory revm ceiling the benchmark compares against.

use num_bigint::BigUint;
use pyo3::{
    exceptions::{PyIndexError, PyValueError},
    prelude::*,
    pybacked::PyBackedBytes,
    types::{PyBytes, PyList, PyTuple},
};
use revm::primitives::Address;

use super::{
    conversions::{address, append_alloc, b256, big, spec, store_err, AllocEntry},
    store::PyStore,
};
use crate::{
    db::StateChanges,
    exec::{BlockOutput, BlockParams, Location, OrderedTx},
    modules::{ConsensusInputs, Infraction, InfractionKind},
    parallel::{execute_block_parallel, ParallelStats, PredictMode},
    records::{encode_block, BlockRecords},
};

/// The non-transaction part of a block (number, time, limits, fee collector, chain, and what consensus decided
/// about it: `evidence` as (consensus pubkey, height, kind) and the commit's `signers`).
#[pyclass(frozen, name = "BlockEnv", module = "pysei._native")]
#[derive(Clone)]
pub(super) struct PyBlockEnv {
    pub(super) inner: BlockParams,
}

#[pymethods]
impl PyBlockEnv {
    #[new]
    #[pyo3(signature = (
        *, number, timestamp, gas_limit, base_fee, beneficiary, prevrandao, chain_id, spec_name="prague",
        evidence=Vec::new(), signers=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        number: u64,
        timestamp: u64,
        gas_limit: u64,
        base_fee: u64,
        beneficiary: &[u8],
        prevrandao: &[u8],
        chain_id: u64,
        spec_name: &str,
        evidence: Vec<(Vec<u8>, u64, String)>,
        signers: Option<Vec<Vec<u8>>>,
    ) -> PyResult<Self> {
        let pubkey = |key: &[u8]| -> PyResult<[u8; 32]> {
            key.try_into().map_err(|_| PyValueError::new_err("a consensus public key is 32 bytes"))
        };
        let evidence = evidence
            .iter()
            .map(|(key, height, kind)| {
                let kind = InfractionKind::parse(kind).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "unknown infraction kind {kind:?} (double-vote, lane-equivocation, conflicting-proposals)"
                    ))
                })?;
                Ok(Infraction { pubkey: pubkey(key)?, height: *height, kind })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let signers = signers.map(|s| s.iter().map(|k| pubkey(k)).collect::<PyResult<Vec<_>>>()).transpose()?;
        Ok(Self {
            inner: BlockParams {
                number,
                timestamp,
                gas_limit,
                base_fee,
                beneficiary: address(beneficiary)?,
                prevrandao: b256(prevrandao)?,
                chain_id,
                spec: spec(spec_name)?,
                // Sei's module precompiles register here when the token/staking modules land.
                host: crate::precompiles::HostRegistry::default(),
                consensus: ConsensusInputs { evidence, signers },
            },
        })
    }
}

/// One transaction's `(reads, writes, read_fee_collector)`.
pub(super) type AccessSet = (Vec<Vec<u8>>, Vec<Vec<u8>>, bool);

/// The result of executing one block; holds the state changes until the node commits them.
#[pyclass(frozen, name = "BlockResult", module = "pysei._native")]
pub(super) struct PyBlockResult {
    pub(super) output: BlockOutput,
    parallel: ParallelStats,
    /// The block's input, kept (borrowed from Python, not copied) for encoding its records.
    raws: Vec<PyBackedBytes>,
    senders: Vec<u8>,
    number: u64,
    base_fee: u64,
}

impl PyBlockResult {
    fn ordered(&self) -> Vec<OrderedTx<'_>> {
        ordered(&self.raws, &self.senders)
    }
}

fn ordered<'a>(raws: &'a [PyBackedBytes], senders: &[u8]) -> Vec<OrderedTx<'a>> {
    raws.iter()
        .zip(senders.chunks_exact(20))
        .map(|(raw, s)| OrderedTx { raw, sender: Address::from_slice(s) })
        .collect()
}

/// A block's stored records (see `records.rs`), encoded by `BlockResult.records` and committed by
/// `Store.commit`; Python reads them through msgspec views without re-encoding.
#[pyclass(frozen, name = "BlockRecords", module = "pysei._native")]
pub(super) struct PyBlockRecords {
    pub(super) inner: BlockRecords,
}

#[pymethods]
impl PyBlockRecords {
    /// The included transactions' hashes, in block order.
    fn tx_hashes<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner.txs.iter().map(|(h, _)| PyBytes::new(py, h.as_slice())).collect()
    }

    /// The number of included transactions.
    fn __len__(&self) -> usize {
        self.inner.txs.len()
    }

    /// The encoded `TxRecord` of the `index`-th included transaction (copied out only when asked for).
    fn __getitem__<'py>(&self, py: Python<'py>, index: usize) -> PyResult<Bound<'py, PyBytes>> {
        let (_, record) =
            self.inner.txs.get(index).ok_or_else(|| PyIndexError::new_err("record index out of range"))?;
        Ok(PyBytes::new(py, record))
    }

    /// The encoded `list[BlockLog]`, or None for a block without logs.
    #[getter]
    fn logs<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.logs.as_ref().map(|l| PyBytes::new(py, l))
    }

    #[getter]
    fn log_count(&self) -> usize {
        self.inner.log_count
    }

    /// The included transactions' encoded size, summed.
    #[getter]
    fn raw_bytes(&self) -> usize {
        self.inner.raw_bytes
    }
}

pub(super) fn log_tuple<'py>(py: Python<'py>, log: &alloy_primitives::Log) -> PyResult<Bound<'py, PyTuple>> {
    let topics = PyList::new(py, log.data.topics().iter().map(|t| PyBytes::new(py, t.as_slice())))?;
    PyTuple::new(
        py,
        [
            PyBytes::new(py, log.address.as_slice()).into_any(),
            topics.into_any(),
            PyBytes::new(py, &log.data.data).into_any(),
        ],
    )
}

pub(super) fn location_bytes(location: &Location) -> Vec<u8> {
    match location {
        Location::Account(a) => a.to_vec(),
        Location::Storage(a, s) => [a.as_slice(), &s.to_be_bytes::<32>()].concat(),
    }
}

#[pymethods]
impl PyBlockResult {
    /// One tuple per ordered transaction: `(skip_reason | None, success, gas_used, cumulative_gas_used,
    /// contract_address | None, logs [(address, [topics], data)], output, halt | None)`. Per-receipt blooms
    /// are left out: nothing on the commit path needs them, and 256 bytes a transaction add up.
    fn outcomes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .output
            .outcomes
            .iter()
            .map(|o| {
                let receipt = o.receipt.map(|i| &self.output.receipts[i]);
                let logs = receipt.map_or(&[][..], |r| r.logs());
                let logs = PyList::new(py, logs.iter().map(|l| log_tuple(py, l)).collect::<PyResult<Vec<_>>>()?)?;
                PyTuple::new(
                    py,
                    [
                        o.included.as_ref().err().into_pyobject(py)?.into_any(),
                        o.success.into_pyobject(py)?.to_owned().into_any(),
                        o.gas_used.into_pyobject(py)?.into_any(),
                        o.cumulative_gas_used.into_pyobject(py)?.into_any(),
                        o.contract_address.map(|a| PyBytes::new(py, a.as_slice())).into_pyobject(py)?.into_any(),
                        logs.into_any(),
                        PyBytes::new(py, &o.output).into_any(),
                        o.halt.as_ref().into_pyobject(py)?.into_any(),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// The stored records of the block once its header is sealed as `block_hash` (GIL released).
    fn records(&self, py: Python<'_>, block_hash: &[u8]) -> PyResult<PyBlockRecords> {
        let block_hash = b256(block_hash)?;
        let inner = py
            .detach(|| encode_block(&self.output, &self.ordered(), self.number, block_hash, self.base_fee))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyBlockRecords { inner })
    }

    /// `(position, reason)` of each ordered transaction that was skipped.
    fn skipped(&self) -> Vec<(usize, String)> {
        let outcomes = self.output.outcomes.iter().enumerate();
        outcomes.filter_map(|(i, o)| o.included.as_ref().err().map(|r| (i, r.clone()))).collect()
    }

    #[getter]
    fn gas_used(&self) -> u64 {
        self.output.gas_used
    }

    #[getter]
    fn fees(&self) -> BigUint {
        big(self.output.fees)
    }

    #[getter]
    fn logs_bloom<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.output.logs_bloom.as_slice())
    }

    #[getter]
    fn transactions_root<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.output.transactions_root.as_slice())
    }

    /// keccak256 of the block's canonical write set (see `StateChanges::digest`).
    #[getter]
    fn changes_digest<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.output.changes.digest().as_slice())
    }

    #[getter]
    fn receipts_root<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.output.receipts_root.as_slice())
    }

    /// `(name, value)` pairs: txs, skipped, gas_used, accounts_written, slots_written, threads, incarnations,
    /// validation_aborts (stale at commit), dependency_waits, predicted_dependencies, longest_predicted_chain,
    /// predicted_waits, precompile_frontier_waits, lazy_credits, busy_ns (workers' and committer's time), and
    /// `sequential_fallback` (1 when the block ran sequentially).
    fn stats(&self) -> Vec<(&'static str, u64)> {
        let s = &self.output.stats;
        let p = &self.parallel;
        vec![
            ("txs", s.txs as u64),
            ("skipped", s.skipped as u64),
            ("gas_used", s.gas_used),
            ("accounts_written", self.output.changes.accounts.len() as u64),
            ("slots_written", self.output.changes.storage.len() as u64),
            ("threads", p.threads as u64),
            ("incarnations", p.incarnations as u64),
            ("validation_aborts", p.validation_aborts as u64),
            ("dependency_waits", p.dependency_waits as u64),
            ("predicted_dependencies", p.predicted_dependencies as u64),
            ("longest_predicted_chain", p.longest_predicted_chain as u64),
            ("predicted_waits", p.predicted_waits as u64),
            ("precompile_frontier_waits", p.precompile_frontier_waits as u64),
            ("lazy_credits", p.lazy_credits as u64),
            ("busy_ns", p.busy_ns),
            ("sequential_fallback", u64::from(p.fallback.is_some())),
        ]
    }

    /// Why the block ran sequentially (one thread, small block, …), or None when it ran in parallel.
    #[getter]
    fn fallback(&self) -> Option<&'static str> {
        self.parallel.fallback
    }

    /// The block's write set: `(accounts, storage, wiped)` where accounts are `(address, (balance, nonce,
    /// code_hash) | None)`, storage `(address, slot, value)` and wiped the addresses whose storage was cleared.
    #[allow(clippy::type_complexity)]
    fn write_set(
        &self,
    ) -> (Vec<(Vec<u8>, Option<(BigUint, u64, Vec<u8>)>)>, Vec<(Vec<u8>, BigUint, BigUint)>, Vec<Vec<u8>>) {
        let c = &self.output.changes;
        (
            c.accounts
                .iter()
                .map(|(a, i)| (a.to_vec(), i.as_ref().map(|i| (big(i.balance), i.nonce, i.code_hash.to_vec()))))
                .collect(),
            c.storage.iter().map(|(a, s, v)| (a.to_vec(), big(*s), big(*v))).collect(),
            c.wiped.iter().map(|a| a.to_vec()).collect(),
        )
    }

    /// Per transaction `(reads, writes, read_fee_collector)`, locations as address (account) or address‖slot.
    /// Empty unless the block was executed with `record_access=True`.
    fn access_sets(&self) -> Vec<AccessSet> {
        self.output
            .access
            .iter()
            .map(|a| {
                (
                    a.reads.iter().map(location_bytes).collect(),
                    a.writes.iter().map(location_bytes).collect(),
                    a.read_fee_collector,
                )
            })
            .collect()
    }
}

/// Executes an ordered block against the committed state (GIL released). `senders` is the 20-byte senders of
/// `raws` concatenated (recovered when the transactions entered the node). With `threads > 1` the block runs
/// on the optimistic parallel executor; the result is identical either way.
#[pyfunction]
#[pyo3(signature = (store, env, raws, senders, *, record_access = false, threads = 1, predict = true))]
#[allow(clippy::too_many_arguments)] // one per keyword argument of the Python function
pub(super) fn execute_block(
    py: Python<'_>,
    store: &PyStore,
    env: &PyBlockEnv,
    // Borrowed, not copied: a block's transactions are megabytes, and fresh copies cost page faults.
    raws: Vec<PyBackedBytes>,
    senders: &[u8],
    record_access: bool,
    threads: usize,
    predict: bool,
) -> PyResult<PyBlockResult> {
    let mode = if predict { PredictMode::Adaptive } else { PredictMode::Off };
    if senders.len() != raws.len() * 20 {
        return Err(PyValueError::new_err("senders must be 20 bytes per transaction"));
    }
    let (output, parallel) = py
        .detach(|| {
            let txs = ordered(&raws, senders);
            execute_block_parallel(&|| store.inner.snapshot(), &env.inner, &txs, record_access, threads, mode)
        })
        .map_err(store_err)?;
    let (number, base_fee) = (env.inner.number, env.inner.base_fee);
    Ok(PyBlockResult { output, parallel, raws, senders: senders.to_vec(), number, base_fee })
}

/// The benchmark ceiling: `raws` on plain revm over an in-memory database seeded with `alloc` (GIL released),
/// split by sender over `threads` threads (see `bench::run_in_memory`). Returns `(gas_used, seconds)`.
#[pyfunction]
#[pyo3(signature = (env, alloc, raws, senders, threads = 1))]
pub(super) fn execute_in_memory(
    py: Python<'_>,
    env: &PyBlockEnv,
    alloc: Vec<AllocEntry>,
    raws: Vec<Vec<u8>>,
    senders: &[u8],
    threads: usize,
) -> PyResult<(u64, f64)> {
    let mut genesis = StateChanges::default();
    append_alloc(&mut genesis, alloc)?;
    Ok(py.detach(|| {
        let txs: Vec<OrderedTx<'_>> = raws
            .iter()
            .zip(senders.chunks_exact(20))
            .map(|(raw, s)| OrderedTx { raw, sender: Address::from_slice(s) })
            .collect();
        crate::bench::run_in_memory(&genesis, &env.inner, &txs, threads)
    }))
}
