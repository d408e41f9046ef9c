//! Simulation against committed state: eth_call, eth_estimateGas and eth_createAccessList use the same revm
//! kernel and the same state view as block execution, with geth's relaxations for calls (no EOA check on the
//! sender, no nonce check, no base-fee check when no price is given, no fee charge).

use std::collections::{BTreeMap, HashMap};

use revm::{
    bytecode::Bytecode,
    context::{
        result::{EVMError, ExecutionResult},
        ContextSetters, TxEnv,
    },
    handler::Handler,
    primitives::{keccak256, Address, Bytes, TxKind, B256, KECCAK_EMPTY, U256},
    state::AccountInfo,
    ExecuteEvm,
};

use crate::{
    db::{StateReader, StoreError},
    exec::{
        api::{build_evm, skip_reason, BlockState, SeiHandler},
        BlockParams, Location, TxAccess,
    },
    precompiles::SeiPrecompiles,
};

/// The caller-supplied part of an eth_call (absent fields as geth defaults them).
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub from: Address,
    pub to: Option<Address>,
    pub gas: Option<u64>,
    /// `gasPrice`, or `maxFeePerGas` for a 1559-style request.
    pub max_fee_per_gas: Option<u128>,
    pub max_priority_fee_per_gas: Option<u128>,
    pub value: U256,
    pub data: Bytes,
    pub nonce: Option<u64>,
    pub access_list: AccessList,
    /// eth_call's third parameter: the state the call sees instead of the stored one (never written).
    pub overrides: StateOverrides,
}

/// geth's state override of one account: fields left `None` keep the stored value.
#[derive(Debug, Clone, Default)]
pub struct AccountOverride {
    pub balance: Option<U256>,
    pub nonce: Option<u64>,
    pub code: Option<Bytes>,
    /// `state`: replaces the whole storage (slots not listed read zero).
    pub state: Option<HashMap<U256, U256>>,
    /// `stateDiff`: replaces only the listed slots.
    pub state_diff: HashMap<U256, U256>,
}

/// State overrides by address.
pub type StateOverrides = HashMap<Address, AccountOverride>;

/// The stored state seen through a call's overrides. An overlay over the reader rather than writes into a
/// scratch copy: nothing is copied, and the committed state cannot be touched by construction.
pub(crate) struct Overlay<'a, R> {
    inner: &'a R,
    overrides: &'a StateOverrides,
    codes: HashMap<B256, Bytecode>,
}

impl<'a, R: StateReader> Overlay<'a, R> {
    pub(crate) fn new(inner: &'a R, overrides: &'a StateOverrides) -> Self {
        let codes = overrides
            .values()
            .filter_map(|o| o.code.as_ref())
            .filter(|code| !code.is_empty())
            .map(|code| (keccak256(code), Bytecode::new_raw(code.clone())))
            .collect();
        Overlay { inner, overrides, codes }
    }
}

impl<R: StateReader> StateReader for Overlay<'_, R> {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        let stored = self.inner.account(address)?;
        let Some(o) = self.overrides.get(&address) else {
            return Ok(stored);
        };
        let mut info = stored.unwrap_or_default();
        if let Some(balance) = o.balance {
            info.balance = balance;
        }
        if let Some(nonce) = o.nonce {
            info.nonce = nonce;
        }
        if let Some(code) = &o.code {
            info.code_hash = if code.is_empty() { KECCAK_EMPTY } else { keccak256(code) };
            info.code = self.codes.get(&info.code_hash).cloned().or_else(|| Some(Bytecode::default()));
        }
        Ok(Some(info))
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        if let Some(o) = self.overrides.get(&address) {
            if let Some(value) = o.state_diff.get(&slot) {
                return Ok(*value);
            }
            if let Some(state) = &o.state {
                return Ok(state.get(&slot).copied().unwrap_or_default());
            }
        }
        self.inner.storage(address, slot)
    }

    fn code(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        match self.codes.get(&code_hash) {
            Some(code) => Ok(code.clone()),
            None => self.inner.code(code_hash),
        }
    }

    fn block_hash(&self, number: u64) -> Result<B256, StoreError> {
        self.inner.block_hash(number)
    }
}

/// An EIP-2930 access list: addresses with the storage keys touched at each.
pub type AccessList = Vec<(Address, Vec<B256>)>;

/// The outcome of a simulated call.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub success: bool,
    pub gas_used: u64,
    pub output: Bytes,
    /// Set when the EVM halted (out of gas, invalid opcode…); a revert leaves it `None`.
    pub halt: Option<String>,
}

/// Why a call could not run at all (the transaction itself is invalid).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

