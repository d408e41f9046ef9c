"""Property tests of Autobahn's pure protocol rules (no I/O): quorum arithmetic, tallies, the lane vote rule,
the leader schedule, the view-change choice of proposal, and message signatures."""

from __future__ import annotations

import hashlib

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from pysei.consensus.committee import Committee, Member, Signer, make_committee, quorum_parameters
from pysei.consensus.messages import (
    CONFIRM,
    PREPARE,
    QC,
    TC,
    ZERO,
    AppVote,
    Car,
    CarVote,
    Commit,
    Evidence,
    PoA,
    Proposal,
    Sig,
    SnapshotOffer,
    Timeout,
    Vote,
)
from pysei.consensus.rules import LaneVotes, SlotVotes, Tally, choose_reproposal
from pysei.consensus.statesync import check_offer, needs_snapshot

SETTINGS = settings(max_examples=150, deadline=None)


def signers(n: int) -> list[Signer]:
    seeds = sorted((hashlib.sha256(bytes([i])).digest() for i in range(n)), key=lambda s: Signer(s, 0).pubkey)
    return [Signer(s, i) for i, s in enumerate(seeds)]


def committee_of(stakes: list[int]) -> tuple[Committee, list[Signer]]:
    keys = signers(len(stakes))
    members = tuple(
        Member(i, k.pubkey, st_, "127.0.0.1", 1, 1) for i, (k, st_) in enumerate(zip(keys, stakes, strict=True))
    )
    return Committee(members), keys


@SETTINGS
@given(st.lists(st.integers(1, 1000), min_size=1, max_size=12))
def test_quorums_intersect_in_an_honest_validator(stakes: list[int]) -> None:
    total = sum(stakes)
    f, availability, quorum = quorum_parameters(total)
    assert f == (total - 1) // 3 and 3 * f < total
    # Two quorums overlap in more than F stake, so in at least one correct validator (faulty stake ≤ F).
    assert 2 * quorum - total > f
    # A PoA's F+1 stake includes a correct validator; a quorum is reachable with F stake silent.
    assert availability > f and quorum <= total - f


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([b"a" * 32, b"b" * 32])), max_size=30))
def test_tally_counts_each_voter_once_and_reports_double_votes(votes: list[tuple[int, bytes]]) -> None:
    committee, _ = committee_of([1] * 7)
    tally = Tally(committee, committee.quorum)
    first: dict[int, bytes] = {}
    for voter, d in votes:
        conflict = tally.add(voter, d, b"s" * 64)
        if voter in first and first[voter] != d:
            assert conflict is not None and conflict[0] == first[voter]
        else:
            assert conflict is None
        first.setdefault(voter, d)
    for d in (b"a" * 32, b"b" * 32):
        backers = {v for v, x in first.items() if x == d}
        cert = tally.certificate(d)
        assert (cert is not None) == (len(backers) >= committee.quorum)
        if cert is not None:
            assert {s.signer for s in cert} == backers
        assert tally.unanimous(d) == (len(backers) == 7)


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 8), st.integers(0, 2)), max_size=40))
def test_lane_vote_rule_never_votes_twice_at_a_position(cars: list[tuple[int, int]]) -> None:
    """Random cars (position, variant); a replica votes at most one digest per position, positions only increase,
    and a car right after a voted one is voted only if it extends it."""
    rule = LaneVotes()
    voted: dict[int, bytes] = {}
    last = 0
    for pos, variant in cars:
        parent = voted.get(pos - 1, bytes([variant]) * 32) if variant else bytes(32)
        car = Car(0, pos, parent, [bytes([variant, pos])], None)
        d = car.digest()
        if rule.decide(car, d) is None:
            assert pos > last
            assert pos not in voted
            if pos == last + 1 and last in voted:
                assert parent == voted[last]
            rule.record(car, d)
            voted[pos] = d
            last = pos


def test_leader_schedule_rotates_and_follows_stake() -> None:
    committee, _ = committee_of([1, 1, 1, 1])
    for slot in range(1, 200):
        leaders = [committee.leader(slot, v) for v in range(4)]
        assert sorted(leaders) == [0, 1, 2, 3]  # a dead leader costs one view, never two in a row
    weighted, _ = committee_of([3, 1, 1, 1])
    counts = [0, 0, 0, 0]
    for slot in range(1, 3001):
        counts[weighted.leader(slot, 0)] += 1
    assert counts[0] > 1.3 * max(counts[1:])


