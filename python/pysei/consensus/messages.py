"""Typed consensus messages (msgspec structs, msgpack on the wire) and their signature checks.

Every message a validator may act on is signed by its author with Ed25519; ``verify`` checks signatures and the
certificate arithmetic against the committee, never trusting the connection it came from.

Certificates are lists of Ed25519 signatures, not BLS aggregates, measured and chosen deliberately: PyNaCl verifies
17.4k signatures/s against 389–742/s for a single BLS verify in Python (shared/reference/dependency-measurements.md),
so a 2f+1 certificate of a committee of up to a few dozen costs less CPU to check as separate signatures than one
FastAggregateVerify (10.6 ms at 100 signers), and it needs neither a pairing library nor changes to the native
kernel. The price is size (64 B per signer instead of 96 B in all), which matters only for committees of hundreds.
"""

from __future__ import annotations

import msgspec
from blake3 import blake3

from pysei.consensus.committee import Committee, Signer

ZERO = bytes(32)


def digest(tag: bytes, *fields: object) -> bytes:
    return blake3(tag + msgspec.msgpack.encode(fields)).digest()


class Sig(msgspec.Struct, frozen=True, array_like=True):
    signer: int
    sig: bytes


# --------------------------------------------------------------------------------------------------- data layer
class Car(msgspec.Struct, frozen=True, array_like=True, tag="car"):
    """One batch of a lane: transactions, the digest of the lane's previous car and that car's PoA."""

    lane: int
    pos: int
    parent: bytes
    txs: list[bytes]
    parent_poa: PoA | None
    sig: bytes = b""

    def digest(self) -> bytes:
        payload = blake3(b"".join(len(t).to_bytes(4, "big") + t for t in self.txs)).digest()
        return digest(b"car", self.lane, self.pos, self.parent, payload)

    def signed(self, signer: Signer) -> Car:
        return msgspec.structs.replace(self, sig=signer.sign(self.digest()))

    def verify(self, committee: Committee, parent_committee: Committee | None = None) -> str | None:
        """``parent_committee``: the committee of the epoch the parent's PoA names, when it is not ``committee``'s
        (a lane that was idle for a while carries a PoA certified under older stakes)."""
        if self.pos < 1:
            return "car position below 1"
        if not committee.verify(self.lane, self.digest(), self.sig):
            return "bad car signature"
        if self.pos == 1:
            if self.parent != ZERO or self.parent_poa is not None:
                return "first car with a parent"
        elif self.parent_poa is None or (self.parent_poa.lane, self.parent_poa.pos) != (self.lane, self.pos - 1):
            return "car without its parent's PoA"
        elif self.parent_poa.digest != self.parent:
            return "parent PoA for another digest"
        elif (err := self.parent_poa.verify(parent_committee or committee)) is not None:
            return err
        return None


class CarVote(msgspec.Struct, frozen=True, array_like=True, tag="carvote"):
    lane: int
    pos: int
    digest: bytes
    voter: int
    sig: bytes

    @staticmethod
    def message(lane: int, pos: int, car_digest: bytes) -> bytes:
        return digest(b"carvote", lane, pos, car_digest)


class PoA(msgspec.Struct, frozen=True, array_like=True, tag="poa"):
    """Proof of availability: F+1 stake signed that they hold the car, so at least one honest holder serves it."""

    lane: int
    pos: int
    digest: bytes
    sigs: list[Sig]
    epoch: int = 0
    """The epoch whose committee's stakes the votes were counted under (what a verifier checks it against)."""

    def verify(self, committee: Committee) -> str | None:
        return _check_sigs(committee, self.sigs, CarVote.message(self.lane, self.pos, self.digest), availability=True)


