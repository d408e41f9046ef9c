"""The consensus journal's pruning: a random history of slots, pruned at random points, keeps exactly the slots
at or above the prune point with their cars, and what it keeps reads back as it was written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysei.consensus.journal import Journal
from pysei.consensus.messages import PREPARE, QC, Car, Commit, Proposal


def car(lane: int, pos: int) -> Car:
    return Car(lane, pos, b"\x00" * 32, [bytes([lane, pos % 256])], None)


def record(journal: Journal, slot: int, cars: list[Car]) -> None:
    journal.put_cars([(c.digest(), c) for c in cars])
    journal.put_commit(Commit(Proposal(slot, slot * 1000, []), QC(PREPARE, slot, 0, b"\x11" * 32, [])))
    journal.put_emitted(slot, [c.digest() for c in cars], [c.pos for c in cars])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=40), st.lists(st.integers(1, 45), max_size=4))
def test_prune_keeps_exactly_the_slots_at_or_above_the_point(
    tmp_path_factory: pytest.TempPathFactory, per_slot: list[int], points: list[int]
) -> None:
    path = tmp_path_factory.mktemp("journal") / "consensus.sqlite"
    journal = Journal(path)
    cars: dict[int, list[Car]] = {}
    pos = [0, 0]
    for slot, n in enumerate(per_slot, start=1):
        cars[slot] = []
        for i in range(n):
            lane = i % 2
            pos[lane] += 1
            cars[slot].append(car(lane, pos[lane]))
        record(journal, slot, cars[slot])
    journal.put_app_qc(1, b"\x22" * 32, [0, 1, 2])
    floor = 1
    for point in points:
        journal.prune(point)
        floor = max(floor, point)
    journal.close()
    journal = Journal(path)  # what is kept is durable
    last = len(per_slot)
    assert journal.first_commit_slot() == (floor if floor <= last else None)
    for slot in range(1, last + 1):
        kept = slot >= floor
        assert (journal.commit(slot) is not None) == kept
        assert (journal.emitted(slot) is not None) == kept
        for c in cars[slot]:
            assert journal.car(c.digest()) == (c if kept else None)
    assert journal.app_qc(1) == (b"\x22" * 32, [0, 1, 2])  # certificates of state stay
    journal.close()


def test_prune_keeps_the_last_car_voted_for_in_each_lane(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A validator that state-syncs resumes its own lane from the last car its peers voted for: pruning keeps it."""
    journal = Journal(tmp_path_factory.mktemp("journal") / "consensus.sqlite")
    first, last, other = car(0, 1), car(0, 2), car(1, 1)
    record(journal, 1, [first, other])
    record(journal, 2, [last])
    for c in (last, other):
        journal.put_lane_vote(c.lane, c.pos, c.digest())
    journal.prune(3)
    assert journal.car(first.digest()) is None
    assert journal.car(last.digest()) == last and journal.car(other.digest()) == other
    journal.close()
