"""eth_ state reads at a block: balance, nonce, code, storage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import invalid_params
from pysei.rpc.interfaces import PendingPool

T = TypeVar("T")


class EthState:
    def __init__(self, view: ChainView, pool: PendingPool) -> None:
        self.view = view
        self.chain = view.chain
        self.pool = pool

    def _read(self, params: list[Any], tag_index: int, read: Callable[[int], T]) -> T:
        """``read`` at the number of the block the tag at ``tag_index`` names (default latest)."""
        tag = param(params, tag_index, "block", required=False, default="latest")
        return self.view.read_state(tag, lambda b: read(b.header.number))[1]

    async def rpc_eth_getBalance(self, params: list[Any]) -> str:
        addr = codec.address(param(params, 0, "address"))
        return hx(self._read(params, 1, lambda n: self.chain.balance(addr, n)))

    async def rpc_eth_getTransactionCount(self, params: list[Any]) -> str:
        addr = codec.address(param(params, 0, "address"))
        if param(params, 1, "block", required=False) == "pending":
            return hx(self.pool.pending_nonce(addr))
        return hx(self._read(params, 1, lambda n: self.chain.nonce(addr, n)))

    async def rpc_eth_getCode(self, params: list[Any]) -> str:
        addr = codec.address(param(params, 0, "address"))
        return hb(self._read(params, 1, lambda n: self.chain.code(addr, n)))

    async def rpc_eth_getStorageAt(self, params: list[Any]) -> str:
        addr = codec.address(param(params, 0, "address"))
        slot = codec.quantity(param(params, 1, "slot"), "storage slot")
        if slot >= 2**256:
            raise invalid_params("invalid storage slot: exceeds 32 bytes")
        return hb(self._read(params, 2, lambda n: self.chain.storage(addr, slot, n)).to_bytes(32, "big"))
