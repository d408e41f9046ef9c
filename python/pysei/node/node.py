"""Wiring: the pipeline RPC ingest → mempool → ordering → execution → store → RPC reads, in one process.

Ordering (the sequencer) and execution run as asyncio tasks joined by a bounded queue; kernel calls run in a
worker thread with the GIL released, so RPC keeps answering while a block executes. Committed blocks are
published to subscribers (filters, WebSocket subscriptions, automine waiters) after the commit, never before.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from pysei.chain import genesis
from pysei.chain.accounts import DevAccount, dev_accounts
from pysei.chain.block import OrderedBlock
from pysei.chain.constants import CREATE2_DEPLOYER, CREATE2_DEPLOYER_CODE, FEE_COLLECTOR
from pysei.chain.events import ExecutedBlock
from pysei.chain.revert import revert_reason
from pysei.chain.transaction import Transaction
from pysei.consensus.sequencer import Sequencer, SequencerConfig
from pysei.execution.executor import ChainParams, Executor, genesis_commitment
from pysei.mempool import AddOutcome, Mempool, MempoolError
from pysei.node.config import NodeConfig
from pysei.node.datadir import (
    DataDirLock,
    GenesisParams,
    StartupError,
    check_genesis,
    record_genesis,
    reset,
    stored_genesis,
)
from pysei.node.dev import DevControl
from pysei.state.store import Alloc, ChainStore
from pysei.state.tiering import TierPolicy, TierWorker

log = logging.getLogger("pysei.node")

STATS_KEPT = 1024
"""Recent blocks whose execution statistics are kept for pysei_executionStats."""

EXECUTION_QUEUE = 64
"""Ordered blocks that may wait for execution before ordering blocks (back-pressure)."""

BlockListener = Callable[[ExecutedBlock], None]


class Ordering(Protocol):
    """What the node needs of its ordering stage."""

    def notify(self) -> None: ...

    async def run(self) -> None: ...


PendingListener = Callable[[Sequence[bytes]], None]


class Node:
    """One devnet node: owns the store, the stages and the event fan-out."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self._tmpdir: str | None = None
        if config.ephemeral:
            self._tmpdir = tempfile.mkdtemp(prefix="pysei-")
            data_dir = Path(self._tmpdir)
        else:
            data_dir = config.data_dir
        self.data_dir = data_dir
        self._lock = DataDirLock(data_dir)
        try:
            if config.reset:
                reset(data_dir)
            self.store = ChainStore(data_dir / "state", sync=config.fsync)
        except BaseException:
            self._lock.release()
            raise
        self.params = ChainParams(
            chain_id=config.chain_id,
            gas_limit=config.gas_limit,
            beneficiary=FEE_COLLECTOR,
            fees=config.fees,
            exec_threads=config.exec_threads,
            commitment_delay=config.commitment_delay,
        )
        self.executor = Executor(self.store, self.params)
        self.accounts: list[DevAccount] = dev_accounts(config.mnemonic, config.dev_accounts)
        self.resumed_at: int | None = None
        """The head block when the node continued an existing chain (None: it created the chain)."""
        self._open_chain()
        self.tiers = TierWorker(
            self.store,
            TierPolicy(
                hot_blocks=config.hot_blocks,
                segment_blocks=config.segment_blocks,
                history_blocks=config.history_blocks,
            ),
        )
        self.mempool = Mempool(self.store, config.mempool)
        self.execution_queue: asyncio.Queue[OrderedBlock] = asyncio.Queue(EXECUTION_QUEUE)
        head = self.executor.head
        assert head is not None
        self.sequencer = Sequencer(
            SequencerConfig(block_time=config.block_time, automine=config.automine, gas_limit=config.gas_limit),
            self.mempool,
            self.execution_queue,
            head.header.number + 1,
            lambda: self.executor.next_base_fee,
        )
        self.ordering: Ordering = self.sequencer
        """The stage that feeds ``execution_queue``: the sequencer here; a localnet validator puts its consensus
        engine in its place before ``start``."""
        self.block_listeners: list[BlockListener] = []
        self.pending_listeners: list[PendingListener] = []
        self.mempool.subscribe(self._on_pending)
        self._waiters: dict[bytes, asyncio.Future[None]] = {}
        self.recent_stats: deque[tuple[int, dict[str, int], str | None]] = deque(maxlen=STATS_KEPT)
        """(block number, execution stats, fallback reason) of recent blocks, for metrics."""
        self.dev = DevControl(self)
        self._tasks: list[asyncio.Task[None]] = []
        self.failure: BaseException | None = None
        self.stopped = asyncio.Event()

    def _open_chain(self) -> None:
        """Creates the chain (genesis and its parameters), or checks that these settings continue the stored one."""
        config = self.config
        try:
            network = config.token_genesis or (
                genesis.load(config.genesis) if config.genesis else genesis.default_genesis(config.chain_id)
            )
            if network.chain_id != config.chain_id:
                raise genesis.GenesisError(f"genesis is for chain {network.chain_id}, the node runs {config.chain_id}")
            # The network's genesis (10B SEI, validators, module state), with the devnet's dev accounts on top.
            alloc: Alloc = genesis.alloc(network, [(a.address, config.dev_balance) for a in self.accounts])
        except genesis.GenesisError as e:
            self.executor.close()
            self._lock.release()
            raise StartupError(f"genesis: {e}") from None
        alloc.append((CREATE2_DEPLOYER, 0, 0, CREATE2_DEPLOYER_CODE, []))
        wanted = GenesisParams(
            chain_id=config.chain_id,
            commitment_delay=config.commitment_delay,
            gas_limit=config.gas_limit,
            alloc_root=genesis_commitment(alloc),
        )
        head = self.executor.head
        if head is None:
            self.executor.init_genesis(alloc, config.genesis_timestamp or int(time.time()))
            record_genesis(self.store, wanted)
            return
        stored = stored_genesis(self.store)
        if stored is None:
            # A chain from before genesis parameters were recorded (or a crash right after genesis): adopt these.
            record_genesis(self.store, wanted)
        else:
            try:
                check_genesis(stored, wanted, self.data_dir)
            except StartupError:
                self.executor.close()
                self._lock.release()
                raise
        self.resumed_at = head.header.number

    # --- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.ordering.run(), name="ordering"),
            asyncio.create_task(self._execute_loop(), name="execution"),
            asyncio.create_task(self._evict_loop(), name="mempool-eviction"),
        ]
        for task in self._tasks:
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # A stage died (a Rust panic arrives here as PanicException): stop loudly, never limp on.
            log.critical("stage %s failed: %r; stopping the node", task.get_name(), exc, exc_info=exc)
            self.failure = exc
            self.stopped.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.tiers.close()
        self.executor.close()
        self._lock.release()
        self.stopped.set()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    # --- ingest --------------------------------------------------------------------------------------------
    def submit(self, txs: list[Transaction]) -> list[AddOutcome | MempoolError]:
        results = self.mempool.add_many(txs, self.executor.next_base_fee)
        if self.mempool.pending_count:
            self.ordering.notify()
        return results

    async def wait_executed(self, tx_hashes: list[bytes]) -> None:
        """Resolves once every transaction in ``tx_hashes`` was executed (included or skipped); for automine."""
        loop = asyncio.get_running_loop()
        futures = []
        for h in tx_hashes:
            fut = self._waiters.get(h)
            if fut is None:
                fut = self._waiters[h] = loop.create_future()
            futures.append(fut)
        await asyncio.gather(*futures)

    def on_block(self, listener: BlockListener) -> None:
        """Calls ``listener`` with each executed block, after its commit."""
        self.block_listeners.append(listener)

    def on_pending(self, listener: PendingListener) -> None:
        """Calls ``listener`` with the hashes of transactions that just became executable."""
        self.pending_listeners.append(listener)

    def _on_pending(self, hashes: Sequence[bytes]) -> None:
        for listener in self.pending_listeners:
            listener(hashes)

    # --- execution -----------------------------------------------------------------------------------------
    async def quiesced(self) -> None:
        """Returns once every ordered block was executed and published; the caller holds the sequencer's lock, so
        none is being ordered either (dev state edits and reverts run in that window)."""
        await self.execution_queue.join()

    async def _execute_loop(self) -> None:
        while True:
            ordered = await self.execution_queue.get()
            try:
                await self._execute(ordered)
            finally:
                self.execution_queue.task_done()

    async def _execute(self, ordered: OrderedBlock) -> None:
        started = time.perf_counter()
        executed = await asyncio.to_thread(self.executor.execute, ordered)
        self.tiers.notify(ordered.number)
        self.mempool.on_executed(ordered.txs, self.store)
        if log.isEnabledFor(logging.INFO):
            _log_block(executed, time.perf_counter() - started)
        self._record_skipped(ordered.number, executed.skipped)
        stats = executed.stats
        self.recent_stats.append((ordered.number, stats, executed.fallback))
        log.debug(
            "block %d: %d txs, %d gas, %d incarnations, %d aborts, %d waits, %s",
            ordered.number,
            len(executed.txs),
            stats["gas_used"],
            stats["incarnations"],
            stats["validation_aborts"],
            stats["dependency_waits"],
            f"sequential ({executed.fallback})" if executed.fallback else f"{stats['threads']} threads",
        )
        for listener in self.block_listeners:
            try:
                listener(executed)
            except Exception:  # a subscriber's bug must not stop execution
                log.exception("block listener failed")
        if self._waiters:
            for tx in ordered.txs:
                fut = self._waiters.pop(tx.hash, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)

    def _record_skipped(self, number: int, skipped: Sequence[tuple[Transaction, str]]) -> None:
        """Skipped transactions never vanish silently: each is logged, and one that did not go back to the pool
        (behind a nonce gap another skip left) is remembered so that RPC can answer why it has no receipt."""
        for tx, reason in skipped:
            requeued = self.mempool.note_skipped(tx.hash, number, reason)
            log.info(
                "block %d: skipped 0x%s: %s%s", number, tx.hash.hex(), reason, " (back in the pool)" if requeued else ""
            )

    async def _evict_loop(self) -> None:
        while True:
            await asyncio.sleep(60)
            self.mempool.evict_stale()


