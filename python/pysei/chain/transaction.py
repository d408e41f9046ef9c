"""Decoded, sender-recovered transactions as the node passes them between stages.

Decoding and signature recovery happen in the native kernel (``pysei.native``); this module only holds
the result, so that the mempool and RPC layers never touch RLP or secp256k1 themselves.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from pysei import native

LEGACY_TX_TYPE = 0
ACCESS_LIST_TX_TYPE = 1
DYNAMIC_FEE_TX_TYPE = 2
SET_CODE_TX_TYPE = 4


class Transaction(msgspec.Struct, frozen=True, array_like=True):
    """A signed transaction whose signature checked out and whose sender is known.

    For legacy and EIP-2930 transactions ``max_fee_per_gas`` and ``max_priority_fee_per_gas`` both equal the
    ``gasPrice``, which is how EIP-1559 treats them when it orders and prices them.
    """

    hash: bytes
    """keccak256 of the EIP-2718 encoding (32 bytes)."""
    sender: bytes
    """Recovered 20-byte address."""
    nonce: int
    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    value: int
    to: bytes | None
    """20-byte recipient, or None for contract creation."""
    input: bytes
    type: int
    chain_id: int | None
    """None only for pre-EIP-155 legacy transactions."""
    raw: bytes
    """The EIP-2718 encoding as received; its length is the transaction's size."""
    v: int
    r: int
    s: int
    access_list: list[tuple[bytes, list[bytes]]] = []
    gas_price: int | None = None
    """Legacy and EIP-2930 only."""

    @property
    def size(self) -> int:
        return len(self.raw)

    def effective_gas_price(self, base_fee: int) -> int:
        """Price per gas actually paid in a block with ``base_fee`` (EIP-1559)."""
        return min(self.max_fee_per_gas, base_fee + self.max_priority_fee_per_gas)

    def effective_tip(self, base_fee: int) -> int:
        """Tip per gas the block producer earns at ``base_fee``; negative when the fee cap is below it."""
        return min(self.max_priority_fee_per_gas, self.max_fee_per_gas - base_fee)


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
        for item, raw in zip(native.decode_transactions(raws), raws, strict=True)
    ]


def recover_transactions(raws: list[bytes]) -> list[Transaction | str]:
    """Decodes and recovers a batch in the kernel, which builds the ``Transaction``s (a validator's committed
    cars: they only execute, so no intrinsic gas, and no tuple per entry to unpack here); a string says why an
    entry was refused."""
    return native.recover_transactions(raws, Transaction)


class IngestBatch(NamedTuple):
    """A JSON-RPC batch of ``eth_sendRawTransaction`` parameters after the kernel's ingest (:func:`ingest`)."""

    indices: list[int]
    """Positions in the batch of the admitted transactions."""
    txs: list[Transaction]
    hashes: list[str]
    """Their hashes, 0x-hex, as the answers carry them."""
    refused: list[tuple[int, bool, str]]
    """(position, invalid params?, message) of each refused entry: ``invalid params`` when it was not hex data,
    else the transaction broke a rule (a JSON-RPC server error)."""


def ingest(
    params: list[Any],
    *,
    chain_id: int,
    allow_unprotected: bool,
    gas_limit: int,
    max_tx_size: int,
    aliases: dict[bytes, bytes],
) -> IngestBatch:
    """Parses (0x-hex, or bytes), size-checks, decodes, recovers and checks a batch in one native call, building
    the admitted ``Transaction``s there (see ``pysei.native.ingest_batch`` for the rules and their order)."""
    return IngestBatch(
        *native.ingest_batch(
            params,
            chain_id=chain_id,
            allow_unprotected=allow_unprotected,
            gas_limit=gas_limit,
            max_tx_size=max_tx_size,
            make=Transaction,
            aliases=aliases,
        )
    )


def decode_with_senders(raws: list[bytes], senders: list[bytes]) -> list[Transaction]:
    """Rebuilds stored or forwarded transactions whose senders are known, without signature recovery; the kernel
    builds the ``Transaction``s."""
    return native.decode_with_senders(raws, b"".join(senders), Transaction)
