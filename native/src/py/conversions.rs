//! Conversions between Python values and the kernel's types, shared by the binding's modules.

use num_bigint::BigUint;
use pyo3::{
    exceptions::{PyRuntimeError, PyValueError},
    prelude::*,
};
use revm::{
    bytecode::Bytecode,
    primitives::{hardfork::SpecId, Address, Bytes, B256, U256},
    state::AccountInfo,
};

use crate::db::{StateChanges, StoreError};

pub(super) fn store_err(e: StoreError) -> PyErr {
    PyRuntimeError::new_err(format!("state store: {e}"))
}

pub(super) fn u256(v: &BigUint) -> PyResult<U256> {
    let bytes = v.to_bytes_be();
    if bytes.len() > 32 {
        return Err(PyValueError::new_err("integer does not fit in 256 bits"));
    }
    Ok(U256::from_be_slice(&bytes))
}

pub(super) fn big(v: U256) -> BigUint {
    BigUint::from_bytes_be(&v.to_be_bytes::<32>())
}

pub(super) fn address(b: &[u8]) -> PyResult<Address> {
    if b.len() != 20 {
        return Err(PyValueError::new_err(format!("address must be 20 bytes, got {}", b.len())));
    }
    Ok(Address::from_slice(b))
}

pub(super) fn b256(b: &[u8]) -> PyResult<B256> {
    if b.len() != 32 {
        return Err(PyValueError::new_err(format!("hash must be 32 bytes, got {}", b.len())));
    }
    Ok(B256::from_slice(b))
}

pub(super) fn spec(name: &str) -> PyResult<SpecId> {
    Ok(match name {
        "shanghai" => SpecId::SHANGHAI,
        "cancun" => SpecId::CANCUN,
        "prague" => SpecId::PRAGUE,
        "osaka" => SpecId::OSAKA,
        other => return Err(PyValueError::new_err(format!("unknown spec {other:?}"))),
    })
}

/// A genesis allocation: `(address, balance, nonce, code, [(slot, value)])`.
pub(super) type AllocEntry = (Vec<u8>, BigUint, u64, Vec<u8>, Vec<(BigUint, BigUint)>);

pub(super) fn append_alloc(changes: &mut StateChanges, alloc: Vec<AllocEntry>) -> PyResult<()> {
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
