"""The pure protocol rules of Autobahn, with no I/O: vote tallies, the lane vote rule, slot voting and the
view-change choice. The engine (``engine.py``) feeds them messages and sends what they return; the hypothesis
tests drive them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pysei.consensus.committee import Committee
from pysei.consensus.messages import QC, TC, Car, Proposal, Sig, Timeout


# ------------------------------------------------------------------------------------------------------ tallies
@dataclass
class Tally:
    """Signatures for one position (a car position, or a slot/view/kind), by digest, stake-weighted.

    A voter counts once per position: a second vote for another digest is returned as a conflict (evidence of
    a double vote) and not counted."""

    committee: Committee
    threshold: int
    votes: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    """voter → (digest, signature)"""

    def add(self, voter: int, digest: bytes, sig: bytes) -> tuple[bytes, bytes] | None:
        """Records a vote; returns the voter's earlier (digest, signature) when this one conflicts with it."""
        old = self.votes.get(voter)
        if old is not None:
            return old if old[0] != digest else None
        self.votes[voter] = (digest, sig)
        return None

    def signers(self, digest: bytes) -> list[int]:
        return sorted(v for v, (d, _) in self.votes.items() if d == digest)

    def certificate(self, digest: bytes) -> list[Sig] | None:
        """The signatures for ``digest`` once their stake reaches the threshold."""
        signers = self.signers(digest)
        if self.committee.stake(signers) < self.threshold:
            return None
        return [Sig(v, self.votes[v][1]) for v in signers]

    def unanimous(self, digest: bytes) -> bool:
        return self.committee.stake(self.signers(digest)) == self.committee.total


# -------------------------------------------------------------------------------------------------------- lanes
@dataclass
class LaneVotes:
    """What this replica voted for in each lane: it votes for a car only if not yet at that position and only if
    the car extends the car it voted for at the position before (when it voted there at all: a replica that
    missed cars, e.g. after a restart, relies on the parent's PoA instead of stalling the lane)."""

    voted: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    """lane → (position, digest) of its last vote"""

    def decide(self, car: Car, car_digest: bytes) -> str | None:
        """None if this replica may vote for ``car``, else why not (signatures are checked by the caller)."""
        last = self.voted.get(car.lane)
        if last is None:
            return None
        pos, voted = last
        if car.pos <= pos:
            return "already voted at this position" if car.pos < pos or voted != car_digest else "duplicate"
        if car.pos == pos + 1 and car.parent != voted:
            return "car does not extend the car voted for at the previous position"
        return None

    def record(self, car: Car, car_digest: bytes) -> None:
        self.voted[car.lane] = (car.pos, car_digest)


# -------------------------------------------------------------------------------------------------------- slots
@dataclass
class SlotVotes:
    """A replica's voting state in the slot it is working on."""

    slot: int
    view: int = 0
    voted_view: int = -1
    voted: Proposal | None = None
    acked_views: set[int] = field(default_factory=set)
    high_qc: QC | None = None
    high_qc_prop: Proposal | None = None
    timed_out: set[int] = field(default_factory=set)

    def may_prepare(self, view: int) -> bool:
        """Vote at most once per view, and never in a view the replica has left."""
        return view >= self.view and view > self.voted_view

    def record_prepare(self, view: int, proposal: Proposal) -> None:
        self.view = max(self.view, view)
        self.voted_view = view
        self.voted = proposal

    def record_qc(self, qc: QC, proposal: Proposal) -> None:
        if self.high_qc is None or qc.view > self.high_qc.view:
            self.high_qc = qc
            self.high_qc_prop = proposal

    def may_ack(self, qc: QC) -> bool:
        return qc.view >= self.view and qc.view not in self.acked_views and qc.view not in self.timed_out


def choose_reproposal(tc: TC, committee: Committee) -> Proposal | None:
    """The proposal the leader of view tc.view + 1 must re-propose, or None if it is free to propose its own cut.

    Candidates: the highest PrepareQC any timeout carries, and any proposal that timeouts of F+1 stake say they
    voted for in the same view (a fast-path commit leaves no QC at the replicas, only their votes, and among any
    W−F timeouts at least F+1 stake comes from its voters). The candidate of the highest view wins; on a tie
    the QC wins (the paper's rule). A proposal committed in any earlier view is therefore always re-proposed.
    """
    best: tuple[int, int, Proposal] | None = None  # (view, 1 for a QC / 0 for votes, proposal)
    for t in tc.timeouts:
        if t.high_qc is not None and t.high_qc_prop is not None:
            cand = (t.high_qc.view, 1, t.high_qc_prop)
            if best is None or cand[:2] > best[:2]:
                best = cand
    by_vote: dict[tuple[int, bytes], tuple[list[int], Proposal]] = {}
    for t in tc.timeouts:
        if t.voted is not None:
            key = (t.voted_view, t.voted.digest())
            voters, _ = by_vote.setdefault(key, ([], t.voted))
            voters.append(t.voter)
    for (view, _), (voters, proposal) in sorted(by_vote.items(), key=lambda kv: kv[0]):
        if committee.is_available(voters) and (best is None or (view, 0) > best[:2]):
            best = (view, 0, proposal)
    return None if best is None else best[2]


def highest_timeout_qc(timeouts: list[Timeout]) -> QC | None:
    qcs = [t.high_qc for t in timeouts if t.high_qc is not None]
    return max(qcs, key=lambda q: q.view, default=None)
