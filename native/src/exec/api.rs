//! The executor's interface to the rest of the kernel: what the parallel executor builds on (the handler, the
//! overlay, diffs and block assembly) and what the simulator (`call`) runs through. Everything else in `exec`
//! is private to it.

pub(crate) use super::{
    builder::{BlockBuilder, BloomMemo},
    diff::{into_run, AccountChange, AccountDiff, TxDiff, TxRun},
    execute_prepared,
    handler::{build_evm, build_inspected_evm, skip_reason, FeeSink, SeiContext, SeiEvm, SeiHandler},
    overlay::BlockState,
    prepare, ExecStats, Prepared,
};