@SETTINGS
@given(st.integers(1, 1000), st.lists(st.integers(0, 3), min_size=1, max_size=20))
def test_lane_routing_is_a_function_of_the_sender(seed: int, extra: list[int]) -> None:
    committee, _ = committee_of([1, 1, 1, 1])
    sender = hashlib.sha256(seed.to_bytes(4, "big")).digest()[:20]
    assert len({committee.lane_of(sender) for _ in extra}) == 1
    assert 0 <= committee.lane_of(sender) < 4


def _proposal(slot: int, tag: int) -> Proposal:
    return Proposal(slot, 1000 + tag, [PoA(0, tag + 1, bytes([tag]) * 32, [])])


@SETTINGS
@given(
    st.integers(1, 3),  # f
    st.integers(0, 4),  # view in which P committed
    st.booleans(),  # fast path (all n Prepare votes) or slow path (W−F Confirm acks)
    st.data(),
)
def test_view_change_reproposes_any_committed_proposal(f: int, view: int, fast: bool, data: st.DataObject) -> None:
    """If P committed in `view`, every TC of a later view makes the next leader re-propose P, whatever subset of
    validators times out and whatever the ≤ F faulty ones claim (they cannot forge a QC)."""
    n = 3 * f + 1
    committee, _ = committee_of([1] * n)
    slot = 7
    p = _proposal(slot, 1)
    faulty = set(data.draw(st.lists(st.integers(0, n - 1), max_size=f, unique=True)))
    if fast:
        holders_qc: set[int] = set()
    else:
        holders_qc = set(data.draw(st.lists(st.integers(0, n - 1), min_size=n - f, max_size=n - f, unique=True)))
    qc = QC(PREPARE, slot, view, p.digest(), [Sig(i, b"") for i in range(n - f)])
    timeouts = []
    tc_members = data.draw(st.lists(st.integers(0, n - 1), min_size=n - f, max_size=n - f, unique=True))
    for i in tc_members:
        if i in faulty:
            # A faulty validator claims a later vote for another proposal and no QC.
            other = _proposal(slot, 2)
            claim = data.draw(st.integers(view, view + 3))
            timeouts.append(Timeout(slot, view + 4, None, None, claim, other, i))
        else:
            # Correct validators: every one voted P in `view` on the fast path; on the slow path the ackers also
            # hold its QC. (In views after `view` correct validators only vote for P, by induction.)
            has_qc = i in holders_qc
            timeouts.append(
                Timeout(
                    slot,
                    view + 4,
                    qc if has_qc else None,
                    p if has_qc else None,
                    view if fast or has_qc else -1,
                    p if fast or has_qc else None,
                    i,
                )
            )
    # W−F ackers and W−F timeouts overlap in ≥ F+1 validators, so at least one correct holder of the QC is here.
    assert fast or any(t.high_qc is not None for t in timeouts)
    chosen = choose_reproposal(TC(slot, view + 4, timeouts), committee)
    assert chosen is not None and chosen.digest() == p.digest()


def test_no_constraint_leaves_the_leader_free() -> None:
    committee, _ = committee_of([1, 1, 1, 1])
    timeouts = [Timeout(3, 0, None, None, -1, None, i) for i in range(3)]
    assert choose_reproposal(TC(3, 0, timeouts), committee) is None


def test_slot_votes_once_per_view() -> None:
    votes = SlotVotes(5)
    assert votes.may_prepare(0)
    votes.record_prepare(0, _proposal(5, 1))
    assert not votes.may_prepare(0)
    assert votes.may_prepare(1)
    votes.record_prepare(2, _proposal(5, 1))
    assert not votes.may_prepare(1)


