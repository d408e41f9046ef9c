"""eth_getLogs and the polling filters (eth_newFilter & co.); filters are fed by :mod:`pysei.rpc.fanout`."""

from __future__ import annotations

from typing import Any

from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import param
from pysei.rpc.errors import invalid_params, server_error
from pysei.rpc.filters import Filter, FilterRegistry, LogCriteria, parse_criteria
from pysei.rpc.format import block_log_json

MAX_LOG_RANGE = 100_000
"""Blocks one eth_getLogs may scan (block blooms make empty blocks cheap to skip)."""


class EthFilters:
    def __init__(self, view: ChainView, filters: FilterRegistry) -> None:
        self.view = view
        self.chain = view.chain
        self.filters = filters

    def _log_range(self, obj: dict[str, Any]) -> tuple[int, int]:
        if obj.get("blockHash") is not None:
            if obj.get("fromBlock") is not None or obj.get("toBlock") is not None:
                raise invalid_params("cannot specify both blockHash and fromBlock/toBlock")
            number = self.chain.block_number(codec.hash32(obj["blockHash"], "blockHash"))
            if number is None:
                raise server_error("unknown block")
            return number, number
        head = self.view.head.header.number
        start = self.view.block_number(obj.get("fromBlock", "latest"))
        end = min(self.view.block_number(obj.get("toBlock", "latest")), head)
        if start > end and start <= head:
            raise invalid_params("invalid block range params")
        return start, end

    def logs_in(self, start: int, end: int, criteria: LogCriteria) -> list[dict[str, Any]]:
        if end - start + 1 > MAX_LOG_RANGE:
            raise server_error(f"query exceeds max block range {MAX_LOG_RANGE}")
        out: list[dict[str, Any]] = []
        for number in range(start, end + 1):
            block = self.chain.block(number)
            if block is None or not any(block.header.logs_bloom):
                continue
            out.extend(
                block_log_json(e, number, block.hash) for e in self.chain.block_logs(number) if criteria.matches(e.log)
            )
        return out

    async def rpc_eth_getLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        obj = param(params, 0, "filter")
        if not isinstance(obj, dict):
            raise invalid_params("filter object expected")
        start, end = self._log_range(obj)
        return self.logs_in(start, end, parse_criteria(obj))

    async def rpc_eth_newFilter(self, params: list[Any]) -> str:
        obj = param(params, 0, "filter")
        if not isinstance(obj, dict):
            raise invalid_params("filter object expected")
        criteria = parse_criteria(obj)
        head = self.view.head.header.number
        from_block = self.view.block_number(obj["fromBlock"]) if obj.get("fromBlock") not in (None, "latest") else None
        to_block = self.view.block_number(obj["toBlock"]) if obj.get("toBlock") not in (None, "latest") else None
        flt = Filter("logs", criteria=criteria, from_block=from_block, to_block=to_block)
        if from_block is not None and from_block <= head:
            flt.changes = self.logs_in(from_block, min(head, to_block if to_block is not None else head), criteria)
        return self.filters.install(flt)

    async def rpc_eth_newBlockFilter(self, params: list[Any]) -> str:
        return self.filters.install(Filter("blocks"))

    async def rpc_eth_newPendingTransactionFilter(self, params: list[Any]) -> str:
        return self.filters.install(Filter("pending"))

    async def rpc_eth_getFilterChanges(self, params: list[Any]) -> list[Any]:
        flt = self.filters.get(param(params, 0, "filter id"))
        if flt is None:
            raise server_error("filter not found")
        changes, flt.changes = flt.changes, []
        return changes

    async def rpc_eth_getFilterLogs(self, params: list[Any]) -> list[Any]:
        flt = self.filters.get(param(params, 0, "filter id"))
        if flt is None or flt.kind != "logs" or flt.criteria is None:
            raise server_error("filter not found")
        head = self.view.head.header.number
        start = flt.from_block if flt.from_block is not None else head
        end = min(flt.to_block if flt.to_block is not None else head, head)
        return self.logs_in(start, end, flt.criteria)

    async def rpc_eth_uninstallFilter(self, params: list[Any]) -> bool:
        return self.filters.remove(param(params, 0, "filter id"))
