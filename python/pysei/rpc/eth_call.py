"""eth_call, eth_estimateGas and eth_createAccessList: simulations against the state after a block."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from pysei.chain.block import BlockRecord
from pysei.native import BlockOverrides, CallRequest, CallResult, StateOverride
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import RpcError, invalid_params, reverted, server_error
from pysei.rpc.interfaces import Simulator

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
    price = opt(obj, "gasPrice", lambda v: codec.quantity(v, "gasPrice", 128))
    max_fee = opt(obj, "maxFeePerGas", lambda v: codec.quantity(v, "maxFeePerGas", 128))
    access = obj.get("accessList")
    if access is not None and not isinstance(access, list):
        raise invalid_params("invalid accessList: expected an array")
    return CallRequest(
        sender=opt(obj, "from", lambda v: codec.address(v, "from")) or b"\x00" * 20,
        to=opt(obj, "to", lambda v: codec.address(v, "to")),
        gas=opt(obj, "gas", lambda v: codec.quantity(v, "gas", 64)),
        max_fee_per_gas=max_fee if max_fee is not None else price,
        max_priority_fee_per_gas=opt(
            obj, "maxPriorityFeePerGas", lambda v: codec.quantity(v, "maxPriorityFeePerGas", 128)
        ),
        value=opt(obj, "value", lambda v: codec.quantity(v, "value")) or 0,
        data=codec.data(payload, "input") if payload is not None else b"",
        nonce=opt(obj, "nonce", lambda v: codec.quantity(v, "nonce", 64)),
        access_list=[_access_entry(e) for e in access or []],
    )


def opt(obj: dict[str, Any], key: str, parse: Callable[[Any], T]) -> T | None:
    """``obj[key]`` parsed, or None when absent or null."""
    value = obj.get(key)
    return None if value is None else parse(value)


def _access_entry(entry: Any) -> tuple[bytes, list[bytes]]:
    if not isinstance(entry, dict) or "address" not in entry:
        raise invalid_params("invalid accessList entry: expected {address, storageKeys}")
    keys = entry.get("storageKeys") or []
    if not isinstance(keys, list):
        raise invalid_params("invalid accessList storageKeys: expected an array")
    return codec.address(entry["address"], "accessList address"), [codec.hash32(k, "storage key") for k in keys]


def state_overrides(value: Any) -> list[StateOverride]:
    """eth_call's state override set (geth's ``StateOverride``): ``{address: {balance, nonce, code, state,
    stateDiff}}``. Fields the kernel cannot honour are refused, never ignored."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise invalid_params("invalid state overrides: expected an object keyed by address")
    out = []
    for addr, fields in value.items():
        if not isinstance(fields, dict):
            raise invalid_params(f"invalid state override for {codec.shown(addr)}: expected an object")
        unknown = set(fields) - OVERRIDE_FIELDS
        if unknown:
            raise invalid_params(f"unsupported state override field {codec.shown(sorted(unknown)[0])}")
        if fields.get("state") is not None and fields.get("stateDiff") is not None:
            raise invalid_params(f"account {codec.shown(addr)} has both 'state' and 'stateDiff'")
        out.append(
            StateOverride(
                address=codec.address(addr, "state override address"),
                balance=opt(fields, "balance", lambda v: codec.quantity(v, "balance override")),
                nonce=opt(fields, "nonce", lambda v: codec.quantity(v, "nonce override", 64)),
                code=opt(fields, "code", lambda v: codec.data(v, "code override")),
                state=opt(fields, "state", lambda v: _slots(v, "state")),
                state_diff=opt(fields, "stateDiff", lambda v: _slots(v, "stateDiff")) or [],
            )
        )
    return out


OVERRIDE_FIELDS = frozenset({"balance", "nonce", "code", "state", "stateDiff"})


def _slots(value: Any, name: str) -> list[tuple[int, int]]:
    if not isinstance(value, dict):
        raise invalid_params(f"invalid {name} override: expected an object of slot: value")
    return [
        (
            int.from_bytes(codec.hash32(k, f"{name} slot"), "big"),
            int.from_bytes(codec.hash32(v, f"{name} value"), "big"),
        )
        for k, v in value.items()
    ]


BLOCK_OVERRIDE_FIELDS = {
    "number": "number",
    "time": "timestamp",
    "gasLimit": "gas_limit",
    "feeRecipient": "beneficiary",
    "coinbase": "beneficiary",
    "prevRandao": "prevrandao",
    "random": "prevrandao",
    "baseFeePerGas": "base_fee",
    "baseFee": "base_fee",
}
"""geth's BlockOverrides fields (and their older names) → BlockOverrides attributes."""


def block_overrides(value: Any) -> BlockOverrides | None:
    """eth_call's block overrides (geth's ``BlockOverrides``): the environment the call sees."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_params("invalid block overrides: expected an object")
    out: dict[str, Any] = {}
    for key, raw in value.items():
        attr = BLOCK_OVERRIDE_FIELDS.get(key)
        if attr is None:
            raise invalid_params(f"unsupported block override field {codec.shown(key)}")
        if raw is None:
            continue
        if attr == "beneficiary":
            out[attr] = codec.address(raw, key)
        elif attr == "prevrandao":
            # geth takes a 32-byte hash; viem sends a quantity.
            is_hash = isinstance(raw, str) and len(raw) == 66
            out[attr] = codec.hash32(raw, key) if is_hash else codec.quantity(raw, key).to_bytes(32, "big")
        else:
            out[attr] = codec.quantity(raw, key, 64)
    return BlockOverrides(**out)


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
        _, _, (access, result) = self._simulate(params[:2], self.simulator.create_access_list)
        out: dict[str, Any] = {
            "accessList": [{"address": codec.checksum(a), "storageKeys": [hb(k) for k in keys]} for a, keys in access],
            "gasUsed": hx(result.gas_used),
        }
        if not result.success:
            out["error"] = call_failure(result).message
        return out
