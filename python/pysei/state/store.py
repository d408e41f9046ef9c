"""The node's view of the flat store: state reads and the chain's records (blocks, transactions, logs).

The LMDB environment is owned by the native kernel (``pysei.native.Store``), opened once per process. Every block
is committed in one LMDB write transaction with its state changes, header, transactions, receipts, logs and
indexes, so a crash at any moment leaves either the whole block or none of it.

Blocks older than the hot window move to the cold tier (``pysei.state.cold``, moved by ``pysei.state.tiering``):
the reads below look in the hot tables first and fall back to the cold index only on a miss, so hot data costs
no cold lookup. A migration swaps a block's hot records for its index entries in one transaction, so a read that
misses the hot table and then consults the index finds the block in one place or the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from pysei.chain.block import BlockLog, BlockRecord, TxRecord, decode_block_logs, decode_tx_record
from pysei.chain.transaction import Transaction, decode_with_senders
from pysei.native import BlockRecords, BlockResult, Store
from pysei.state.cold import ColdFrame, ColdLocation, ColdTier

BLOCKS = "blocks"
"""number (8 bytes, big-endian) → BlockRecord"""
BLOCK_NUMBERS = "block_numbers"
"""block hash → number (8 bytes)"""
TXS = "txs"
"""transaction hash → TxRecord (the transaction, its position and its receipt)"""
BLOCK_LOGS = "block_logs"
"""number → list[BlockLog], only for blocks with logs"""
META = "meta"
"""b"head" → number of the last committed block; b"history_floor" → the lowest block whose state can be read;
b"history_prune_next" → the first block whose history index entries pruning has not deleted yet;
b"cold" → the cold tier's extent and totals (``tiering.ColdState``)"""
COLD_BLOCKS = "cold_blocks"
"""number → ColdLocation of a block moved to the cold tier"""
COLD_TXS = "cold_txs"
"""transaction hash → number (8 bytes) ‖ position in the block (4 bytes), for transactions in the cold tier"""

ADDRESS_TXS = "address_txs"
"""address (20) ‖ number (8) ‖ position in the block (4) → transaction hash, for each address a transaction was
sent from or to or created (the Otterscan search index; it stays in LMDB when its blocks move to the cold tier)"""
CREATORS = "creators"
"""contract address → hash of the transaction whose top-level creation deployed it"""

TABLES = [BLOCKS, BLOCK_NUMBERS, TXS, BLOCK_LOGS, META, COLD_BLOCKS, COLD_TXS, ADDRESS_TXS, CREATORS]

_block_codec = (msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(BlockRecord))
_location_decoder = msgspec.msgpack.Decoder(ColdLocation)
_encode = msgspec.msgpack.Encoder().encode
"""For records Python writes itself (an imported snapshot's head block); execution's come encoded from the kernel."""


def _num(n: int) -> bytes:
    return n.to_bytes(8, "big")


Alloc = list[tuple[bytes, int, int, bytes, list[tuple[int, int]]]]
"""Genesis allocations: (address, balance, nonce, code, [(slot, value)])."""


