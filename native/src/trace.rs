//! Transaction tracing with revm-inspectors: geth's `debug_trace*` tracers (struct logs, callTracer, prestateTracer,
//! 4byteTracer, flatCallTracer, muxTracer) and Parity's `trace_*`.
//!
//! A committed block is traced by replaying it: its transactions run in order on the state after the parent block
//! (the history index serves it), through the same handler and precompiles as block execution, each one's state
//! committed into an in-memory overlay before the next. Only the transactions asked for run with an inspector, so
//! block execution itself carries no tracing cost. Recorded bytes are bounded (`TraceLimits`): a trace that would
//! exceed the budget stops with an error instead of growing without bound.

use alloy_primitives::map::HashSet;
use alloy_rpc_types_eth::TransactionInfo;
use alloy_rpc_types_trace::{
    geth::{GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions},
    parity::TraceType,
};
use revm::{
    bytecode::Bytecode,
    context::{
        result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction, ResultAndState},
        BlockEnv, CfgEnv, ContextSetters, ContextTr, JournalTr, TxEnv,
    },
    database::CacheDB,
    handler::{EthFrame, EvmTr, Handler},
    inspector::{InspectorEvmTr, InspectorHandler, NoOpInspector},
    interpreter::interpreter::EthInterpreter,
    primitives::{Address, B256, U256},
    state::{AccountInfo, EvmState},
    Database, DatabaseCommit, DatabaseRef, ExecuteEvm, Inspector,
};
use revm_inspectors::tracing::{
    DebugInspector, TraceLimitBehavior, TraceLimits, TracingInspector, TracingInspectorConfig, TransactionContext,
};

use crate::{
    call::{call_env, gas_cap, CallError, CallRequest, Overlay},
    db::{StateReader, StoreError},
    exec::{
        api::{build_evm, build_inspected_evm, prepare, skip_reason, FeeSink, SeiHandler},
        BlockParams, OrderedTx,
    },
};

/// What to record, and how to render it.
pub enum Tracer {
    /// A geth tracer, with geth's options (`{"tracer": "callTracer", "tracerConfig": {...}}`, or struct logs).
    Geth(GethDebugTracingOptions),
    /// Parity's flat call traces of `trace_transaction` / `trace_block`.
    ParityCalls,
    /// Parity's `trace_replayTransaction` with the requested trace types (`trace`, `vmTrace`, `stateDiff`).
    ParityReplay(HashSet<TraceType>),
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid tracer options: {0}")]
    Options(String),
    #[error(
        "trace exceeds the limit of {0} recorded bytes: trace less (disableStack, no enableMemory, a call tracer) \
         or a single transaction"
    )]
    TooLarge(usize),
    #[error("transaction {0} cannot be replayed: {1}")]
    Replay(usize, String),
}

/// The committed state as revm's read-only database.
struct ReaderDb<'r, R>(&'r R);

