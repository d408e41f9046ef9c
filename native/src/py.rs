//! The Python binding (`pysei._native`): a thin layer that converts arguments, releases the GIL for the work,
//! and converts results. Logic lives in the other modules; `pysei/execution/native.py` is its only importer.

use std::path::PathBuf;

use num_bigint::BigUint;
use pyo3::{
    exceptions::{PyRuntimeError, PyValueError},
    prelude::*,
    pybacked::PyBackedBytes,
    types::{PyBytes, PyList, PyTuple},
};
use revm::{
    bytecode::Bytecode,
    primitives::{hardfork::SpecId, keccak256, Address, Bytes, B256, U256},
    state::AccountInfo,
};

use crate::{
    call::{self as sim, AccountOverride, CallError, CallOutcome, CallRequest, StateOverrides},
    db::{StateChanges, StateReader, Store, StoreError, TableWrite},
    decode,
    exec::{BlockOutput, BlockParams, Location, OrderedTx},
    parallel::{execute_block_parallel, ParallelStats, PredictMode},
    trace,
};

fn store_err(e: StoreError) -> PyErr {
    PyRuntimeError::new_err(format!("state store: {e}"))
}

fn u256(v: &BigUint) -> PyResult<U256> {
    let bytes = v.to_bytes_be();
    if bytes.len() > 32 {
        return Err(PyValueError::new_err("integer does not fit in 256 bits"));
    }
    Ok(U256::from_be_slice(&bytes))
}

fn big(v: U256) -> BigUint {
    BigUint::from_bytes_be(&v.to_be_bytes::<32>())
}

fn address(b: &[u8]) -> PyResult<Address> {
    if b.len() != 20 {
        return Err(PyValueError::new_err(format!("address must be 20 bytes, got {}", b.len())));
    }
    Ok(Address::from_slice(b))
}

fn b256(b: &[u8]) -> PyResult<B256> {
    if b.len() != 32 {
        return Err(PyValueError::new_err(format!("hash must be 32 bytes, got {}", b.len())));
    }
    Ok(B256::from_slice(b))
}

fn spec(name: &str) -> PyResult<SpecId> {
    Ok(match name {
        "shanghai" => SpecId::SHANGHAI,
        "cancun" => SpecId::CANCUN,
        "prague" => SpecId::PRAGUE,
        "osaka" => SpecId::OSAKA,
        other => return Err(PyValueError::new_err(format!("unknown spec {other:?}"))),
    })
}

/// The non-transaction part of a block (number, time, limits, fee collector, chain).
#[pyclass(frozen, name = "BlockEnv", module = "pysei._native")]
#[derive(Clone)]
struct PyBlockEnv {
    inner: BlockParams,
}

#[pymethods]
impl PyBlockEnv {
    #[new]
    #[pyo3(signature = (*, number, timestamp, gas_limit, base_fee, beneficiary, prevrandao, chain_id, spec_name="prague"))]
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
    ) -> PyResult<Self> {
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
            },
        })
    }
}

/// The LMDB flat store. One per process (LMDB forbids opening an environment twice).
#[pyclass(frozen, name = "Store", module = "pysei._native")]
struct PyStore {
    inner: Store,
}

#[pymethods]
impl PyStore {
    #[new]
    #[pyo3(signature = (path, tables, *, map_size = 1 << 40, sync = true))]
    fn new(py: Python<'_>, path: PathBuf, tables: Vec<String>, map_size: usize, sync: bool) -> PyResult<Self> {
        let inner = py.detach(|| Store::open(&path, map_size, &tables, sync)).map_err(store_err)?;
        Ok(Self { inner })
    }

