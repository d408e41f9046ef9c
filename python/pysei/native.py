"""The one door to the native kernel (``pysei._native``): typed wrappers that convert to pysei's types.

Nothing else imports ``pysei._native``. Every call here is coarse (a batch or a whole block) and releases the
GIL inside Rust, so the asyncio loop keeps serving while a block executes on another thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from pysei import _native
from pysei._native import BlockEnv, BlockRecords, BlockResult, Store, keccak, logs_bloom
from pysei.chain.transaction import Transaction

if TYPE_CHECKING:
    from pysei._native import CallRequest as NativeCallRequest

__all__ = [
    "BlockEnv",
    "BlockRecords",
    "BlockResult",
    "CallRequest",
    "CallResult",
    "Store",
    "call",
    "create_access_list",
    "decode_transactions",
    "decode_with_senders",
    "estimate_gas",
    "execute_block",
    "execute_in_memory",
    "keccak",
    "logs_bloom",
]


class Decoded(NamedTuple):
    """A transaction that decoded and whose signature recovered, with the least gas it must carry.

    A named tuple rather than a frozen dataclass: one is built per ingested transaction.
    """

    tx: Transaction
    intrinsic_gas: int


def _transaction(fields: tuple[Any, ...], raw: bytes) -> Decoded:
    # Positional construction, in Transaction's field order: this runs once per ingested transaction, and
    # keyword arguments made it the largest single cost of ingest (py-spy, `pysei bench e2e`).
    h, sender, nonce, gas, max_fee, tip, value, to, data, type_, chain_id, v, r, s, access, gas_price, intrinsic = (
        fields
    )
    tx = Transaction(
        h, sender, nonce, gas, max_fee, tip, value, to, data, type_, chain_id, raw, v, r, s, access, gas_price
    )
    return Decoded(tx, intrinsic)


def decode_transactions(raws: list[bytes]) -> list[Decoded | str]:
    """Decodes and recovers a batch (in parallel in Rust); a string says why an entry was refused."""
    return [
        item if isinstance(item, str) else _transaction(item, raw)
        for item, raw in zip(_native.decode_transactions(raws), raws, strict=True)
    ]


def decode_with_senders(raws: list[bytes], senders: list[bytes]) -> list[Transaction]:
    """Rebuilds stored transactions whose senders are known, without signature recovery."""
    items = _native.decode_with_senders(raws, b"".join(senders))
    return [_transaction(item, raw).tx for item, raw in zip(items, raws, strict=True)]


def execute_block(
    store: Store,
    env: BlockEnv,
    raws: list[bytes],
    senders: bytes,
    *,
    record_access: bool = False,
    threads: int = 1,
    predict: bool = True,
) -> BlockResult:
    """Runs an ordered block over the committed state; nothing is written until ``Store.commit``.

    ``senders`` is the concatenation of the 20-byte senders recovered at ingest, so the block is not recovered
    again. With ``threads > 1`` the optimistic parallel executor runs it; the result is identical. ``predict``
    (the default) schedules by predicted dependencies and runs blocks predicted to be one long dependency chain
    sequentially; turning it off changes the speed only (the benchmark compares both).
    """
    return _native.execute_block(
        store, env, raws, senders, record_access=record_access, threads=threads, predict=predict
    )


def execute_in_memory(env: BlockEnv, alloc: list[Any], raws: list[bytes], senders: bytes) -> tuple[int, float]:
    """The benchmark ceiling: plain revm over an in-memory database; returns (gas used, seconds)."""
    return _native.execute_in_memory(env, alloc, raws, senders)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """eth_call / eth_estimateGas parameters after JSON decoding (None = not given)."""

    sender: bytes
    to: bytes | None
    gas: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    access_list: list[tuple[bytes, list[bytes]]] = field(default_factory=list)

    def as_tuple(self) -> NativeCallRequest:
        return (
            self.sender,
            self.to,
            self.gas,
            self.max_fee_per_gas,
            self.max_priority_fee_per_gas,
            self.value,
            self.data,
            self.nonce,
            self.access_list,
        )


@dataclass(frozen=True, slots=True)
class CallResult:
    success: bool
    gas_used: int
    output: bytes
    halt: str | None
    """Why the EVM halted (e.g. ``OutOfGas``); None for success and for a revert."""


def call(store: Store, env: BlockEnv, request: CallRequest, at: int | None = None) -> CallResult:
    """eth_call against the committed state (after block ``at``, or the latest). Raises ValueError when the call
    is an invalid transaction."""
    return CallResult(*_native.call(store, env, request.as_tuple(), at))


def estimate_gas(store: Store, env: BlockEnv, request: CallRequest, at: int | None = None) -> int | CallResult:
    """The least gas with which the call succeeds, or the failing result at the gas cap."""
    gas, failure = _native.estimate_gas(store, env, request.as_tuple(), at)
    if gas is not None:
        return gas
    assert failure is not None, "the kernel answers a gas or a failure"
    return CallResult(*failure)


def create_access_list(
    store: Store, env: BlockEnv, request: CallRequest, at: int | None = None
) -> tuple[list[tuple[bytes, list[bytes]]], CallResult]:
    access, result = _native.create_access_list(store, env, request.as_tuple(), at)
    return access, CallResult(*result)
