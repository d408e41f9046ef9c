"""Sei's base-fee rule (x/evm/keeper/fee.go), computed after each block.

Unlike EIP-1559 the step is proportional to how far the block's gas is from a small target, with separate
up and down rates, and the result is clamped to [minimum, maximum]. The base fee is not burned.
"""

from __future__ import annotations

from dataclasses import dataclass

from pysei.chain.constants import GWEI

_ONE = 10**18
"""Fixed-point scale: Sei computes with 18-decimal sdk.Dec."""


@dataclass(frozen=True, slots=True)
class FeeParams:
    """Sei's EVM fee parameters (code defaults from x/evm/types/params.go)."""

    min_base_fee: int = 1 * GWEI
    max_base_fee: int = 1000 * GWEI
    upward_rate: int = 18_900_000_000_000_000
    """0.0189 in 18-decimal fixed point: +1.89% at a completely full block."""
    downward_rate: int = 3_900_000_000_000_000
    """0.0039: −0.39% at an empty block."""
    target_gas: int = 250_000


def next_base_fee(prev: int, gas_used: int, gas_limit: int, params: FeeParams) -> int:
    """Base fee of the block after one with ``gas_used`` of ``gas_limit`` at base fee ``prev``."""
    target = params.target_gas
    if gas_used > target and gas_limit > target:
        step = prev * params.upward_rate * (gas_used - target) // ((gas_limit - target) * _ONE)
        nxt = prev + step
    elif gas_used < target:
        step = prev * params.downward_rate * (target - gas_used) // (target * _ONE)
        nxt = prev - step
    else:
        nxt = prev
    return max(params.min_base_fee, min(params.max_base_fee, nxt))
