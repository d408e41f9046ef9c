"""Calls against committed state that write nothing: eth_call, gas estimation, access lists.

The kernel runs them over the state after a block (its number pins the read, so a block committed meanwhile
does not leak into the answer), in that block's environment.
"""

from __future__ import annotations

from pysei.chain.block import BlockRecord
from pysei.native import BlockEnv, CallRequest, CallResult, call, create_access_list, estimate_gas
from pysei.state.store import ChainStore


class Simulator:
    def __init__(self, store: ChainStore, chain_id: int) -> None:
        self.store = store
        self.chain_id = chain_id

    def env(self, block: BlockRecord) -> BlockEnv:
        h = block.header
        return BlockEnv(
            number=h.number,
            timestamp=h.timestamp,
            gas_limit=h.gas_limit,
            base_fee=h.base_fee,
            beneficiary=h.beneficiary,
            prevrandao=h.prevrandao,
            chain_id=self.chain_id,
        )

    def call(self, block: BlockRecord, request: CallRequest) -> CallResult:
        return call(self.store.native, self.env(block), request, block.header.number)

    def estimate_gas(self, block: BlockRecord, request: CallRequest) -> int | CallResult:
        return estimate_gas(self.store.native, self.env(block), request, block.header.number)

    def create_access_list(
        self, block: BlockRecord, request: CallRequest
    ) -> tuple[list[tuple[bytes, list[bytes]]], CallResult]:
        return create_access_list(self.store.native, self.env(block), request, block.header.number)
