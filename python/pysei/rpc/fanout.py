"""One fan-out of commit events to the polling filters and the WebSocket subscriptions.

It registers once with the node's :class:`~pysei.rpc.interfaces.CommitEvents`; each block's JSON (header, logs)
is rendered at most once, however many filters and subscriptions want it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pysei.rpc.codec import hb
from pysei.rpc.filters import FilterRegistry, LogCriteria
from pysei.rpc.format import block_json, block_log_json
from pysei.rpc.interfaces import CommitEvents, CommittedBlock
from pysei.rpc.subscriptions import Subscriptions


class RenderedBlock:
    """A committed block's JSON, rendered on first use and shared by every consumer."""

    def __init__(self, committed: CommittedBlock) -> None:
        self.committed = committed
        self.number = committed.block.header.number
        self._head: dict[str, Any] | None = None
        self._logs: dict[int, dict[str, Any]] = {}

    def head(self) -> dict[str, Any]:
        """The newHeads notification: the block's header fields."""
        if self._head is None:
            head = block_json(self.committed.block, [])
            del head["transactions"], head["uncles"], head["withdrawals"]
            self._head = head
        return self._head

    def logs(self, criteria: LogCriteria) -> list[dict[str, Any]]:
        block = self.committed.block
        out = []
        for i, entry in enumerate(self.committed.logs):
            if criteria.matches(entry.log):
                rendered = self._logs.get(i)
                if rendered is None:
                    rendered = self._logs[i] = block_log_json(entry, self.number, block.hash)
                out.append(rendered)
        return out


class Fanout:
    def __init__(self, events: CommitEvents, filters: FilterRegistry, subscriptions: Subscriptions) -> None:
        self.filters = filters
        self.subscriptions = subscriptions
        events.on_block(self.on_block)
        events.on_pending(self.on_pending)

    def on_block(self, committed: CommittedBlock) -> None:
        self.filters.expire()
        block = RenderedBlock(committed)
        for flt in self.filters.of_kind("blocks"):
            self.filters.push(flt, [hb(committed.block.hash)])
        for flt in self.filters.of_kind("logs"):
            assert flt.criteria is not None
            if (flt.from_block is not None and block.number < flt.from_block) or (
                flt.to_block is not None and block.number > flt.to_block
            ):
                continue
            matched = block.logs(flt.criteria)
            if matched:
                self.filters.push(flt, matched)
        if self.subscriptions.connections:
            self.subscriptions.on_block(block)

    def on_pending(self, hashes: Sequence[bytes]) -> None:
        pending = self.filters.of_kind("pending")
        if not pending and not self.subscriptions.connections:
            return
        rendered = [hb(h) for h in hashes]
        for flt in pending:
            self.filters.push(flt, rendered)
        self.subscriptions.on_pending(rendered)
