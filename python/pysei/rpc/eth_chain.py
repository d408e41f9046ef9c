"""eth_ methods about the chain itself: id, head number, sync and mining status, coinbase, dev accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pysei.chain.accounts import DevAccount
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hx
from pysei.rpc.interfaces import ChainSettings


class EthChain:
    def __init__(self, view: ChainView, params: ChainSettings, accounts: Sequence[DevAccount]) -> None:
        self.view = view
        self.params = params
        self.accounts = accounts

    async def rpc_eth_chainId(self, params: list[Any]) -> str:
        return hx(self.params.chain_id)

    async def rpc_eth_blockNumber(self, params: list[Any]) -> str:
        return hx(self.view.head.header.number)

    async def rpc_eth_syncing(self, params: list[Any]) -> bool:
        return False

    async def rpc_eth_mining(self, params: list[Any]) -> bool:
        return True

    async def rpc_eth_coinbase(self, params: list[Any]) -> str:
        return codec.checksum(self.params.beneficiary)

    async def rpc_eth_accounts(self, params: list[Any]) -> list[str]:
        return [a.checksum_address for a in self.accounts]
