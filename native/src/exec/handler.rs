//! Sei's revm handler and EVM type: mainnet rules with the beneficiary reward turned into an add-only fee
//! credit, the addresses a transaction reached noted for the address index, Sei's precompiles, and geth's
//! wording for invalid transactions.

use revm::{
    context::{
        result::{EVMError, HaltReason, InvalidTransaction},
        BlockEnv, CfgEnv, Context, ContextTr, Evm, Journal, JournalTr, TxEnv,
    },
    context_interface::{Block, Cfg, Transaction as _},
    database_interface::Database,
    handler::{
        instructions::EthInstructions, EthFrame, EvmTr, FrameResult, FrameTr, Handler, ItemOrResult, MainBuilder,
        MainContext, PrecompileProvider,
    },
    interpreter::{
        interpreter::EthInterpreter,
        interpreter_action::{FrameInit, FrameInput},
        CallScheme,
    },
    primitives::{Address, U256},
    state::EvmState,
};

use crate::precompiles::{HostRegistry, SeiPrecompiles};

/// Collects the fee credit of the transaction being executed (see the module docs).
pub trait FeeSink {
    fn credit_fee(&mut self, amount: U256);
}

impl<T: FeeSink> FeeSink for &mut T {
    fn credit_fee(&mut self, amount: U256) {
        (**self).credit_fee(amount);
    }
}

/// The mainnet handler with two hooks changed: the beneficiary reward becomes an add-only delta, and the frame
/// loop notes the addresses the transaction reaches below its top-level frame (`into_reached`).
pub struct SeiHandler<EVM> {
    /// See `note_frame` and `note_created`.
    reached: Vec<Reached>,
    /// The callers of the creations under way, innermost last: a creation's result comes back in the order they
    /// were asked for, reversed, so its creator is the last one here.
    creating: Vec<Address>,
    _evm: core::marker::PhantomData<EVM>,
}

impl<EVM> Default for SeiHandler<EVM> {
    fn default() -> Self {
        Self { reached: Vec::new(), creating: Vec::new(), _evm: core::marker::PhantomData }
    }
}

/// An address a transaction reached below its top-level frame (`SeiHandler::into_reached`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// An internal call's caller or target, or a creation's caller.
    Address(Address),
    /// A contract an internal creation made and who made it (`ots_getContractCreator`'s creator). Execution
    /// notes every creation that succeeded; `into_run` keeps this form for those whose contract stayed (a revert
    /// above undoes the others, which remain as `Address`).
    Created { address: Address, creator: Address },
}

impl Reached {
    pub fn address(&self) -> &Address {
        match self {
            Self::Address(address) | Self::Created { address, .. } => address,
        }
    }
}

impl<EVM: EvmTr> SeiHandler<EVM> {
    /// The addresses the run's internal calls came from and went to, the callers of its internal creations and
    /// the contracts those created (in execution order, repeats kept): the address index's keys besides the
    /// transaction's own sender, `to` and contract.
    pub(crate) fn into_reached(self) -> Vec<Reached> {
        self.reached
    }

    /// Notes an internal frame as it is asked for, before revm checks it: a call that then fails at once (call
    /// depth over 1024, value over the caller's balance) is in Parity's traces, so it is noted too. The
    /// addresses are the ones those traces name (and so anvil's search): for DELEGATECALL and CALLCODE the
    /// running contract and the code's address, else the caller and the target, and a creation's caller; a
    /// zero-value call to a precompile is left out, as those traces leave it out.
    #[inline]
    fn note_frame(&mut self, input: &FrameInput, precompiles: &EVM::Precompiles) {
        match input {
            FrameInput::Call(inputs) => {
                let (from, to) = match inputs.scheme {
                    CallScheme::DelegateCall | CallScheme::CallCode => (inputs.target_address, inputs.bytecode_address),
                    CallScheme::Call | CallScheme::StaticCall => (inputs.caller, inputs.target_address),
                };
                if !(inputs.call_value().is_zero() && PrecompileProvider::<EVM::Context>::contains(precompiles, &to)) {
                    self.reached.extend([Reached::Address(from), Reached::Address(to)]);
                }
            }
            FrameInput::Create(inputs) => {
                self.reached.push(Reached::Address(inputs.caller()));
                self.creating.push(inputs.caller());
            }
            FrameInput::Empty => {}
        }
    }

