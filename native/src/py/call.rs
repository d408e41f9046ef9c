//! The simulator as Python sees it: eth_call, eth_estimateGas and eth_createAccessList over a store snapshot.

use num_bigint::BigUint;
use pyo3::{exceptions::PyValueError, prelude::*, types::PyBytes};
use revm::primitives::U256;

use super::{
    block::PyBlockEnv,
    conversions::{address, b256, store_err, u256},
    store::PyStore,
};
use crate::call::{self as sim, AccountOverride, CallError, CallOutcome, CallRequest, StateOverrides};

/// Storage slots of a state override: `[(slot, value)]`.
type PySlots = Vec<(BigUint, BigUint)>;

/// A state override: `(address, balance | None, nonce | None, code | None, state | None, state_diff)`.
type PyOverride = (Vec<u8>, Option<BigUint>, Option<u64>, Option<Vec<u8>>, Option<PySlots>, PySlots);

/// An eth_call-style request: `(from, to | None, gas | None, max_fee | None, max_priority_fee | None, value,
/// data, nonce | None, access_list, overrides)`.
pub(super) type PyCallRequest = (
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

pub(super) fn call_request(r: PyCallRequest) -> PyResult<CallRequest> {
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

pub(super) fn call_err(e: CallError) -> PyErr {
    match e {
        CallError::Store(e) => store_err(e),
        CallError::Invalid(msg) => PyValueError::new_err(msg),
    }
}

pub(super) fn outcome_tuple(py: Python<'_>, o: CallOutcome) -> (bool, u64, Py<PyBytes>, Option<String>) {
    (o.success, o.gas_used, PyBytes::new(py, &o.output).unbind(), o.halt)
}

/// eth_call: `(success, gas_used, output, halt | None)`; raises ValueError for an invalid transaction.
#[pyfunction]
#[pyo3(signature = (store, env, request, at = None))]
pub(super) fn call(
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
pub(super) fn estimate_gas(
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
pub(super) fn create_access_list(
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
