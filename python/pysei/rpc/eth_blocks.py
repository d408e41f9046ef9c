"""eth_ reads of blocks, transactions and receipts."""

from __future__ import annotations

from typing import Any

import orjson

from pysei.chain.block import BlockRecord
from pysei.native import receipt_json
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import server_error
from pysei.rpc.format import block_json, tx_json
from pysei.rpc.interfaces import PendingPool


class EthBlocks:
    def __init__(self, view: ChainView, pool: PendingPool) -> None:
        self.view = view
        self.chain = view.chain
        self.pool = pool

    def _render_block(self, block: BlockRecord | None, full: bool) -> dict[str, Any] | None:
        if block is None:
            return None
        if not full:
            return block_json(block, [hb(h) for h in block.tx_hashes])
        records = [r for r in self.chain.txs(block.tx_hashes) if r is not None]
        txs = self.chain.transactions(records)
        return block_json(block, [tx_json(tx, r) for tx, r in zip(txs, records, strict=True)])

    async def rpc_eth_getBlockByNumber(self, params: list[Any]) -> dict[str, Any] | None:
        return self._render_block(
            self.view.block_by_tag(param(params, 0, "block")),
            codec.boolean(param(params, 1, "full", required=False, default=False), "full transactions flag"),
        )

    async def rpc_eth_getBlockByHash(self, params: list[Any]) -> dict[str, Any] | None:
        return self._render_block(
            self.view.block_by_hash(param(params, 0, "block hash")),
            codec.boolean(param(params, 1, "full", required=False, default=False), "full transactions flag"),
        )

    async def rpc_eth_getBlockTransactionCountByNumber(self, params: list[Any]) -> str | None:
        block = self.view.block_by_tag(param(params, 0, "block"))
        return None if block is None else hx(len(block.tx_hashes))

    async def rpc_eth_getBlockTransactionCountByHash(self, params: list[Any]) -> str | None:
        block = self.view.block_by_hash(param(params, 0, "block hash"))
        return None if block is None else hx(len(block.tx_hashes))

    async def rpc_eth_getUncleCountByBlockNumber(self, params: list[Any]) -> str:
        return "0x0"

    async def rpc_eth_getUncleCountByBlockHash(self, params: list[Any]) -> str:
        return "0x0"

    async def rpc_eth_getTransactionByHash(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = codec.hash32(param(params, 0, "transaction hash"))
        record = self.view.tx(tx_hash)
        if record is not None:
            return tx_json(self.chain.transactions([record])[0], record)
        pending = self.pool.get(tx_hash)
        return None if pending is None else tx_json(pending, None)

    def _tx_at(self, block: BlockRecord | None, index: Any) -> dict[str, Any] | None:
        i = codec.quantity(index, "index", 64)
        if block is None or i >= len(block.tx_hashes):
            return None
        record = self.view.tx(block.tx_hashes[i])
        return None if record is None else tx_json(self.chain.transactions([record])[0], record)

    async def rpc_eth_getTransactionByBlockNumberAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        return self._tx_at(self.view.block_by_tag(param(params, 0, "block")), param(params, 1, "index"))

    async def rpc_eth_getTransactionByBlockHashAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        return self._tx_at(self.view.block_by_hash(param(params, 0, "block hash")), param(params, 1, "index"))

    # Receipts are served as JSON the kernel writes from the stored record (``pysei.native.receipt_json``, the same
    # bytes as ``orjson.dumps(format.receipt_json(record))``): a load generator fetches one per transaction.
    async def rpc_eth_getTransactionReceipt(self, params: list[Any]) -> orjson.Fragment | None:
        tx_hash = codec.hash32(param(params, 0, "transaction hash"))
        receipt = self.view.receipt(tx_hash)
        if receipt is None and (dropped := self.pool.why_dropped(tx_hash)) is not None:
            # No receipt will ever come: say so and why, rather than letting a client wait for one until it times out.
            raise server_error(f"transaction {hb(tx_hash)} was dropped: skipped in block {dropped[0]}: {dropped[1]}")
        return receipt

    async def rpc_eth_getBlockReceipts(self, params: list[Any]) -> list[orjson.Fragment] | None:
        tag = param(params, 0, "block")
        block = self.view.block_by_hash(tag) if isinstance(tag, str) and len(tag) == 66 else self.view.block_by_tag(tag)
        if block is None:
            return None
        return [orjson.Fragment(receipt_json(r)[1]) for r in self.chain.txs_bytes(block.tx_hashes) if r is not None]
