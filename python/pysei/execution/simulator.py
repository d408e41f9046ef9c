"""Calls against committed state that write nothing: eth_call, gas estimation, access lists.

The kernel runs them over the state after a block (its number pins the read, so a block committed meanwhile
does not leak into the answer), in that block's environment.
"""

from __future__ import annotations

from pysei.chain.block import BlockRecord
from pysei.native import (
    BlockEnv,
    BlockOverrides,
    CallRequest,
    CallResult,
    call,
    create_access_list,
    estimate_gas,
)
from pysei.state.store import ChainStore


class Simulator:
    def __init__(self, store: ChainStore, chain_id: int) -> None:
        self.store = store
        self.chain_id = chain_id

    def env(self, block: BlockRecord, overrides: BlockOverrides | None = None) -> BlockEnv:
        h = block.header
        o = overrides or BlockOverrides()
        return BlockEnv(
            number=h.number if o.number is None else o.number,
            timestamp=h.timestamp if o.timestamp is None else o.timestamp,
            gas_limit=h.gas_limit if o.gas_limit is None else o.gas_limit,
            base_fee=h.base_fee if o.base_fee is None else o.base_fee,
            beneficiary=h.beneficiary if o.beneficiary is None else o.beneficiary,
            prevrandao=h.prevrandao if o.prevrandao is None else o.prevrandao,
            chain_id=self.chain_id,
        )

    def call(self, block: BlockRecord, request: CallRequest, env: BlockOverrides | None = None) -> CallResult:
        return call(self.store.native, self.env(block, env), request, block.header.number)

    def estimate_gas(
        self, block: BlockRecord, request: CallRequest, env: BlockOverrides | None = None
    ) -> int | CallResult:
        return estimate_gas(self.store.native, self.env(block, env), request, block.header.number)

    def create_access_list(
        self, block: BlockRecord, request: CallRequest, env: BlockOverrides | None = None
    ) -> tuple[list[tuple[bytes, list[bytes]]], CallResult]:
        return create_access_list(self.store.native, self.env(block, env), request, block.header.number)
