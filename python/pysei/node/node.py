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

from pysei.chain.accounts import DevAccount, dev_accounts
from pysei.chain.block import OrderedBlock
from pysei.chain.constants import FEE_COLLECTOR
from pysei.chain.events import ExecutedBlock
from pysei.chain.transaction import Transaction
from pysei.consensus.sequencer import Sequencer, SequencerConfig
from pysei.execution.executor import ChainParams, Executor
from pysei.mempool import AddOutcome, Mempool, MempoolError
from pysei.node.config import NodeConfig
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
        self.store = ChainStore(data_dir / "state", sync=config.fsync)
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
        if self.executor.head is None:
            alloc: Alloc = [(a.address, config.dev_balance, 0, b"", []) for a in self.accounts]
            self.executor.init_genesis(alloc, config.genesis_timestamp or int(time.time()))
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
        self._tasks: list[asyncio.Task[None]] = []
        self.failure: BaseException | None = None
        self.stopped = asyncio.Event()

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
    async def _execute_loop(self) -> None:
        while True:
            ordered = await self.execution_queue.get()
            executed = await asyncio.to_thread(self.executor.execute, ordered)
            self.tiers.notify(ordered.number)
            self.mempool.on_executed(ordered.txs, self.store)
            for tx, reason in executed.skipped:
                log.info("block %d: skipped %s: %s", ordered.number, tx.hash.hex(), reason)
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

    async def _evict_loop(self) -> None:
        while True:
            await asyncio.sleep(60)
            self.mempool.evict_stale()