# -------------------------------------------------------------------------------------------------------- slots
class Proposal(msgspec.Struct, frozen=True, array_like=True):
    """A cut: the certified tip of every lane the leader knows, for one slot."""

    slot: int
    timestamp_ms: int
    tips: list[PoA]
    evidence: list[Evidence] = []
    """Misbehaviour the leader proves, for the slashing module: the block of this slot carries it."""

    def digest(self) -> bytes:
        cut = [(t.lane, t.pos, t.digest) for t in self.tips]
        if not self.evidence:  # the digest of a proposal without evidence is the one it always was
            return digest(b"proposal", self.slot, self.timestamp_ms, cut)
        return digest(
            b"proposal", self.slot, self.timestamp_ms, cut, [msgspec.msgpack.encode(e) for e in self.evidence]
        )

    def verify(self, committee: Committee) -> str | None:
        lanes = [t.lane for t in self.tips]
        if lanes != sorted(set(lanes)) or any(not 0 <= lane < committee.n for lane in lanes):
            return "proposal tips not one per lane in committee order"
        if any(committee.members[lane].stake == 0 for lane in lanes):
            return "proposal includes the lane of a validator outside this epoch's committee"
        for tip in self.tips:
            if (err := tip.verify(committee)) is not None:
                return err
        if len(self.evidence) > MAX_EVIDENCE or len({e.offender for e in self.evidence}) != len(self.evidence):
            return f"proposal with more than {MAX_EVIDENCE} pieces of evidence or two against one validator"
        for e in self.evidence:
            if (err := e.verify(committee)) is not None:
                return err
        return None


PREPARE = 0
CONFIRM = 1


class Vote(msgspec.Struct, frozen=True, array_like=True, tag="vote"):
    """A Prepare vote (kind 0) or a Confirm ack (kind 1) for a proposal digest in (slot, view)."""

    kind: int
    slot: int
    view: int
    digest: bytes
    voter: int
    sig: bytes

    @staticmethod
    def message(kind: int, slot: int, view: int, proposal_digest: bytes) -> bytes:
        return digest(b"vote", kind, slot, view, proposal_digest)

    @classmethod
    def make(cls, signer: Signer, kind: int, slot: int, view: int, proposal_digest: bytes) -> Vote:
        sig = signer.sign(cls.message(kind, slot, view, proposal_digest))
        return cls(kind, slot, view, proposal_digest, signer.index, sig)

    def verify(self, committee: Committee) -> bool:
        return committee.verify(self.voter, self.message(self.kind, self.slot, self.view, self.digest), self.sig)


class QC(msgspec.Struct, frozen=True, array_like=True, tag="qc"):
    """A quorum certificate over a proposal digest. A CommitQC is either a Confirm QC of W−F stake or a Prepare
    QC signed by the whole committee (the fast path)."""

    kind: int
    slot: int
    view: int
    digest: bytes
    sigs: list[Sig]

    def verify(self, committee: Committee) -> str | None:
        return _check_sigs(committee, self.sigs, Vote.message(self.kind, self.slot, self.view, self.digest))

    def is_commit(self, committee: Committee) -> bool:
        return self.kind == CONFIRM or committee.stake(s.signer for s in self.sigs) == committee.total


class Timeout(msgspec.Struct, frozen=True, array_like=True, tag="timeout"):
    """A replica gives up on (slot, view): it carries the highest PrepareQC it holds and the last proposal it voted
    for, so the next leader can re-propose anything that may have committed."""

    slot: int
    view: int
    high_qc: QC | None
    high_qc_prop: Proposal | None
    """The proposal ``high_qc`` certifies (a replica acks a Confirm only when it holds the proposal)."""
    voted_view: int
    voted: Proposal | None
    voter: int
    sig: bytes = b""

    def message(self) -> bytes:
        qc = None if self.high_qc is None else (self.high_qc.view, self.high_qc.digest)
        voted = None if self.voted is None else self.voted.digest()
        return digest(b"timeout", self.slot, self.view, qc, self.voted_view, voted)

    def verify(self, committee: Committee) -> str | None:
        if not committee.verify(self.voter, self.message(), self.sig):
            return "bad timeout signature"
        if self.high_qc is not None:
            if self.high_qc.kind != PREPARE or self.high_qc.slot != self.slot or self.high_qc.view >= self.view + 1:
                return "timeout carries a QC of another slot"
            if self.high_qc_prop is None or self.high_qc_prop.digest() != self.high_qc.digest:
                return "timeout QC without its proposal"
            if (err := self.high_qc.verify(committee)) is not None:
                return err
        if self.voted is not None and (self.voted.slot != self.slot or self.voted_view > self.view):
            return "timeout carries a proposal of another slot"
        return None


class TC(msgspec.Struct, frozen=True, array_like=True, tag="tc"):
    slot: int
    view: int
    timeouts: list[Timeout]

    def verify(self, committee: Committee) -> str | None:
        voters = [t.voter for t in self.timeouts]
        if len(set(voters)) != len(voters) or not committee.has_quorum(voters):
            return "timeout certificate without a quorum"
        for t in self.timeouts:
            if (t.slot, t.view) != (self.slot, self.view):
                return "timeout certificate mixes views"
            if (err := t.verify(committee)) is not None:
                return err
        return None


