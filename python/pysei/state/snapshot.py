"""State snapshots: the whole state at a block, exported to one file and imported into a fresh data directory,
verified against the block's LtHash commitment. This is how a new validator catches up without replaying the chain.

File format (``pysei-snapshot/1``): one zstd stream (with content checksums, so a flipped bit is caught before
anything is parsed) holding length-prefixed msgpack frames: a :class:`SnapshotHeader`, then chunks of state
records. Records are the commitment's key/value pairs (``pysei/state/commitment.py``: accounts, code, storage),
so importing is "hash every record, compare with the header's commitment, then write"; nothing is written unless
the whole file verifies.

The state at a past block is the current state with the hot change sets of the later blocks undone (each change
set holds every record's old value), so a snapshot can be taken at any block whose later change sets are hot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec
import zstandard

from pysei.chain.block import BlockLog, BlockRecord, TxRecord
from pysei.chain.constants import EMPTY_CODE_HASH
from pysei.native import Store
from pysei.state import lthash
from pysei.state.commitment import ACCOUNT_PREFIX, CODE_PREFIX, STORAGE_PREFIX
from pysei.state.store import META, Alloc, ChainStore

FORMAT = "pysei-snapshot/1"
CHUNK = 10_000
"""Records per frame: bounds the memory of a reader that streams."""
BLOCKHASH_WINDOW = 256
"""BLOCKHASH reaches this many blocks back, so the snapshot carries their hashes."""


class SnapshotError(Exception):
    """A snapshot cannot be exported or is refused on import; the message says why."""


class SnapshotHeader(msgspec.Struct, frozen=True):
    format: str
    chain_id: int
    block: BlockRecord
    """The block whose post-state the snapshot holds; it becomes the importing store's head."""
    commitment: bytes
    """LtHash digest of that state: what the records must hash to."""
    commitments: list[tuple[int, bytes]]
    """Commitments of the blocks just before it, carried by the headers of the blocks that follow."""
    block_hashes: list[tuple[int, bytes]]
    """Canonical hashes of the preceding blocks, for BLOCKHASH."""
    records: int
    txs: list[TxRecord] = msgspec.field(default_factory=list)
    """The block's transactions with their receipts: its header lists them, so clients read them (fee history)."""
    logs: list[BlockLog] = msgspec.field(default_factory=list)


_header_decoder = msgspec.msgpack.Decoder(SnapshotHeader)
_chunk_decoder = msgspec.msgpack.Decoder(list[tuple[bytes, bytes]])
_encode = msgspec.msgpack.Encoder().encode


def recompute_commitment(records: Iterator[tuple[bytes, bytes]] | list[tuple[bytes, bytes]]) -> bytes:
    """The LtHash digest of a state from scratch (the reference implementation, independent of the worker)."""
    return lthash.hash_pairs(records).digest()


def state_at(store: ChainStore, number: int) -> dict[bytes, bytes]:
    """Every state record after block ``number``: the current records with later blocks' change sets undone."""
    while True:
        head = store.head()
        records = dict(store.native.state_records())
        if store.head() == head:  # no block committed while reading (a node may be running)
            break
    if head is None or number > head:
        raise SnapshotError(f"block {number} is not in this store (head {head})")
    for n in range(head, number, -1):
        blob = store.native.change_set(n)
        if blob is None:
            raise SnapshotError(f"the change set of block {n} is no longer hot: choose a block at or above {n}")
        for key, old, _new in Store.decode_change_set(blob):
            if old is None:
                records.pop(key, None)
            else:
                records[key] = old
    return records


def _write_frame(out: BinaryIO, payload: bytes) -> None:
    out.write(len(payload).to_bytes(4, "little"))
    out.write(payload)


def export(
    store: ChainStore,
    path: Path,
    *,
    chain_id: int,
    number: int | None = None,
    delay: int = 2,
    advance: bool = True,
) -> SnapshotHeader:
    """Writes the state after block ``number`` (default: the head) to ``path``; returns the header written.

    The commitment is brought up to the head first (the worker of a stopped node may trail by a few blocks;
    ``advance=False`` for a running node, whose worker does that and whose ``number`` has its commitment), and
    the exported records are checked against it before the file is renamed into place."""
    head = store.head()
    if head is None:
        raise SnapshotError("the store holds no chain")
    number = head if number is None else number
    if advance:
        store.native.advance_commitment(head)
    commitment = store.commitment(number)
    if commitment is None:
        raise SnapshotError(f"no commitment recorded for block {number}")
    block = store.block(number)
    if block is None:
        raise SnapshotError(f"block {number} not found")
    txs = [r for r in store.txs(block.tx_hashes) if r is not None]
    if len(txs) != len(block.tx_hashes):
        raise SnapshotError(f"the transactions of block {number} are missing from the store: the store is corrupt")
    records = sorted(state_at(store, number).items())
    if recompute_commitment(records) != commitment:
        raise SnapshotError(f"the state rebuilt at block {number} does not match its commitment: the store is corrupt")
    recent = [(n, store.commitment(n)) for n in range(max(0, number - delay), number)]
    hashes = []
    for n in range(max(0, number - BLOCKHASH_WINDOW), number):
        b = store.block(n)
        if b is not None:
            hashes.append((n, b.hash))
    header = SnapshotHeader(
        format=FORMAT,
        chain_id=chain_id,
        block=block,
        commitment=commitment,
        commitments=[(n, c) for n, c in recent if c is not None],
        block_hashes=hashes,
        records=len(records),
        txs=txs,
        logs=store.block_logs(number),
    )
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw:
        with zstandard.ZstdCompressor(level=3, write_checksum=True).stream_writer(raw, closefd=False) as out:
            _write_frame(out, _encode(header))
            for i in range(0, len(records), CHUNK):
                _write_frame(out, _encode(records[i : i + CHUNK]))
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, path)
    return header