impl<R: StateReader> DatabaseRef for ReaderDb<'_, R> {
    type Error = StoreError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        self.0.account(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        self.0.code(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StoreError> {
        self.0.storage(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StoreError> {
        self.0.block_hash(number)
    }
}

/// The replay's state: the committed state with the replayed transactions' writes on top, and the fee credit of
/// the running transaction, added to the collector after its state is committed (as the block does).
struct ReplayDb<'r, R> {
    cache: CacheDB<ReaderDb<'r, R>>,
    pending_fee: U256,
    collector: Address,
}

impl<R: StateReader> Database for ReplayDb<'_, R> {
    type Error = StoreError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        self.cache.basic(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, StoreError> {
        self.cache.code_by_hash(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, StoreError> {
        self.cache.storage(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StoreError> {
        self.cache.block_hash(number)
    }
}

impl<R: StateReader> DatabaseRef for ReplayDb<'_, R> {
    type Error = StoreError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        self.cache.basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        self.cache.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StoreError> {
        self.cache.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StoreError> {
        self.cache.block_hash_ref(number)
    }
}

impl<R> FeeSink for ReplayDb<'_, R> {
    fn credit_fee(&mut self, amount: U256) {
        self.pending_fee += amount;
    }
}

impl<R: StateReader> ReplayDb<'_, R> {
    fn commit(&mut self, state: EvmState) -> Result<(), StoreError> {
        self.cache.commit(state);
        let fee = std::mem::take(&mut self.pending_fee);
        if !fee.is_zero() {
            let mut info = self.cache.basic(self.collector)?.unwrap_or_default();
            info.balance = info.balance.saturating_add(fee);
            self.cache.insert_account_info(self.collector, info);
        }
        Ok(())
    }
}

impl<EVM> InspectorHandler for SeiHandler<EVM>
where
    EVM: InspectorEvmTr<
        Context: ContextTr<Journal: JournalTr<State = EvmState>, Db: FeeSink>,
        Frame = EthFrame<EthInterpreter>,
        Inspector: Inspector<<EVM as EvmTr>::Context, EthInterpreter>,
    >,
{
    type IT = EthInterpreter;
}

/// One transaction of the replay: what it runs and where it sits in its block.
pub struct Traced<'a> {
    pub tx: OrderedTx<'a>,
    pub hash: B256,
}

/// A transaction's recorder: one of revm-inspectors' inspectors, with the byte budget applied.
enum Recorder {
    Debug(Box<DebugInspector>),
    Parity(Box<TracingInspector>),
}

fn limited(inspector: TracingInspector, max_bytes: usize) -> TracingInspector {
    inspector.with_limits(
        TraceLimits::default().set_max_recorded_bytes(Some(max_bytes)).set_behavior(TraceLimitBehavior::Halt),
    )
}

impl Recorder {
    fn new(tracer: &Tracer, max_bytes: usize) -> Result<Self, TraceError> {
        Ok(match tracer {
            Tracer::Geth(options) => {
                let mut inspector =
                    DebugInspector::new(options.clone()).map_err(|e| TraceError::Options(e.to_string()))?;
                // muxTracer's recorder is private to revm-inspectors: `trace_mux` runs its tracers one by one.
                if let DebugInspector::Default(inner, _)
                | DebugInspector::CallTracer(inner, _)
                | DebugInspector::PreStateTracer(inner, _)
                | DebugInspector::FlatCallTracer(inner)
                | DebugInspector::Erc7562Tracer(inner, _) = &mut inspector
                {
                    let taken = std::mem::replace(inner, TracingInspector::new(TracingInspectorConfig::none()));
                    *inner = limited(taken, max_bytes);
                }
                Self::Debug(Box::new(inspector))
            }
            Tracer::ParityCalls => Self::Parity(Box::new(limited(
                TracingInspector::new(TracingInspectorConfig::default_parity()),
                max_bytes,
            ))),
            Tracer::ParityReplay(types) => Self::Parity(Box::new(limited(
                TracingInspector::new(TracingInspectorConfig::from_parity_config(types)),
                max_bytes,
            ))),
        })
    }

    fn exceeded(&self) -> bool {
        match self {
            Self::Debug(inspector) => matches!(
                &**inspector,
                DebugInspector::Default(i, _)
                    | DebugInspector::CallTracer(i, _)
                    | DebugInspector::PreStateTracer(i, _)
                    | DebugInspector::FlatCallTracer(i)
                    | DebugInspector::Erc7562Tracer(i, _) if i.limit_exceeded()
            ),
            Self::Parity(inspector) => inspector.limit_exceeded(),
        }
    }
}

type RunResult = Result<ExecutionResult<HaltReason>, EVMError<StoreError, InvalidTransaction>>;

fn run_plain<R: StateReader>(
    db: &mut ReplayDb<'_, R>,
    block: &BlockEnv,
    cfg: &CfgEnv,
    params: &BlockParams,
    env: TxEnv,
) -> (RunResult, EvmState) {
    let mut evm = build_evm(db, block.clone(), cfg.clone(), &params.host);
    evm.ctx.set_tx(env);
    let result = SeiHandler::default().run(&mut evm);
    (result, evm.finalize())
}

fn run_inspected<'d, 'r, R, I>(
    db: &'d mut ReplayDb<'r, R>,
    block: &BlockEnv,
    cfg: &CfgEnv,
    params: &BlockParams,
    env: TxEnv,
    inspector: I,
) -> (RunResult, EvmState)
where
    R: StateReader,
    I: Inspector<crate::exec::api::SeiContext<&'d mut ReplayDb<'r, R>>, EthInterpreter>,
{
    let mut evm = build_inspected_evm(db, block.clone(), cfg.clone(), &params.host, inspector);
    evm.ctx.set_tx(env);
    let result = SeiHandler::default().inspect_run(&mut evm);
    (result, evm.finalize())
}

/// Runs one transaction with the tracer's recorder and renders its trace; its state is returned uncommitted.
#[allow(clippy::too_many_arguments)]
fn trace_one<R: StateReader>(
    db: &mut ReplayDb<'_, R>,
    block: &BlockEnv,
    cfg: &CfgEnv,
    params: &BlockParams,
    env: TxEnv,
    tracer: &Tracer,
    max_bytes: usize,
    context: TransactionContext,
) -> Result<(String, EvmState), TraceError> {
    if let Tracer::Geth(options) = tracer {
        if options.tracer == Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::MuxTracer)) {
            if let Some(traced) = trace_mux(db, block, cfg, params, env.clone(), options, max_bytes, context)? {
                return Ok(traced);
            }
        }
    }
    let index = context.tx_index.unwrap_or_default();
    let mut recorder = Recorder::new(tracer, max_bytes)?;
    let (result, state) = match &mut recorder {
        Recorder::Debug(inspector) => run_inspected(db, block, cfg, params, env.clone(), &mut **inspector),
        Recorder::Parity(inspector) => run_inspected(db, block, cfg, params, env.clone(), &mut **inspector),
    };
    if recorder.exceeded() {
        return Err(TraceError::TooLarge(max_bytes));
    }
    let result = result.map_err(|e| replay_error(index, e))?;
    let res = ResultAndState { result, state };
    let json = match recorder {
        Recorder::Debug(mut inspector) => {
            let trace = inspector
                .get_result(Some(context), &env, block, &res, db)
                .map_err(|e| TraceError::Options(e.to_string()))?;
            serde_json::to_string(&trace)
        }
        Recorder::Parity(inspector) => match tracer {
            Tracer::ParityReplay(types) => {
                let replay = inspector.into_parity_builder().into_trace_results_with_state(&res, types, &*db)?;
                serde_json::to_string(&replay)
            }
            _ => {
                let info = TransactionInfo {
                    hash: context.tx_hash,
                    index: context.tx_index.map(|i| i as u64),
                    block_hash: context.block_hash,
                    block_number: Some(params.number),
                    block_timestamp: Some(params.timestamp),
                    base_fee: Some(params.base_fee),
                };
                serde_json::to_string(&inspector.into_parity_builder().into_localized_transaction_traces(info))
            }
        },
    }
    .map_err(|e| TraceError::Options(e.to_string()))?;
    Ok((json, res.state))
}

/// muxTracer with the byte budget: revm-inspectors' `MuxInspector` keeps its recorder private, so no limit can be
/// set on it. Each of the mux's tracers runs the transaction instead, on its own limited recorder, from the same
/// state (nothing is committed in between), and the answers are joined into geth's mux frame
/// (`{"callTracer": …, "4byteTracer": …}`, what `MuxInspector` gives). It costs one run per tracer. `None` for an
/// empty mux, which records nothing.
#[allow(clippy::too_many_arguments)]
fn trace_mux<R: StateReader>(
    db: &mut ReplayDb<'_, R>,
    block: &BlockEnv,
    cfg: &CfgEnv,
    params: &BlockParams,
    env: TxEnv,
    options: &GethDebugTracingOptions,
    max_bytes: usize,
    context: TransactionContext,
) -> Result<Option<(String, EvmState)>, TraceError> {
    let invalid = |e: &dyn std::fmt::Display| TraceError::Options(e.to_string());
    // revm-inspectors checks the mux's configuration (no nested mux, known tracers, their options).
    DebugInspector::new(options.clone()).map_err(|e| invalid(&e))?;
    let mux = options.tracer_config.clone().into_mux_config().map_err(|e| invalid(&e))?;
    let mut tracers = mux
        .0
        .into_iter()
        .map(|(kind, config)| Ok((serde_json::to_string(&kind).map_err(|e| invalid(&e))?, kind, config)))
        .collect::<Result<Vec<_>, TraceError>>()?;
    tracers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut frame = String::from("{");
    let mut state = None;
    for (name, kind, config) in tracers {
        let single = Tracer::Geth(GethDebugTracingOptions {
            config: options.config,
            tracer: Some(kind),
            tracer_config: config.unwrap_or_default(),
            timeout: None,
        });
        // Every run credits the transaction's fee again: only one credit may reach the commit.
        db.pending_fee = U256::ZERO;
        let (json, run_state) = trace_one(db, block, cfg, params, env.clone(), &single, max_bytes, context)?;
        if state.is_some() {
            frame.push(',');
        }
        frame.push_str(&name);
        frame.push(':');
        frame.push_str(&json);
        state = Some(run_state);
    }
    frame.push('}');
    Ok(state.map(|state| (frame, state)))
}

fn replay_db<'r, R: StateReader>(reader: &'r R, params: &BlockParams) -> ReplayDb<'r, R> {
    ReplayDb { cache: CacheDB::new(ReaderDb(reader)), pending_fee: U256::ZERO, collector: params.beneficiary }
}

