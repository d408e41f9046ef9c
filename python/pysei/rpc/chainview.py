"""Block tags and state reads at a block, shared by every namespace that takes a block parameter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from pysei.chain.block import BlockRecord, TxRecord
from pysei.native import receipt_json
from pysei.rpc import codec
from pysei.rpc.errors import invalid_params, server_error
from pysei.rpc.interfaces import ChainHead, ChainReader

T = TypeVar("T")


class ChainView:
    """Resolves block tags against the committed chain and pins state reads to one block."""

    def __init__(self, chain: ChainReader, head: ChainHead) -> None:
        self.chain = chain
        self._head = head

    @property
    def head(self) -> BlockRecord:
        head = self._head.head
        assert head is not None, "genesis is committed before the RPC starts"
        return head

    def block_number(self, tag: Any) -> int:
        head = self.head.header.number
        if tag is None or tag in ("latest", "pending", "safe", "finalized"):
            return head
        if tag == "earliest":
            return 0
        if isinstance(tag, dict):
            if tag.get("blockHash") is not None:
                if tag.get("blockNumber") is not None:
                    raise invalid_params("invalid block: cannot specify both blockHash and blockNumber")
                block_hash = codec.hash32(tag["blockHash"], "blockHash")
                number = self.chain.block_number(block_hash)
                if number is None:
                    raise server_error(f"header for hash 0x{block_hash.hex()} not found")
                return number
            if tag.get("blockNumber") is None:
                raise invalid_params("invalid block: object needs blockHash or blockNumber")
            return self.block_number(tag["blockNumber"])
        if isinstance(tag, str) and not tag.startswith(("0x", "0X")):
            raise invalid_params(f"invalid block: {codec.shown(tag)} is neither a block number nor a tag")
        return codec.quantity(tag, "block number", 64)

    def block_by_tag(self, tag: Any) -> BlockRecord | None:
        number = self.block_number(tag)
        return self.chain.block(number) if number <= self.head.header.number else None

    def block_by_hash(self, value: Any) -> BlockRecord | None:
        number = self.chain.block_number(codec.hash32(value, "block hash"))
        return None if number is None or number > self.head.header.number else self.chain.block(number)

    def tx(self, tx_hash: bytes) -> TxRecord | None:
        """The stored record of ``tx_hash`` if its block is at or below the head. The store writes a block's
        records before the executor moves the head, so without this check a client could see a receipt and then
        read the sender's nonce at ``latest`` from the block before it."""
        record = self.chain.tx(tx_hash)
        return record if record is not None and record.block_number <= self.head.header.number else None

    def receipt(self, tx_hash: bytes) -> orjson.Fragment | None:
        """The receipt JSON of ``tx_hash`` if its block is at or below the head (see :meth:`tx`)."""
        raw = self.chain.tx_bytes(tx_hash)
        if raw is None:
            return None
        number, receipt = receipt_json(raw)
        return orjson.Fragment(receipt) if number <= self.head.header.number else None

    def state_block(self, tag: Any) -> BlockRecord:
        """The block whose state a query wants. State reads then pass its number, so a block committed meanwhile
        does not leak into the answer; past blocks are read from the history index down to the pruning floor."""
        number = self.block_number(tag)
        head = self.head
        if number > head.header.number:
            raise server_error(f"block {number} not found (head is {head.header.number})")
        if number == head.header.number:
            return head
        self.check_retained(number)
        block = self.chain.block(number)
        if block is None:
            raise server_error(f"block {number} not found")
        return block

    def check_retained(self, number: int) -> None:
        floor = self.chain.history_floor()
        if number < floor:
            raise server_error(
                f"historical state not available: block {number} is below the retained history "
                f"(blocks {floor}..{self.head.header.number}; run with --pruning archive to keep all)"
            )

    def read_state(self, tag: Any, read: Callable[[BlockRecord], T]) -> tuple[BlockRecord, T]:
        """Runs ``read`` on the state after the block ``tag`` names, and checks the history floor again afterwards:
        a pruning pass that advanced it meanwhile may have deleted history entries the read used."""
        block = self.state_block(tag)
        out = read(block)
        self.check_retained(block.header.number)
        return block, out