    /// `(balance, nonce, code_hash)` or None for an account that does not exist, now or after block `at`.
    #[pyo3(signature = (addr, at = None))]
    fn account(&self, py: Python<'_>, addr: &[u8], at: Option<u64>) -> PyResult<Option<(BigUint, u64, Py<PyBytes>)>> {
        let addr = address(addr)?;
        let info = self.inner.view(at).and_then(|s| s.account(addr)).map_err(store_err)?;
        Ok(info.map(|i| (big(i.balance), i.nonce, PyBytes::new(py, i.code_hash.as_slice()).unbind())))
    }

    /// `(nonce, balance)` of many accounts from one snapshot (missing accounts read as zero).
    fn nonces_and_balances(&self, py: Python<'_>, addrs: Vec<Vec<u8>>) -> PyResult<Vec<(u64, BigUint)>> {
        let addrs: Vec<Address> = addrs.iter().map(|a| address(a)).collect::<PyResult<_>>()?;
        let infos = py
            .detach(|| {
                let snap = self.inner.snapshot()?;
                addrs.iter().map(|a| snap.account(*a)).collect::<Result<Vec<_>, _>>()
            })
            .map_err(store_err)?;
        Ok(infos.into_iter().map(|i| i.map_or((0, BigUint::ZERO), |i| (i.nonce, big(i.balance)))).collect())
    }

    #[pyo3(signature = (addr, at = None))]
    fn code(&self, py: Python<'_>, addr: &[u8], at: Option<u64>) -> PyResult<Py<PyBytes>> {
        let addr = address(addr)?;
        let code = (|| {
            let snap = self.inner.view(at)?;
            match snap.account(addr)? {
                Some(info) => snap.code(info.code_hash),
                None => Ok(Bytecode::default()),
            }
        })()
        .map_err(store_err)?;
        Ok(PyBytes::new(py, code.original_byte_slice()).unbind())
    }

    #[pyo3(signature = (addr, slot, at = None))]
    fn storage(&self, addr: &[u8], slot: BigUint, at: Option<u64>) -> PyResult<BigUint> {
        let (addr, slot) = (address(addr)?, u256(&slot)?);
        let value = self.inner.view(at).and_then(|s| s.storage(addr, slot)).map_err(store_err)?;
        Ok(big(value))
    }

    fn get(&self, py: Python<'_>, table: &str, key: &[u8]) -> PyResult<Option<Py<PyBytes>>> {
        let value = self.inner.get(table, key).map_err(store_err)?;
        Ok(value.map(|v| PyBytes::new(py, &v).unbind()))
    }

    /// Up to `limit` `(key, value)` entries of a named table with keys in `[start, end)`, ascending or (`reverse`)
    /// descending.
    #[pyo3(signature = (table, start, end, *, reverse = false, limit = 1000))]
    #[allow(clippy::type_complexity)]
    fn scan(
        &self,
        py: Python<'_>,
        table: &str,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        limit: usize,
    ) -> PyResult<Vec<(Py<PyBytes>, Py<PyBytes>)>> {
        let entries = py.detach(|| self.inner.scan(table, start, end, reverse, limit)).map_err(store_err)?;
        Ok(entries.iter().map(|(k, v)| (PyBytes::new(py, k).unbind(), PyBytes::new(py, v).unbind())).collect())
    }

    fn get_many(&self, py: Python<'_>, table: &str, keys: Vec<Vec<u8>>) -> PyResult<Vec<Option<Py<PyBytes>>>> {
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let values = py.detach(|| self.inner.get_many(table, &refs)).map_err(store_err)?;
        Ok(values.into_iter().map(|v| v.map(|v| PyBytes::new(py, &v).unbind())).collect())
    }

