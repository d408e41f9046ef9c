//! Optimistic parallel execution of a block over revm (Block-STM's multi-version memory and dependency
//! suspension, with validation moved to an in-order commit), with an output identical to sequential execution
//! whatever the thread count or timing.
//!
//! Worker threads execute transactions speculatively against the multi-version memory (`mv`) and the committed
//! store; each reduces its journal to a state diff and computes its receipt's bloom. Meanwhile the calling
//! thread commits in block order (`scheduler`): once every lower transaction is committed, a transaction whose
//! recorded reads still see the same versions is final; one whose reads went stale is re-executed there and
//! then against final values. Each committed transaction is folded into the block at once by the same
//! `BlockBuilder` the sequential executor uses (state, receipts, both tries), so the two paths share one
//! assembly and the fold overlaps execution. Fees are add-only credits (`Key::Fee`) and conflict only with a
//! transaction that reads the collector. Host precompiles run only at commit (see
//! `SeiPrecompiles::defer_host_calls`).
//!
//! Dependency prediction (`predict`) makes a transaction predicted to conflict with a lower one wait for it
//! instead of running early and being re-executed, and, in `PredictMode::Adaptive`, sends blocks that cannot
//! gain to sequential execution.
//!
//! Falls back to sequential execution for blocks where parallelism cannot pay or cannot be exact: one thread,
//! tiny blocks, pre-Cancun rules (SELFDESTRUCT could wipe storage), blocks whose gas limits could overflow the
//! block (skips would depend on gas used so far), a SELFDESTRUCT of an existing account, a transaction
//! re-executed more than `MAX_INCARNATIONS` times, and (adaptive) a predicted dependency chain over half the
//! block or a block of mostly plain value transfers.

mod analysis;
mod mv;
mod predict;
mod scheduler;
mod vm;

use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Mutex,
};

use rayon::prelude::*;
use revm::{
    context::{result::EVMError, ContextSetters, TxEnv},
    handler::Handler,
    primitives::{hardfork::SpecId, Address, B256, KECCAK_EMPTY},
    ExecuteEvm,
};

use self::{
    analysis::ContractAccess,
    mv::{Key, MvMemory, Origin, Read, TxIdx, Value},
    predict::{called_addresses, Callee, Learned, Observation, Prediction, TxShape},
    scheduler::{Commit, Scheduler},
    vm::{VmDb, VmError},
};
use crate::{
    db::{StateReader, StoreError},
    exec::{
        api::{
            build_evm, execute_prepared, into_run, prepare, AccountChange, AccountDiff, BlockBuilder, BlockState,
            BloomMemo, ExecStats, Prepared, SeiEvm, SeiHandler, TxDiff, TxRun,
        },
        execute_block, BlockOutput, BlockParams, Location, OrderedTx, TxAccess, TxMeta,
    },
    precompiles::HOST_CALL_DEFERRED,
};

/// Blocks smaller than this run sequentially: spawning and coordinating workers costs more than it saves.
pub const MIN_PARALLEL_TXS: usize = 16;
/// A transaction re-executed this often means the block is a dependency chain; it finishes sequentially.
pub const MAX_INCARNATIONS: u32 = 16;
/// A worker that found nothing to do this many times in a row sleeps `IDLE_BACKOFF` between polls.
const IDLE_SPINS: u32 = 32;
const IDLE_BACKOFF: std::time::Duration = std::time::Duration::from_micros(50);
/// Environment variable naming the test-only worker jitter (`Shared::jitter_us`); unset in production.
const JITTER_ENV: &str = "PYSEI_EXEC_JITTER_US";
/// How often the fold looks for newly final transactions while the workers run.
const FOLD_POLL: std::time::Duration = std::time::Duration::from_micros(100);
/// A block whose longest chain of predicted dependencies holds more than this share of its transactions runs
/// sequentially: even perfectly scheduled, the chain leaves too little to overlap to pay for the coordination.
const MAX_PREDICTED_CHAIN_SHARE: f64 = 0.5;
/// The adaptive rules look at this many leading transactions of a block (in the sample's proportions).
const ADAPTIVE_SAMPLE: usize = 256;
/// A block with more than this share of plain value transfers runs sequentially: a transfer costs about as much
/// as coordinating it (measured on two cores: two workers were no faster than one thread).
const MAX_PLAIN_TRANSFER_SHARE: f64 = 0.8;

/// How dependency prediction is used (it changes the schedule and the fallback, never the result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictMode {
    Off,
    /// Transactions wait for their predicted dependencies.
    Schedule,
    /// As `Schedule`, and a block predicted to be mostly one dependency chain, or mostly plain value transfers,
    /// runs sequentially.
    Adaptive,
}