/// Replays `txs` (a block's transactions, in order) on `reader` (the state after the parent block) and returns
/// the JSON trace of each transaction whose index is at least `first` (`debug_traceTransaction` passes the
/// target's index and only the transactions up to it).
pub fn trace_block<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    block_hash: B256,
    txs: &[Traced<'_>],
    first: usize,
    tracer: &Tracer,
    max_bytes: usize,
) -> Result<Vec<String>, TraceError> {
    let mut db = replay_db(reader, params);
    let block = params.block_env();
    let cfg = params.cfg_env();
    let mut out = Vec::with_capacity(txs.len().saturating_sub(first));
    for (index, traced) in txs.iter().enumerate() {
        let env = prepare(&traced.tx).map_err(|e| TraceError::Replay(index, e))?.env;
        if index < first {
            let (result, state) = run_plain(&mut db, &block, &cfg, params, env);
            result.map_err(|e| replay_error(index, e))?;
            db.commit(state)?;
            continue;
        }
        let context =
            TransactionContext { block_hash: Some(block_hash), tx_index: Some(index), tx_hash: Some(traced.hash) };
        let (json, state) = trace_one(&mut db, &block, &cfg, params, env, tracer, max_bytes, context)?;
        out.push(json);
        db.commit(state)?;
    }
    Ok(out)
}

