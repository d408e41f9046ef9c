//! Sei's revm handler and EVM type: mainnet rules with the beneficiary reward turned into an add-only fee
//! credit, Sei's precompiles, and geth's wording for invalid transactions.

use revm::{
    context::{
        result::{EVMError, HaltReason, InvalidTransaction},
        BlockEnv, CfgEnv, Context, ContextTr, Evm, Journal, JournalTr, TxEnv,
    },
    context_interface::{Block, Cfg, Transaction as _},
    database_interface::Database,
    handler::{
        instructions::EthInstructions, EthFrame, EvmTr, FrameResult, FrameTr, Handler, MainBuilder, MainContext,
    },
    interpreter::{interpreter::EthInterpreter, interpreter_action::FrameInit},
    primitives::U256,
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

/// The mainnet handler with one hook changed: the beneficiary reward becomes an add-only delta.
pub struct SeiHandler<EVM> {
    _evm: core::marker::PhantomData<EVM>,
}

impl<EVM> Default for SeiHandler<EVM> {
    fn default() -> Self {
        Self { _evm: core::marker::PhantomData }
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
