//! Sei's precompile provider: Ethereum's precompiles plus host-defined ones at chosen addresses.
//!
//! The host registry is the seam where the token/staking/governance modules register Sei's precompiles
//! (0x…1001 Bank, 0x…1005 Staking, …). A host precompile sees the call's inputs and returns output, gas and
//! whether it reverted; it must be deterministic, because execution may repeat it.

use std::sync::Arc;

use revm::{
    context::{Cfg, ContextTr},
    handler::{EthPrecompiles, PrecompileProvider},
    interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult},
    primitives::{hardfork::SpecId, Address, AddressSet, Bytes, U256},
};

/// The inputs of a call into a host precompile.
#[derive(Debug, Clone)]
pub struct HostCall {
    pub caller: Address,
    pub value: U256,
    pub input: Bytes,
    pub gas_limit: u64,
    pub is_static: bool,
}

/// What a host precompile answers.
#[derive(Debug, Clone)]
pub struct HostOutput {
    pub output: Bytes,
    pub gas_used: u64,
    pub reverted: bool,
}

/// A precompile implemented by the node (Rust, or Python behind an adapter).
pub trait HostPrecompile: Send + Sync {
    fn call(&self, call: &HostCall) -> HostOutput;
}

/// Host precompiles by address (cheap to clone: the precompiles are shared).
#[derive(Clone, Default)]
pub struct HostRegistry {
    entries: Vec<(Address, Arc<dyn HostPrecompile>)>,
}

impl std::fmt::Debug for HostRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|(a, _)| a)).finish()
    }
}

impl HostRegistry {
    pub fn register(&mut self, address: Address, precompile: Arc<dyn HostPrecompile>) {
        self.entries.retain(|(a, _)| *a != address);
        self.entries.push((address, precompile));
    }

    fn get(&self, address: &Address) -> Option<&Arc<dyn HostPrecompile>> {
        self.entries.iter().find(|(a, _)| a == address).map(|(_, p)| p)
    }
}

/// The error a call into a host precompile fails with while such calls are deferred.
pub(crate) const HOST_CALL_DEFERRED: &str = "host precompile call deferred to commit";

/// Ethereum's precompiles for the active spec, then the host registry.
pub struct SeiPrecompiles {
    eth: EthPrecompiles,
    host: HostRegistry,
    warm: AddressSet,
    defer_host_calls: bool,
}

impl SeiPrecompiles {
    pub fn with_host(spec: SpecId, host: HostRegistry) -> Self {
        let eth = EthPrecompiles::new(spec);
        let warm = Self::warm_set(&eth, &host);
        Self { eth, host, warm, defer_host_calls: false }
    }

    /// Makes a call into a host precompile stop the transaction with `HOST_CALL_DEFERRED` instead of running.
    /// Speculative executions must not run them: a host precompile may act outside the EVM state or read
    /// state the multi-version memory does not track, and a speculative run may be discarded or repeated. The
    /// parallel executor runs such a transaction again when it commits it, where every lower transaction is
    /// final, so host precompiles run once, in block order, as in sequential execution.
    pub(crate) fn defer_host_calls(&mut self) {
        self.defer_host_calls = true;
    }

    /// Whether `address` is one of this block's precompiles (Ethereum's for the spec, or a host one).
    pub fn is_precompile(&self, address: &Address) -> bool {
        self.warm.contains(address)
    }

    fn warm_set(eth: &EthPrecompiles, host: &HostRegistry) -> AddressSet {
        let mut warm = eth.warm_addresses().clone();
        warm.extend(crate::modules::MODULES);
        warm.extend(host.entries.iter().map(|(a, _)| *a));
        warm
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for SeiPrecompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        if changed {
            self.warm = Self::warm_set(&self.eth, &self.host);
        }
        changed
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<InterpreterResult>, String> {
        // Module precompiles go through the journal only, so they run speculatively like any contract code.
        if let Some(result) = crate::modules::run(context, inputs) {
            return Ok(Some(result));
        }
        if let Some(precompile) = self.host.get(&inputs.bytecode_address) {
            if self.defer_host_calls {
                return Err(HOST_CALL_DEFERRED.to_string());
            }
            let call = HostCall {
                caller: inputs.caller,
                value: inputs.call_value(),
                input: inputs.input.bytes(context),
                gas_limit: inputs.gas_limit,
                is_static: inputs.is_static,
            };
            let out = precompile.call(&call);
            let mut gas = Gas::new(inputs.gas_limit);
            let result = if !gas.record_regular_cost(out.gas_used) {
                gas.spend_all();
                InstructionResult::PrecompileOOG
            } else if out.reverted {
                InstructionResult::Revert
            } else {
                InstructionResult::Return
            };
            let output = if result == InstructionResult::PrecompileOOG { Bytes::new() } else { out.output };
            return Ok(Some(InterpreterResult::new(result, output, gas)));
        }
        self.eth.run(context, inputs)
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }

    fn contains(&self, address: &Address) -> bool {
        self.warm.contains(address)
    }
}
