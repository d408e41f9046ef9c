"""The one door to the native kernel (``pysei._native``): typed wrappers over its calls.

Nothing else imports ``pysei._native``, and this module imports nothing else of pysei: it is the bottom layer,
and the layers above turn what it returns into their own types (``pysei.chain.transaction`` builds
``Transaction``s). Every call here is coarse (a batch or a whole block) and releases the GIL inside Rust, so the
asyncio loop keeps serving while a block executes on another thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pysei import _native
from pysei._native import (
    MODULE_CODE,
    BlockEnv,
    BlockRecords,
    BlockResult,
    Store,
    keccak,
    logs_bloom,
    module_genesis,
    receipt_json,
)

T = TypeVar("T")

if TYPE_CHECKING:
    from pysei._native import CallRequest as NativeCallRequest
    from pysei._native import StateOverride as NativeStateOverride

__all__ = [
    "BlockEnv",
    "BlockOverrides",
    "BlockRecords",
    "BlockResult",
    "MODULE_CODE",
    "CallRequest",
    "CallResult",
    "StateOverride",
    "Store",
    "call",
    "committee",
    "create_access_list",
    "decode_transactions",
    "decode_with_senders",
    "epoch_blocks",
    "estimate_gas",
    "execute_block",
    "execute_in_memory",
    "ingest_batch",
    "keccak",
    "logs_bloom",
    "module_genesis",
    "precompile_abis",
    "receipt_json",
    "recover_transactions",
    "recovery_limit",
    "replay_block",
    "trace_block",
    "trace_call",
]


def decode_transactions(raws: list[bytes]) -> list[_native.TxFields | str]:
    """Decodes and recovers a batch (in parallel in Rust): each entry is the transaction's fields, or a string
    saying why it was refused. ``pysei.chain.transaction`` turns the fields into ``Transaction``s."""
    return _native.decode_transactions(raws)


def recover_transactions(raws: list[bytes], make: Callable[..., T]) -> list[T | str]:
    """Decodes and recovers a batch (in parallel, GIL released), each built as ``make(*fields)`` in
    ``pysei.chain.transaction.Transaction``'s field order, or a string saying why it was refused."""
    return _native.recover_transactions(raws, make)


def decode_with_senders(raws: list[bytes], senders: bytes, make: Callable[..., T]) -> list[T]:
    """Stored or forwarded transactions whose senders (concatenated 20-byte addresses) are known, decoded without
    signature recovery, each built as ``make(*fields)`` in ``pysei.chain.transaction.Transaction``'s field order;
    ValueError on bytes that do not decode."""
    return _native.decode_with_senders(raws, senders, make)


def ingest_batch(
    params: list[Any],
    *,
    chain_id: int,
    allow_unprotected: bool,
    gas_limit: int,
    max_tx_size: int,
    make: Callable[..., T],
    aliases: dict[bytes, bytes],
) -> tuple[list[int], list[T], list[str], list[tuple[int, bool, str]]]:
    """One call for a JSON-RPC batch of ``eth_sendRawTransaction`` parameters (0x-hex strings, or bytes): hex
    parsing, size limit, decoding, sender recovery (in parallel, GIL released), chain id, intrinsic gas and block
    gas limit, in that order. Returns the indices of the admitted entries, their transactions (``make`` called
    with the fields of ``pysei.chain.transaction.Transaction`` in its order, the sender replaced by
    ``aliases[sender]`` where present), their hashes as 0x-hex, and ``(index, invalid params?, message)`` for
    each refused entry."""
    return _native.ingest_batch(
        params,
        chain_id=chain_id,
        allow_unprotected=allow_unprotected,
        gas_limit=gas_limit,
        max_tx_size=max_tx_size,
        make=make,
        aliases=aliases,
    )


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


def committee(store: Store, epoch: int) -> list[tuple[bytes, bytes, int]] | None:
    """Epoch ``epoch``'s committee as the staking module recorded it at the end of the last block of epoch
    ``epoch - 2`` (epochs 0 and 1 at genesis): (Ed25519 consensus key, operator address, voting power in whole
    SEI) by consensus key ascending, or None when it is not recorded yet. Epoch k covers blocks
    k*E+1 ..= (k+1)*E (E = ``epoch_blocks``). Records are never overwritten, so the latest state is exact."""
    return _native.committee(store, epoch)