def test_signed_messages_and_certificates_verify() -> None:
    committee, keys = committee_of([1, 1, 1, 1])
    car = Car(2, 1, ZERO, [b"tx1", b"tx2"], None).signed(keys[2])
    assert car.verify(committee) is None
    assert msgspec.structs.replace(car, txs=[b"tx1", b"tx3"]).verify(committee) == "bad car signature"
    assert msgspec.structs.replace(car, sig=keys[1].sign(car.digest())).verify(committee) == "bad car signature"
    d = car.digest()
    sigs = [Sig(k.index, k.sign(CarVote.message(2, 1, d))) for k in keys[:2]]
    assert PoA(2, 1, d, sigs).verify(committee) is None  # F+1 = 2
    assert PoA(2, 1, d, sigs[:1]).verify(committee) == "certificate below its stake threshold"
    assert PoA(2, 1, d, [sigs[0], sigs[0]]).verify(committee) == "certificate repeats a signer"
    child = Car(2, 2, d, [b"tx4"], PoA(2, 1, d, sigs)).signed(keys[2])
    assert child.verify(committee) is None
    assert Car(2, 2, d, [b"tx4"], None).signed(keys[2]).verify(committee) == "car without its parent's PoA"
    # A commit certificate: three Confirm acks, or all four Prepare votes (fast path), but not three Prepare votes.
    p = Proposal(1, 5, [PoA(2, 1, d, sigs)])
    from pysei.consensus.messages import Vote

    def qc(kind: int, k: int) -> QC:
        vs = [Vote.make(keys[i], kind, 1, 0, p.digest()) for i in range(k)]
        return QC(kind, 1, 0, p.digest(), [Sig(v.voter, v.sig) for v in vs])

    assert Commit(p, qc(CONFIRM, 3)).verify(committee) is None
    assert Commit(p, qc(PREPARE, 4)).verify(committee) is None
    assert Commit(p, qc(PREPARE, 3)).verify(committee) is not None
    assert Commit(p, qc(CONFIRM, 2)).verify(committee) == "certificate below its stake threshold"
    forged = qc(CONFIRM, 3)
    forged.sigs[0] = Sig(3, forged.sigs[0].sig)
    assert Commit(p, forged).verify(committee) is not None
    assert make_committee([(k.pubkey, 1, "h", 1, 1) for k in reversed(keys)]).members[0].pubkey == keys[0].pubkey


def _sample_messages() -> list[bytes]:
    committee, keys = committee_of([1, 1, 1, 1])
    car = Car(1, 1, ZERO, [b"tx"], None).signed(keys[1])
    d = car.digest()
    poa = PoA(1, 1, d, [Sig(k.index, k.sign(CarVote.message(1, 1, d))) for k in keys[:2]])
    p = Proposal(3, 7, [poa])
    qc = QC(PREPARE, 3, 0, p.digest(), [Sig(k.index, b"s" * 64) for k in keys[:3]])
    msgs = [car, poa, Commit(p, qc), Timeout(3, 1, qc, p, 0, p, 2, b"s" * 64), TC(3, 1, [])]
    return [msgspec.msgpack.encode(m) for m in msgs]


@SETTINGS
@given(
    st.sampled_from(_sample_messages()), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8)
)
def test_mutated_frames_are_refused_or_verified_never_crash(frame: bytes, flips: list[tuple[int, int]]) -> None:
    """No input from a peer crashes a validator: a corrupted frame either fails to decode or decodes into a
    message whose verify() answers (an error string or a boolean) without raising."""
    from pysei.consensus.messages import Message

    committee, _ = committee_of([1, 1, 1, 1])
    data = bytearray(frame)
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    try:
        msg = msgspec.msgpack.Decoder(Message).decode(bytes(data))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return
    verify = getattr(msg, "verify", None)
    if verify is not None:
        assert verify(committee) is None or isinstance(verify(committee), (str, bool))


# ------------------------------------------------------------------------------------------------ epochs
@SETTINGS
@given(st.lists(st.integers(0, 50), min_size=1, max_size=10).filter(lambda s: sum(s) > 0), st.binary(min_size=20))
def test_an_epoch_without_stake_for_a_member_gives_it_no_slot_no_senders_and_no_weight(
    stakes: list[int], sender: bytes
) -> None:
    genesis, keys = committee_of([1] * len(stakes))
    epoch = genesis.with_stakes({k.pubkey: s for k, s in zip(keys, stakes, strict=True) if s})
    # Lane numbers and keys stay those of the genesis committee; only the weights change.
    assert [m.pubkey for m in epoch.members] == [m.pubkey for m in genesis.members]
    assert [m.stake for m in epoch.members] == stakes
    active = {i for i, s in enumerate(stakes) if s}
    assert set(epoch.active) == active
    assert {epoch.leader(slot, view) for slot in range(40) for view in range(3)} <= active
    assert epoch.lane_of(sender) in active
    assert epoch.stake(range(len(stakes))) == sum(stakes) == epoch.total
    assert not epoch.has_quorum([i for i in range(len(stakes)) if i not in active])