class Prepare(msgspec.Struct, frozen=True, array_like=True, tag="prepare"):
    """The leader's proposal for (slot, view) with its ticket: CommitQC of slot − 1 (view 0) or TC of view − 1."""

    view: int
    proposal: Proposal
    ticket_qc: QC | None
    ticket_tc: TC | None
    leader: int
    sig: bytes = b""

    def message(self) -> bytes:
        return digest(b"prepare", self.proposal.slot, self.view, self.proposal.digest())

    def signed(self, signer: Signer) -> Prepare:
        return msgspec.structs.replace(self, sig=signer.sign(self.message()))


class Confirm(msgspec.Struct, frozen=True, array_like=True, tag="confirm"):
    qc: QC


class Commit(msgspec.Struct, frozen=True, array_like=True, tag="commit"):
    """A CommitQC with the proposal it certifies (so a replica that missed the Prepare still learns the cut)."""

    proposal: Proposal
    qc: QC

    def verify(self, committee: Committee) -> str | None:
        if self.qc.slot != self.proposal.slot or self.qc.digest != self.proposal.digest():
            return "commit certificate for another proposal"
        if not self.qc.is_commit(committee):
            return "prepare certificate without every signer used as a commit certificate"
        return self.qc.verify(committee) or self.proposal.verify(committee)


# ------------------------------------------------------------------------------------------- state agreement
class AppVote(msgspec.Struct, frozen=True, array_like=True, tag="appvote"):
    """A validator's signed LtHash commitment of the state after ``block`` (2f+1 of them are an AppQC)."""

    block: int
    commitment: bytes
    voter: int
    sig: bytes

    @staticmethod
    def message(block: int, commitment: bytes) -> bytes:
        return digest(b"appvote", block, commitment)

    def verify(self, committee: Committee) -> bool:
        return committee.verify(self.voter, self.message(self.block, self.commitment), self.sig)


# ---------------------------------------------------------------------------------------------- sync, routing
class Txs(msgspec.Struct, frozen=True, array_like=True, tag="txs"):
    """Raw transactions forwarded to the validator whose lane orders their senders, with the senders the
    forwarder recovered (used only to order them in the owner's mempool: every validator recovers the senders
    itself when the transactions are committed, so a lying forwarder can only get its own forwards skipped)."""

    raws: list[bytes]
    senders: list[bytes]


class CarRequest(msgspec.Struct, frozen=True, array_like=True, tag="carreq"):
    digests: list[bytes]


class Cars(msgspec.Struct, frozen=True, array_like=True, tag="cars"):
    cars: list[Car]


class Status(msgspec.Struct, frozen=True, array_like=True, tag="status"):
    committed_slot: int


class SyncRequest(msgspec.Struct, frozen=True, array_like=True, tag="syncreq"):
    from_slot: int
    count: int


class SlotRecord(msgspec.Struct, frozen=True, array_like=True):
    commit: Commit
    cars: list[Car]
    """The cars this slot newly committed, in block order (verified against the cut's tips by the receiver)."""


class SyncResponse(msgspec.Struct, frozen=True, array_like=True, tag="sync"):
    records: list[SlotRecord]


# ---------------------------------------------------------------------------------------------- state sync
SNAPSHOT_CHUNK = 4 * 1024 * 1024
"""Bytes of a snapshot file per chunk message (frames are at most 8 MiB)."""


class SnapshotRequest(msgspec.Struct, frozen=True, array_like=True, tag="snapreq"):
    """A validator that starts with ``--state-sync`` asks its peers what they can offer; ``head``: its own."""

    head: int


class SnapshotOffer(msgspec.Struct, frozen=True, array_like=True, tag="snapoffer"):
    """A snapshot of the state after ``block``, with everything the requester needs to trust it and to go on
    from there: the AppQC of its commitment (``sigs``, checked against the committee of the block's epoch), the
    CommitQC of slot ``block`` (the next leader's ticket), the lane positions emitted up to it, the serving
    validator's journal floor (below which it cannot serve slots one by one) and the last car of the
    requester's own lane this validator voted for (so the requester resumes its lane instead of forking it)."""

    block: int
    commitment: bytes
    sigs: list[Sig]
    commit: Commit
    lanes: list[int]
    size: int
    first_slot: int
    lane_car: Car | None


