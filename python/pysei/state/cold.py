"""The cold tier's file format: immutable, append-only segment files of zstd-compressed blocks.

A segment holds a contiguous range of blocks, one independently compressed zstd frame per block, so a read
decompresses one block and never its neighbours. A frame is a msgpack ``ColdFrame``: the block's records exactly as
the hot store held them (block record, transaction records in block order, logs) plus its change set; keeping the
stored msgpack bytes (``msgspec.Raw``) means moving a block costs no decoding and reads reuse the hot decoders.

Segments are named by their first block (``000000001000.seg``) and are never modified once renamed into place, so
readers need no locks and cached frames never go stale. What is *in* the tier is decided by the index in the
LMDB store (``pysei.state.tiering`` writes it), not by the files: a segment file the index does not name is the
leftover of an interrupted migration and is deleted by ``discard_unindexed``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import msgspec
import zstandard

SUFFIX = ".seg"
LEVEL = 3
"""zstd level: level 3 (zstd's default) compresses a block in well under a millisecond; higher levels gain a few
percent on this data for several times the CPU of the migration thread."""
FRAME_CACHE = 32
"""Decoded frames kept per process: an RPC request usually reads one block's header, transactions and logs."""


class ColdFrame(msgspec.Struct, frozen=True, array_like=True):
    """One block in a segment, its records as msgpack bytes the hot store's decoders read."""

    block: msgspec.Raw
    """The BlockRecord."""
    txs: list[msgspec.Raw]
    """The TxRecords, in block order (a transaction's position is its index in the block)."""
    logs: msgspec.Raw
    """The list[BlockLog] (empty for a block without logs)."""
    changes: bytes | None
    """The block's change set (``history`` encoding), or None if its history was pruned before it moved."""


class ColdLocation(msgspec.Struct, frozen=True, array_like=True):
    """Where a block's frame is: the segment (its first block), the byte offset and the compressed length."""

    segment: int
    offset: int
    length: int


class SegmentInfo(msgspec.Struct, frozen=True, array_like=True):
    """What a finished segment holds: its blocks and its sizes compressed (the file) and uncompressed."""

    first: int
    last: int
    blocks: int
    compressed: int
    raw: int


_frame_encoder = msgspec.msgpack.Encoder()
_frame_decoder = msgspec.msgpack.Decoder(ColdFrame)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentWriter:
    """Appends frames to a segment's temporary file; ``ColdTier.write`` makes it durable and visible."""

    def __init__(self, file: BinaryIO, first: int) -> None:
        self._file = file
        self._compressor = zstandard.ZstdCompressor(level=LEVEL, write_content_size=True)
        self.first = first
        self.last = first - 1
        self.blocks = 0
        self.offset = 0
        self.raw = 0

    def append(self, number: int, frame: ColdFrame) -> ColdLocation:
        """Adds block ``number`` (numbers must increase) and returns where its frame is."""
        data = _frame_encoder.encode(frame)
        compressed = self._compressor.compress(data)
        self._file.write(compressed)
        location = ColdLocation(self.first, self.offset, len(compressed))
        self.last, self.blocks = number, self.blocks + 1
        self.offset += len(compressed)
        self.raw += len(data)
        return location

    def info(self) -> SegmentInfo:
        return SegmentInfo(self.first, self.last, self.blocks, self.offset, self.raw)


class ColdTier:
    """The segment files in one directory: durable writes and cached frame reads."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.frame = functools.lru_cache(maxsize=FRAME_CACHE)(self._read)
        """The decoded frame at a location (cached: segments are immutable)."""

    def path(self, first: int) -> Path:
        return self.dir / f"{first:012d}{SUFFIX}"

    def _read(self, location: ColdLocation) -> ColdFrame:
        with open(self.path(location.segment), "rb") as f:
            f.seek(location.offset)
            data = f.read(location.length)
        if len(data) != location.length:
            raise OSError(f"cold segment {self.path(location.segment)} is truncated at {location.offset}")
        return _frame_decoder.decode(zstandard.decompress(data))

    @contextmanager
    def write(self, first: int) -> Iterator[SegmentWriter]:
        """Writes the segment starting at block ``first``: frames go to a temporary file, which is fsynced,
        renamed into place and its directory fsynced when the block exits without an error (deleted otherwise).
        Only after that may the index point at the segment, so an indexed frame is always on disk."""
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.path(first)
        tmp = final.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as f:
                yield SegmentWriter(f, first)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
            _fsync_dir(self.dir)
        finally:
            tmp.unlink(missing_ok=True)

    def discard_unindexed(self, through: int | None) -> list[Path]:
        """Deletes what an interrupted migration left: temporary files and segments starting after block
        ``through`` (the last indexed cold block; None: nothing is indexed). Returns the deleted paths."""
        if not self.dir.is_dir():
            return []
        stale = [
            p
            for p in self.dir.iterdir()
            if p.suffix == ".tmp" or (p.suffix == SUFFIX and (through is None or int(p.stem) > through))
        ]
        for p in stale:
            p.unlink()
        return stale
