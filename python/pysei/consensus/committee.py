"""The validator committee: keys, stakes, stake-weighted quorums, leader schedule and lane routing.

Pure functions of the genesis (no I/O), so every validator computes the same answers. Quorums follow Sei's
``types/committee.go``: with total stake W, F = ⌊(W−1)/3⌋; availability (a PoA) needs F+1, everything else
(PrepareQC, CommitQC, TC, AppQC) needs W−F. With equal stakes and n = 3f+1 that is f+1 and 2f+1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import blake3
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

VERIFIED_CACHE = 200_000
"""Verified signatures remembered (about 40 MB at most); the set starts over when full."""


@dataclass(frozen=True, slots=True)
class Member:
    index: int
    """Position in committee order (validators sorted by public key, as Sei orders lanes)."""
    pubkey: bytes
    stake: int
    host: str
    p2p_port: int
    rpc_port: int


def quorum_parameters(total: int) -> tuple[int, int, int]:
    """(F, availability threshold F+1, quorum W−F) for total stake W."""
    if total < 1:
        raise ValueError("total stake must be positive")
    f = (total - 1) // 3
    return f, f + 1, total - f


@dataclass(frozen=True)
class Committee:
    members: tuple[Member, ...]
    total: int = field(init=False)
    f: int = field(init=False)
    availability: int = field(init=False)
    quorum: int = field(init=False)
    _keys: tuple[VerifyKey, ...] = field(init=False, repr=False)
    _by_key: dict[bytes, int] = field(init=False, repr=False)
    _ring: tuple[int, ...] = field(init=False, repr=False)
    _active: tuple[int, ...] = field(init=False, repr=False)
    _verified: set[tuple[int, bytes, bytes]] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        if [m.pubkey for m in self.members] != sorted(m.pubkey for m in self.members):
            raise ValueError("committee members must be sorted by public key")
        if any(m.index != i for i, m in enumerate(self.members)) or any(m.stake < 0 for m in self.members):
            raise ValueError("members must be indexed in order and have no negative stake")
        total = sum(m.stake for m in self.members)
        f, availability, quorum = quorum_parameters(total)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "f", f)
        object.__setattr__(self, "availability", availability)
        object.__setattr__(self, "quorum", quorum)
        object.__setattr__(self, "_keys", tuple(VerifyKey(m.pubkey) for m in self.members))
        object.__setattr__(self, "_by_key", {m.pubkey: m.index for m in self.members})
        # The leader ring: each member once per unit of stake ratio, interleaved, so consecutive views go to
        # different validators (a dead leader costs one view) while a member's share of slots follows its stake.
        # A member with no stake (out of this epoch's active set: jailed, or below the cut) leads no slot.
        gcd_stake = 0
        for m in self.members:
            gcd_stake = _gcd(gcd_stake, m.stake)
        weights = [m.stake // gcd_stake for m in self.members]
        ring: list[int] = []
        credit = [0] * len(weights)
        for _ in range(min(sum(weights), 10_000)):
            for i, w in enumerate(weights):
                credit[i] += w
            best = max(range(len(credit)), key=lambda i: (credit[i], -i))
            credit[best] -= sum(weights)
            ring.append(best)
        object.__setattr__(self, "_ring", tuple(ring))
        object.__setattr__(self, "_active", tuple(m.index for m in self.members if m.stake > 0))

    def with_stakes(self, stakes: Mapping[bytes, int]) -> Committee:
        """The same members (keys, addresses, lane numbers) with an epoch's stakes by public key; a member the
        mapping leaves out has no stake in that epoch. Lane numbers never change, so a lane keeps its cars and
        positions across epochs; only who votes with what weight, who leads and who owns senders does."""
        members = tuple(replace(m, stake=stakes.get(m.pubkey, 0)) for m in self.members)
        committee = Committee(members)
        object.__setattr__(committee, "_verified", self._verified)  # signatures stay verified across epochs
        return committee

    @property
    def active(self) -> tuple[int, ...]:
        """Members with stake, in committee order: the lanes a cut may include and routing may choose."""
        return self._active

    @property
    def n(self) -> int:
        return len(self.members)

    def index_of(self, pubkey: bytes) -> int | None:
        return self._by_key.get(pubkey)

    def stake(self, signers: Iterable[int]) -> int:
        """Stake of the distinct members among ``signers`` (an index of no member counts nothing)."""
        n = len(self.members)
        return sum(self.members[i].stake for i in set(signers) if 0 <= i < n)

    def has_quorum(self, signers: Iterable[int]) -> bool:
        return self.stake(signers) >= self.quorum

    def is_available(self, signers: Iterable[int]) -> bool:
        return self.stake(signers) >= self.availability

    def leader(self, slot: int, view: int) -> int:
        """Deterministic from (slot, view): a hash of the slot picks a start on the stake ring, views rotate."""
        start = int.from_bytes(blake3.blake3(slot.to_bytes(8, "big")).digest()[:8], "big")
        return self._ring[(start + view) % len(self._ring)]

    def lane_of(self, sender: bytes) -> int:
        """The lane that orders ``sender``'s transactions (Sei's ``EvmShard``): one lane per sender keeps its
        nonces in order; a hash spreads senders evenly over validators."""
        active = self._active
        return active[int.from_bytes(blake3.blake3(sender).digest()[:8], "big") % len(active)]

    def verify(self, signer: int, message: bytes, signature: bytes) -> bool:
        """Ed25519 check; a signature already verified for this exact (signer, message) is not checked again
        (a PoA travels in its car, alone, in proposals and in commits: each is verified once)."""
        if not 0 <= signer < len(self._keys) or len(signature) != 64:
            return False
        key = (signer, message, signature)
        if key in self._verified:
            return True
        try:
            self._keys[signer].verify(message, signature)
        except BadSignatureError:
            return False
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified.add(key)
        return True


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def epoch_committee(members: Committee, stakes: Mapping[bytes, int]) -> Committee:
    """The committee of an epoch whose record gives ``stakes`` (consensus key → power): the genesis ``members``
    with those stakes. Keys outside the membership are left out (nobody can reach them to count their votes); a
    record with no stake of any member leaves the genesis committee (every validator reads the same record, so
    every one falls back alike and the chain stays live)."""
    known = {pk: power for pk, power in stakes.items() if members.index_of(pk) is not None}
    return members.with_stakes(known) if sum(known.values()) > 0 else members


def make_committee(entries: Sequence[tuple[bytes, int, str, int, int]]) -> Committee:
    """Builds a committee from (pubkey, stake, host, p2p port, rpc port) in any order."""
    ordered = sorted(entries, key=lambda e: e[0])
    return Committee(tuple(Member(i, pk, st, h, pp, rp) for i, (pk, st, h, pp, rp) in enumerate(ordered)))


class Signer:
    """This validator's Ed25519 key."""

    def __init__(self, seed: bytes, index: int) -> None:
        self._key = SigningKey(seed)
        self.pubkey = bytes(self._key.verify_key)
        self.index = index

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message).signature