class SnapshotChunkRequest(msgspec.Struct, frozen=True, array_like=True, tag="snapget"):
    block: int
    offset: int


class SnapshotChunk(msgspec.Struct, frozen=True, array_like=True, tag="snapchunk"):
    block: int
    offset: int
    data: bytes


MAX_EVIDENCE = 4
"""Pieces of evidence one proposal may carry (one per offender): a proposal stays small."""


class Evidence(msgspec.Struct, frozen=True, array_like=True, tag="evidence"):
    """Two conflicting messages signed by one validator, msgpack-encoded as they were received: two votes in one
    (kind, slot, view) ("double-vote"), two Prepares of one leader in one (slot, view)
    ("conflicting-proposals"), or two cars at one lane position ("lane-equivocation"). A leader puts it in a
    proposal; the slashing module slashes, jails and tombstones the offender when the block executes."""

    kind: str
    offender: int
    first: bytes
    second: bytes

    def verify(self, committee: Committee) -> str | None:
        """Whether the two messages prove ``kind`` against ``offender``: both decode, both are signed by it, they
        are for one position and they differ. Anyone can check it; no trust in whoever stored it."""
        kind = EVIDENCE_KINDS.get(self.kind)
        if kind is None or not 0 <= self.offender < committee.n:
            return "evidence of an unknown kind or against a non-member"
        try:
            decoded: list[object] = [msgspec.msgpack.decode(m, type=kind) for m in (self.first, self.second)]
        except msgspec.DecodeError:
            return "evidence whose messages do not decode"
        a, b = decoded
        if isinstance(a, Vote) and isinstance(b, Vote):
            same = (a.voter, a.kind, a.slot, a.view) == (b.voter, b.kind, b.slot, b.view) and a.voter == self.offender
            signed = all(
                committee.verify(v.voter, Vote.message(v.kind, v.slot, v.view, v.digest), v.sig) for v in (a, b)
            )
            differ = a.digest != b.digest
        elif isinstance(a, Prepare) and isinstance(b, Prepare):
            same = a.leader == b.leader == self.offender and (a.view, a.proposal.slot) == (b.view, b.proposal.slot)
            signed = all(committee.verify(p.leader, p.message(), p.sig) for p in (a, b))
            differ = a.proposal.digest() != b.proposal.digest()
        elif isinstance(a, Car) and isinstance(b, Car):
            same = (a.lane, a.pos) == (b.lane, b.pos) and a.lane == self.offender
            signed = all(committee.verify(c.lane, c.digest(), c.sig) for c in (a, b))
            differ = a.digest() != b.digest()
        else:
            return "evidence whose messages do not decode"
        if not (same and differ):
            return "evidence of messages that do not conflict"
        if not signed:
            return "evidence with a bad signature"
        return None

    def height(self) -> int | None:
        """The slot (= block) of the misbehaviour, when the messages name one (votes and Prepares do; cars don't)."""
        kind = EVIDENCE_KINDS.get(self.kind)
        msg = msgspec.msgpack.decode(self.first, type=kind) if kind is not None else None
        if isinstance(msg, Vote):
            return msg.slot
        if isinstance(msg, Prepare):
            return msg.proposal.slot
        return None


EVIDENCE_KINDS: dict[str, type] = {"double-vote": Vote, "conflicting-proposals": Prepare, "lane-equivocation": Car}


Message = (
    Car
    | CarVote
    | PoA
    | Prepare
    | Vote
    | Confirm
    | Commit
    | Timeout
    | TC
    | AppVote
    | Txs
    | CarRequest
    | Cars
    | Status
    | SyncRequest
    | SyncResponse
    | SnapshotRequest
    | SnapshotOffer
    | SnapshotChunkRequest
    | SnapshotChunk
)


def _check_sigs(committee: Committee, sigs: list[Sig], message: bytes, *, availability: bool = False) -> str | None:
    signers = [s.signer for s in sigs]
    if len(set(signers)) != len(signers):
        return "certificate repeats a signer"
    if any(not 0 <= i < committee.n for i in signers):
        return "certificate signed by a non-member"
    enough = committee.is_available(signers) if availability else committee.has_quorum(signers)
    if not enough:
        return "certificate below its stake threshold"
    for s in sigs:
        if not committee.verify(s.signer, message, s.sig):
            return f"bad signature by validator {s.signer} in a certificate"
    return None
