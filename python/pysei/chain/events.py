"""Events the pipeline publishes, defined below every stage so that producers and consumers need not import each
other: execution publishes an ``ExecutedBlock`` after each commit; the node fans it out to the RPC layer (filters,
subscriptions), metrics and anything else that follows the chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pysei.chain.block import BlockLog, BlockRecord, TxRecord
from pysei.chain.transaction import Transaction


@dataclass(frozen=True, slots=True)
class ExecutedBlock:
    """A committed block and what happened to each ordered transaction."""

    block: BlockRecord
    txs: Sequence[TxRecord]
    """Decoded on access (``pysei.chain.block.TxRecords``)."""
    logs: Sequence[BlockLog]
    """Decoded on first access (``pysei.chain.block.BlockLogs``)."""
    skipped: list[tuple[Transaction, str]]
    stats: dict[str, int]
    """Execution statistics: txs, skipped, gas, writes, and the parallel executor's threads, incarnations,
    validation aborts, dependency waits and whether it fell back to sequential."""
    fallback: str | None = None
    """Why the block ran sequentially, when it did."""
