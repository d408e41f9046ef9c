"""Fast EIP-1559 signing for benchmark workloads (libsecp256k1 through coincurve, RLP through pyrlp).

eth-account signs ~3k transactions/s; benchmarks pre-sign tens of thousands, so this builds the typed envelope
directly: keccak(0x02 ‖ rlp(fields)) signed recoverably, then 0x02 ‖ rlp(fields + [y, r, s]).
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from coincurve import PrivateKey

from pysei.native import keccak


@dataclass(frozen=True, slots=True)
class Signer:
    key: PrivateKey
    address: bytes

    @classmethod
    def from_seed(cls, seed: int) -> Signer:
        """A deterministic key for benchmark account ``seed`` (never 0, always below the curve order)."""
        key = PrivateKey(keccak(b"pysei-bench" + seed.to_bytes(8, "big")))
        return cls(key, keccak(key.public_key.format(compressed=False)[1:])[12:])

    def sign_1559(
        self,
        *,
        chain_id: int,
        nonce: int,
        to: bytes | None,
        value: int = 0,
        data: bytes = b"",
        gas: int,
        max_fee: int,
        tip: int,
    ) -> bytes:
        fields = [chain_id, nonce, tip, max_fee, gas, to or b"", value, data, []]
        digest = keccak(b"\x02" + rlp.encode(fields))
        sig = self.key.sign_recoverable(digest, hasher=None)
        r, s, y = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        return b"\x02" + rlp.encode([*fields, y, r, s])