    /// Atomically commits block `number`: its executed state changes (if any), genesis or snapshot allocations
    /// (if any) and extra `codes` (a snapshot's code no account holds any more), its change set and history
    /// index, canonical block hashes, the node's table writes `(table, key, value-or-None)` and known
    /// `commitments` `(number, digest)` (a snapshot's). Returns the number of state records the block changed.
    #[pyo3(signature = (
        number, *, result = None, alloc = None, codes = Vec::new(), hashes = Vec::new(), writes = Vec::new(),
        commitments = Vec::new()
    ))]
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        py: Python<'_>,
        number: u64,
        result: Option<PyRef<'_, PyBlockResult>>,
        alloc: Option<Vec<AllocEntry>>,
        codes: Vec<Vec<u8>>,
        hashes: Vec<(u64, Vec<u8>)>,
        writes: Vec<(String, Vec<u8>, Option<Vec<u8>>)>,
        commitments: Vec<(u64, Vec<u8>)>,
    ) -> PyResult<usize> {
        let mut changes = result.map(|r| r.output.changes.clone()).unwrap_or_default();
        if let Some(alloc) = alloc {
            append_alloc(&mut changes, alloc)?;
        }
        for code in codes {
            let code = Bytecode::new_raw(Bytes::from(code));
            changes.codes.push((code.hash_slow(), code));
        }
        let hashes: Vec<(u64, B256)> = hashes.iter().map(|(n, h)| Ok((*n, b256(h)?))).collect::<PyResult<_>>()?;
        let commitments: Vec<(u64, B256)> =
            commitments.iter().map(|(n, h)| Ok((*n, b256(h)?))).collect::<PyResult<_>>()?;
        let writes: Vec<TableWrite> =
            writes.into_iter().map(|(table, key, value)| TableWrite { table, key, value }).collect();
        py.detach(|| self.inner.commit(number, &changes, &hashes, &writes, &commitments)).map_err(store_err)
    }

    /// The raw change set of block `number` while it is hot (None once moved to the cold tier or pruned).
    fn change_set(&self, py: Python<'_>, number: u64) -> PyResult<Option<Py<PyBytes>>> {
        let blob = py.detach(|| self.inner.change_set(number)).map_err(store_err)?;
        Ok(blob.map(|b| PyBytes::new(py, &b).unbind()))
    }

    /// A change set's `[(key, old | None, new | None)]`, keys in the commitment's encoding.
    #[staticmethod]
    #[allow(clippy::type_complexity)]
    fn decode_change_set(
        py: Python<'_>,
        blob: &[u8],
    ) -> PyResult<Vec<(Py<PyBytes>, Option<Py<PyBytes>>, Option<Py<PyBytes>>)>> {
        let changes = crate::history::decode(blob).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let bytes = |v: &[u8]| PyBytes::new(py, v).unbind();
        Ok(changes.iter().map(|c| (bytes(&c.key), c.old.as_deref().map(bytes), c.new.as_deref().map(bytes))).collect())
    }

    /// Drops block `number`'s history index entries (listed by its change set `blob`) and its hot change set.
    fn prune_history(&self, py: Python<'_>, number: u64, blob: &[u8]) -> PyResult<()> {
        py.detach(|| self.inner.prune_history(number, blob)).map_err(store_err)
    }

    /// Table writes `(table, key, value-or-None)` and deletions of hot change sets, in one transaction that
    /// commits no block (the cold tier's index swap).
    #[pyo3(signature = (writes, *, drop_change_sets = Vec::new()))]
    fn write_tables(
        &self,
        py: Python<'_>,
        writes: Vec<(String, Vec<u8>, Option<Vec<u8>>)>,
        drop_change_sets: Vec<u64>,
    ) -> PyResult<()> {
        let writes: Vec<TableWrite> =
            writes.into_iter().map(|(table, key, value)| TableWrite { table, key, value }).collect();
        py.detach(|| self.inner.write_tables(&writes, &drop_change_sets)).map_err(store_err)
    }

    /// Writes state records `(key, value-or-None)` (the commitment's encoding) as part of the head block `head`
    /// (devnet edits: anvil_setBalance and friends); returns each record's previous value, which undoes it.
    #[allow(clippy::type_complexity)]
    fn amend_head(
        &self,
        py: Python<'_>,
        head: u64,
        records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> PyResult<Vec<(Py<PyBytes>, Option<Py<PyBytes>>)>> {
        let previous = py.detach(|| self.inner.amend_head(head, &records)).map_err(store_err)?;
        let bytes = |v: &[u8]| PyBytes::new(py, v).unbind();
        Ok(previous.iter().map(|(k, v)| (bytes(k), v.as_deref().map(bytes))).collect())
    }

    /// Undoes blocks `to + 1 ..= head` from their change sets and applies the node's table `writes`, in one
    /// transaction (devnet evm_revert).
    fn rollback(
        &self,
        py: Python<'_>,
        to: u64,
        head: u64,
        writes: Vec<(String, Vec<u8>, Option<Vec<u8>>)>,
    ) -> PyResult<()> {
        let writes: Vec<TableWrite> =
            writes.into_iter().map(|(table, key, value)| TableWrite { table, key, value }).collect();
        py.detach(|| self.inner.rollback(to, head, &writes)).map_err(store_err)
    }

    /// `[(table, entries, bytes)]` of every LMDB table (read-only; for `pysei db stats`).
    fn table_stats(&self, py: Python<'_>) -> PyResult<Vec<(String, u64, u64)>> {
        py.detach(|| self.inner.table_stats()).map_err(store_err)
    }

    /// Advances the LtHash commitment through block `target` (GIL released): `[(number, digest)]` computed.
    fn advance_commitment(&self, py: Python<'_>, target: u64) -> PyResult<Vec<(u64, Py<PyBytes>)>> {
        let digests = py.detach(|| self.inner.advance_commitment(target)).map_err(store_err)?;
        Ok(digests.into_iter().map(|(n, d)| (n, PyBytes::new(py, d.as_slice()).unbind())).collect())
    }

    /// The state commitment after block `number`, if computed.
    fn commitment(&self, py: Python<'_>, number: u64) -> PyResult<Option<Py<PyBytes>>> {
        let digest = self.inner.commitment(number).map_err(store_err)?;
        Ok(digest.map(|d| PyBytes::new(py, d.as_slice()).unbind()))
    }

    /// `(number, accumulator bytes)` of the last block the commitment worker applied.
    fn commitment_state(&self, py: Python<'_>) -> PyResult<Option<(u64, Py<PyBytes>)>> {
        let state = self.inner.commitment_state().map_err(store_err)?;
        Ok(state.map(|(n, acc)| (n, PyBytes::new(py, &acc.to_bytes()).unbind())))
    }

    /// Every state record `(key, value)` in the commitment's encoding, from one snapshot.
    fn state_records(&self, py: Python<'_>) -> PyResult<Vec<(Py<PyBytes>, Py<PyBytes>)>> {
        let records = py.detach(|| self.inner.state_records()).map_err(store_err)?;
        Ok(records.into_iter().map(|(k, v)| (PyBytes::new(py, &k).unbind(), PyBytes::new(py, &v).unbind())).collect())
    }

    /// The whole state: `([(address, balance, nonce, code)], [(address, slot, value)])`.
    #[allow(clippy::type_complexity)]
    fn dump_state(
        &self,
        py: Python<'_>,
    ) -> PyResult<(Vec<(Py<PyBytes>, BigUint, u64, Py<PyBytes>)>, Vec<(Py<PyBytes>, BigUint, BigUint)>)> {
        let (accounts, storage) = py.detach(|| self.inner.dump()).map_err(store_err)?;
        let snap = self.inner.snapshot().map_err(store_err)?;
        let accounts = accounts
            .into_iter()
            .map(|(a, info)| {
                let code = snap.code(info.code_hash).map_err(store_err)?;
                Ok((
                    PyBytes::new(py, a.as_slice()).unbind(),
                    big(info.balance),
                    info.nonce,
                    PyBytes::new(py, code.original_byte_slice()).unbind(),
                ))
            })
            .collect::<PyResult<_>>()?;
        let storage =
            storage.into_iter().map(|(a, s, v)| (PyBytes::new(py, a.as_slice()).unbind(), big(s), big(v))).collect();
        Ok((accounts, storage))
    }
}