def epoch_blocks(store: Store) -> int:
    """Blocks per epoch (a genesis value, not governable)."""
    return _native.epoch_blocks(store)


@dataclass(frozen=True, slots=True)
class PrecompileAbi:
    """A module precompile's interface as a JSON ABI, from the kernel's own definitions of it."""

    name: str
    address: bytes
    abi: list[dict[str, Any]]


def precompile_abis() -> list[PrecompileAbi]:
    """The module precompiles (bank, staking, governance, distribution, slashing), in address order, each with
    its JSON ABI: the functions they answer, the events they emit (end-of-block events such as
    ``UnbondingCompleted`` and ``Slashed`` included) and their errors. Generated from the ``sol!`` interfaces the
    kernel decodes calls with, so it cannot drift from what the precompiles accept."""
    return [PrecompileAbi(name, address, json.loads(abi)) for name, address, abi in _native.precompile_abis()]


def execute_in_memory(
    env: BlockEnv, alloc: list[Any], raws: list[bytes], senders: bytes, threads: int = 1
) -> tuple[int, float]:
    """The benchmark ceiling: plain revm over an in-memory database; returns (gas used, seconds). With
    ``threads`` > 1 the block is split by sender, one shard per thread on its own copy of the state, with no
    coordination: what that many threads can give at most on this machine."""
    return _native.execute_in_memory(env, alloc, raws, senders, threads)


def recovery_limit(raws: list[bytes], threads: int) -> float:
    """Seconds to decode and sender-recover ``raws`` on ``threads`` threads and nothing else: the limit any
    ingest path is held to."""
    return _native.recovery_limit(raws, threads)


def replay_block(store: Store, env: BlockEnv, raws: list[bytes], senders: bytes, *, inspect: bool) -> tuple[int, float]:
    """The inspector check of ``pysei bench exec``: the block replayed on the store's latest state as tracing
    replays it, through revm's plain path or (``inspect``) its inspector path with a no-op inspector; returns
    (gas used, seconds). Nothing is committed."""
    return _native.replay_block(store, env, raws, senders, inspect=inspect)


@dataclass(frozen=True, slots=True)
class BlockOverrides:
    """eth_call's block overrides: fields of the block environment a call sees instead of its block's."""

    number: int | None = None
    timestamp: int | None = None
    gas_limit: int | None = None
    beneficiary: bytes | None = None
    prevrandao: bytes | None = None
    base_fee: int | None = None


@dataclass(frozen=True, slots=True)
class StateOverride:
    """geth's state override of one account; None keeps the stored value."""

    address: bytes
    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    state: list[tuple[int, int]] | None = None
    """Replaces the whole storage (slots not listed read zero)."""
    state_diff: list[tuple[int, int]] = field(default_factory=list)
    """Replaces only the listed slots."""

    def as_tuple(self) -> NativeStateOverride:
        return (self.address, self.balance, self.nonce, self.code, self.state, self.state_diff)


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
    overrides: list[StateOverride] = field(default_factory=list)
    """eth_call's state overrides: the state the call sees instead of the stored one."""

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
            [o.as_tuple() for o in self.overrides],
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


TracerKind = str
"""``"geth"`` (options: geth's tracer options), ``"parity"`` (trace_transaction's flat traces) or ``"replay"``
(options: a list of Parity trace types)."""


def trace_block(
    store: Store,
    env: BlockEnv,
    parent: int,
    block_hash: bytes,
    txs: list[tuple[bytes, bytes, bytes]],
    first: int,
    kind: TracerKind,
    options: str,
    max_bytes: int,
) -> list[str]:
    """Replays a committed block's transactions ``(raw, sender, hash)`` on the state after block ``parent`` and
    returns the JSON traces of those from index ``first`` on. Raises ValueError for bad options, a trace over
    ``max_bytes`` recorded bytes, or a transaction that does not replay."""
    return _native.trace_block(
        store,
        env,
        parent,
        block_hash,
        [raw for raw, _, _ in txs],
        b"".join(sender for _, sender, _ in txs),
        [h for _, _, h in txs],
        first,
        kind,
        options,
        max_bytes,
    )


def trace_call(
    store: Store, env: BlockEnv, request: CallRequest, at: int | None, kind: TracerKind, options: str, max_bytes: int
) -> str:
    """debug_traceCall: the call traced as JSON on the state after block ``at`` (None: the latest)."""
    return _native.trace_call(store, env, request.as_tuple(), at, kind, options, max_bytes)