/// How a block's parallel execution went.
#[derive(Debug, Default, Clone)]
pub struct ParallelStats {
    pub threads: usize,
    /// Executions started, all incarnations included (= transactions when nothing conflicted).
    pub incarnations: usize,
    /// Incarnations found stale at commit (and re-executed there).
    pub validation_aborts: usize,
    /// Times a transaction waited for a lower one instead of running on a value about to change.
    pub dependency_waits: usize,
    /// Transactions predicted to conflict with an earlier one (0 when prediction is off).
    pub predicted_dependencies: usize,
    /// Transactions in the longest chain of predicted dependencies.
    pub longest_predicted_chain: usize,
    /// Times a transaction waited for its predicted dependency before its first execution.
    pub predicted_waits: usize,
    /// Transactions that reached a host precompile speculatively and ran again at commit (see
    /// `SeiPrecompiles::defer_host_calls`).
    pub precompile_frontier_waits: usize,
    /// Plain value transfers found stale only in their recipient's balance and committed as a credit to its
    /// final balance instead of re-executing.
    pub lazy_credits: usize,
    /// Time the worker threads spent executing, summed over threads, plus the committer's.
    pub busy_ns: u64,
    /// Why the block ran sequentially, if it did.
    pub fallback: Option<&'static str>,
}

struct Done {
    run: TxRun,
    read_collector: bool,
    /// It called a host precompile, which only the committer runs: it must execute again at commit.
    deferred: bool,
}

struct Shared<'a> {
    params: &'a BlockParams,
    prepared: &'a [Result<Prepared, String>],
    prediction: Option<Prediction>,
    learned: &'a Learned,
    mv: MvMemory,
    scheduler: Scheduler,
    results: Vec<Mutex<Option<Done>>>,
    incarnations: AtomicUsize,
    validation_aborts: AtomicUsize,
    dependency_waits: AtomicUsize,
    predicted_waits: AtomicUsize,
    precompile_frontier_waits: AtomicUsize,
    lazy_credits: AtomicUsize,
    busy_ns: AtomicU64,
    needs_sequential: Mutex<Option<&'static str>>,
    /// Test knob: workers sleep up to this many microseconds before each execution, to shake out orderings.
    jitter_us: u64,
    /// The thread that folds; workers wake it when they stop.
    fold_thread: std::thread::Thread,
}

impl Shared<'_> {
    fn give_up(&self, reason: &'static str) {
        self.needs_sequential.lock().expect("fallback reason").get_or_insert(reason);
        self.scheduler.halt();
        self.fold_thread.unpark();
    }
}

