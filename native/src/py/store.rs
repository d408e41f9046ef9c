//! `Store`: the LMDB flat store as Python sees it (state reads, named tables, the block commit, history and the
//! commitment).

use std::{borrow::Cow, path::PathBuf};

use num_bigint::BigUint;
use pyo3::{exceptions::PyValueError, prelude::*, types::PyBytes};
use revm::{
    bytecode::Bytecode,
    primitives::{Address, Bytes, B256},
};

use super::{
    block::{PyBlockRecords, PyBlockResult},
    conversions::{address, append_alloc, b256, big, store_err, u256, AllocEntry},
};
use crate::db::{StateChanges, StateReader, Store, TablePut, TableWrite};

/// The tables a block's encoded records go to, and the records: `(transactions, logs, address index, creators,
/// records)`.
type RecordTables<'py> = (String, String, String, String, PyRef<'py, PyBlockRecords>);

/// The LMDB flat store. One per process (LMDB forbids opening an environment twice).
#[pyclass(frozen, name = "Store", module = "pysei._native")]
pub(super) struct PyStore {
    pub(super) inner: Store,
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
    /// (if any) and extra `codes` (a snapshot's code no account holds any more), its change set (the history
    /// index follows it), canonical block hashes, the node's table writes `(table, key, value-or-None)` and
    /// known `commitments` `(number, digest)` (a snapshot's), and the block's encoded `records` as `(transactions
    /// table, logs table, address index table, creators table, records)`. Returns the number of state records
    /// the block changed.
    #[pyo3(signature = (
        number, *, result = None, alloc = None, codes = Vec::new(), hashes = Vec::new(), writes = Vec::new(),
        commitments = Vec::new(), records = None
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
        records: Option<RecordTables<'_>>,
    ) -> PyResult<usize> {
        // Borrowed unless allocations or codes are added: a large block's change set is megabytes.
        let mut changes = match &result {
            Some(r) => Cow::Borrowed(&r.output.changes),
            None => Cow::Owned(StateChanges::default()),
        };
        if let Some(alloc) = alloc {
            append_alloc(changes.to_mut(), alloc)?;
        }
        for code in codes {
            let code = Bytecode::new_raw(Bytes::from(code));
            changes.to_mut().codes.push((code.hash_slow(), code));
        }
        let hashes: Vec<(u64, B256)> = hashes.iter().map(|(n, h)| Ok((*n, b256(h)?))).collect::<PyResult<_>>()?;
        let commitments: Vec<(u64, B256)> =
            commitments.iter().map(|(n, h)| Ok((*n, b256(h)?))).collect::<PyResult<_>>()?;
        let writes: Vec<TableWrite> =
            writes.into_iter().map(|(table, key, value)| TableWrite { table, key, value }).collect();
        let number_key = number.to_be_bytes();
        let mut puts = Vec::new();
        if let Some((txs_table, logs_table, index_table, creators_table, records)) = &records {
            let r = &records.inner;
            let txs =
                r.txs.iter().map(|(hash, record)| TablePut { table: txs_table, key: hash.as_slice(), value: record });
            puts.extend(txs);
            if let Some(logs) = &r.logs {
                puts.push(TablePut { table: logs_table, key: &number_key, value: logs });
            }
            let index = r.address_index.iter();
            puts.extend(index.map(|(key, hash)| TablePut { table: index_table, key, value: hash.as_slice() }));
            let creators = r.creators.iter();
            puts.extend(creators.map(|(a, hash)| TablePut {
                table: creators_table,
                key: a.as_slice(),
                value: hash.as_slice(),
            }));
        }
        py.detach(|| self.inner.commit(number, &changes, &hashes, &writes, &puts, &commitments)).map_err(store_err)
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