/// A genesis allocation: `(address, balance, nonce, code, [(slot, value)])`.
type AllocEntry = (Vec<u8>, BigUint, u64, Vec<u8>, Vec<(BigUint, BigUint)>);

/// One transaction's `(reads, writes, read_fee_collector)`.
type AccessSet = (Vec<Vec<u8>>, Vec<Vec<u8>>, bool);

fn append_alloc(changes: &mut StateChanges, alloc: Vec<AllocEntry>) -> PyResult<()> {
    for (addr, balance, nonce, code, storage) in alloc {
        let addr = address(&addr)?;
        let code = Bytecode::new_raw(Bytes::from(code));
        let code_hash = if code.is_empty() { revm::primitives::KECCAK_EMPTY } else { code.hash_slow() };
        if !code.is_empty() {
            changes.codes.push((code_hash, code));
        }
        let info = AccountInfo { balance: u256(&balance)?, nonce, code_hash, code: None, account_id: None };
        changes.accounts.push((addr, Some(info)));
        for (slot, value) in storage {
            changes.storage.push((addr, u256(&slot)?, u256(&value)?));
        }
    }
    Ok(())
}

/// The result of executing one block; holds the state changes until the node commits them.
#[pyclass(frozen, name = "BlockResult", module = "pysei._native")]
struct PyBlockResult {
    output: BlockOutput,
    parallel: ParallelStats,
}

