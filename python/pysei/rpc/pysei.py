"""pysei_ methods: this node's own metrics."""

from __future__ import annotations

from typing import Any

from pysei.rpc import codec
from pysei.rpc.codec import param
from pysei.rpc.interfaces import StatsSource


class Pysei:
    def __init__(self, stats: StatsSource) -> None:
        self.stats = stats

    async def rpc_pysei_executionStats(self, params: list[Any]) -> list[dict[str, Any]]:
        """Execution statistics of the most recent blocks (at most ``count``, default 100), newest last."""
        count = codec.quantity(param(params, 0, "count", required=False, default=100), "count", bits=16)
        recent = list(self.stats.recent_stats)[-count:] if count else []
        return [{"block": n, **stats, "fallback": fallback} for n, stats, fallback in recent]
