"""Raw transaction ingest: size and chain rules, one native decode for a whole batch, then the pool.

The server calls :meth:`Ingest.ingest` directly for a batch of ``eth_sendRawTransaction`` (the hot path), and
``eth_sendRawTransaction`` / ``eth_sendTransaction`` call it for one.
"""

from __future__ import annotations

import asyncio

import msgspec

from pysei.chain.transaction import Transaction, decode_transactions
from pysei.mempool import MempoolError
from pysei.rpc.codec import hb
from pysei.rpc.errors import RpcError, server_error
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

    async def ingest(self, raws: list[bytes]) -> list[str | RpcError]:
        """Validates, decodes (one native call for the whole batch) and pools raw transactions; answers each
        with its hash or its error, in order."""
        cfg = self.settings
        results: list[str | RpcError | None] = [None] * len(raws)
        to_decode: list[int] = []
        for i, raw in enumerate(raws):
            if len(raw) > cfg.max_tx_size:
                results[i] = server_error(f"oversized data: transaction size {len(raw)}, limit {cfg.max_tx_size}")
            else:
                to_decode.append(i)
        batch = [raws[i] for i in to_decode]
        # Recovery (~20 µs a signature, GIL released) would otherwise block the event loop for a whole batch;
        # off the loop, other connections' requests and receipts are served meanwhile.
        decoded = (
            await asyncio.to_thread(decode_transactions, batch)
            if len(batch) >= OFFLOAD_DECODE
            else decode_transactions(batch)
        )
        accepted: list[tuple[int, Transaction]] = []
        for i, item in zip(to_decode, decoded, strict=True):
            if isinstance(item, str):
                results[i] = server_error(item)
                continue
            tx = item.tx
            if self.impersonation is not None and (account := self.impersonation.alias(tx.sender)) is not None:
                tx = msgspec.structs.replace(tx, sender=account)
            if tx.chain_id is None and not cfg.allow_unprotected_txs:
                results[i] = server_error("only replay-protected (EIP-155) transactions allowed over RPC")
            elif tx.chain_id is not None and tx.chain_id != cfg.chain_id:
                results[i] = server_error(f"invalid chain id for signer: have {tx.chain_id} want {cfg.chain_id}")
            elif tx.gas_limit < item.intrinsic_gas:
                results[i] = server_error(
                    f"intrinsic gas too low: gas {tx.gas_limit}, minimum needed {item.intrinsic_gas}"
                )
            elif tx.gas_limit > cfg.gas_limit:
                results[i] = server_error(f"exceeds block gas limit: gas {tx.gas_limit}, limit {cfg.gas_limit}")
            else:
                accepted.append((i, tx))
        outcomes = self.submitter.submit([tx for _, tx in accepted])
        mined: list[bytes] = []
        for (i, tx), outcome in zip(accepted, outcomes, strict=True):
            if isinstance(outcome, MempoolError):
                results[i] = server_error(str(outcome))
            else:
                results[i] = hb(tx.hash)
                mined.append(tx.hash)
        if cfg.automine and mined:
            await self.submitter.wait_executed(mined)
        return [r if r is not None else server_error("internal: unprocessed") for r in results]

    async def one(self, raw: bytes) -> str:
        """Ingests one transaction; its error is raised."""
        result = (await self.ingest([raw]))[0]
        if isinstance(result, RpcError):
            raise result
        return result