def test_proposals_include_only_active_lanes_and_valid_evidence() -> None:
    genesis, keys = committee_of([1, 1, 1, 1])
    epoch = genesis.with_stakes({k.pubkey: 1 for k in keys[:3]})  # validator 3 out of this epoch's set

    def tip(lane: int) -> PoA:
        car = Car(lane, 1, ZERO, [b"tx"], None).signed(keys[lane])
        d = car.digest()
        return PoA(lane, 1, d, [Sig(k.index, k.sign(CarVote.message(lane, 1, d))) for k in keys[:3]])

    assert Proposal(1, 1, [tip(0), tip(1)]).verify(epoch) is None
    assert "outside this epoch" in (Proposal(1, 1, [tip(3)]).verify(epoch) or "")
    assert Proposal(1, 1, [tip(3)]).verify(genesis) is None
    # A double vote: two Prepare votes of validator 2 in one (slot, view) for different proposals.
    a = Vote.make(keys[2], PREPARE, 5, 0, b"a" * 32)
    b = Vote.make(keys[2], PREPARE, 5, 0, b"b" * 32)
    enc = msgspec.msgpack.encode
    good = Evidence("double-vote", 2, enc(a), enc(b))
    assert good.verify(epoch) is None and good.height() == 5
    with_evidence = Proposal(1, 1, [tip(0)], [good])
    assert with_evidence.verify(epoch) is None
    assert with_evidence.digest() != Proposal(1, 1, [tip(0)]).digest()  # the evidence is what was voted on
    forged = Vote(PREPARE, 5, 0, b"b" * 32, 2, a.sig)
    cases = {
        "do not conflict": Evidence("double-vote", 2, enc(a), enc(a)),
        "another view": Evidence("double-vote", 2, enc(a), enc(Vote.make(keys[2], PREPARE, 5, 1, b"b" * 32))),
        "blamed on another": Evidence("double-vote", 1, enc(a), enc(b)),
        "forged signature": Evidence("double-vote", 2, enc(a), enc(forged)),
        "not a vote": Evidence("double-vote", 2, enc(a), b"\x93garbage"),
        "unknown kind": Evidence("sleepy", 2, enc(a), enc(b)),
    }
    for what, bad in cases.items():
        assert bad.verify(epoch) is not None, what
        assert Proposal(1, 1, [tip(0)], [bad]).verify(epoch) is not None, what
    assert Proposal(1, 1, [tip(0)], [good, good]).verify(epoch) is not None  # one per offender
    # Two cars at one position of lane 1, both signed by its owner.
    c1 = Car(1, 2, b"p" * 32, [b"x"], None).signed(keys[1])
    c2 = Car(1, 2, b"p" * 32, [b"y"], None).signed(keys[1])
    cars = Evidence("lane-equivocation", 1, enc(c1), enc(c2))
    assert cars.verify(epoch) is None and cars.height() is None


def test_a_snapshot_offer_is_trusted_only_with_a_valid_appqc_and_commit() -> None:
    committee, keys = committee_of([1, 1, 1, 1])
    car = Car(0, 1, ZERO, [b"tx"], None).signed(keys[0])
    d = car.digest()
    p = Proposal(9, 5, [PoA(0, 1, d, [Sig(k.index, k.sign(CarVote.message(0, 1, d))) for k in keys[:2]])])
    commit = Commit(p, QC(CONFIRM, 9, 0, p.digest(), [Sig(k.index, Vote.make(k, CONFIRM, 9, 0, p.digest()).sig)
                                                       for k in keys[:3]]))  # fmt: skip
    state = b"c" * 32
    app = [Sig(k.index, k.sign(AppVote.message(9, state))) for k in keys[:3]]
    offer = SnapshotOffer(9, state, app, commit, [1, 0, 0, 0], 100, 5, None)
    assert check_offer(offer, state, committee) is None
    assert "commitment" in (check_offer(offer, b"d" * 32, committee) or "")  # records hash to something else
    bad = {
        "below quorum": msgspec.structs.replace(offer, sigs=app[:2]),
        "signed another state": msgspec.structs.replace(
            offer, sigs=[Sig(k.index, k.sign(AppVote.message(9, b"x" * 32))) for k in keys[:3]]
        ),
        "another block's commit": msgspec.structs.replace(offer, block=10),
        "lanes": msgspec.structs.replace(offer, lanes=[1]),
    }
    for what, o in bad.items():
        assert check_offer(o, state, committee) is not None, what
    # Under stakes where validators 0–2 hold a third, the same signatures are no quorum.
    heavy = committee.with_stakes({keys[0].pubkey: 1, keys[1].pubkey: 1, keys[2].pubkey: 1, keys[3].pubkey: 6})
    assert check_offer(offer, state, heavy) is not None
    assert needs_snapshot(None, [offer]) is offer
    assert needs_snapshot(3, [offer]) is offer  # slot 4 is pruned from the peer's journal (it keeps 5 on)
    assert needs_snapshot(4, [offer]) is None  # slot 5 on can come one by one
    assert needs_snapshot(9, [offer]) is None  # nothing newer on offer