/// Executes an ordered block on `threads` workers. `open` gives each worker its own view of the committed state
/// (an LMDB read transaction is single-threaded); all views must show the same state.
pub fn execute_block_parallel<R, F>(
    open: &F,
    params: &BlockParams,
    txs: &[OrderedTx<'_>],
    record_access: bool,
    threads: usize,
    predict: PredictMode,
) -> Result<(BlockOutput, ParallelStats), StoreError>
where
    R: StateReader,
    F: Fn() -> Result<R, StoreError> + Sync,
    R: Send,
{
    // `prepared`: the decoded transactions when the decision came after decoding them.
    let sequential =
        |reason: &'static str, mut stats: ParallelStats, prepared: Option<Vec<Result<Prepared, String>>>| {
            let reader = open()?;
            stats.fallback = Some(reason);
            stats.incarnations += txs.len();
            let output = match prepared {
                Some(prepared) => execute_prepared(&reader, params, txs, prepared.into_iter(), record_access)?,
                None => execute_block(&reader, params, txs, record_access)?,
            };
            Ok((output, stats))
        };
    let mut stats = ParallelStats { threads, ..ParallelStats::default() };
    if threads <= 1 {
        return sequential("one thread", stats, None);
    }
    if txs.len() < MIN_PARALLEL_TXS {
        return sequential("small block", stats, None);
    }
    if !params.spec.is_enabled_in(SpecId::CANCUN) {
        return sequential("pre-Cancun rules", stats, None);
    }
    let learned = Learned::current();
    if predict == PredictMode::Adaptive {
        // Decided on a prefix: for a block that runs sequentially anyway, decoding and predicting all of it first
        // cost more than the decision is worth.
        let sample = &txs[..txs.len().min(ADAPTIVE_SAMPLE)];
        let sample_prepared: Vec<Result<Prepared, String>> = sample.iter().map(prepare).collect();
        let prediction = predict_block(&open()?, &learned, sample, &sample_prepared)?;
        let share = |count: usize| count as f64 / sample.len() as f64;
        let reason = if share(prediction.longest_chain) > MAX_PREDICTED_CHAIN_SHARE {
            Some("predicted dependency chain")
        } else if share(prediction.plain_transfers) > MAX_PLAIN_TRANSFER_SHARE {
            Some("mostly plain transfers")
        } else {
            None
        };
        if let Some(reason) = reason {
            stats.predicted_dependencies = prediction.depends_on.iter().flatten().count();
            stats.longest_predicted_chain = prediction.longest_chain;
            return sequential(reason, stats, None);
        }
    }
    let prepared: Vec<Result<Prepared, String>> = txs.par_iter().map(prepare).collect();
    let gas: u64 = prepared.iter().flatten().map(|p| p.env.gas_limit).sum();
    if gas > params.gas_limit {
        return sequential("gas limits exceed the block's", stats, Some(prepared));
    }
    let prediction = if predict != PredictMode::Off {
        let prediction = predict_block(&open()?, &learned, txs, &prepared)?;
        stats.predicted_dependencies = prediction.depends_on.iter().flatten().count();
        stats.longest_predicted_chain = prediction.longest_chain;
        Some(prediction)
    } else {
        None
    };

    let n = txs.len();
    let shared = Shared {
        params,
        prepared: &prepared,
        prediction,
        learned: &learned,
        mv: MvMemory::new(n),
        scheduler: Scheduler::new(n),
        results: (0..n).map(|_| Mutex::default()).collect(),
        incarnations: AtomicUsize::new(0),
        validation_aborts: AtomicUsize::new(0),
        dependency_waits: AtomicUsize::new(0),
        predicted_waits: AtomicUsize::new(0),
        precompile_frontier_waits: AtomicUsize::new(0),
        lazy_credits: AtomicUsize::new(0),
        busy_ns: AtomicU64::new(0),
        needs_sequential: Mutex::new(None),
        jitter_us: std::env::var(JITTER_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(0),
        fold_thread: std::thread::current(),
    };
    let errors: Mutex<Vec<StoreError>> = Mutex::default();
    let observations: Mutex<Vec<Observation>> = Mutex::default();
    let reader = open()?;
    let mut state = BlockState::new(&reader, params.beneficiary);
    let mut builder = BlockBuilder::new(n, record_access);
    // The workers run on the pool; this thread commits and folds behind them.
    let folded = pool(threads).in_place_scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|_| {
                match worker(open, &shared) {
                    Ok(mut observed) => observations.lock().expect("observations").append(&mut observed),
                    Err(e) => {
                        shared.scheduler.halt();
                        errors.lock().expect("worker errors").push(e);
                    }
                }
                shared.fold_thread.unpark();
            });
        }
        let mut observed = Vec::new();
        let folded = fold(&shared, txs, &reader, &mut state, &mut builder, &mut observed);
        shared.scheduler.halt();
        observations.lock().expect("observations").append(&mut observed);
        folded
    });
    if let Some(e) = errors.into_inner().expect("worker errors").into_iter().next() {
        return Err(e);
    }
    let completed = folded?;
    Learned::record(&observations.into_inner().expect("observations"));
    let stats = ParallelStats {
        incarnations: shared.incarnations.load(Ordering::SeqCst),
        validation_aborts: shared.validation_aborts.load(Ordering::SeqCst),
        dependency_waits: shared.dependency_waits.load(Ordering::SeqCst),
        predicted_waits: shared.predicted_waits.load(Ordering::SeqCst),
        precompile_frontier_waits: shared.precompile_frontier_waits.load(Ordering::SeqCst),
        lazy_credits: shared.lazy_credits.load(Ordering::SeqCst),
        busy_ns: shared.busy_ns.load(Ordering::SeqCst),
        ..stats
    };
    if let Some(reason) = *shared.needs_sequential.lock().expect("fallback reason") {
        return sequential(reason, stats, None);
    }
    if !completed {
        return sequential("a transaction could not be committed", stats, None);
    }
    let finish_start = std::time::Instant::now();
    let output = builder.finish(state, ExecStats { txs: n, ..ExecStats::default() }, params)?;
    let busy_ns = stats.busy_ns + finish_start.elapsed().as_nanos() as u64;
    Ok((output, ParallelStats { busy_ns, ..stats }))
}