TX_LINES_MAX = 100
"""Blocks with more transactions log one line per transaction only at debug level: at thousands of transactions
a second (a loaded validator) formatting them cost about 5% of a validator's CPU in a py-spy profile."""


def _log_block(executed: ExecutedBlock, seconds: float) -> None:
    """One line per block and per transaction at info level, as anvil logs them (``--quiet`` turns them off);
    large blocks list their transactions at debug level only."""
    h = executed.block.header
    log.info(
        "block %d: %d txs, %s gas, 0x%s, %.0f ms",
        h.number,
        len(executed.txs),
        f"{h.gas_used:,}",
        executed.block.hash.hex(),
        seconds * 1000,
    )
    if len(executed.txs) > TX_LINES_MAX and not log.isEnabledFor(logging.DEBUG):
        log.info("  (%d transaction lines left out; --log-level debug lists them)", len(executed.txs))
        return
    for r in executed.txs:
        if r.contract_address is not None and r.success:
            outcome = f"contract created 0x{r.contract_address.hex()}"
        elif r.success:
            outcome = "success"
        else:
            reason = revert_reason(r.output)
            outcome = "reverted" if reason is None else f"reverted: {reason}"
        log.info("  tx 0x%s: %s, gas %s", r.hash.hex(), outcome, f"{r.gas_used:,}")
