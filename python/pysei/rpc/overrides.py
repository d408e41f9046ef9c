"""eth_call's state and block overrides (geth's ``StateOverride`` / ``BlockOverrides``), parsed strictly: a
field the kernel cannot honour is refused with -32602, never ignored."""

from __future__ import annotations

from typing import Any

from pysei.native import BlockOverrides, StateOverride
from pysei.rpc import codec
from pysei.rpc.errors import invalid_params

OVERRIDE_FIELDS = frozenset({"balance", "nonce", "code", "state", "stateDiff"})


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
                balance=codec.field(fields, "balance", lambda v: codec.quantity(v, "balance override")),
                nonce=codec.field(fields, "nonce", lambda v: codec.quantity(v, "nonce override", 64)),
                code=codec.field(fields, "code", lambda v: codec.data(v, "code override")),
                state=codec.field(fields, "state", lambda v: _slots(v, "state")),
                state_diff=codec.field(fields, "stateDiff", lambda v: _slots(v, "stateDiff")) or [],
            )
        )
    return out


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