fn tx_env(req: &CallRequest, gas: u64, chain_id: u64) -> TxEnv {
    let priced = req.max_fee_per_gas.is_some_and(|p| p > 0);
    TxEnv {
        tx_type: if req.max_priority_fee_per_gas.is_some() {
            2
        } else if req.access_list.is_empty() {
            0
        } else {
            1
        },
        caller: req.from,
        gas_limit: gas,
        gas_price: req.max_fee_per_gas.unwrap_or(0),
        kind: req.to.map_or(TxKind::Create, TxKind::Call),
        value: req.value,
        data: req.data.clone(),
        nonce: req.nonce.unwrap_or(0),
        // Typed transactions must name the chain; a call is always for this one.
        chain_id: Some(chain_id),
        access_list: req
            .access_list
            .iter()
            .map(|(address, keys)| revm::context::transaction::AccessListItem {
                address: *address,
                storage_keys: keys.clone(),
            })
            .collect::<Vec<_>>()
            .into(),
        gas_priority_fee: if priced { req.max_priority_fee_per_gas } else { None },
        ..TxEnv::default()
    }
}

/// The configuration and transaction of a call: geth's relaxations (see the module docs) over the block's rules.
pub(crate) fn call_env(params: &BlockParams, req: &CallRequest, gas: u64) -> (revm::context::CfgEnv, TxEnv) {
    let mut cfg = params.cfg_env();
    cfg.disable_nonce_check = req.nonce.is_none();
    cfg.disable_eip3607 = true;
    let priced = req.max_fee_per_gas.is_some_and(|p| p > 0);
    cfg.disable_base_fee = !priced;
    cfg.disable_fee_charge = !priced;
    (cfg, tx_env(req, gas, params.chain_id))
}

fn run_once<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    req: &CallRequest,
    gas: u64,
    record: bool,
) -> Result<(CallOutcome, Option<TxAccess>), CallError> {
    let mut state = BlockState::new(reader, params.beneficiary);
    if record {
        state.start_recording();
    }
    let (cfg, tx) = call_env(params, req, gas);
    let mut evm = build_evm(&mut state, params.block_env(), cfg, &params.host);
    evm.ctx.set_tx(tx);
    let result = SeiHandler::default().run(&mut evm);
    let _ = evm.finalize();
    let access = evm.ctx.journaled_state.database.take_record();
    let result = match result {
        Ok(r) => r,
        Err(EVMError::Database(e)) => return Err(e.into()),
        Err(EVMError::Transaction(e)) => return Err(CallError::Invalid(skip_reason(&e))),
        Err(e) => return Err(CallError::Invalid(e.to_string())),
    };
    let gas_used = result.gas().tx_gas_used();
    let outcome = match result {
        ExecutionResult::Success { output, .. } => {
            CallOutcome { success: true, gas_used, output: output.into_data(), halt: None }
        }
        ExecutionResult::Revert { output, .. } => CallOutcome { success: false, gas_used, output, halt: None },
        ExecutionResult::Halt { reason, .. } => {
            CallOutcome { success: false, gas_used, output: Bytes::new(), halt: Some(format!("{reason:?}")) }
        }
    };
    Ok((outcome, access))
}

/// The gas a call may use when the request names none: the block's limit, and for a priced call no more than
/// the sender can pay for.
pub(crate) fn gas_cap<R: StateReader>(reader: &R, params: &BlockParams, req: &CallRequest) -> Result<u64, CallError> {
    let mut cap = req.gas.unwrap_or(params.gas_limit);
    if let Some(price) = req.max_fee_per_gas.filter(|p| *p > 0) {
        let balance = reader.account(req.from)?.map_or(U256::ZERO, |a| a.balance);
        let available = balance.saturating_sub(req.value) / U256::from(price);
        cap = cap.min(available.try_into().unwrap_or(u64::MAX));
    }
    Ok(cap)
}

/// eth_call.
pub fn call<R: StateReader>(reader: &R, params: &BlockParams, req: &CallRequest) -> Result<CallOutcome, CallError> {
    let reader = &Overlay::new(reader, &req.overrides);
    let gas = gas_cap(reader, params, req)?;
    Ok(run_once(reader, params, req, gas, false)?.0)
}

/// eth_estimateGas: the least gas limit with which the call succeeds, by binary search as geth does. A call that
/// fails even with the cap returns that failure (so the caller sees the revert reason).
pub fn estimate_gas<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    req: &CallRequest,
) -> Result<Result<u64, CallOutcome>, CallError> {
    let reader = &Overlay::new(reader, &req.overrides);
    let cap = gas_cap(reader, params, req)?;
    let (first, _) = run_once(reader, params, req, cap, false)?;
    if !first.success {
        return Ok(Err(first));
    }
    // Succeeding at `gas_used` is common (no refunds, no 63/64 retention), so try it before bisecting.
    let mut lo = first.gas_used.saturating_sub(1);
    let mut hi = cap;
    let succeeds = |gas: u64| -> Result<bool, CallError> {
        match run_once(reader, params, req, gas, false) {
            Ok((o, _)) => Ok(o.success),
            Err(CallError::Invalid(_)) => Ok(false),
            Err(e) => Err(e),
        }
    };
    if succeeds(first.gas_used)? {
        return Ok(Ok(first.gas_used));
    }
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if succeeds(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Ok(hi))
}