/// Runs `txs` on `reader` as the replay runs the transactions before a traced one (each committed before the
/// next), through revm's plain path (`inspect` false: block execution's EVM, with the empty `()` inspector) or
/// through its inspector path with revm's `NoOpInspector`; returns the gas used. `pysei bench exec` times both to
/// show what the inspector plumbing would cost untraced execution.
pub fn replay<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    txs: &[OrderedTx<'_>],
    inspect: bool,
) -> Result<u64, TraceError> {
    let mut db = replay_db(reader, params);
    let block = params.block_env();
    let cfg = params.cfg_env();
    let mut gas = 0;
    for (index, tx) in txs.iter().enumerate() {
        let env = prepare(tx).map_err(|e| TraceError::Replay(index, e))?.env;
        let (result, state) = if inspect {
            run_inspected(&mut db, &block, &cfg, params, env, NoOpInspector)
        } else {
            run_plain(&mut db, &block, &cfg, params, env)
        };
        gas += result.map_err(|e| replay_error(index, e))?.gas().tx_gas_used();
        db.commit(state)?;
    }
    Ok(gas)
}

/// `debug_traceCall`: the call as eth_call runs it (geth's relaxations) on `reader`, traced.
pub fn trace_call<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    req: &CallRequest,
    tracer: &Tracer,
    max_bytes: usize,
) -> Result<String, TraceError> {
    let reader = &Overlay::new(reader, &req.overrides);
    let gas = gas_cap(reader, params, req).map_err(|e| match e {
        CallError::Store(e) => TraceError::Store(e),
        CallError::Invalid(msg) => TraceError::Replay(0, msg),
    })?;
    let (cfg, env) = call_env(params, req, gas);
    let mut db = replay_db(reader, params);
    let block = params.block_env();
    Ok(trace_one(&mut db, &block, &cfg, params, env, tracer, max_bytes, TransactionContext::default())?.0)
}

fn replay_error(index: usize, e: EVMError<StoreError, InvalidTransaction>) -> TraceError {
    match e {
        EVMError::Database(e) => TraceError::Store(e),
        EVMError::Transaction(e) => TraceError::Replay(index, skip_reason(&e)),
        other => TraceError::Replay(index, other.to_string()),
    }
}
