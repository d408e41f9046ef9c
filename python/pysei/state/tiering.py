"""Tiered storage policy: moving old blocks to the cold tier and pruning historical state, after blocks commit.

The hot LMDB store keeps the current state, the history index and the last ``hot_blocks`` blocks; older blocks
(header, transactions, receipts, logs and change set) move to compressed segments (``pysei.state.cold``) and stay
readable through ``ChainStore``. With pruning (``history_blocks`` set) the history index entries of blocks more
than ``history_blocks`` below the head are deleted and the history floor advances; blocks and receipts are never
deleted. Both steps only touch blocks the commitment worker is done with, since it reads the hot change sets of
the blocks after its last one.

Crash safety, in order: a segment file is written to a temporary name, fsynced, renamed and its directory
fsynced; only then does one LMDB transaction record the index entries and delete the hot records. A crash
before that transaction leaves every block hot and an unindexed file, which ``recover`` deletes (or the redone
migration replaces). Pruning first advances the floor (so no query reads a block whose history is going), then
deletes index entries block by block, then records its progress; a crash in between is redone from the recorded
progress (deleting an absent entry is a no-op).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec

from pysei.chain.block import BlockRecord
from pysei.state.cold import ColdFrame, SegmentInfo
from pysei.state.store import BLOCK_LOGS, BLOCKS, COLD_BLOCKS, COLD_TXS, META, TXS, ChainStore
from pysei.state.trailing import TrailingWorker

log = logging.getLogger("pysei.tiering")

HOT_BLOCKS = 10_000
SEGMENT_BLOCKS = 1_000
HISTORY_BLOCKS = 100_000
SEGMENT_BYTES = 256 * 2**20
"""A segment also ends once its blocks hold this many uncompressed bytes: one segment moves in one LMDB
transaction, built in memory, so full blocks (thousands of transactions each) must not make it unbounded."""

_COLD = b"cold"
_FLOOR = b"history_floor"
_PRUNE_NEXT = b"history_prune_next"
_EMPTY_LOGS = msgspec.msgpack.encode([])
_encode = msgspec.msgpack.Encoder().encode
_block_decoder = msgspec.msgpack.Decoder(BlockRecord)


def _num(n: int) -> bytes:
    return n.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class TierPolicy:
    hot_blocks: int = HOT_BLOCKS
    """Blocks below the head whose records stay in the hot store."""
    segment_blocks: int = SEGMENT_BLOCKS
    """Blocks per cold segment (fewer if they exceed ``SEGMENT_BYTES``); also the batch in which history is
    pruned."""
    history_blocks: int | None = HISTORY_BLOCKS
    """Blocks of historical state kept below the head (None: archive, keep all)."""


class ColdState(msgspec.Struct, frozen=True, array_like=True):
    """The cold tier's extent and totals (META b"cold"), updated in the transaction that indexes a segment."""

    first: int
    through: int
    """The last cold block: segments are contiguous, so every block in ``first..through`` is cold."""
    segments: int
    blocks: int
    compressed: int
    raw: int


_state_decoder = msgspec.msgpack.Decoder(ColdState)


def cold_state(store: ChainStore) -> ColdState | None:
    raw = store.native.get(META, _COLD)
    return None if raw is None else _state_decoder.decode(raw)


def _meta_int(store: ChainStore, key: bytes) -> int | None:
    raw = store.native.get(META, key)
    return None if raw is None else int.from_bytes(raw, "big")


def _lowest_hot_block(store: ChainStore, head: int) -> int:
    """The first block in the hot store (hot blocks are contiguous up to the head; a store started from a
    snapshot begins at the snapshot's block)."""
    lo, hi = 0, head
    while lo < hi:
        mid = (lo + hi) // 2
        if store.native.get(BLOCKS, _num(mid)) is None:
            lo = mid + 1
        else:
            hi = mid
    return lo


def recover(store: ChainStore) -> list[str]:
    """Deletes what an interrupted migration left behind (its blocks are still hot and will move again)."""
    state = cold_state(store)
    return [str(p) for p in store.cold.discard_unindexed(None if state is None else state.through)]


