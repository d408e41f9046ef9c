"""Raw transaction ingest: one native call for a whole batch (hex, size, decoding, sender recovery, chain rules),
then one mempool call.

The server calls :meth:`Ingest.ingest` directly for a batch of ``eth_sendRawTransaction`` (the hot path), and
``eth_sendRawTransaction`` / ``eth_sendTransaction`` call it for one. Python sees per-transaction outcomes only:
the kernel parses the parameters, applies the node's rules and builds the admitted ``Transaction``s, so what runs
here per transaction is the pool's bookkeeping and the answer.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from pysei.chain.transaction import ingest
from pysei.mempool import MempoolError
from pysei.rpc.errors import RpcError, invalid_params, server_error
from pysei.rpc.interfaces import Impersonation, IngestSettings, TxSubmitter

OFFLOAD_DECODE = 16
"""Batches at least this large are decoded on a worker thread rather than on the event loop."""


class Ingest:
    def __init__(
        self, settings: IngestSettings, submitter: TxSubmitter, impersonation: Impersonation | None = None
    ) -> None:
        self.settings = settings
        self.submitter = submitter
        self.impersonation = impersonation

    async def ingest(self, params: list[Any]) -> list[str | RpcError]:
        """Validates, decodes and pools ``eth_sendRawTransaction`` parameters (0x-hex strings as they arrived, or
        raw bytes); answers each with its hash or its error, in order."""
        cfg = self.settings
        call = functools.partial(
            ingest,
            params,
            chain_id=cfg.chain_id,
            allow_unprotected=cfg.allow_unprotected_txs,
            gas_limit=cfg.gas_limit,
            max_tx_size=cfg.max_tx_size,
            aliases={} if self.impersonation is None else self.impersonation.aliases,
        )
        # Recovery (~20-60 µs a signature, GIL released) would otherwise block the event loop for a whole batch;
        # off the loop, other connections' requests and receipts are served meanwhile.
        batch = await asyncio.to_thread(call) if len(params) >= OFFLOAD_DECODE else call()
        results: list[str | RpcError] = [_UNPROCESSED] * len(params)
        for i, invalid, message in batch.refused:
            results[i] = invalid_params(message) if invalid else server_error(message)
        outcomes = self.submitter.submit(batch.txs)
        for i, tx_hash, outcome in zip(batch.indices, batch.hashes, outcomes, strict=True):
            results[i] = server_error(str(outcome)) if isinstance(outcome, MempoolError) else tx_hash
        if cfg.automine:
            mined = [tx.hash for tx, out in zip(batch.txs, outcomes, strict=True) if not isinstance(out, MempoolError)]
            if mined:
                await self.submitter.wait_executed(mined)
        return results

    async def one(self, param: Any) -> str:
        """Ingests one transaction (a 0x-hex parameter, or raw bytes); its error is raised."""
        result = (await self.ingest([param]))[0]
        if isinstance(result, RpcError):
            raise result
        return result


_UNPROCESSED = server_error("internal: unprocessed")
"""Placeholder that every entry overwrites: the kernel answers each parameter either way."""