/// Commits transactions in block order as soon as they are final and folds each into the block, while the workers
/// go on executing the rest. Returns false when the run stopped before every transaction was committed.
/// A transaction found stale at commit is re-executed here, against final values only.
fn fold<'t, R: StateReader>(
    shared: &Shared<'_>,
    txs: &'t [OrderedTx<'_>],
    reader: &R,
    state: &mut BlockState<'_, R>,
    builder: &mut BlockBuilder<'t>,
    observations: &mut Vec<Observation>,
) -> Result<bool, StoreError> {
    let params = shared.params;
    let mut db = VmDb::new(reader, &shared.mv, params.beneficiary);
    let mut evm = build_evm(&mut db, params.block_env(), params.cfg_env(), &params.host);
    let mut memo = BloomMemo::default();
    let started = std::time::Instant::now();
    let mut waited = std::time::Duration::ZERO;
    for (k, tx) in txs.iter().enumerate() {
        // Every lower transaction is committed, so what `k` read can no longer change: once its executed
        // incarnation's reads check out, it is final.
        loop {
            let valid = || {
                let deferred = shared.results[k].lock().expect("result").as_ref().is_some_and(|d| d.deferred);
                !deferred && (shared.mv.validate_read_set(k) || credit_lazily(shared, reader, k))
            };
            // Readers of what the stale incarnation wrote wait for the new one instead of reading it.
            let abort = || shared.mv.convert_writes_to_estimates(k);
            match shared.scheduler.try_commit(k, valid, abort) {
                Commit::Committed => break,
                Commit::Reexecute(inc) => {
                    shared.validation_aborts.fetch_add(1, Ordering::Relaxed);
                    execute(&mut evm, &mut memo, observations, shared, k, inc)?;
                }
                Commit::NotReady if shared.scheduler.done() => return Ok(false),
                Commit::NotReady => {
                    // Polled rather than woken per transaction: a wake-up per transaction cost more in context
                    // switches than the fold itself. Workers wake it when they stop.
                    let parked = std::time::Instant::now();
                    std::thread::park_timeout(FOLD_POLL);
                    waited += parked.elapsed();
                }
            }
        }
        let done = shared.results[k].lock().expect("result").take().expect("a committed transaction was executed");
        let meta = shared.prepared[k].as_ref().map_or_else(|_| TxMeta::default(), |p| p.meta);
        let record = builder.records_access().then(|| TxAccess {
            reads: shared
                .mv
                .take_reads(k)
                .into_iter()
                .filter_map(|(key, _)| match key {
                    Key::Account(a) => Some(Location::Account(a)),
                    Key::Storage(a, s) => Some(Location::Storage(a, s)),
                    Key::Fee(_) => None,
                })
                .collect(),
            writes: Vec::new(),
            read_fee_collector: done.read_collector,
        });
        builder.push(state, tx.raw, meta, done.run, record)?;
    }
    let busy = started.elapsed().saturating_sub(waited);
    shared.busy_ns.fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
    Ok(true)
}

/// Commits a stale plain value transfer without re-executing it when only its recipient's balance went stale.
///
/// A transfer with no calldata to an account without code (not its sender, not the fee collector) does one thing
/// to the recipient: adds `value` to its balance; nothing it computes depends on that balance. So an earlier
/// transaction that changed the recipient (another deposit, say) only changes the recipient's final balance,
/// which the committer recomputes from the final value: pevm's "lazy" updates, applied at commit, so that
/// deposits to one hot account do not re-execute each other. Returns whether `k` is now valid.
fn credit_lazily<R: StateReader>(shared: &Shared<'_>, reader: &R, k: TxIdx) -> bool {
    let Ok(prepared) = &shared.prepared[k] else { return false };
    let env = &prepared.env;
    let Some(&to) = env.kind.to() else { return false };
    if !env.data.is_empty() || env.value.is_zero() || to == env.caller || to == shared.params.beneficiary {
        return false;
    }
    let key = Key::Account(to);
    if shared.mv.stale_reads(k).iter().any(|stale| *stale != key) {
        return false;
    }
    // Every lower transaction is committed: this is the recipient's final value before `k`.
    let (seen, before) = match shared.mv.read(&key, k) {
        Read::Value(version, Value::Account(info)) => (Origin::Version(version), info),
        Read::Absent => match reader.account(to) {
            Ok(info) => (Origin::Store, info),
            Err(_) => return false,
        },
        _ => return false,
    };
    let before = before.unwrap_or_default();
    if before.code_hash != KECCAK_EMPTY {
        return false;
    }
    let mut result = shared.results[k].lock().expect("result");
    let Some(Done { run: TxRun::Executed { diff, .. }, .. }) = result.as_mut() else { return false };
    let Some(AccountDiff { change: AccountChange::Written { info, created: false, code: None, storage }, .. }) =
        diff.0.iter_mut().find(|d| d.address == to)
    else {
        return false;
    };
    let Some(balance) = before.balance.checked_add(env.value) else { return false };
    if !storage.is_empty() || info.code_hash != KECCAK_EMPTY {
        return false;
    }
    info.balance = balance;
    info.nonce = before.nonce;
    shared.mv.rebase(k, key, Value::Account(Some(info.clone())), seen);
    shared.lazy_credits.fetch_add(1, Ordering::Relaxed);
    true
}

