"""Blocks, receipts and logs as the node stores and serves them.

Headers carry Ethereum's Prague field set so that every client parses them; the block hash is keccak256 of the
header's RLP, as on Ethereum. ``state_root`` is the state commitment the node computes (see ``execution``).
"""

from __future__ import annotations

import msgspec
import rlp

from pysei.chain.constants import EMPTY_OMMERS_HASH, EMPTY_REQUESTS_HASH, EMPTY_ROOT, ZERO_HASH
from pysei.chain.transaction import Transaction
from pysei.native import keccak


class Log(msgspec.Struct, frozen=True, array_like=True):
    address: bytes
    topics: list[bytes]
    data: bytes


class Header(msgspec.Struct, frozen=True, array_like=True):
    parent_hash: bytes
    beneficiary: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    logs_bloom: bytes
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: bytes
    prevrandao: bytes
    base_fee: int

    def rlp_fields(self) -> list[object]:
        """The header as Ethereum encodes it at Prague (no withdrawals, blobs or requests on Sei: empty values)."""
        return [
            self.parent_hash,
            EMPTY_OMMERS_HASH,
            self.beneficiary,
            self.state_root,
            self.transactions_root,
            self.receipts_root,
            self.logs_bloom,
            0,
            self.number,
            self.gas_limit,
            self.gas_used,
            self.timestamp,
            self.extra_data,
            self.prevrandao,
            b"\x00" * 8,
            self.base_fee,
            EMPTY_ROOT,
            0,
            0,
            ZERO_HASH,
            EMPTY_REQUESTS_HASH,
        ]

    def encode(self) -> bytes:
        return rlp.encode(self.rlp_fields())

    def hash(self) -> bytes:
        return keccak(self.encode())


class BlockRecord(msgspec.Struct, frozen=True, array_like=True):
    """A committed block: header, its hash, and the hashes of its transactions in order."""

    header: Header
    hash: bytes
    tx_hashes: list[bytes]
    size: int


class TxRecord(msgspec.Struct, frozen=True, array_like=True):
    """An included transaction with its receipt, keyed by transaction hash in the store.

    The transaction is kept as its raw bytes plus the recovered sender (the decoded form has 256-bit fields
    msgpack cannot hold, and re-decoding without recovery costs about a microsecond); ``to`` and ``type`` are
    copied out because every receipt needs them.
    """

    hash: bytes
    raw: bytes
    sender: bytes
    to: bytes | None
    type: int
    block_number: int
    block_hash: bytes
    index: int
    success: bool
    gas_used: int
    cumulative_gas_used: int
    effective_gas_price: int
    contract_address: bytes | None
    logs: list[Log]
    first_log_index: int
    """Index of this transaction's first log within the block (logIndex is block-wide)."""
    output: bytes
    """Return data, or the revert data of a failed transaction (served as the error's `data`)."""


class BlockLog(msgspec.Struct, frozen=True, array_like=True):
    """One log with its position, as eth_getLogs and subscriptions serve it."""

    log: Log
    tx_hash: bytes
    tx_index: int
    log_index: int


class OrderedBlock(msgspec.Struct, frozen=True):
    """What ordering hands to execution: a position, a time and transactions, nothing that needs execution.

    Ordering never waits for execution (Sei's asynchronous execution), so some of these transactions may turn
    out invalid when they run; execution skips them deterministically.
    """

    number: int
    timestamp: int
    txs: list[Transaction]
