"""Minimal, fast signed-transaction encoder (legacy EIP-155, EIP-2930, EIP-1559, EIP-7702) over rlp + coincurve.

Cross-checked byte-for-byte against eth-account in ``test_oracle_sanity.py``; used by the strategies because it is
an order of magnitude faster than eth-account's formatter-heavy ``sign_transaction``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import rlp
from coincurve import PrivateKey
from eth_hash.auto import keccak


@dataclass(frozen=True)
class Key:
    secret: bytes

    @property
    def address(self) -> bytes:
        return _address(self.secret)

    def sign(self, msg_hash: bytes) -> tuple[int, int, int]:
        sig = PrivateKey(self.secret).sign_recoverable(msg_hash, hasher=None)
        return sig[64], int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")


_ADDR_CACHE: dict[bytes, bytes] = {}


def _address(secret: bytes) -> bytes:
    if secret not in _ADDR_CACHE:
        pub = PrivateKey(secret).public_key.format(compressed=False)[1:]
        _ADDR_CACHE[secret] = keccak(pub)[12:]
    return _ADDR_CACHE[secret]


def key_from_seed(seed: str) -> Key:
    return Key(keccak(seed.encode()))


@dataclass(frozen=True)
class Authorization:
    """An unsigned EIP-7702 authorization; signed by ``signer`` when the transaction is encoded."""

    chain_id: int
    address: bytes
    nonce: int
    signer: Key

    def signed_fields(self) -> list:
        digest = keccak(b"\x05" + rlp.encode([self.chain_id, self.address, self.nonce]))
        y, r, s = self.signer.sign(digest)
        return [self.chain_id, self.address, self.nonce, y, r, s]


@dataclass(frozen=True)
class TxSpec:
    """An unsigned transaction. ``to=None`` creates a contract. For types 0/1 ``max_fee`` is the gas price."""

    type: int
    chain_id: int
    nonce: int
    gas: int
    to: bytes | None
    value: int
    data: bytes
    max_fee: int
    max_priority_fee: int = 0
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] = ()
    authorizations: tuple[Authorization, ...] = field(default=())


def _al(access_list: tuple[tuple[bytes, tuple[int, ...]], ...]) -> list:
    return [[addr, [s.to_bytes(32, "big") for s in slots]] for addr, slots in access_list]


def sign_tx(tx: TxSpec, key: Key) -> bytes:
    """EIP-2718 encoding of ``tx`` signed by ``key``."""
    to = tx.to if tx.to is not None else b""
    if tx.type == 0:
        unsigned = [tx.nonce, tx.max_fee, tx.gas, to, tx.value, tx.data]
        y, r, s = key.sign(keccak(rlp.encode(unsigned + [tx.chain_id, 0, 0])))
        return rlp.encode(unsigned + [35 + 2 * tx.chain_id + y, r, s])
    if tx.type == 1:
        fields = [tx.chain_id, tx.nonce, tx.max_fee, tx.gas, to, tx.value, tx.data, _al(tx.access_list)]
    elif tx.type == 2:
        fields = [
            tx.chain_id, tx.nonce, tx.max_priority_fee, tx.max_fee, tx.gas, to, tx.value, tx.data,
            _al(tx.access_list),
        ]  # fmt: skip
    elif tx.type == 4:
        fields = [
            tx.chain_id, tx.nonce, tx.max_priority_fee, tx.max_fee, tx.gas, to, tx.value, tx.data,
            _al(tx.access_list), [a.signed_fields() for a in tx.authorizations],
        ]  # fmt: skip
    else:
        raise ValueError(f"unsupported tx type {tx.type}")
    prefix = bytes([tx.type])
    y, r, s = key.sign(keccak(prefix + rlp.encode(fields)))
    return prefix + rlp.encode(fields + [y, r, s])
