//! The modules' genesis state for Python's genesis builder (`pysei.chain.genesis`).

use num_bigint::BigUint;
use pyo3::{
    exceptions::{PyRuntimeError, PyValueError},
    prelude::*,
    types::PyBytes,
};

use super::{
    conversions::{address, big, store_err, u256},
    store::PyStore,
};
use crate::modules::{
    distribution, genesis, governance, slashing, staking,
    staking::{GenesisValidator, Params},
    Failure, Outcome, ScratchLedger,
};

/// A genesis validator: (operator, self-delegation in usei, commission rate × 10^18, consensus key, jailed until
/// (seconds) for one that starts jailed).
type PyGenesisValidator = (Vec<u8>, BigUint, BigUint, Option<Vec<u8>>, Option<u64>);

/// Each module account's address and its (slot, value) pairs.
type ModuleSlots = Vec<(Vec<u8>, Vec<(BigUint, BigUint)>)>;

/// The module accounts' genesis storage: `[(address, [(slot, value)])]` for the bank (total supply in usei) and
/// staking (`params` = (unbonding seconds, max entries, max validators, min commission rate × 10^18, blocks per
/// epoch); `validators` = [(operator, self-delegation in usei, commission rate × 10^18, 32-byte Ed25519 consensus
/// key or None, jailed-until time or None)]), distribution (`distribution` =
/// (community tax × 10^18, block reward in usei)) and governance (`gov` = (min deposit in usei, max deposit
/// period and voting period in seconds, quorum, threshold and veto threshold × 10^18) and slashing (`slashing` =
/// (signed blocks window, min signed per window × 10^18, downtime jail seconds, double-sign and downtime slash
/// fractions × 10^18)). ValueError on an invalid one.
#[pyfunction]
pub(super) fn module_genesis(
    total_supply_usei: BigUint,
    params: (u64, u64, u64, BigUint, u64),
    validators: Vec<PyGenesisValidator>,
    distribution: (BigUint, BigUint),
    gov: (BigUint, u64, u64, BigUint, BigUint, BigUint),
    slashing: (u64, BigUint, u64, BigUint, BigUint),
) -> PyResult<ModuleSlots> {
    let (unbonding_time, max_entries, max_validators, min_commission, epoch_blocks) = params;
    let min_commission_rate = u256(&min_commission)?;
    let params = Params { unbonding_time, max_entries, max_validators, min_commission_rate, epoch_blocks };
    let genesis_validators = validators
        .iter()
        .map(|(operator, bonded, rate, key, jailed_until)| {
            let consensus_key = key
                .as_deref()
                .map(|k| <[u8; 32]>::try_from(k).map_err(|_| PyValueError::new_err("a consensus key is 32 bytes")))
                .transpose()?;
            Ok(GenesisValidator {
                operator: address(operator)?,
                self_delegation: u256(bonded)?,
                commission_rate: u256(rate)?,
                consensus_key,
                jailed: jailed_until.is_some(),
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let distribution =
        distribution::Params { community_tax: u256(&distribution.0)?, block_reward_usei: u256(&distribution.1)? };
    let (min_deposit, max_deposit_period, voting_period, quorum, threshold, veto) = gov;
    let gov = governance::Params {
        min_deposit: u256(&min_deposit)?,
        max_deposit_period,
        voting_period,
        quorum: u256(&quorum)?,
        threshold: u256(&threshold)?,
        veto_threshold: u256(&veto)?,
    };
    let (signed_blocks_window, min_signed, downtime_jail_duration, double_sign, downtime) = slashing;
    let slashing = slashing::Params {
        signed_blocks_window,
        min_signed_per_window: u256(&min_signed)?,
        downtime_jail_duration,
        slash_fraction_double_sign: u256(&double_sign)?,
        slash_fraction_downtime: u256(&downtime)?,
    };
    let jailed: Vec<(u32, u64)> =
        validators.iter().enumerate().filter_map(|(i, v)| v.4.map(|until| (i as u32, until))).collect();
    let modules =
        genesis(u256(&total_supply_usei)?, &params, &genesis_validators, &distribution, &gov, &slashing, &jailed)
            .map_err(PyValueError::new_err)?;
    Ok(modules
        .into_iter()
        .map(|(module, slots)| (module.to_vec(), slots.into_iter().map(|(k, v)| (big(k), big(v))).collect()))
        .collect())
}

/// A module query over the latest committed state.
fn query<T>(
    store: &PyStore,
    f: impl FnOnce(&mut ScratchLedger<crate::db::Snapshot>) -> Outcome<T, crate::db::StoreError>,
) -> PyResult<T> {
    let snapshot = store.inner.snapshot().map_err(store_err)?;
    match f(&mut ScratchLedger::new(snapshot)) {
        Ok(value) => Ok(value),
        Err(Failure::Db(e)) => Err(store_err(e)),
        Err(Failure::Revert(reason)) => Err(PyRuntimeError::new_err(reason)),
    }
}

/// One committee member as Python sees it: (consensus key, operator, power in whole SEI).
type PyMember = (Py<PyBytes>, Py<PyBytes>, BigUint);

/// Epoch `epoch`'s committee record (consensus key ascending), or None when it is not recorded yet. Records are
/// never overwritten, so the latest state answers for every epoch.
#[pyfunction]
pub(super) fn committee(py: Python<'_>, store: &PyStore, epoch: u64) -> PyResult<Option<Vec<PyMember>>> {
    let members = query(store, |ledger| {
        let Some(members) = staking::committee(ledger, epoch)? else { return Ok(None) };
        members
            .into_iter()
            .map(|m| Ok((m.pubkey, staking::operator(ledger, m.index)?, m.power)))
            .collect::<Outcome<Vec<_>, _>>()
            .map(Some)
    })?;
    Ok(members.map(|ms| {
        ms.into_iter()
            .map(|(key, operator, power)| {
                (PyBytes::new(py, &key).unbind(), PyBytes::new(py, operator.as_slice()).unbind(), big(power))
            })
            .collect()
    }))
}

/// Blocks per epoch (a genesis value).
#[pyfunction]
pub(super) fn epoch_blocks(store: &PyStore) -> PyResult<u64> {
    query(store, staking::epoch_blocks)
}

/// `(name, address, JSON ABI)` of each module precompile, in address order (see `modules::abis`).
#[pyfunction]
pub(super) fn precompile_abis(py: Python<'_>) -> PyResult<Vec<(&'static str, Bound<'_, PyBytes>, String)>> {
    crate::modules::abis()
        .into_iter()
        .map(|(name, address, abi)| {
            let json = serde_json::to_string(&abi).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            Ok((name, PyBytes::new(py, address.as_slice()), json))
        })
        .collect()
}