/// eth_createAccessList: the accounts and slots the call touches, except the sender, the recipient's account
/// entry, the fee collector and precompiles (as geth's access-list tracer does), and the gas used with that list.
pub fn create_access_list<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    req: &CallRequest,
) -> Result<(AccessList, CallOutcome), CallError> {
    let reader = &Overlay::new(reader, &req.overrides);
    let gas = gas_cap(reader, params, req)?;
    let (_, access) = run_once(reader, params, req, gas, true)?;
    let mut list: BTreeMap<Address, Vec<B256>> = BTreeMap::new();
    let precompiles = SeiPrecompiles::with_host(params.spec, params.host.clone());
    let excluded =
        |a: &Address| *a == req.from || Some(*a) == req.to || *a == params.beneficiary || precompiles.is_precompile(a);
    for location in access.map(|a| a.reads).unwrap_or_default() {
        match location {
            Location::Account(a) if !excluded(&a) => {
                list.entry(a).or_default();
            }
            Location::Storage(a, slot) => {
                let slots = list.entry(a).or_default();
                let key = B256::from(slot.to_be_bytes::<32>());
                if !slots.contains(&key) {
                    slots.push(key);
                }
            }
            Location::Account(_) => {}
        }
    }
    let list: Vec<_> = list.into_iter().collect();
    let with_list = CallRequest { access_list: list.clone(), ..req.clone() };
    let (outcome, _) = run_once(reader, params, &with_list, gas, false)?;
    Ok((list, outcome))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testutil::{block_params, MemReader};

    /// Returns SLOAD(calldata word 0).
    const SLOAD_ARG: [u8; 12] = [0x60, 0x00, 0x35, 0x54, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3];
    /// Returns SELFBALANCE.
    const SELFBALANCE: [u8; 9] = [0x47, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3];

    fn request(to: Address, data: Vec<u8>, overrides: StateOverrides) -> CallRequest {
        CallRequest {
            from: Address::with_last_byte(0x99),
            to: Some(to),
            gas: Some(1_000_000),
            max_fee_per_gas: None,
            max_priority_fee_per_gas: None,
            value: U256::ZERO,
            data: data.into(),
            nonce: None,
            access_list: vec![],
            overrides,
        }
    }

    fn word(outcome: &CallOutcome) -> U256 {
        assert!(outcome.success, "{outcome:?}");
        U256::from_be_slice(&outcome.output)
    }

    proptest! {
        /// A slot read through the overrides is the stateDiff value, else the `state` value (zero when `state`
        /// replaces the storage and omits the slot), else the stored one; the store itself is never touched.
        #[test]
        fn overridden_slots_read_as_geth_defines(
            stored in proptest::collection::btree_map(0u8..8, any::<u64>(), 0..8),
            state in proptest::option::of(proptest::collection::btree_map(0u8..8, any::<u64>(), 0..8)),
            diff in proptest::collection::btree_map(0u8..8, any::<u64>(), 0..8),
            slot in 0u8..8,
        ) {
            let contract = Address::with_last_byte(0xc0);
            let mut reader = MemReader::default();
            reader.deploy(contract, &SLOAD_ARG);
            for (k, v) in &stored {
                reader.storage.insert((contract, U256::from(*k)), U256::from(*v));
            }
            let to_map = |m: &BTreeMap<u8, u64>| m.iter().map(|(k, v)| (U256::from(*k), U256::from(*v))).collect();
            let o = AccountOverride { state: state.as_ref().map(to_map), state_diff: to_map(&diff), ..Default::default() };
            let overrides = StateOverrides::from([(contract, o)]);
            let data = U256::from(slot).to_be_bytes::<32>().to_vec();
            let got = word(&call(&reader, &block_params(30_000_000), &request(contract, data.clone(), overrides)).unwrap());
            let want = diff.get(&slot).or_else(|| match &state {
                Some(state) => Some(state.get(&slot).unwrap_or(&0)),
                None => stored.get(&slot),
            });
            prop_assert_eq!(got, U256::from(*want.unwrap_or(&0)));
            let plain = word(&call(&reader, &block_params(30_000_000), &request(contract, data, StateOverrides::new())).unwrap());
            prop_assert_eq!(plain, U256::from(*stored.get(&slot).unwrap_or(&0)));
        }
    }

    #[test]
    fn code_and_balance_overrides_apply_to_an_absent_account() {
        let target = Address::with_last_byte(0xaa);
        let o = AccountOverride {
            balance: Some(U256::from(12_345)),
            code: Some(Bytes::from_static(&SELFBALANCE)),
            ..Default::default()
        };
        let req = request(target, vec![], StateOverrides::from([(target, o)]));
        let outcome = call(&MemReader::default(), &block_params(30_000_000), &req).unwrap();
        assert_eq!(word(&outcome), U256::from(12_345));
    }
}
