//! The benchmark ceiling: the same block through plain revm (mainnet handler, `transact_commit`) over revm's
//! in-memory `CacheDB`, with no store, no deferred fees and no access recording. `pysei bench exec` reports the
//! kernel's speed as a ratio of this. It has Sei's precompiles, so a block calling the module precompiles does
//! the same work (and uses the same gas) in both.
//!
//! The ceiling for N threads splits the block by sender into N shards, each run by its own thread on its own
//! copy of the database, with no coordination at all: no parallel executor can beat it, so it shows what N
//! threads can give on the machine at hand (cores that share execution units, or memory bandwidth, give less
//! than N×). Shards do not see each other's writes, so its gas may differ slightly from the block's.
//!
//! The sender-recovery limit: decoding and libsecp256k1 recovery alone, on N threads, the most any ingest path
//! could admit.
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

/// Runs `txs` on plain revm over an in-memory database seeded with `genesis`, split by sender over `threads`
/// threads (each on its own copy); returns (gas used, seconds of the transaction loops, decoding included as
/// in the kernel). Copying the database is not timed.
pub fn run_in_memory(
    genesis: &StateChanges,
    params: &BlockParams,
    txs: &[OrderedTx<'_>],
    threads: usize,
) -> (u64, f64) {
    let db = seeded(genesis);
    let shards = shard_by_sender(txs, threads.max(1));
    if shards.len() <= 1 {
        let start = Instant::now();
        let gas = run_shard(db, params, txs.iter());
        return (gas, start.elapsed().as_secs_f64());
    }
    let dbs: Vec<_> = shards.iter().map(|_| db.clone()).collect();
    let start = Instant::now();
    let gas = std::thread::scope(|scope| {
        let running: Vec<_> = shards
            .iter()
            .zip(dbs)
            .map(|(shard, db)| scope.spawn(move || run_shard(db, params, shard.iter().map(|&i| &txs[i]))))
            .collect();
        running.into_iter().map(|t| t.join().expect("a ceiling shard panicked")).sum()
    });
    (gas, start.elapsed().as_secs_f64())
}

/// revm's in-memory database holding `genesis`.
fn seeded(genesis: &StateChanges) -> CacheDB<EmptyDB> {
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
    db
}

/// Indices of `txs` in `shards` groups, each sender's transactions in one group in block order (so nonces
/// stay in sequence); senders are dealt round-robin in order of first appearance. Empty groups are dropped.
fn shard_by_sender(txs: &[OrderedTx<'_>], shards: usize) -> Vec<Vec<usize>> {
    let mut groups = vec![Vec::new(); shards];
    let mut shard_of = std::collections::HashMap::new();
    for (i, tx) in txs.iter().enumerate() {
        let next = shard_of.len() % shards;
        groups[*shard_of.entry(tx.sender).or_insert(next)].push(i);
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// `txs` through plain revm over `db`, committing each; the gas they used.
fn run_shard<'a, 'r: 'a>(
    db: CacheDB<EmptyDB>,
    params: &BlockParams,
    txs: impl Iterator<Item = &'a OrderedTx<'r>>,
) -> u64 {
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_block(params.block_env())
        .with_cfg(params.cfg_env())
        .build_mainnet()
        .with_precompiles(SeiPrecompiles::with_host(params.spec, params.host.clone()));
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
    gas
}

/// Decodes and sender-recovers `raws` on a pool of `threads` threads, nothing else; returns seconds (building
/// the pool is not timed). Refused transactions count like the others: the bench feeds valid ones.
pub fn recover_all(raws: &[&[u8]], threads: usize) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().expect("a thread pool");
    let start = Instant::now();
    let decoded = pool.install(|| crate::decode::decode_batch(raws));
    let seconds = start.elapsed().as_secs_f64();
    drop(decoded);
    seconds
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use revm::primitives::Address;

    use super::shard_by_sender;
    use crate::exec::OrderedTx;

    proptest! {
        /// Every transaction lands in exactly one shard, a sender's all in the same one and in block order, and
        /// no shard is empty.
        #[test]
        fn shards_keep_each_sender_whole_and_in_order(senders in prop::collection::vec(0u8..12, 0..200), n in 1usize..5) {
            let txs: Vec<OrderedTx<'_>> =
                senders.iter().map(|&s| OrderedTx { raw: &[], sender: Address::with_last_byte(s) }).collect();
            let shards = shard_by_sender(&txs, n);
            prop_assert!(shards.len() <= n && shards.iter().all(|s| !s.is_empty()));
            let mut seen: Vec<usize> = shards.iter().flatten().copied().collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..txs.len()).collect::<Vec<_>>());
            for shard in &shards {
                prop_assert!(shard.windows(2).all(|w| w[0] < w[1]));
                for other in shards.iter().filter(|o| !std::ptr::eq(*o, shard)) {
                    prop_assert!(shard.iter().all(|&i| other.iter().all(|&j| txs[i].sender != txs[j].sender)));
                }
            }
        }
    }
}
