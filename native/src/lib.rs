//! pysei's native kernel: transaction decoding and sender recovery, revm block execution, and the LMDB flat
//! state store. Python sees only the `_native` module defined in `py.rs`; every other module is private.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod call;
mod commitment;
mod db;
mod decode;
mod exec;
mod history;
mod hot;
mod modules;
mod parallel;
mod precompiles;
mod py;
mod receipts;
mod records;
#[cfg(test)]
mod testutil;
mod trace;

pub use call::{call, create_access_list, estimate_gas, CallError, CallOutcome, CallRequest};
pub use db::{StateChanges, StateReader, Store, StoreError, TableWrite};
pub use decode::{decode_and_recover, decode_batch, decode_envelope, DecodeError, DecodedTx};
pub use exec::{execute_block, BlockOutput, BlockParams, Location, OrderedTx, TxAccess, TxOutcome};
pub use parallel::{execute_block_parallel, ParallelStats, PredictMode};
pub use precompiles::{HostCall, HostOutput, HostPrecompile, HostRegistry};