def migrate_segment(store: ChainStore, first: int, last: int) -> SegmentInfo:
    """Moves blocks ``first..last`` (hot, after the cold tier's last block) into a new segment, or only the first
    of them that hold ``SEGMENT_BYTES``; the returned info says which."""
    native = store.native
    writes: list[tuple[str, bytes, bytes | None]] = []
    moved_changes: list[int] = []
    with store.cold.write(first) as segment:
        for n in range(first, last + 1):
            key = _num(n)
            raw_block = native.get(BLOCKS, key)
            if raw_block is None:
                raise RuntimeError(f"block {n} is not in the hot store: cannot move it to the cold tier")
            tx_hashes = _block_decoder.decode(raw_block).tx_hashes
            raw_txs = native.get_many(TXS, tx_hashes)
            raw_logs = native.get(BLOCK_LOGS, key)
            changes = native.change_set(n)
            txs = [msgspec.Raw(r) for r in raw_txs if r is not None]
            if len(txs) != len(tx_hashes):
                raise RuntimeError(f"block {n} is missing transaction records")
            frame = ColdFrame(msgspec.Raw(raw_block), txs, msgspec.Raw(raw_logs or _EMPTY_LOGS), changes)
            writes.append((COLD_BLOCKS, key, _encode(segment.append(n, frame))))
            writes.append((BLOCKS, key, None))
            if raw_logs is not None:
                writes.append((BLOCK_LOGS, key, None))
            for i, h in enumerate(tx_hashes):
                writes.append((COLD_TXS, h, key + i.to_bytes(4, "big")))
                writes.append((TXS, h, None))
            if changes is not None:
                moved_changes.append(n)
            if segment.raw >= SEGMENT_BYTES:
                break
        info = segment.info()
    old = cold_state(store)
    state = ColdState(
        first=first if old is None else old.first,
        through=info.last,
        segments=(0 if old is None else old.segments) + 1,
        blocks=(0 if old is None else old.blocks) + info.blocks,
        compressed=(0 if old is None else old.compressed) + info.compressed,
        raw=(0 if old is None else old.raw) + info.raw,
    )
    writes.append((META, _COLD, _encode(state)))
    native.write_tables(writes, drop_change_sets=moved_changes)
    return info


def _prune_next(store: ChainStore) -> int:
    """The first block whose history index entries are not deleted yet (before any pruning: the floor, which a
    store started from a snapshot begins at)."""
    start = _meta_int(store, _PRUNE_NEXT)
    return store.history_floor() if start is None else start


def prune_history(store: ChainStore, floor: int) -> int:
    """Deletes the historical state below block ``floor`` (the state after ``floor`` stays readable); returns
    the number of blocks whose history index entries were deleted."""
    native = store.native
    start = _prune_next(store)
    native.write_tables([(META, _FLOOR, _num(floor)), (META, _PRUNE_NEXT, _num(start))])
    pruned = 0
    for n in range(start, floor + 1):
        blob = store.change_set(n)
        if blob is not None:  # None: pruned while hot, before a crash
            native.prune_history(n, blob)
            pruned += 1
    native.write_tables([(META, _PRUNE_NEXT, _num(floor + 1))])
    return pruned


def maintain(store: ChainStore, policy: TierPolicy, head: int) -> None:
    """Prunes and migrates whatever ``policy`` allows with ``head`` committed, in whole batches."""
    state = store.native.commitment_state()
    done = -1 if state is None else state[0]
    batch = policy.segment_blocks
    if policy.history_blocks is not None:
        floor = min(head - policy.history_blocks, done)
        if floor - _prune_next(store) + 1 >= batch:
            pruned = prune_history(store, floor)
            log.info("pruned the history of %d blocks: state is kept from block %d", pruned, floor)
    limit = min(head - policy.hot_blocks, done)
    if limit < batch - 1:
        return
    cold = cold_state(store)
    first = _lowest_hot_block(store, head) if cold is None else cold.through + 1
    while first + batch - 1 <= limit:
        info = migrate_segment(store, first, first + batch - 1)
        log.info(
            "moved blocks %d..%d to the cold tier (%d → %d bytes)", info.first, info.last, info.raw, info.compressed
        )
        first = info.last + 1


class TierWorker(TrailingWorker):
    """A thread that runs ``maintain`` when blocks commit: off the event loop and never concurrently with itself.

    A failed pass (a full disk, say) is logged and retried after the next block: the hot store keeps working,
    it only grows."""

    def __init__(self, store: ChainStore, policy: TierPolicy) -> None:
        self._store = store
        self._policy = policy
        for path in recover(store):
            log.warning("deleted %s, left by an interrupted migration", path)
        super().__init__("tiering", -1)

    def _advance(self, target: int) -> None:
        maintain(self._store, self._policy, target)

    def _failed(self, error: BaseException, target: int) -> bool:
        if not isinstance(error, Exception):
            raise error  # a Rust panic or an interrupt ends the thread loudly, as before
        log.error("tiered storage pass at block %d failed; retrying after the next block", target, exc_info=error)
        return True


@dataclass(frozen=True, slots=True)
class TierSizes:
    """Sizes per tier, for ``pysei db stats`` and the state benchmark."""

    hot_file: int
    """The LMDB file (data.mdb), free pages included."""
    hot_tables: list[tuple[str, int, int]]
    """(table, entries, bytes in use) of every LMDB table."""
    cold: ColdState | None

    @property
    def hot_bytes(self) -> int:
        return sum(b for _, _, b in self.hot_tables)

    @property
    def cold_bytes(self) -> int:
        return 0 if self.cold is None else self.cold.compressed


def tier_sizes(store: ChainStore) -> TierSizes:
    """Bytes in use per tier: the hot LMDB tables and the cold segments (compressed and raw)."""
    data = store.path / "data.mdb"
    return TierSizes(
        hot_file=data.stat().st_size if data.exists() else 0,
        hot_tables=store.native.table_stats(),
        cold=cold_state(store),
    )
