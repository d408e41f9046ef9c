"""txpool_ methods."""

from __future__ import annotations

from typing import Any

from pysei.rpc.codec import hx
from pysei.rpc.interfaces import PendingPool


class TxPool:
    def __init__(self, pool: PendingPool) -> None:
        self.pool = pool

    async def rpc_txpool_status(self, params: list[Any]) -> dict[str, str]:
        pool = self.pool
        return {"pending": hx(pool.pending_count + pool.in_flight_count), "queued": hx(pool.queued_count)}