class ChainStore:
    """Typed reads and atomic block commits over the native store."""

    def __init__(self, path: Path, *, sync: bool = True, cold_dir: Path | None = None) -> None:
        """``path``: the LMDB directory; ``cold_dir``: the cold tier's segments (default: ``cold`` beside it)."""
        self.path = path
        self.native = Store(str(path), TABLES, sync=sync)
        self.cold = ColdTier(path.parent / "cold" if cold_dir is None else cold_dir)

    # --- chain records -------------------------------------------------------------------------------------
    def head(self) -> int | None:
        raw = self.native.get(META, b"head")
        return None if raw is None else int.from_bytes(raw, "big")

    def block(self, number: int) -> BlockRecord | None:
        raw = self.native.get(BLOCKS, _num(number))
        if raw is None:
            frame = self.cold_frame(number)
            if frame is None:
                return None
            raw = frame.block
        return _block_codec[1].decode(raw)

    def block_number(self, block_hash: bytes) -> int | None:
        raw = self.native.get(BLOCK_NUMBERS, block_hash)
        return None if raw is None else int.from_bytes(raw, "big")

    def tx(self, tx_hash: bytes) -> TxRecord | None:
        raw = self.tx_bytes(tx_hash)
        return None if raw is None else decode_tx_record(raw)

    def txs(self, tx_hashes: list[bytes]) -> list[TxRecord | None]:
        return [None if r is None else decode_tx_record(r) for r in self.txs_bytes(tx_hashes)]

    def tx_bytes(self, tx_hash: bytes) -> bytes | None:
        """The encoded ``TxRecord`` of ``tx_hash``, hot or cold (receipts are served from it without decoding)."""
        raw = self.native.get(TXS, tx_hash)
        return self._cold_tx(tx_hash) if raw is None else raw

    def txs_bytes(self, tx_hashes: list[bytes]) -> list[bytes | None]:
        return [
            self._cold_tx(h) if r is None else r
            for h, r in zip(tx_hashes, self.native.get_many(TXS, tx_hashes), strict=True)
        ]

    @staticmethod
    def transactions(records: list[TxRecord]) -> list[Transaction]:
        """The decoded transactions of stored records (no signature recovery)."""
        return decode_with_senders([r.raw for r in records], [r.sender for r in records])

    def block_logs(self, number: int) -> list[BlockLog]:
        raw = self.native.get(BLOCK_LOGS, _num(number))
        if raw is None:
            # Blocks without logs have no entry either: only the cold index tells the two apart.
            frame = self.cold_frame(number)
            if frame is None:
                return []
            raw = frame.logs
        return decode_block_logs(raw)

    def change_set(self, number: int) -> bytes | None:
        """Block ``number``'s change set, hot or cold (None once its history was pruned while hot)."""
        blob = self.native.change_set(number)
        if blob is None and (frame := self.cold_frame(number)) is not None:
            return frame.changes
        return blob

    # --- cold tier -----------------------------------------------------------------------------------------
    def cold_frame(self, number: int) -> ColdFrame | None:
        """Block ``number``'s frame, if the block is in the cold tier."""
        raw = self.native.get(COLD_BLOCKS, _num(number))
        return None if raw is None else self.cold.frame(_location_decoder.decode(raw))

    def _cold_tx(self, tx_hash: bytes) -> bytes | None:
        raw = self.native.get(COLD_TXS, tx_hash)
        if raw is None:
            return None
        frame = self.cold_frame(int.from_bytes(raw[:8], "big"))
        return None if frame is None else bytes(frame.txs[int.from_bytes(raw[8:], "big")])

    # --- state ---------------------------------------------------------------------------------------------
    # ``at``: the state after that block (from the history index), None: the latest committed state.
    def balance(self, address: bytes, at: int | None = None) -> int:
        account = self.native.account(address, at)
        return 0 if account is None else account[0]

    def nonce(self, address: bytes, at: int | None = None) -> int:
        account = self.native.account(address, at)
        return 0 if account is None else account[1]

    def nonce_and_balance(self, address: bytes) -> tuple[int, int]:
        return self.nonces_and_balances([address])[0]

    def nonces_and_balances(self, addresses: Sequence[bytes]) -> list[tuple[int, int]]:
        return self.native.nonces_and_balances(list(addresses)) if addresses else []

    def code(self, address: bytes, at: int | None = None) -> bytes:
        return self.native.code(address, at)

    def storage(self, address: bytes, slot: int, at: int | None = None) -> int:
        return self.native.storage(address, slot, at)

    def history_floor(self) -> int:
        """The lowest block whose state can still be read (history below it was pruned)."""
        raw = self.native.get(META, b"history_floor")
        return 0 if raw is None else int.from_bytes(raw, "big")

    # --- commitment ----------------------------------------------------------------------------------------
    def commitment(self, number: int) -> bytes | None:
        """The LtHash state commitment after block ``number``, once the commitment worker has computed it."""
        return self.native.commitment(number)

    # --- commits -------------------------------------------------------------------------------------------
    def commit_block(
        self,
        block: BlockRecord,
        *,
        result: BlockResult | None = None,
        records: BlockRecords | None = None,
        alloc: Alloc | None = None,
    ) -> None:
        """Writes the block, its state changes, its transaction records and logs (as the kernel encoded them) and
        every index in one atomic transaction."""
        number = block.header.number
        self.native.commit(
            number,
            result=result,
            alloc=alloc,
            hashes=[(number, block.hash)],
            writes=self.block_writes(block),
            # The kernel encoded the records and their address index and creator entries: nothing per transaction
            # runs in Python (the worker thread holding the GIL stalls the event loop).
            records=None if records is None else (TXS, BLOCK_LOGS, ADDRESS_TXS, CREATORS, records),
        )

    def rollback(self, to: int) -> BlockRecord:
        """Undoes every block after ``to`` (a devnet revert): state from the change sets, and the blocks, their
        transactions, logs and indexes, in one transaction. The blocks must still be hot. Returns block ``to``."""
        head = self.head()
        target = self.block(to)
        if head is None or target is None or to > head:
            raise ValueError(f"cannot roll back to block {to}: not in the chain (head {head})")
        if to < head and self.native.change_set(to + 1) is None:
            raise ValueError(
                f"cannot roll back to block {to}: block {to + 1} already moved to the cold tier "
                f"(only the last --hot-blocks blocks can be reverted)"
            )
        writes: list[tuple[str, bytes, bytes | None]] = []
        for number in range(to + 1, head + 1):
            block = self.block(number)
            assert block is not None, f"block {number} below the head is missing"
            writes += [
                (BLOCKS, _num(number), None),
                (BLOCK_NUMBERS, block.hash, None),
                (BLOCK_LOGS, _num(number), None),
            ]
            for rec in self.txs(block.tx_hashes):
                assert rec is not None, f"a transaction of hot block {number} is missing"
                writes.append((TXS, rec.hash, None))
                writes.extend((table, key, None) for table, key, _ in address_index_writes([rec]))
        writes.append((META, b"head", _num(to)))
        self.native.rollback(to, head, writes)
        return target

    # --- address index -------------------------------------------------------------------------------------
    def address_txs(
        self, address: bytes, *, below: int | None, above: int | None, limit: int
    ) -> list[tuple[int, bytes]]:
        """``(block number, tx hash)`` of up to ``limit`` transactions of ``address`` (sent, received, created) in
        blocks below ``below`` (newest first) or above ``above`` (oldest first)."""
        if below is not None:
            start, end, reverse = address, address + _num(below), True
        else:
            start, end, reverse = address + _num((above or 0) + 1), address + b"\xff" * 12, False
        entries = self.native.scan(ADDRESS_TXS, start, end, reverse=reverse, limit=limit)
        return [(int.from_bytes(k[20:28], "big"), v) for k, v in entries]

    def creator(self, address: bytes) -> bytes | None:
        """The transaction that deployed ``address`` (at top level or by an internal creation), if one did."""
        return self.native.get(CREATORS, address)

    @staticmethod
    def block_writes(
        block: BlockRecord, txs: Iterable[TxRecord] = (), logs: list[BlockLog] | None = None
    ) -> list[tuple[str, bytes, bytes | None]]:
        """The table writes that make ``block`` the stored head: its record, its hash index, the head mark, and its
        transactions (with receipts) and logs."""
        number = block.header.number
        writes: list[tuple[str, bytes, bytes | None]] = [
            (BLOCKS, _num(number), _block_codec[0].encode(block)),
            (BLOCK_NUMBERS, block.hash, _num(number)),
            (META, b"head", _num(number)),
        ]
        txs = list(txs)
        writes.extend((TXS, rec.hash, _encode(rec)) for rec in txs)
        writes += address_index_writes(txs)
        if logs:
            writes.append((BLOCK_LOGS, _num(number), _encode(logs)))
        return writes


