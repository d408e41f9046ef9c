"""eth_call, eth_estimateGas and eth_createAccessList: simulations against the state after a block."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from pysei.chain.block import BlockRecord
from pysei.native import BlockOverrides, CallRequest, CallResult
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import RpcError, invalid_params, reverted, server_error
from pysei.rpc.interfaces import Simulator
from pysei.rpc.overrides import block_overrides, state_overrides

T = TypeVar("T")


def call_request(obj: Any) -> CallRequest:
    """A transaction call object (eth_call, eth_estimateGas, eth_sendTransaction) as the kernel takes it. A field
    that is present must be valid: ``"to": false`` or ``""`` is refused, not read as absent."""
    if not isinstance(obj, dict):
        raise invalid_params("transaction object expected")
    data, given_input = obj.get("data"), obj.get("input")
    if data is not None and given_input is not None and data != given_input:
        raise invalid_params('both "data" and "input" are set and not equal. Please use "input" to pass call data')
    payload = given_input if given_input is not None else data
    # The kernel takes prices as u128 (a wei amount no account can reach is still a valid JSON value, so the
    # range is checked here, naming the field, rather than overflowing in the conversion).
    price = codec.field(obj, "gasPrice", lambda v: codec.quantity(v, "gasPrice", 128))
    max_fee = codec.field(obj, "maxFeePerGas", lambda v: codec.quantity(v, "maxFeePerGas", 128))
    access = obj.get("accessList")
    if access is not None and not isinstance(access, list):
        raise invalid_params("invalid accessList: expected an array")
    return CallRequest(
        sender=codec.field(obj, "from", lambda v: codec.address(v, "from")) or b"\x00" * 20,
        to=codec.field(obj, "to", lambda v: codec.address(v, "to")),
        gas=codec.field(obj, "gas", lambda v: codec.quantity(v, "gas", 64)),
        max_fee_per_gas=max_fee if max_fee is not None else price,
        max_priority_fee_per_gas=codec.field(
            obj, "maxPriorityFeePerGas", lambda v: codec.quantity(v, "maxPriorityFeePerGas", 128)
        ),
        value=codec.field(obj, "value", lambda v: codec.quantity(v, "value")) or 0,
        data=codec.data(payload, "input") if payload is not None else b"",
        nonce=codec.field(obj, "nonce", lambda v: codec.quantity(v, "nonce", 64)),
        access_list=[_access_entry(e) for e in access or []],
    )


def _access_entry(entry: Any) -> tuple[bytes, list[bytes]]:
    if not isinstance(entry, dict) or "address" not in entry:
        raise invalid_params("invalid accessList entry: expected {address, storageKeys}")
    keys = entry.get("storageKeys") or []
    if not isinstance(keys, list):
        raise invalid_params("invalid accessList storageKeys: expected an array")
    return codec.address(entry["address"], "accessList address"), [codec.hash32(k, "storage key") for k in keys]


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
        self, params: list[Any], run: Callable[[BlockRecord, CallRequest, BlockOverrides | None], T]
    ) -> tuple[CallRequest, BlockRecord, T]:
        """Parses the call object, block tag, state and block overrides, and runs ``run`` at that block; an
        invalid transaction (the kernel's ValueError) is geth's -32000 with the reason."""
        req = call_request(param(params, 0, "transaction"))
        tag = param(params, 1, "block", required=False, default="latest")
        overrides = state_overrides(param(params, 2, "stateOverrides", required=False))
        if overrides:
            req = replace(req, overrides=overrides)
        env = block_overrides(param(params, 3, "blockOverrides", required=False))
        try:
            block, out = self.view.read_state(tag, lambda b: run(b, req, env))
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
