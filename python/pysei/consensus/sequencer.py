"""The devnet's ordering stage: a single sequencer that cuts blocks from the mempool.

It only orders — number, timestamp, transactions — and hands blocks to execution through a bounded queue,
never waiting for a block to execute (Autobahn will replace it, feeding execution the same way). In interval
mode it cuts a block every ``block_time`` while transactions are pending; in automine mode it cuts one as soon
as transactions arrive.
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

    def notify(self) -> None:
        """Called by ingest when transactions became pending."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            if self.mempool.pending_count == 0:
                self._wake.clear()
                await self._wake.wait()
            if not self.config.automine:
                await asyncio.sleep(self.config.block_time)
            await self.cut()

    async def cut(self) -> OrderedBlock | None:
        """Cuts one block from what is pending now (also used by evm_mine)."""
        txs = self.mempool.take(self.config.max_txs, self.config.gas_limit, self._base_fee())
        block = OrderedBlock(number=self.next_number, timestamp=self._timestamp(), txs=txs)
        self.next_number += 1
        await self.tx_execution.put(block)
        return block

    def _timestamp(self) -> int:
        # Several blocks may share a second at 400 ms; timestamps never go backwards.
        self._last_timestamp = max(int(time.time()), self._last_timestamp)
        return self._last_timestamp