/// Predicts the block's dependencies from what it can tell before executing: senders, recipients and the
/// rules learned for the called contracts' code (read from the committed state).
fn predict_block<R: StateReader>(
    reader: &R,
    learned: &Learned,
    txs: &[OrderedTx<'_>],
    prepared: &[Result<Prepared, String>],
) -> Result<Prediction, StoreError> {
    let shapes: Vec<TxShape<'_>> = txs
        .iter()
        .zip(prepared)
        .map(|(tx, prepared)| match prepared {
            Ok(p) => TxShape {
                caller: tx.sender,
                to: p.env.kind.to().copied(),
                carries_value: !p.env.value.is_zero(),
                input: &p.env.data,
            },
            Err(_) => TxShape { caller: tx.sender, to: None, carries_value: false, input: &[] },
        })
        .collect();
    let mut callees: alloy_primitives::map::HashMap<Address, (B256, Option<std::sync::Arc<ContractAccess>>)> =
        Default::default();
    for address in called_addresses(&shapes) {
        if let Some(info) = reader.account(address)?.filter(|info| info.code_hash != KECCAK_EMPTY) {
            let access = analysis::analysed(info.code_hash, || {
                Some(reader.code(info.code_hash).ok()?.original_bytes().to_vec())
            });
            callees.insert(address, (info.code_hash, access));
        }
    }
    Ok(learned.predict(&shapes, |address| {
        callees.get(&address).map(|(code_hash, access)| Callee { code_hash: *code_hash, access: access.as_deref() })
    }))
}

/// A worker pool per thread count, kept across blocks: spawning threads every block paid for fresh stacks.
fn pool(threads: usize) -> std::sync::Arc<rayon::ThreadPool> {
    static POOLS: Mutex<Vec<(usize, std::sync::Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().expect("worker pools");
    if let Some((_, pool)) = pools.iter().find(|(n, _)| *n == threads) {
        return pool.clone();
    }
    let pool = std::sync::Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("pysei-exec-{i}"))
            .build()
            .expect("worker pool"),
    );
    pools.push((threads, pool.clone()));
    pool
}

/// Runs tasks until the block is done; returns what it observed for prediction to learn from.
fn worker<R, F>(open: &F, shared: &Shared<'_>) -> Result<Vec<Observation>, StoreError>
where
    R: StateReader,
    F: Fn() -> Result<R, StoreError> + Sync,
{
    let reader = open()?;
    let params = shared.params;
    let mut db = VmDb::new(&reader, &shared.mv, params.beneficiary);
    let mut evm = build_evm(&mut db, params.block_env(), params.cfg_env(), &params.host);
    evm.precompiles.defer_host_calls();
    let mut memo = BloomMemo::default();
    let mut observations = Vec::new();
    // Idle spells are timed rather than tasks: there are far fewer of them, and reading the clock per task
    // showed up in profiles.
    let started = std::time::Instant::now();
    let mut idle = std::time::Duration::ZERO;
    let mut idle_since: Option<std::time::Instant> = None;
    let mut empty_polls = 0u32;
    while !shared.scheduler.done() {
        match shared.scheduler.next_task() {
            Some((tx, inc)) => {
                if let Some(since) = idle_since.take() {
                    idle += since.elapsed();
                }
                empty_polls = 0;
                execute(&mut evm, &mut memo, &mut observations, shared, tx, inc)?;
            }
            None => {
                idle_since.get_or_insert_with(std::time::Instant::now);
                empty_polls += 1;
                // Spin briefly (a resumed transaction usually comes soon), then stop competing with the
                // committer for the cores.
                if empty_polls < IDLE_SPINS {
                    std::thread::yield_now();
                } else {
                    std::thread::park_timeout(IDLE_BACKOFF);
                }
            }
        }
    }
    let busy = started.elapsed().saturating_sub(idle + idle_since.map_or(std::time::Duration::ZERO, |s| s.elapsed()));
    shared.busy_ns.fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
    Ok(observations)
}

/// Sleeps a pseudo-random time below `max_us`, different per transaction, incarnation and moment.
fn jitter(max_us: u64, tx: TxIdx, inc: u32) {
    let clock = std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.subsec_nanos());
    let mut x = (tx as u64) << 32 ^ u64::from(inc) << 16 ^ u64::from(clock) | 1;
    // xorshift64: enough to spread the delays.
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::thread::sleep(std::time::Duration::from_micros(x % max_us));
}

/// The slots a call wrote to its callee's storage.
fn observe(diff: &TxDiff, to: Address, code_hash: B256, env: &TxEnv) -> Observation {
    let slots = diff
        .0
        .iter()
        .filter(|d| d.address == to)
        .flat_map(|d| match &d.change {
            AccountChange::Written { storage, .. } => storage.iter().map(|(slot, _)| *slot).collect(),
            AccountChange::Cleared { .. } => Vec::new(),
        })
        .collect();
    Observation { code_hash, caller: env.caller, input: env.data.clone(), slots }
}

type WorkerEvm<'a, 'r, R> = SeiEvm<&'a mut VmDb<'r, R>>;