def _frames(stream: BinaryIO) -> Iterator[bytes]:
    while prefix := stream.read(4):
        if len(prefix) < 4:
            raise SnapshotError("truncated snapshot")
        n = int.from_bytes(prefix, "little")
        payload = stream.read(n)
        if len(payload) < n:
            raise SnapshotError("truncated snapshot")
        yield payload


def read(path: Path) -> tuple[SnapshotHeader, list[tuple[bytes, bytes]]]:
    """Reads and verifies a snapshot: format, block hash, record count and the LtHash commitment."""
    try:
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream:
            frames = _frames(stream)
            first = next(frames, None)
            if first is None:
                raise SnapshotError("empty snapshot")
            header = _header_decoder.decode(first)
            records = [r for frame in frames for r in _chunk_decoder.decode(frame)]
    except (zstandard.ZstdError, msgspec.DecodeError, msgspec.ValidationError) as e:
        raise SnapshotError(f"corrupt snapshot {path}: {e}") from None
    if header.format != FORMAT:
        raise SnapshotError(f"unsupported snapshot format {header.format!r} (expected {FORMAT!r})")
    if header.block.header.hash() != header.block.hash:
        raise SnapshotError("corrupt snapshot: the block record does not hash to its hash")
    if [r.hash for r in header.txs] != header.block.tx_hashes:
        raise SnapshotError("corrupt snapshot: its transactions are not the ones its block lists")
    if len(records) != header.records:
        raise SnapshotError(f"corrupt snapshot: {len(records)} records, the header says {header.records}")
    computed = recompute_commitment(records)
    if computed != header.commitment:
        raise SnapshotError(
            f"snapshot refused: its state hashes to {computed.hex()}, not to the commitment "
            f"{header.commitment.hex()} of block {header.block.header.number}"
        )
    return header, records


def _alloc(records: list[tuple[bytes, bytes]]) -> tuple[Alloc, list[bytes]]:
    """Splits records into genesis-style allocations and the code no account holds (still committed to)."""
    codes = {k[1:]: v for k, v in records if k[:1] == CODE_PREFIX}
    slots: dict[bytes, list[tuple[int, int]]] = {}
    for k, v in records:
        if k[:1] == STORAGE_PREFIX:
            slots.setdefault(k[1:21], []).append((int.from_bytes(k[21:], "big"), int.from_bytes(v, "big")))
    alloc: Alloc = []
    used: set[bytes] = set()
    for k, v in records:
        if k[:1] != ACCOUNT_PREFIX:
            continue
        address, code_hash = k[1:], v[40:]
        code = codes.get(code_hash, b"")
        if not code and code_hash != EMPTY_CODE_HASH:
            raise SnapshotError(f"account {address.hex()} refers to code {code_hash.hex()} the snapshot lacks")
        used.add(code_hash)
        alloc.append(
            (address, int.from_bytes(v[8:40], "big"), int.from_bytes(v[:8], "big"), code, slots.pop(address, []))
        )
    if slots:
        raise SnapshotError(f"storage of {len(slots)} accounts that do not exist")
    return alloc, [c for h, c in codes.items() if h not in used]


def import_into(store: ChainStore, path: Path, *, trusted_block_hash: bytes | None = None) -> SnapshotHeader:
    """Verifies ``path`` and writes its state, block and commitments into an empty store, in one transaction.

    ``trusted_block_hash``: the hash of the snapshot's block from a source the operator trusts (another
    validator, an explorer); without it the snapshot is only checked to be self-consistent."""
    if store.head() is not None:
        raise SnapshotError("the target store already holds a chain: import into an empty data directory")
    header, records = read(path)
    if trusted_block_hash is not None and header.block.hash != trusted_block_hash:
        raise SnapshotError(
            f"snapshot refused: its block hash {header.block.hash.hex()} is not the trusted {trusted_block_hash.hex()}"
        )
    alloc, orphan_codes = _alloc(records)
    number = header.block.header.number
    writes = store.block_writes(header.block, header.txs, header.logs)
    writes.append((META, b"history_floor", number.to_bytes(8, "big")))
    store.native.commit(
        number,
        alloc=alloc,
        codes=orphan_codes,
        hashes=[*header.block_hashes, (number, header.block.hash)],
        writes=writes,
        commitments=header.commitments,
    )
    # The kernel's own commitment of what was written must agree too: the store was empty, so it starts from
    # this block's change set (the whole imported state) and records the block's commitment itself.
    computed = dict(store.native.advance_commitment(number)).get(number)
    if computed != header.commitment:
        got = computed.hex() if computed is not None else "nothing"
        raise SnapshotError(f"imported state hashes to {got}, not {header.commitment.hex()}: store corrupt")
    return header
