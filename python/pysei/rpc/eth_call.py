"""eth_call, eth_estimateGas and eth_createAccessList: simulations against the state after a block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pysei.chain.block import BlockRecord
from pysei.native import CallRequest, CallResult
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import RpcError, invalid_params, reverted, server_error
from pysei.rpc.interfaces import Simulator

T = TypeVar("T")


def call_request(obj: Any) -> CallRequest:
    """A transaction call object (eth_call, eth_estimateGas, eth_sendTransaction) as the kernel takes it."""
    if not isinstance(obj, dict):
        raise invalid_params("transaction object expected")
    data = obj.get("input", obj.get("data"))
    price = obj.get("gasPrice")
    max_fee = obj.get("maxFeePerGas", price)
    access = obj.get("accessList") or []
    return CallRequest(
        sender=codec.address(obj["from"], "from") if obj.get("from") else b"\x00" * 20,
        to=codec.address(obj["to"], "to") if obj.get("to") else None,
        gas=codec.quantity(obj["gas"], "gas", 64) if obj.get("gas") is not None else None,
        max_fee_per_gas=codec.quantity(max_fee, "maxFeePerGas") if max_fee is not None else None,
        max_priority_fee_per_gas=(
            codec.quantity(obj["maxPriorityFeePerGas"], "maxPriorityFeePerGas")
            if obj.get("maxPriorityFeePerGas") is not None
            else None
        ),
        value=codec.quantity(obj["value"], "value") if obj.get("value") is not None else 0,
        data=codec.data(data, "input") if data is not None else b"",
        nonce=codec.quantity(obj["nonce"], "nonce", 64) if obj.get("nonce") is not None else None,
        access_list=[
            (codec.address(e["address"]), [codec.hash32(k, "storage key") for k in e.get("storageKeys", [])])
            for e in access
        ],
    )


def _halt_message(halt: str) -> str:
    if halt.startswith("OutOfGas"):
        return "out of gas"
    if halt.startswith("OutOfFunds"):
        # Only the top-level value transfer halts with OutOfFunds (a nested CALL just fails); geth's wording.
        return "insufficient funds for transfer"
    return f"execution halted: {halt}"


def call_failure(result: CallResult, *, estimating: bool = False, gas: int | None = None) -> RpcError:
    """geth's error for a failed call: code 3 with the revert data, or the halt reason."""
    if result.halt is None:
        return reverted(result.output)
    if estimating and result.halt.startswith("OutOfGas"):
        return server_error(f"gas required exceeds allowance ({gas})")
    return server_error(_halt_message(result.halt))


class EthCall:
    def __init__(self, view: ChainView, simulator: Simulator) -> None:
        self.view = view
        self.simulator = simulator

    def _simulate(
        self, params: list[Any], run: Callable[[BlockRecord, CallRequest], T]
    ) -> tuple[CallRequest, BlockRecord, T]:
        """Parses the call object and block tag, and runs ``run`` at that block; an invalid transaction (the
        kernel's ValueError) is geth's -32000 with the reason."""
        req = call_request(param(params, 0, "transaction"))
        tag = param(params, 1, "block", required=False, default="latest")
        try:
            block, out = self.view.read_state(tag, lambda b: run(b, req))
        except ValueError as e:
            raise server_error(str(e)) from None
        return req, block, out

    async def rpc_eth_call(self, params: list[Any]) -> str:
        _, _, result = self._simulate(params, self.simulator.call)
        if not result.success:
            raise call_failure(result)
        return hb(result.output)

    async def rpc_eth_estimateGas(self, params: list[Any]) -> str:
        req, block, result = self._simulate(params, self.simulator.estimate_gas)
        if isinstance(result, CallResult):
            raise call_failure(result, estimating=True, gas=req.gas or block.header.gas_limit)
        return hx(result)

    async def rpc_eth_createAccessList(self, params: list[Any]) -> dict[str, Any]:
        _, _, (access, result) = self._simulate(params, self.simulator.create_access_list)
        out: dict[str, Any] = {
            "accessList": [{"address": codec.checksum(a), "storageKeys": [hb(k) for k in keys]} for a, keys in access],
            "gasUsed": hx(result.gas_used),
        }
        if not result.success:
            out["error"] = call_failure(result).message
        return out