fn execute<R: StateReader>(
    evm: &mut WorkerEvm<'_, '_, R>,
    memo: &mut BloomMemo,
    observations: &mut Vec<Observation>,
    shared: &Shared<'_>,
    tx: TxIdx,
    inc: u32,
) -> Result<(), StoreError> {
    if inc >= MAX_INCARNATIONS {
        shared.give_up("too many re-executions");
        return Ok(());
    }
    if shared.jitter_us > 0 {
        jitter(shared.jitter_us, tx, inc);
    }
    // Before its first run, a transaction predicted to conflict with a lower one waits for it to execute
    // rather than read what it is about to change.
    let predicted = shared.prediction.as_ref().and_then(|p| p.depends_on[tx]);
    if let Some(blocking) = predicted.filter(|_| inc == 0) {
        if shared.scheduler.add_dependency(tx, blocking) {
            shared.predicted_waits.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
    }
    let mut deferred = false;
    let (run, reads, writes, read_collector) = match &shared.prepared[tx] {
        Err(reason) => (TxRun::Skipped(reason.clone()), Vec::new(), Vec::new(), false),
        Ok(prepared) => loop {
            shared.incarnations.fetch_add(1, Ordering::Relaxed);
            evm.ctx.journaled_state.database.reset(tx);
            evm.ctx.set_tx(prepared.env.clone());
            let result = SeiHandler::default().run(evm);
            // Taken whatever the outcome: a blocked or deferred run's calls must not leak into the next run.
            let calls = evm.precompiles.take_calls();
            let journal = evm.finalize();
            let db = &mut *evm.ctx.journaled_state.database;
            match result {
                Err(EVMError::Database(VmError::Blocked(blocking))) => {
                    shared.dependency_waits.fetch_add(1, Ordering::Relaxed);
                    if shared.scheduler.add_dependency(tx, blocking) {
                        return Ok(());
                    }
                    // The blocking transaction finished meanwhile: run again at once.
                }
                Err(EVMError::Custom(reason)) if reason == HOST_CALL_DEFERRED => {
                    // Publishes nothing: whoever read what it would have written is caught at commit.
                    shared.precompile_frontier_waits.fetch_add(1, Ordering::Relaxed);
                    deferred = true;
                    break (TxRun::Skipped(reason), Vec::new(), Vec::new(), false);
                }
                result => {
                    let callee = prepared.env.kind.to().and_then(|to| Some((*to, journal.get(to)?.info.code_hash)));
                    let fee = std::mem::take(&mut db.fee);
                    let mut run = into_run(result, journal, fee, calls).map_err(|e| match e {
                        VmError::Store(e) => e,
                        VmError::Blocked(_) => unreachable!("handled above"),
                    })?;
                    let writes = match &mut run {
                        TxRun::Executed { result, diff, fee, bloom, .. } => {
                            // Receipt work done here runs in parallel instead of in the in-order fold.
                            *bloom = Some(memo.logs_bloom(result.logs()));
                            if let Some((to, code_hash)) = callee.filter(|(_, h)| *h != KECCAK_EMPTY) {
                                if shared.learned.wants(code_hash, &prepared.env.data) {
                                    observations.push(observe(diff, to, code_hash, &prepared.env));
                                }
                            }
                            for change in &diff.0 {
                                if let AccountChange::Written { info, code: Some(code), .. } = &change.change {
                                    shared.mv.add_code(info.code_hash, code);
                                }
                            }
                            match db.write_set(diff, *fee) {
                                Ok(writes) => writes,
                                Err(_) => {
                                    shared.give_up("SELFDESTRUCT of an existing account");
                                    return Ok(());
                                }
                            }
                        }
                        TxRun::Skipped(_) => Vec::new(),
                    };
                    break (run, std::mem::take(&mut db.reads), writes, db.read_collector);
                }
            }
        },
    };
    shared.mv.record(tx, inc, reads, writes);
    *shared.results[tx].lock().expect("result") = Some(Done { run, read_collector, deferred });
    shared.scheduler.finish_execution(tx);
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use revm::primitives::{Address, U256};

    use super::*;
    use crate::{
        decode::decode_and_recover,
        testutil::{block_params, Key as SigningKey, MemReader, CHAIN, COLLECTOR},
    };

    const COUNTER: Address = Address::with_last_byte(0xc1);
    const SETTER: Address = Address::with_last_byte(0xc2);
    const PROBE: Address = Address::with_last_byte(0xc3);

    /// What a random transaction does.
    #[derive(Debug, Clone)]
    enum Op {
        /// Value transfer to one of a few recipients (the collector among them).
        Transfer { to: u8, value: u64 },
        /// `counter += 1` in slot 0 of one contract: every such call conflicts with the previous one.
        Increment,
        /// `slots[key] = value` with a small key space: conflicts when keys collide.
        Set { key: u8, value: u8 },
        /// Stores the collector's balance: depends on every earlier fee.
        Probe,
        /// Deploys a contract (with a nonce that may be stale or in the future).
        Create,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..4, 0u64..1000).prop_map(|(to, value)| Op::Transfer { to, value }),
            Just(Op::Increment),
            (0u8..4, 1u8..255).prop_map(|(key, value)| Op::Set { key, value }),
            Just(Op::Probe),
            Just(Op::Create),
        ]
    }

    fn reader(keys: &[SigningKey]) -> MemReader {
        let mut reader = MemReader::default();
        for key in keys {
            reader.fund(key.address, U256::from(10u128.pow(20)));
        }
        // PUSH0 SLOAD PUSH1 1 ADD PUSH0 SSTORE STOP
        reader.deploy(COUNTER, &[0x5f, 0x54, 0x60, 0x01, 0x01, 0x5f, 0x55, 0x00]);
        // PUSH1 32 CALLDATALOAD PUSH0 CALLDATALOAD SSTORE STOP  (slots[calldata[0..32]] = calldata[32..64])
        reader.deploy(SETTER, &[0x60, 0x20, 0x35, 0x5f, 0x35, 0x55, 0x00]);
        // COINBASE BALANCE PUSH0 SSTORE STOP
        reader.deploy(PROBE, &[0x41, 0x31, 0x5f, 0x55, 0x00]);
        reader
    }

    fn sign(keys: &[SigningKey], nonces: &mut [u64], (sender, op, nonce_skew): &(usize, Op, i8)) -> Vec<u8> {
        let key = &keys[*sender];
        // Mostly the right nonce; sometimes a replay or a gap, which execution must skip identically.
        let nonce = match nonce_skew {
            -1 => nonces[*sender].saturating_sub(1),
            1 => nonces[*sender] + 1,
            _ => nonces[*sender],
        };
        if *nonce_skew == 0 {
            nonces[*sender] += 1;
        }
        match op {
            Op::Transfer { to, value } => {
                // Above the precompiles (0x01..=0x11 under Prague), where a plain transfer would fail.
                let to = if *to == 0 { COLLECTOR } else { Address::with_last_byte(0x70 + to) };
                key.sign(CHAIN, nonce, Some(to), *value, &[], 21_000)
            }
            Op::Increment => key.sign(CHAIN, nonce, Some(COUNTER), 0, &[], 60_000),
            Op::Set { key: slot, value } => {
                let mut data = [0u8; 64];
                data[31] = *slot;
                data[63] = *value;
                key.sign(CHAIN, nonce, Some(SETTER), 0, &data, 60_000)
            }
            Op::Probe => key.sign(CHAIN, nonce, Some(PROBE), 0, &[], 60_000),
            // Init code returning one byte of runtime code: PUSH1 0x00 PUSH0 MSTORE8 PUSH1 1 PUSH0 RETURN
            Op::Create => key.sign(CHAIN, nonce, None, 0, &[0x60, 0x00, 0x5f, 0x53, 0x60, 0x01, 0x5f, 0xf3], 100_000),
        }
    }

    fn params() -> BlockParams {
        block_params(1_000_000_000)
    }

    fn assert_same(a: &BlockOutput, b: &BlockOutput) {
        assert_eq!(a.outcomes, b.outcomes);
        assert_eq!(a.changes, b.changes);
        assert_eq!(a.receipts, b.receipts);
        assert_eq!((a.gas_used, a.fees), (b.gas_used, b.fees));
        assert_eq!(
            (a.transactions_root, a.receipts_root, a.logs_bloom),
            (b.transactions_root, b.receipts_root, b.logs_bloom)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Whatever the mix of conflicts, thread count and scheduling, the parallel block equals the sequential.
        #[test]
        fn parallel_equals_sequential(
            ops in proptest::collection::vec((0usize..6, op(), prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)]), 16..80),
            threads in 2usize..5,
            predict in prop_oneof![Just(PredictMode::Off), Just(PredictMode::Schedule)],
        ) {
            let keys: Vec<SigningKey> = (1..=6).map(SigningKey::new).collect();
            let reader = reader(&keys);
            let mut nonces = vec![0u64; keys.len()];
            let raws: Vec<Vec<u8>> = ops.iter().map(|op| sign(&keys, &mut nonces, op)).collect();
            let senders: Vec<Address> = raws.iter().map(|r| decode_and_recover(r).expect("valid").sender).collect();
            let txs: Vec<OrderedTx<'_>> = raws.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
            let expected = execute_block(&reader, &params(), &txs, true).expect("sequential");
            let (actual, stats) = execute_block_parallel(&|| Ok(&reader), &params(), &txs, true, threads, predict).expect("parallel");
            prop_assert_eq!(stats.fallback, None);
            assert_same(&expected, &actual);
            prop_assert!(stats.incarnations >= txs.len());
        }
    }

    /// Zero-value transfers to the fee collector from one sender: every transaction reads the collector, whose
    /// balance depends on all earlier fees.
    #[test]
    fn transfers_to_the_collector() {
        let key = SigningKey::new(1);
        let reader = reader(std::slice::from_ref(&key));
        let raws: Vec<Vec<u8>> = (0..24).map(|n| key.sign(CHAIN, n, Some(COLLECTOR), 0, &[], 21_000)).collect();
        let txs: Vec<OrderedTx<'_>> = raws.iter().map(|raw| OrderedTx { raw, sender: key.address }).collect();
        let expected = execute_block(&reader, &params(), &txs, true).expect("sequential");
        let (actual, _) =
            execute_block_parallel(&|| Ok(&reader), &params(), &txs, true, 2, PredictMode::Schedule).expect("parallel");
        assert_same(&expected, &actual);
    }

    /// Records who called it, in call order.
    #[derive(Default)]
    struct Journal(Mutex<Vec<Address>>);

    impl crate::precompiles::HostPrecompile for Journal {
        fn call(&self, call: &crate::precompiles::HostCall) -> crate::precompiles::HostOutput {
            self.0.lock().expect("journal").push(call.caller);
            crate::precompiles::HostOutput { output: call.input.clone(), gas_used: 50, reverted: false }
        }
    }

    /// A host precompile runs only at commit: once per calling transaction, in block order, whatever the
    /// speculation did, and the block equals the sequential one.
    #[test]
    fn host_precompiles_run_once_in_block_order() {
        let keys: Vec<SigningKey> = (1..=24).map(SigningKey::new).collect();
        let reader = reader(&keys);
        let host = Address::with_last_byte(0x01).create(0x1001);
        let journal = std::sync::Arc::new(Journal::default());
        let mut params = params();
        params.host.register(host, journal.clone());
        // Every third transaction calls the precompile; the others are transfers.
        let raws: Vec<Vec<u8>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| match i % 3 {
                0 => k.sign(CHAIN, 0, Some(host), 0, &[i as u8], 60_000),
                _ => k.sign(CHAIN, 0, Some(Address::with_last_byte(0x10 + i as u8)), 1, &[], 21_000),
            })
            .collect();
        let senders: Vec<Address> = keys.iter().map(|k| k.address).collect();
        let txs: Vec<OrderedTx<'_>> = raws.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
        let expected = execute_block(&reader, &params, &txs, true).expect("sequential");
        let callers: Vec<Address> = senders.iter().step_by(3).copied().collect();
        assert_eq!(std::mem::take(&mut *journal.0.lock().expect("journal")), callers);
        let (actual, stats) =
            execute_block_parallel(&|| Ok(&reader), &params, &txs, true, 2, PredictMode::Off).expect("parallel");
        assert_eq!(stats.fallback, None);
        assert_eq!(*journal.0.lock().expect("journal"), callers);
        assert_same(&expected, &actual);
        assert!(stats.precompile_frontier_waits <= callers.len());
    }

    /// A block of independent transfers needs no re-execution.
    #[test]
    fn independent_transfers_execute_once() {
        let keys: Vec<SigningKey> = (1..=40).map(SigningKey::new).collect();
        let reader = reader(&keys);
        let raws: Vec<Vec<u8>> =
            keys.iter().map(|k| k.sign(CHAIN, 0, Some(Address::repeat_byte(0x77)), 1, &[], 21_000)).collect();
        let senders: Vec<Address> = keys.iter().map(|k| k.address).collect();
        let txs: Vec<OrderedTx<'_>> = raws.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
        let (out, stats) = execute_block_parallel(&|| Ok(&reader), &params(), &txs, false, 2, PredictMode::Schedule)
            .expect("parallel");
        // Every transfer credits the same recipient, so they do conflict on its balance: all must still be right.
        let expected = execute_block(&reader, &params(), &txs, false).expect("sequential");
        assert_same(&expected, &out);
        assert_eq!(stats.fallback, None);
    }

    /// Deposits to one hot account commit as lazy credits rather than re-executions, and the block is exact.
    #[test]
    fn deposits_to_one_account_commit_lazily() {
        let keys: Vec<SigningKey> = (1..=250u8).map(SigningKey::new).collect();
        let reader = reader(&keys);
        // Not 0x10: low addresses are precompiles (0x10 is BLS12-381 MAP_FP2_TO_G2), where a transfer fails.
        let hot = Address::repeat_byte(0x77);
        let raws: Vec<Vec<u8>> =
            keys.iter().enumerate().map(|(i, k)| k.sign(CHAIN, 0, Some(hot), 1 + i as u64, &[], 21_000)).collect();
        let senders: Vec<Address> = keys.iter().map(|k| k.address).collect();
        let txs: Vec<OrderedTx<'_>> = raws.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
        let expected = execute_block(&reader, &params(), &txs, false).expect("sequential");
        let credited = expected.changes.accounts.iter().find(|(a, _)| *a == hot).and_then(|(_, i)| i.clone());
        assert_eq!(credited.map(|i| i.balance), Some(U256::from((1..=250u64).sum::<u64>())), "every deposit lands");
        // Jitter makes the two workers overlap, so that deposits run before the one below them is committed (on
        // a busy machine one worker may otherwise do them all in order). Other tests running meanwhile only get
        // slower: results never depend on timing.
        std::env::set_var(JITTER_ENV, "50");
        let mut lazy = 0;
        for _ in 0..5 {
            for mode in [PredictMode::Off, PredictMode::Schedule] {
                let (out, stats) =
                    execute_block_parallel(&|| Ok(&reader), &params(), &txs, false, 2, mode).expect("parallel");
                assert_same(&expected, &out);
                assert_eq!(stats.fallback, None);
                lazy += stats.lazy_credits;
            }
        }
        std::env::remove_var(JITTER_ENV);
        // Whether a deposit ran before the one below it committed depends on scheduling, so a single run may have
        // none; across ten jittered runs of 250 deposits on two workers some do.
        assert!(lazy > 0);
    }
}
