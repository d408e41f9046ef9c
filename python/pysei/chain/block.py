"""Blocks, receipts and logs as the node stores and serves them.

Headers carry Ethereum's Prague field set so that every client parses them; the block hash is keccak256 of the
header's RLP, as on Ethereum. ``state_root`` is the state commitment the node computes (see ``execution``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, Protocol, overload

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
    internal: tuple[bytes, ...] = ()
    """The other addresses the transaction's Parity trace names (its internal calls' ends, its creations' callers
    and the contracts they made, even ones a later revert undid), once each, sorted. The address index files the
    transaction under them too. Records written before this field existed decode with none."""
    created: tuple[tuple[bytes, bytes], ...] = ()
    """The contracts the transaction's internal creations made that stayed (a revert above undoes the others), each
    with its creator, by address: ``ots_getContractCreator`` finds them. Records written before this field
    existed decode with none."""
    bloom_bits: bytes | None = None
    """The set bits of the receipt's logs bloom as the kernel computed it (positions 0–2047, bit ``p`` being bit
    ``p % 8`` of byte ``p // 8``, two big-endian bytes each, ascending): a dozen bytes where the bloom is 256, and
    served receipts need no keccak per log (``native/src/receipts.rs``). None in records written before it existed
    (the bloom is then computed from the logs)."""


class BlockLog(msgspec.Struct, frozen=True, array_like=True):
    """One log with its position, as eth_getLogs and subscriptions serve it."""

    log: Log
    tx_hash: bytes
    tx_index: int
    log_index: int


decode_tx_record = msgspec.msgpack.Decoder(TxRecord).decode
"""A stored ``TxRecord`` (encoded by the kernel, ``native/src/records.rs``) as Python reads it."""
decode_block_logs = msgspec.msgpack.Decoder(list[BlockLog]).decode
"""A block's stored ``list[BlockLog]``."""


class EncodedRecords(Protocol):
    """Encoded ``TxRecord``s by position (the kernel's ``BlockRecords``)."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int, /) -> bytes: ...


class TxRecords(Sequence[TxRecord]):
    """A block's transaction records as the kernel encoded them, decoded only when read: most blocks are never
    read back by the process that executed them."""

    __slots__ = ("_encoded",)

    def __init__(self, encoded: EncodedRecords) -> None:
        self._encoded = encoded

    def __len__(self) -> int:
        return len(self._encoded)

    @overload
    def __getitem__(self, index: int) -> TxRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[TxRecord]: ...
    def __getitem__(self, index: int | slice) -> TxRecord | list[TxRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("record index out of range")
        return decode_tx_record(self._encoded[index])

    def __iter__(self) -> Iterator[TxRecord]:
        return (decode_tx_record(self._encoded[i]) for i in range(len(self)))


class BlockLogs(Sequence[BlockLog]):
    """A block's logs from their stored encoding, decoded on first read (only filters and subscriptions read
    them)."""

    __slots__ = ("_count", "_decoded", "_encoded")

    def __init__(self, encoded: bytes | None, count: int) -> None:
        self._encoded = encoded
        self._count = count
        self._decoded: list[BlockLog] | None = None

    def _logs(self) -> list[BlockLog]:
        if self._decoded is None:
            self._decoded = [] if self._encoded is None else decode_block_logs(self._encoded)
        return self._decoded

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> BlockLog: ...
    @overload
    def __getitem__(self, index: slice) -> list[BlockLog]: ...
    def __getitem__(self, index: int | slice) -> BlockLog | list[BlockLog]:
        return self._logs()[index]

    def __iter__(self) -> Iterator[BlockLog]:
        return iter(self._logs())


InfractionKind = Literal["double-vote", "lane-equivocation", "conflicting-proposals"]


class Infraction(msgspec.Struct, frozen=True):
    """Evidence that a validator signed two conflicting messages: its Ed25519 consensus key (32 bytes), the height
    of the infraction and what it signed twice. The slashing module slashes, jails and tombstones it."""

    pubkey: bytes
    height: int
    kind: InfractionKind


class OrderedBlock(msgspec.Struct, frozen=True):
    """What ordering hands to execution: a position, a time and transactions, nothing that needs execution.

    Ordering never waits for execution (Sei's asynchronous execution), so some of these transactions may turn
    out invalid when they run; execution skips them deterministically. Consensus adds what it decided about the
    block: ``evidence`` of misbehaviour, and ``signers``, the consensus keys that signed the block's commit
    certificate (None on the devnet's sequencer: no downtime tracking).
    """

    number: int
    timestamp: int
    txs: list[Transaction]
    evidence: tuple[Infraction, ...] = ()
    signers: tuple[bytes, ...] | None = None