    /// Notes the contract a frame created, if it did, with its creator: a creation that succeeded is in Parity's
    /// traces with its address even when a frame above it reverts afterwards, so it is noted here, when it
    /// returns, rather than read from the transaction's state diff (which has only the creations that stayed).
    #[inline]
    fn note_created(&mut self, result: &FrameResult) {
        if let FrameResult::Create(outcome) = result {
            // None: the transaction's own (top-level) creation, whose contract its record names already.
            let creator = self.creating.pop();
            if let Some(address) = outcome.address.filter(|_| outcome.result.is_ok()) {
                self.reached.push(match creator {
                    Some(creator) => Reached::Created { address, creator },
                    None => Reached::Address(address),
                });
            }
        }
    }
}

impl<EVM> Handler for SeiHandler<EVM>
where
    EVM: EvmTr<
        Context: ContextTr<Journal: JournalTr<State = EvmState>, Db: FeeSink>,
        Frame: FrameTr<FrameResult = FrameResult, FrameInit = FrameInit>,
    >,
{
    type Evm = EVM;
    type Error = EVMError<<<EVM::Context as ContextTr>::Db as Database>::Error, InvalidTransaction>;
    type HaltReason = HaltReason;

    fn reward_beneficiary(&self, evm: &mut Self::Evm, exec_result: &mut FrameResult) -> Result<(), Self::Error> {
        let ctx = evm.ctx();
        if ctx.cfg().is_fee_charge_disabled() {
            return Ok(());
        }
        let price = ctx.tx().effective_gas_price(u128::from(ctx.block().basefee()));
        let gas = exec_result.gas();
        let used = gas.used().saturating_sub(gas.reservoir());
        ctx.db_mut().credit_fee(U256::from(price) * U256::from(used));
        Ok(())
    }

    /// revm's frame loop (`Handler::run_exec_loop`, unchanged otherwise) with the address index's two notes:
    /// each internal frame as it is asked for and each frame's result. revm has no other per-frame hook
    /// without an inspector, and running the block's transactions under one would cost every frame far more.
    fn run_exec_loop(&mut self, evm: &mut Self::Evm, first_frame_input: FrameInit) -> Result<FrameResult, Self::Error> {
        if let ItemOrResult::Result(result) = evm.frame_init(first_frame_input)? {
            return Ok(result);
        }
        loop {
            let result = match evm.frame_run()? {
                ItemOrResult::Item(init) => {
                    self.note_frame(&init.frame_input, evm.all().2);
                    match evm.frame_init(init)? {
                        ItemOrResult::Item(_) => continue,
                        ItemOrResult::Result(result) => result,
                    }
                }
                ItemOrResult::Result(result) => result,
            };
            self.note_created(&result);
            if let Some(result) = evm.frame_return_result(result)? {
                return Ok(result);
            }
        }
    }
}

pub(crate) type SeiContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()>;
/// revm with Sei's precompile provider; the inspector slot is the hook for tracing.
pub type SeiEvm<DB, INSP = ()> = Evm<
    SeiContext<DB>,
    INSP,
    EthInstructions<EthInterpreter, SeiContext<DB>>,
    SeiPrecompiles,
    EthFrame<EthInterpreter>,
>;

pub(crate) fn build_evm<DB: Database>(db: DB, block: BlockEnv, cfg: CfgEnv, host: &HostRegistry) -> SeiEvm<DB> {
    build_inspected_evm(db, block, cfg, host, ())
}

/// `build_evm` with an inspector in revm's slot (tracing, `trace.rs`); `()` inspects nothing.
pub(crate) fn build_inspected_evm<DB: Database, INSP>(
    db: DB,
    block: BlockEnv,
    cfg: CfgEnv,
    host: &HostRegistry,
    inspector: INSP,
) -> SeiEvm<DB, INSP> {
    let spec = cfg.spec;
    Context::mainnet()
        .with_db(db)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet_with_inspector(inspector)
        .with_precompiles(SeiPrecompiles::with_host(spec, host.clone()))
}

pub(super) fn halt_name(reason: &HaltReason) -> String {
    format!("{reason:?}")
}

/// Why a transaction cannot be included, in the words geth uses where there is one.
pub(crate) fn skip_reason(err: &InvalidTransaction) -> String {
    match err {
        InvalidTransaction::NonceTooLow { tx, state } => {
            format!("nonce too low: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: balance {balance}, tx cost {fee}")
        }
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: gas {gas_limit}, minimum needed {initial_gas}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => "max fee per gas less than block base fee".into(),
        other => other.to_string(),
    }
}
