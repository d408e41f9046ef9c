"""net_ and web3_ methods."""

from __future__ import annotations

from typing import Any

from pysei import __version__
from pysei.native import keccak
from pysei.rpc import codec
from pysei.rpc.codec import hb, param
from pysei.rpc.interfaces import ChainSettings


class Net:
    def __init__(self, params: ChainSettings) -> None:
        self.params = params

    async def rpc_web3_clientVersion(self, params: list[Any]) -> str:
        return f"pysei/v{__version__}/python"

    async def rpc_web3_sha3(self, params: list[Any]) -> str:
        return hb(keccak(codec.data(param(params, 0, "data"))))

    async def rpc_net_version(self, params: list[Any]) -> str:
        return str(self.params.chain_id)

    async def rpc_net_listening(self, params: list[Any]) -> bool:
        return True

    async def rpc_net_peerCount(self, params: list[Any]) -> str:
        return "0x0"
