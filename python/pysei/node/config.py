"""Node configuration with devnet defaults chosen so that anvil/Hardhat set-ups work unchanged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID, WEI_PER_SEI
from pysei.chain.fees import FeeParams
from pysei.chain.genesis import Genesis
from pysei.mempool import MempoolConfig
from pysei.state.tiering import HISTORY_BLOCKS, HOT_BLOCKS, SEGMENT_BLOCKS

DEFAULT_GAS_LIMIT = 500_000_000
"""Block gas limit: 12,500 ERC-20 transfers/s at 400 ms blocks needs ~200M; 500M leaves the kernel, not block
space, as the bound (anvil's 30M caps it at ~30 Mgas/s, see shared/reference/peer-nodes.md)."""


MAX_TRACE_BYTES = 256 * 1024 * 1024
"""Bytes one transaction's trace may record (memory and stack snapshots, call inputs, return data) by default."""


def default_data_dir() -> Path:
    return Path.home() / ".pysei" / "devnet"


MIN_PARALLEL_CORES = 3
"""Fewer cores than this and the node executes blocks sequentially unless told otherwise (``default_exec_threads``)."""


def default_exec_threads() -> int:
    """One executor thread per core the process may use, or 1 (sequential) below ``MIN_PARALLEL_CORES``.

    The sequential executor is not single-core: while it executes, the pool decodes, hashes receipts and builds
    both tries, which keeps ~1.6–1.75 of 2 cores busy (``pysei bench exec``'s ``cores`` column). On 2 cores the
    parallel executor therefore has no core to gain and pays its coordination: measured at 2 threads it ran at
    0.68–0.90× the sequential speed on every workload (erc20, erc20-zipf, mix, staking; nft falls back) and used
    ~40% more CPU per block, CPU the node's ingest needs.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores if cores >= MIN_PARALLEL_CORES else 1


@dataclass(frozen=True, slots=True)
class NodeConfig:
    host: str = "127.0.0.1"
    port: int = 8545
    chain_id: int = DEVNET_CHAIN_ID
    data_dir: Path = field(default_factory=default_data_dir)
    ephemeral: bool = False
    """Use a temporary data directory, deleted at exit."""
    block_time: float = 0.4
    automine: bool = False
    gas_limit: int = DEFAULT_GAS_LIMIT
    mnemonic: str = DEV_MNEMONIC
    dev_accounts: int = 20
    dev_balance: int = 10_000 * WEI_PER_SEI
    max_tx_size: int = 128 * 1024
    """Largest raw transaction accepted (geth's txMaxSize is 128 KiB)."""
    exec_threads: int = field(default_factory=default_exec_threads)
    """Threads of the parallel block executor (1 = sequential; default: ``default_exec_threads``); the result does
    not depend on it. Blocks that cannot gain (small, mostly plain transfers, or predicted to be one dependency
    chain) run sequentially whatever the setting."""
    commitment_delay: int = 2
    """k: block n's header carries the LtHash state commitment of block n − k (computed off the critical path)."""
    history_blocks: int | None = HISTORY_BLOCKS
    """Blocks of historical state kept for queries at past blocks (None: archive, keep everything)."""
    hot_blocks: int = HOT_BLOCKS
    """Blocks (with receipts, logs and change sets) kept in the hot LMDB store; older ones move to the cold tier."""
    segment_blocks: int = SEGMENT_BLOCKS
    """Blocks per cold-tier segment file (and per pruning batch)."""
    genesis: Path | None = None
    """A network genesis file (`pysei genesis write`); None: the default 10B SEI genesis for `chain_id`."""
    token_genesis: Genesis | None = None
    """The network genesis itself, when the caller has it (a validator takes it from its network's genesis file);
    it wins over ``genesis``."""
    fsync: bool = True
    """fsync every block commit; off keeps crash safety for process crashes but not for power loss."""
    reset: bool = False
    """Delete the chain in ``data_dir`` before starting (a new genesis)."""
    allow_unprotected_txs: bool = True
    """Accept pre-EIP-155 transactions (no chain id in the signature), as anvil does: keyless deployments such as
    the CREATE2 deployer's need them. Off, they are refused as geth refuses them without
    ``--rpc.allow-unprotected-txs``."""
    max_trace_bytes: int = MAX_TRACE_BYTES
    """Bytes a trace may record per transaction (``debug_trace*``, ``trace_*``, ``ots_*``) before it is refused
    with the reason, so that a trace cannot exhaust memory."""
    metrics_port: int | None = None
    """Serve Prometheus metrics on ``host:metrics_port`` (0: any free port); None: no metrics endpoint."""
    dev_methods: bool = True
    """Serve the anvil_*/hardhat_*/evm_* dev methods (a devnet); a multi-validator network turns them off."""
    genesis_timestamp: int | None = None
    """Timestamp of block 0 (None: now); validators of one network take it from the genesis file."""
    cors_origins: tuple[str, ...] = ("*",)
    """Origins a browser page may call the RPC from (``*``: any, as anvil allows; empty: none)."""
    fees: FeeParams = field(default_factory=FeeParams)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