fn log_tuple<'py>(py: Python<'py>, log: &alloy_primitives::Log) -> PyResult<Bound<'py, PyTuple>> {
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

fn location_bytes(location: &Location) -> Vec<u8> {
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

fn tx_tuple<'py>(py: Python<'py>, d: &decode::DecodedTx) -> PyResult<Bound<'py, PyAny>> {
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
        decode::intrinsic_gas(e, d.sender).into_pyobject(py)?.into_any(),
    ];
    Ok(PyTuple::new(py, fields)?.into_any())
}

/// Decodes and sender-recovers raw transactions (in parallel, GIL released). Per input: a tuple of fields in
/// `pysei.chain.transaction.Transaction` order followed by the intrinsic gas, or an error string.
#[pyfunction]
fn decode_transactions<'py>(py: Python<'py>, raws: Vec<Vec<u8>>) -> PyResult<Bound<'py, PyList>> {
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

/// Decodes transactions whose senders are already known (read back from the store): no signature recovery.
/// Same tuples as `decode_transactions`; raises ValueError on bytes that do not decode.
#[pyfunction]
fn decode_with_senders<'py>(py: Python<'py>, raws: Vec<Vec<u8>>, senders: &[u8]) -> PyResult<Bound<'py, PyList>> {
    if senders.len() != raws.len() * 20 {
        return Err(PyValueError::new_err("senders must be 20 bytes per transaction"));
    }
    let items = raws
        .iter()
        .zip(senders.chunks_exact(20))
        .map(|(raw, sender)| {
            let envelope = decode::decode_envelope(raw).map_err(|e| PyValueError::new_err(e.to_string()))?;
            let d = decode::DecodedTx { hash: keccak256(raw), envelope, sender: Address::from_slice(sender) };
            tx_tuple(py, &d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// Executes an ordered block against the committed state (GIL released). `senders` is the 20-byte senders of
/// `raws` concatenated (recovered when the transactions entered the node). With `threads > 1` the block runs
/// on the optimistic parallel executor; the result is identical either way.
#[pyfunction]
#[pyo3(signature = (store, env, raws, senders, *, record_access = false, threads = 1, predict = true))]
#[allow(clippy::too_many_arguments)] // one per keyword argument of the Python function
fn execute_block(
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
            let txs: Vec<OrderedTx<'_>> = raws
                .iter()
                .zip(senders.chunks_exact(20))
                .map(|(raw, s)| OrderedTx { raw, sender: Address::from_slice(s) })
                .collect();
            execute_block_parallel(&|| store.inner.snapshot(), &env.inner, &txs, record_access, threads, mode)
        })
        .map_err(store_err)?;
    Ok(PyBlockResult { output, parallel })
}

/// Storage slots of a state override: `[(slot, value)]`.
type PySlots = Vec<(BigUint, BigUint)>;

/// A state override: `(address, balance | None, nonce | None, code | None, state | None, state_diff)`.
type PyOverride = (Vec<u8>, Option<BigUint>, Option<u64>, Option<Vec<u8>>, Option<PySlots>, PySlots);

/// An eth_call-style request: `(from, to | None, gas | None, max_fee | None, max_priority_fee | None, value,
/// data, nonce | None, access_list, overrides)`.
type PyCallRequest = (
    Vec<u8>,
    Option<Vec<u8>>,
    Option<u64>,
    Option<u128>,
    Option<u128>,
    BigUint,
    Vec<u8>,
    Option<u64>,
    Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    Vec<PyOverride>,
);

fn slots(slots: &PySlots) -> PyResult<std::collections::HashMap<U256, U256>> {
    slots.iter().map(|(k, v)| Ok((u256(k)?, u256(v)?))).collect()
}

fn state_overrides(overrides: Vec<PyOverride>) -> PyResult<StateOverrides> {
    overrides
        .into_iter()
        .map(|(addr, balance, nonce, code, state, diff)| {
            let o = AccountOverride {
                balance: balance.as_ref().map(u256).transpose()?,
                nonce,
                code: code.map(Into::into),
                state: state.as_ref().map(slots).transpose()?,
                state_diff: slots(&diff)?,
            };
            Ok((address(&addr)?, o))
        })
        .collect()
}

fn call_request(r: PyCallRequest) -> PyResult<CallRequest> {
    let (from, to, gas, max_fee, max_priority, value, data, nonce, access_list, overrides) = r;
    Ok(CallRequest {
        from: address(&from)?,
        to: to.as_deref().map(address).transpose()?,
        gas,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: max_priority,
        value: u256(&value)?,
        data: data.into(),
        nonce,
        access_list: access_list
            .iter()
            .map(|(a, keys)| Ok((address(a)?, keys.iter().map(|k| b256(k)).collect::<PyResult<_>>()?)))
            .collect::<PyResult<_>>()?,
        overrides: state_overrides(overrides)?,
    })
}

fn call_err(e: CallError) -> PyErr {
    match e {
        CallError::Store(e) => store_err(e),
        CallError::Invalid(msg) => PyValueError::new_err(msg),
    }
}

fn outcome_tuple(py: Python<'_>, o: CallOutcome) -> (bool, u64, Py<PyBytes>, Option<String>) {
    (o.success, o.gas_used, PyBytes::new(py, &o.output).unbind(), o.halt)
}

/// eth_call: `(success, gas_used, output, halt | None)`; raises ValueError for an invalid transaction.
#[pyfunction]
#[pyo3(signature = (store, env, request, at = None))]
fn call(
    py: Python<'_>,
    store: &PyStore,
    env: &PyBlockEnv,
    request: PyCallRequest,
    at: Option<u64>,
) -> PyResult<(bool, u64, Py<PyBytes>, Option<String>)> {
    let req = call_request(request)?;
    let out = py
        .detach(|| {
            let snap = store.inner.view(at)?;
            sim::call(&snap, &env.inner, &req)
        })
        .map_err(call_err)?;
    Ok(outcome_tuple(py, out))
}

/// eth_estimateGas: `(gas, None)` or, when the call fails at the cap, `(None, (success, gas, output, halt))`.
#[pyfunction]
#[pyo3(signature = (store, env, request, at = None))]
#[allow(clippy::type_complexity)]
fn estimate_gas(
    py: Python<'_>,
    store: &PyStore,
    env: &PyBlockEnv,
    request: PyCallRequest,
    at: Option<u64>,
) -> PyResult<(Option<u64>, Option<(bool, u64, Py<PyBytes>, Option<String>)>)> {
    let req = call_request(request)?;
    let out = py
        .detach(|| {
            let snap = store.inner.view(at)?;
            sim::estimate_gas(&snap, &env.inner, &req)
        })
        .map_err(call_err)?;
    Ok(match out {
        Ok(gas) => (Some(gas), None),
        Err(o) => (None, Some(outcome_tuple(py, o))),
    })
}

/// eth_createAccessList: `([(address, [slots])], (success, gas, output, halt))`.
#[pyfunction]
#[pyo3(signature = (store, env, request, at = None))]
#[allow(clippy::type_complexity)]
fn create_access_list(
    py: Python<'_>,
    store: &PyStore,
    env: &PyBlockEnv,
    request: PyCallRequest,
    at: Option<u64>,
) -> PyResult<(Vec<(Py<PyBytes>, Vec<Py<PyBytes>>)>, (bool, u64, Py<PyBytes>, Option<String>))> {
    let req = call_request(request)?;
    let (list, out) = py
        .detach(|| {
            let snap = store.inner.view(at)?;
            sim::create_access_list(&snap, &env.inner, &req)
        })
        .map_err(call_err)?;
    let list = list
        .into_iter()
        .map(|(a, keys)| {
            (
                PyBytes::new(py, a.as_slice()).unbind(),
                keys.iter().map(|k| PyBytes::new(py, k.as_slice()).unbind()).collect(),
            )
        })
        .collect();
    Ok((list, outcome_tuple(py, out)))
}

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

/// The benchmark ceiling: `raws` on plain revm over an in-memory database seeded with `alloc` (GIL released).
/// Returns `(gas_used, seconds)`.
#[pyfunction]
fn execute_in_memory(
    py: Python<'_>,
    env: &PyBlockEnv,
    alloc: Vec<AllocEntry>,
    raws: Vec<Vec<u8>>,
    senders: &[u8],
) -> PyResult<(u64, f64)> {
    let mut genesis = StateChanges::default();
    append_alloc(&mut genesis, alloc)?;
    Ok(py.detach(|| {
        let txs: Vec<OrderedTx<'_>> = raws
            .iter()
            .zip(senders.chunks_exact(20))
            .map(|(raw, s)| OrderedTx { raw, sender: Address::from_slice(s) })
            .collect();
        crate::bench::run_in_memory(&genesis, &env.inner, &txs)
    }))
}

#[pyfunction]
fn keccak<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, keccak256(data).as_slice())
}

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
fn trace_block(
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
fn trace_call(
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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStore>()?;
    m.add_class::<PyBlockEnv>()?;
    m.add_class::<PyBlockResult>()?;
    m.add_function(wrap_pyfunction!(decode_transactions, m)?)?;
    m.add_function(wrap_pyfunction!(decode_with_senders, m)?)?;
    m.add_function(wrap_pyfunction!(execute_block, m)?)?;
    m.add_function(wrap_pyfunction!(call, m)?)?;
    m.add_function(wrap_pyfunction!(estimate_gas, m)?)?;
    m.add_function(wrap_pyfunction!(create_access_list, m)?)?;
    m.add_function(wrap_pyfunction!(keccak, m)?)?;
    m.add_function(wrap_pyfunction!(execute_in_memory, m)?)?;
    m.add_function(wrap_pyfunction!(logs_bloom, m)?)?;
    m.add_function(wrap_pyfunction!(trace_block, m)?)?;
    m.add_function(wrap_pyfunction!(trace_call, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