def address_index_writes(txs: Iterable[TxRecord]) -> list[tuple[str, bytes, bytes | None]]:
    """The address index entries of a block's transactions (Otterscan's searches) and their contract creators."""
    writes: list[tuple[str, bytes, bytes | None]] = []
    for rec in txs:
        writes.extend((ADDRESS_TXS, key, rec.hash) for key in _address_keys(rec))
        writes.extend((CREATORS, contract, rec.hash) for contract in _contracts(rec))
    return writes


def _contracts(rec: TxRecord) -> list[bytes]:
    """The contracts a transaction deployed: at top level (if that succeeded: a failed deployment's receipt names
    the address all the same) and by its internal creations (those that stayed)."""
    top = [rec.contract_address] if rec.contract_address is not None and rec.success else []
    return top + [address for address, _ in rec.created]


def _address_keys(rec: TxRecord) -> set[bytes]:
    """The address index keys of a transaction: its sender, recipient, created contract and the addresses its
    internal calls reached. Executed blocks get theirs from the kernel (``native/src/records.rs``), which files the
    same keys (``tests/test_records.py`` compares them); these serve a rollback and an imported head block."""
    position = _num(rec.block_number) + rec.index.to_bytes(4, "big")
    return {a + position for a in (rec.sender, rec.to, rec.contract_address, *rec.internal) if a is not None}
