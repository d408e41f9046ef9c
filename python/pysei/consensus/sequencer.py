"""The devnet's ordering stage: a single sequencer that cuts blocks from the mempool.

It only orders — number, timestamp, transactions — and hands blocks to execution through a bounded queue,
never waiting for a block to execute (Autobahn will replace it, feeding execution the same way). In interval
mode it cuts a block every ``block_time`` while transactions are pending, and goes on cutting empty blocks for a
while after the last one; in automine mode it cuts one as soon as transactions arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from pysei.chain.block import OrderedBlock
from pysei.mempool import Mempool


@dataclass(frozen=True, slots=True)
class SequencerConfig:
    block_time: float = 0.4
    """Seconds between blocks while transactions are pending."""
    automine: bool = False
    """Cut a block as soon as transactions arrive (no interval)."""
    max_txs: int = 20_000
    """Upper bound on transactions per block, on top of the gas limit."""
    gas_limit: int = 500_000_000
    trailing_blocks_for: float = 10.0
    """Seconds of empty blocks in interval mode after the last block with transactions. ethers v6's ``tx.wait()``
    re-reads a receipt only when it sees the block number change (polled every 4 s, the first poll only setting
    its baseline): a transaction mined before that first poll on a chain that then stops would never resolve.
    Continuous empty blocks (anvil's ``--block-time``) would do too, at the cost of a chain that grows while
    idle."""


class Sequencer:
    """Cuts ordered blocks from the mempool and puts them on the execution queue."""

    def __init__(
        self,
        config: SequencerConfig,
        mempool: Mempool,
        tx_execution: asyncio.Queue[OrderedBlock],
        next_number: int,
        base_fee: Callable[[], int],
    ) -> None:
        self.config = config
        self.mempool = mempool
        self.tx_execution = tx_execution
        self.next_number = next_number
        self._base_fee = base_fee
        self._wake = asyncio.Event()
        self._last_timestamp = 0
        self.automine = config.automine
        self.block_time: float | None = config.block_time
        """Seconds between blocks in interval mode; None: blocks only on request (evm_mine), anvil's manual mode."""
        self.time_offset = 0
        """Seconds added to the wall clock for block timestamps (evm_increaseTime, evm_setTime)."""
        self.next_timestamp: int | None = None
        """The next block's timestamp, once (evm_setNextBlockTimestamp)."""
        self._trailing_until = 0.0
        self.lock = asyncio.Lock()
        """Held while a block is cut: whoever holds it knows no block is being ordered (dev state edits)."""

    def notify(self) -> None:
        """Called by ingest when transactions became pending, and when the mining mode changed."""
        self._wake.set()

    def set_mode(self, *, automine: bool, block_time: float | None) -> None:
        self.automine = automine
        self.block_time = block_time
        self.notify()

    async def run(self) -> None:
        while True:
            interval = not self.automine and self.block_time is not None
            trailing = interval and time.monotonic() < self._trailing_until
            if (self.mempool.pending_count == 0 and not trailing) or (not self.automine and self.block_time is None):
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self.automine:
                await asyncio.sleep(self.block_time or 0)
            if self.automine or self.block_time is not None:
                await self.cut()

    async def cut(self, timestamp: int | None = None) -> OrderedBlock:
        """Cuts one block from what is pending now (also used by evm_mine), at ``timestamp`` if given."""
        async with self.lock:
            txs = self.mempool.take(self.config.max_txs, self.config.gas_limit, self._base_fee())
            block = OrderedBlock(number=self.next_number, timestamp=self._timestamp(timestamp), txs=txs)
            self.next_number += 1
            if txs:
                self._trailing_until = time.monotonic() + self.config.trailing_blocks_for
            await self.tx_execution.put(block)
            return block

    def _timestamp(self, requested: int | None) -> int:
        if requested is None and self.next_timestamp is not None:
            requested, self.next_timestamp = self.next_timestamp, None
        if requested is not None:
            # Later blocks continue from the requested time, as in anvil and Hardhat.
            self.time_offset = requested - int(time.time())
            self._last_timestamp = requested
            return requested
        # Several blocks may share a second at 400 ms; timestamps never go backwards.
        self._last_timestamp = max(int(time.time()) + self.time_offset, self._last_timestamp)
        return self._last_timestamp

    def rewind(self, next_number: int, last_timestamp: int, time_offset: int) -> None:
        """Continues ordering after a revert: from block ``next_number``, with the clock as it was then."""
        self.next_number = next_number
        self._last_timestamp = last_timestamp
        self.time_offset = time_offset
        self.next_timestamp = None
