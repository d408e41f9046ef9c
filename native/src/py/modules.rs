//! The modules' genesis state for Python's genesis builder (`pysei.chain.genesis`).

use num_bigint::BigUint;
use pyo3::{exceptions::PyValueError, prelude::*};

use super::conversions::{address, big, u256};
use crate::modules::{
    distribution, genesis,
    staking::{GenesisValidator, Params},
};

/// Each module account's address and its (slot, value) pairs.
type ModuleSlots = Vec<(Vec<u8>, Vec<(BigUint, BigUint)>)>;

/// The module accounts' genesis storage: `[(address, [(slot, value)])]` for the bank (total supply in usei) and
/// staking (`params` = (unbonding seconds, max entries, max validators, min commission rate × 10^18);
/// `validators` = [(operator, self-delegation in usei, commission rate × 10^18)]) and distribution
/// (`distribution` = (community tax × 10^18, block reward in usei)). ValueError on an invalid one.
#[pyfunction]
pub(super) fn module_genesis(
    total_supply_usei: BigUint,
    params: (u64, u64, u64, BigUint),
    validators: Vec<(Vec<u8>, BigUint, BigUint)>,
    distribution: (BigUint, BigUint),
) -> PyResult<ModuleSlots> {
    let (unbonding_time, max_entries, max_validators, min_commission) = params;
    let params = Params { unbonding_time, max_entries, max_validators, min_commission_rate: u256(&min_commission)? };
    let validators = validators
        .iter()
        .map(|(operator, bonded, rate)| {
            Ok(GenesisValidator {
                operator: address(operator)?,
                self_delegation: u256(bonded)?,
                commission_rate: u256(rate)?,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let distribution =
        distribution::Params { community_tax: u256(&distribution.0)?, block_reward_usei: u256(&distribution.1)? };
    let modules =
        genesis(u256(&total_supply_usei)?, &params, &validators, &distribution).map_err(PyValueError::new_err)?;
    Ok(modules
        .into_iter()
        .map(|(module, slots)| (module.to_vec(), slots.into_iter().map(|(k, v)| (big(k), big(v))).collect()))
        .collect())
}
