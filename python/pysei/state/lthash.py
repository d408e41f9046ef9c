"""LtHash: the lattice-based homomorphic multiset hash that commits to the state (ia.cr/2019/227).

The parameters are exactly those of Sei's FlatKV (``sei-db/state_db/sc/flatkv/lthash``), which are also
Solana's (SIMD-0215) and Firedancer's (``fd_lthash.h``):

- the accumulator is a vector of **1024 lanes of uint16** (2048 bytes, serialised little-endian);
- the element of a key/value pair is the first 2048 bytes of the **BLAKE3 XOF** of
  ``u32le(len(key)) ‖ key ‖ u32le(len(value)) ‖ value``, read as 1024 little-endian uint16;
  a pair with an empty key or an empty value contributes nothing (its element is the zero vector);
- adding and removing a pair adds / subtracts its element lane-wise modulo 2^16, so the accumulator of a set
  of pairs does not depend on the order of insertion, and an update of key ``k`` from ``v`` to ``v'`` is
  ``L + h(k, v') − h(k, v)``;
- the digest (the state root) is **BLAKE3-256 of the 2048-byte vector**.

Hashing dominates the cost: about 0.8 µs per element here, most of it the ``blake3`` binding's per-call
overhead rather than BLAKE3's compression, so one hasher is reset and reused per batch. The elements of a batch
are hashed in chunks of 32 whose outputs are joined (64 KiB, under the allocator's mmap threshold: larger joins
paid page faults and ran 2-3x slower) and reduced with numpy. ``blake3`` keeps the GIL for inputs this small, so
hashing on threads gained nothing (measured on 2 cores) and is not done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from blake3 import blake3

LANES = 1024
"""Number of uint16 lanes."""
NBYTES = 2 * LANES
"""Size of the serialised vector (and of one element's XOF output)."""
DIGEST_SIZE = 32

_DTYPE = np.dtype("<u2")
_ZERO = np.zeros(LANES, dtype=_DTYPE)
_ZERO.setflags(write=False)

_CHUNK = 32
"""Elements hashed per join (64 KiB of XOF output; see the module docstring)."""


def _frozen(lanes: np.ndarray) -> np.ndarray:
    lanes.setflags(write=False)
    return lanes


class LtHash:
    """An LtHash value: 1024 uint16 lanes. Immutable: ``+`` and ``-`` return new values."""

    __slots__ = ("_lanes",)

    def __init__(self, lanes: np.ndarray | None = None) -> None:
        if lanes is None:
            self._lanes = _ZERO
            return
        arr = np.asarray(lanes)
        if arr.shape != (LANES,):
            raise ValueError(f"an LtHash has {LANES} lanes, got shape {arr.shape}")
        if arr.dtype != _DTYPE:
            if not np.issubdtype(arr.dtype, np.integer):
                raise TypeError(f"LtHash lanes must be integers, got {arr.dtype}")
            arr = arr.astype(_DTYPE)  # integer casts wrap modulo 2^16
        elif arr.flags.writeable:
            arr = arr.copy()
        self._lanes = _frozen(arr) if arr.flags.writeable else arr

    @classmethod
    def zero(cls) -> LtHash:
        return cls()

    @classmethod
    def from_bytes(cls, data: bytes) -> LtHash:
        """Parses the 2048-byte little-endian serialisation."""
        if len(data) != NBYTES:
            raise ValueError(f"an LtHash is {NBYTES} bytes, got {len(data)}")
        return cls._wrap(np.frombuffer(bytes(data), dtype=_DTYPE))

    @classmethod
    def _wrap(cls, lanes: np.ndarray) -> LtHash:
        obj = cls.__new__(cls)
        obj._lanes = lanes if not lanes.flags.writeable else _frozen(lanes)
        return obj

    @property
    def lanes(self) -> np.ndarray:
        """The lanes, a read-only ``uint16[1024]`` array."""
        return self._lanes

    def to_bytes(self) -> bytes:
        """The 2048-byte little-endian serialisation."""
        return self._lanes.tobytes()

    def digest(self) -> bytes:
        """BLAKE3-256 of the serialisation: the 32-byte commitment."""
        return blake3(self._lanes.tobytes()).digest()

    def hexdigest(self) -> str:
        return self.digest().hex()

    def is_zero(self) -> bool:
        return not self._lanes.any()

    def __add__(self, other: LtHash) -> LtHash:
        if not isinstance(other, LtHash):
            return NotImplemented
        return LtHash._wrap(self._lanes + other._lanes)

    def __sub__(self, other: LtHash) -> LtHash:
        if not isinstance(other, LtHash):
            return NotImplemented
        return LtHash._wrap(self._lanes - other._lanes)

    def __neg__(self) -> LtHash:
        return LtHash._wrap(-self._lanes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LtHash):
            return NotImplemented
        return bool(np.array_equal(self._lanes, other._lanes))

    def __hash__(self) -> int:
        return hash(self._lanes.tobytes())

    def __repr__(self) -> str:
        return f"LtHash({self.hexdigest()})"


# --- elements -----------------------------------------------------------------------------------------------


_U32LE = [n.to_bytes(4, "little") for n in range(256)]


def preimage(key: bytes, value: bytes) -> bytes:
    """``u32le(len(key)) ‖ key ‖ u32le(len(value)) ‖ value``, Sei's ``serializeKV``."""
    try:
        return b"".join((_U32LE[len(key)], key, _U32LE[len(value)], value))
    except IndexError:
        return b"".join((len(key).to_bytes(4, "little"), key, len(value).to_bytes(4, "little"), value))


def raw_element(data: bytes) -> np.ndarray:
    """The element of a raw preimage (no length prefix): BLAKE3 XOF, 2048 bytes, as 1024 LE uint16.

    Only the Firedancer test vectors use it directly; state pairs go through :func:`element`.
    """
    return np.frombuffer(blake3(data).digest(NBYTES), dtype=_DTYPE)


def element(key: bytes, value: bytes | None) -> np.ndarray:
    """The element of one key/value pair; zero when the key or the value is empty (or the value is None)."""
    if not key or not value:
        return _ZERO
    return raw_element(preimage(key, value))


def sum_preimages(preimages: Sequence[bytes]) -> np.ndarray:
    """Σ of the elements of raw preimages, lane-wise modulo 2^16, as a fresh ``uint16[1024]`` array."""
    total = np.zeros(LANES, dtype=_DTYPE)
    hasher = blake3()  # one hasher, reset per element: cheaper than creating one each time
    reset, feed, xof = hasher.reset, hasher.update, hasher.digest
    for i in range(0, len(preimages), _CHUNK):
        outs = []
        for p in preimages[i : i + _CHUNK]:
            reset()
            feed(p)
            outs.append(xof(NBYTES))
        total += np.frombuffer(b"".join(outs), dtype=_DTYPE).reshape(-1, LANES).sum(axis=0, dtype=_DTYPE)
    return total


def hash_pairs(pairs: Iterable[tuple[bytes, bytes | None]]) -> LtHash:
    """The LtHash of a set of key/value pairs, from scratch (pairs with an empty key or value are skipped).

    Streams: memory stays bounded however many pairs the iterable yields."""
    total = np.zeros(LANES, dtype=_DTYPE)
    batch: list[bytes] = []
    for k, v in pairs:
        if k and v:
            batch.append(preimage(k, v))
            if len(batch) == 4096:
                total += sum_preimages(batch)
                batch.clear()
    if batch:
        total += sum_preimages(batch)
    return LtHash._wrap(total)


def update(acc: LtHash, changes: Iterable[tuple[bytes, bytes | None, bytes | None]]) -> LtHash:
    """Applies ``(key, old_value, new_value)`` changes: ``acc − Σ h(key, old) + Σ h(key, new)``.

    None or ``b""`` stands for "absent" on either side (an insert has no old value, a deletion no new one). A change
    whose old and new values are equal is skipped. Each change must state the value the key really held, or the
    accumulator no longer matches the state.
    """
    removed: list[bytes] = []
    added: list[bytes] = []
    for key, old, new in changes:
        if not key or old == new:
            continue
        if old:
            removed.append(preimage(key, old))
        if new:
            added.append(preimage(key, new))
    lanes = acc.lanes
    if added:
        lanes = lanes + sum_preimages(added)
    if removed:
        lanes = lanes - sum_preimages(removed)
    return acc if lanes is acc.lanes else LtHash._wrap(lanes)
