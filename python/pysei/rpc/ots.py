"""Otterscan's API (level 8): the ``ots_*`` methods and ``erigon_getHeaderByNumber``.

Searches and contract creators come from the address index the block commit writes (``state/store.py``:
``address_txs``, ``creators``), never from scanning blocks; the index stays in LMDB when its blocks move to the
cold tier, and the transactions it names are read from whichever tier holds them. It indexes each transaction
under its sender, its recipient and the contract it created at top level (anvil also finds addresses reached by
internal calls, by tracing every block it scans). Call trees and internal operations come from the kernel's
callTracer replay.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pysei.chain.block import BlockRecord, TxRecord
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import server_error
from pysei.rpc.format import block_json, receipt_json, tx_json
from pysei.rpc.interfaces import AddressIndex, Tracer

API_LEVEL = 8
MAX_PAGE = 1000
"""Largest page a search answers (Otterscan asks for 25)."""


class Otterscan:
    def __init__(self, view: ChainView, index: AddressIndex, tracer: Tracer, max_trace_bytes: int) -> None:
        self.view = view
        self.chain = view.chain
        self.index = index
        self.tracer = tracer
        self.max_trace_bytes = max_trace_bytes

    async def rpc_ots_getApiLevel(self, params: list[Any]) -> int:
        return API_LEVEL

    async def rpc_erigon_getHeaderByNumber(self, params: list[Any]) -> dict[str, Any] | None:
        block = self.view.block_by_tag(param(params, 0, "block"))
        return None if block is None else block_json(block, [])

    async def rpc_ots_hasCode(self, params: list[Any]) -> bool:
        address = codec.address(param(params, 0, "address"))
        tag = param(params, 1, "block", required=False, default="latest")
        return bool(self.view.read_state(tag, lambda b: self.chain.code(address, b.header.number))[1])

    # --- blocks --------------------------------------------------------------------------------------------
    def _details(self, block: BlockRecord | None) -> dict[str, Any] | None:
        if block is None:
            return None
        records = [r for r in self.chain.txs(block.tx_hashes) if r is not None]
        header = block_json(block, [])
        del header["transactions"]
        header["transactionCount"] = len(block.tx_hashes)
        header["logsBloom"] = None
        return {
            "block": header,
            "issuance": {"blockReward": "0x0", "uncleReward": "0x0", "issuance": "0x0"},
            "totalFees": hx(sum(r.gas_used * r.effective_gas_price for r in records)),
        }

    async def rpc_ots_getBlockDetails(self, params: list[Any]) -> dict[str, Any] | None:
        return self._details(self.view.block_by_tag(param(params, 0, "block")))

    async def rpc_ots_getBlockDetailsByHash(self, params: list[Any]) -> dict[str, Any] | None:
        return self._details(self.view.block_by_hash(param(params, 0, "block hash")))

    async def rpc_ots_getBlockTransactions(self, params: list[Any]) -> dict[str, Any] | None:
        block = self.view.block_by_tag(param(params, 0, "block"))
        page = codec.quantity(param(params, 1, "page number"), "page number", 32)
        size = min(codec.quantity(param(params, 2, "page size"), "page size", 32), MAX_PAGE)
        if block is None:
            return None
        hashes = block.tx_hashes[page * size : (page + 1) * size]
        records = [r for r in self.chain.txs(hashes) if r is not None]
        txs = []
        for tx, record in zip(self.chain.transactions(records), records, strict=True):
            rendered = tx_json(tx, record, block.header.base_fee)
            rendered["input"] = rendered["input"][:10]  # Otterscan shows the selector only
            txs.append(rendered)
        full = block_json(block, txs)
        full["transactionCount"] = len(block.tx_hashes)
        receipts = []
        for record in records:
            receipt = receipt_json(record)
            receipt["logs"] = None
            receipt["logsBloom"] = None
            receipts.append(receipt)
        return {"fullblock": full, "receipts": receipts}

    # --- transactions --------------------------------------------------------------------------------------
    def _record(self, value: Any) -> TxRecord:
        record = self.view.tx(codec.hash32(value, "transaction hash"))
        if record is None:
            raise server_error("transaction not found")
        return record

    async def rpc_ots_getTransactionError(self, params: list[Any]) -> str:
        record = self._record(param(params, 0, "transaction hash"))
        return "0x" if record.success else hb(record.output)

    async def _call_tree(self, record: TxRecord) -> dict[str, Any]:
        block = self.chain.block(record.block_number)
        assert block is not None, "a stored transaction's block is missing"
        self.view.check_retained(record.block_number - 1)
        try:
            traces = await asyncio.to_thread(
                self.tracer.trace_block, block, record.index, record.index, "geth", '{"tracer":"callTracer"}',
                self.max_trace_bytes,
            )  # fmt: skip
        except ValueError as e:
            raise server_error(str(e)) from None
        tree: dict[str, Any] = json.loads(traces[0])
        return tree

    async def rpc_ots_traceTransaction(self, params: list[Any]) -> list[dict[str, Any]]:
        tree = await self._call_tree(self._record(param(params, 0, "transaction hash")))
        out: list[dict[str, Any]] = []

        def walk(frame: dict[str, Any], depth: int) -> None:
            kind = frame["type"].upper()
            out.append(
                {
                    "type": kind,
                    "depth": depth,
                    "from": frame["from"],
                    "to": frame.get("to"),
                    "value": frame.get("value", "0x0"),
                    "input": frame.get("input", "0x"),
                    "output": frame.get("output", "0x"),
                }
            )
            for child in frame.get("calls", []):
                walk(child, depth + 1)

        walk(tree, 0)
        return out

    async def rpc_ots_getInternalOperations(self, params: list[Any]) -> list[dict[str, Any]]:
        """Value transfers, creations and self-destructs below the top-level call (0 transfer, 1 selfdestruct,
        2 create, 3 create2), failed ones included, as Erigon records them when the call is entered."""
        tree = await self._call_tree(self._record(param(params, 0, "transaction hash")))
        kinds = {"CREATE": 2, "CREATE2": 3, "SELFDESTRUCT": 1}
        out: list[dict[str, Any]] = []

        def walk(frame: dict[str, Any], depth: int) -> None:
            kind = frame["type"].upper()
            value = int(frame.get("value", "0x0") or "0x0", 16)
            if depth > 0:
                if kind in kinds:
                    out.append({"type": kinds[kind], "from": frame["from"], "to": frame.get("to"), "value": hx(value)})
                elif kind == "CALL" and value:
                    out.append({"type": 0, "from": frame["from"], "to": frame.get("to"), "value": hx(value)})
            for child in frame.get("calls", []):
                walk(child, depth + 1)

        walk(tree, 0)
        return out

    async def rpc_ots_getTransactionBySenderAndNonce(self, params: list[Any]) -> str | None:
        sender = codec.address(param(params, 0, "address"))
        nonce = codec.quantity(param(params, 1, "nonce"), "nonce", 64)
        above = -1
        while True:
            entries = self.index.address_txs(sender, below=None, above=above, limit=MAX_PAGE)
            records = [r for r in self.chain.txs([h for _, h in entries]) if r is not None]
            for record, tx in zip(records, self.chain.transactions(records), strict=True):
                if record.sender == sender and tx.nonce == nonce:
                    return hb(record.hash)
            if len(entries) < MAX_PAGE:
                return None
            above = entries[-1][0]

    async def rpc_ots_getContractCreator(self, params: list[Any]) -> dict[str, str] | None:
        address = codec.address(param(params, 0, "address"))
        tx_hash = self.index.creator(address)
        if tx_hash is None:
            return None
        record = self.view.tx(tx_hash)
        if record is None:
            return None
        # The direct creator, as Erigon and anvil name it: the factory contract for an internal creation.
        creator = next((c for a, c in record.created if a == address), record.sender)
        return {"hash": hb(tx_hash), "creator": codec.checksum(creator)}

    # --- search --------------------------------------------------------------------------------------------
    def _page(self, entries: list[tuple[int, bytes]], size: int) -> tuple[list[tuple[int, bytes]], bool]:
        """Whole blocks until at least ``size`` transactions (as Erigon and anvil page); and whether it ended."""
        out: list[tuple[int, bytes]] = []
        for entry in entries:
            if len(out) >= size and entry[0] != out[-1][0]:
                return out, False
            out.append(entry)
        return out, len(entries) < size + MAX_PAGE

    def _render(self, entries: list[tuple[int, bytes]], first: bool, last: bool) -> dict[str, Any]:
        records = [r for r in self.chain.txs([h for _, h in entries]) if r is not None]
        txs = [tx_json(tx, r) for tx, r in zip(self.chain.transactions(records), records, strict=True)]
        receipts = []
        for record in records:
            receipt = receipt_json(record)
            block = self.chain.block(record.block_number)
            receipt["timestamp"] = hx(block.header.timestamp) if block is not None else None
            receipts.append(receipt)
        return {"txs": txs, "receipts": receipts, "firstPage": first, "lastPage": last}

    async def rpc_ots_searchTransactionsBefore(self, params: list[Any]) -> dict[str, Any]:
        """Transactions of an address in blocks before ``blockNumber`` (0: from the newest), newest first."""
        address = codec.address(param(params, 0, "address"))
        number = codec.quantity(param(params, 1, "block number"), "block number", 64)
        size = max(1, min(codec.quantity(param(params, 2, "page size"), "page size", 32), MAX_PAGE))
        head = self.view.head.header.number
        below = head + 1 if number == 0 else number
        entries, ended = self._page(
            self.index.address_txs(address, below=below, above=None, limit=size + MAX_PAGE), size
        )
        return self._render(entries, first=below > head, last=ended)

    async def rpc_ots_searchTransactionsAfter(self, params: list[Any]) -> dict[str, Any]:
        """Transactions of an address in blocks after ``blockNumber``, newest first (the page is read oldest
        first from there, then reversed, as Otterscan expects)."""
        address = codec.address(param(params, 0, "address"))
        number = codec.quantity(param(params, 1, "block number"), "block number", 64)
        size = max(1, min(codec.quantity(param(params, 2, "page size"), "page size", 32), MAX_PAGE))
        entries, ended = self._page(
            self.index.address_txs(address, below=None, above=number, limit=size + MAX_PAGE), size
        )
        entries.reverse()
        return self._render(entries, first=ended, last=number == 0)
