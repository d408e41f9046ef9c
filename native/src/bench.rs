//! The benchmark ceiling: the same block through plain revm (mainnet handler, `transact_commit`) over revm's
//! in-memory `CacheDB`, with no store, no deferred fees and no access recording. `pysei bench exec` reports the
//! kernel's speed as a ratio of this. It has Sei's precompiles, so a block calling the module precompiles does
//! the same work (and uses the same gas) in both.
//!
//! Also the inspector check: the replay that tracing runs (`trace::replay`), with and without revm's inspector
//! path, so the bench shows in one run what the inspector plumbing costs when nothing is traced.

use std::time::Instant;

use revm::{
    context::{Context, ContextSetters},
    database::{CacheDB, EmptyDB},
    handler::{MainBuilder, MainContext},
    state::AccountInfo,
    ExecuteCommitEvm,
};

use crate::{
    db::{StateChanges, StateReader},
    decode::{decode_envelope, tx_env},
    exec::{BlockParams, OrderedTx},
    precompiles::SeiPrecompiles,
    trace::{replay, TraceError},
};

/// Runs `txs` on plain revm over an in-memory database seeded with `genesis`; returns (gas used, seconds of
/// the transaction loop, decoding included as in the kernel).
pub fn run_in_memory(genesis: &StateChanges, params: &BlockParams, txs: &[OrderedTx<'_>]) -> (u64, f64) {
    let mut db = CacheDB::new(EmptyDB::default());
    for (hash, code) in &genesis.codes {
        db.cache.contracts.insert(*hash, code.clone());
    }
    for (address, info) in &genesis.accounts {
        if let Some(info) = info {
            let mut info: AccountInfo = info.clone();
            if let Some((_, code)) = genesis.codes.iter().find(|(h, _)| *h == info.code_hash) {
                info.code = Some(code.clone());
            }
            db.insert_account_info(*address, info);
        }
    }
    for (address, slot, value) in &genesis.storage {
        db.insert_account_storage(*address, *slot, *value).expect("in-memory db");
    }
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_block(params.block_env())
        .with_cfg(params.cfg_env())
        .build_mainnet()
        .with_precompiles(SeiPrecompiles::with_host(params.spec, params.host.clone()));
    let start = Instant::now();
    let mut gas = 0;
    for tx in txs {
        let Ok(envelope) = decode_envelope(tx.raw) else {
            continue;
        };
        evm.ctx.set_tx(tx_env(&envelope, tx.sender));
        if let Ok(result) = evm.replay_commit() {
            gas += result.gas().tx_gas_used();
        }
    }
    (gas, start.elapsed().as_secs_f64())
}

/// The inspector check: `txs` replayed on `reader` through revm's plain path (`inspect` false, what block
/// execution runs) or its inspector path with a no-op inspector; returns (gas used, seconds).
pub fn run_replay<R: StateReader>(
    reader: &R,
    params: &BlockParams,
    txs: &[OrderedTx<'_>],
    inspect: bool,
) -> Result<(u64, f64), TraceError> {
    let start = Instant::now();
    let gas = replay(reader, params, txs, inspect)?;
    Ok((gas, start.elapsed().as_secs_f64()))
}
