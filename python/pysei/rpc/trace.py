"""Tracing methods: geth's ``debug_trace*`` and Parity's ``trace_*``, replayed by the kernel (``native/src/trace.rs``).

A transaction is traced by replaying its block on the state after the parent block, in a worker thread with the
GIL released; only the traced transactions carry an inspector. Struct logs need no node flag (anvil's need
``--steps-tracing``), every geth tracer revm-inspectors provides is served by every method, and a trace is bounded
by ``max_bytes`` recorded bytes per transaction (``pysei node --max-trace-bytes``), past which it fails with the
reason instead of exhausting memory. The kernel's JSON goes into the answer as it is (``orjson.Fragment``): a
block's struct logs are hundreds of megabytes, which parsing and re-encoding in Python would only slow down.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson

from pysei.chain.block import BlockRecord
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, param
from pysei.rpc.errors import invalid_params, server_error
from pysei.rpc.eth_call import call_request
from pysei.rpc.interfaces import Tracer

PARITY_TRACE_TYPES = {"trace", "vmTrace", "stateDiff"}
CONFIGLESS_TRACERS = {"4byteTracer", "noopTracer"}
GETH_TRACERS = {"callTracer", "prestateTracer", "4byteTracer", "flatCallTracer", "muxTracer", "noopTracer"}


class Tracing:
    """``debug_traceTransaction/Call/BlockByNumber/BlockByHash`` and ``trace_transaction/block/replayTransaction``."""

    def __init__(self, view: ChainView, tracer: Tracer, max_bytes: int) -> None:
        self.view = view
        self.chain = view.chain
        self.tracer = tracer
        self.max_bytes = max_bytes

    # --- replay --------------------------------------------------------------------------------------------
    def _locate(self, tx_hash: bytes) -> tuple[BlockRecord, int]:
        record = self.view.tx(tx_hash)
        if record is None:
            raise server_error(f"transaction {hb(tx_hash)} not found")
        block = self.chain.block(record.block_number)
        assert block is not None, f"block {record.block_number} of a stored transaction is missing"
        return block, record.index

    async def _replay(self, block: BlockRecord, first: int, last: int, kind: str, options: str) -> list[str]:
        """Traces of transactions ``first ..= last`` of ``block``, replayed on the parent's state."""
        number = block.header.number
        if number == 0:
            return []
        self.view.check_retained(number - 1)
        try:
            traces = await asyncio.to_thread(self.tracer.trace_block, block, first, last, kind, options, self.max_bytes)
        except ValueError as e:
            raise server_error(str(e)) from None
        self.view.check_retained(number - 1)
        return traces

    @staticmethod
    def _geth_options(params: list[Any], index: int) -> str:
        options = param(params, index, "options", required=False, default=None) or {}
        if not isinstance(options, dict):
            raise invalid_params("tracer options must be an object")
        if isinstance(options.get("tracer"), str) and options["tracer"] not in GETH_TRACERS:
            raise invalid_params(
                f"unknown tracer {codec.shown(options['tracer'])}: pysei serves {', '.join(sorted(GETH_TRACERS))} "
                "and the default struct-log tracer (JavaScript tracers are not supported)"
            )
        if options.get("tracer") == "muxTracer" and isinstance(options.get("tracerConfig"), dict):
            # geth takes {} for a tracer that has no options; revm-inspectors wants null for those.
            options["tracerConfig"] = {
                k: None if k in CONFIGLESS_TRACERS and not v else v for k, v in options["tracerConfig"].items()
            }
        return json.dumps(options)

    # --- geth ----------------------------------------------------------------------------------------------
    async def rpc_debug_traceTransaction(self, params: list[Any]) -> Any:
        block, index = self._locate(codec.hash32(param(params, 0, "transaction hash")))
        traces = await self._replay(block, index, index, "geth", self._geth_options(params, 1))
        return orjson.Fragment(traces[0])

    async def _trace_whole_block(self, block: BlockRecord | None, options: str) -> list[dict[str, Any]]:
        if block is None:
            raise server_error("block not found")
        if not block.tx_hashes:
            return []
        traces = await self._replay(block, 0, len(block.tx_hashes) - 1, "geth", options)
        return [{"txHash": hb(h), "result": orjson.Fragment(t)} for h, t in zip(block.tx_hashes, traces, strict=True)]

    async def rpc_debug_traceBlockByNumber(self, params: list[Any]) -> list[dict[str, Any]]:
        block = self.view.block_by_tag(param(params, 0, "block"))
        return await self._trace_whole_block(block, self._geth_options(params, 1))

    async def rpc_debug_traceBlockByHash(self, params: list[Any]) -> list[dict[str, Any]]:
        block = self.view.block_by_hash(param(params, 0, "block hash"))
        return await self._trace_whole_block(block, self._geth_options(params, 1))

    async def rpc_debug_traceCall(self, params: list[Any]) -> Any:
        req = call_request(param(params, 0, "transaction"))
        tag = param(params, 1, "block", required=False, default="latest")
        options = self._geth_options(params, 2)
        block = self.view.state_block(tag)
        try:
            trace = await asyncio.to_thread(self.tracer.trace_call, block, req, "geth", options, self.max_bytes)
        except ValueError as e:
            raise server_error(str(e)) from None
        self.view.check_retained(block.header.number)
        return orjson.Fragment(trace)

    # --- parity --------------------------------------------------------------------------------------------
    async def rpc_trace_transaction(self, params: list[Any]) -> list[Any]:
        block, index = self._locate(codec.hash32(param(params, 0, "transaction hash")))
        return list(json.loads((await self._replay(block, index, index, "parity", "null"))[0]))

    async def rpc_trace_block(self, params: list[Any]) -> list[Any] | None:
        block = self.view.block_by_tag(param(params, 0, "block"))
        if block is None:
            return None
        if not block.tx_hashes:
            return []
        traces = await self._replay(block, 0, len(block.tx_hashes) - 1, "parity", "null")
        return [frame for t in traces for frame in json.loads(t)]

    async def rpc_trace_replayTransaction(self, params: list[Any]) -> Any:
        block, index = self._locate(codec.hash32(param(params, 0, "transaction hash")))
        types = param(params, 1, "trace types")
        if not isinstance(types, list) or not set(types) <= PARITY_TRACE_TYPES:
            raise invalid_params(f"trace types must be a list of {sorted(PARITY_TRACE_TYPES)}")
        result = json.loads((await self._replay(block, index, index, "replay", json.dumps(types)))[0])
        result["transactionHash"] = hb(block.tx_hashes[index])
        return result
