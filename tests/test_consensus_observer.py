"""The consensus observer (finality latency per car, slot time, uptime from commit certificates): pure bookkeeping,
driven here with explicit clocks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pysei.consensus.observer import ConsensusObserver, percentile


def test_finality_is_measured_from_holding_a_car_to_its_commit() -> None:
    obs = ConsensusObserver(2, [0, 0])
    obs.slot_entered(1, 10.0)
    obs.car_held(0, 1, 10.0)
    obs.car_held(0, 2, 10.5)
    obs.car_held(0, 2, 10.9)  # held again (a re-sent car): the first time counts
    obs.car_held(1, 1, 10.25)
    obs.slot_committed(1, [(0, 2), (1, 0)], [0, 1], 11.0)
    assert sorted(obs.finality.recent) == [0.5, 1.0]
    assert list(obs.slots.recent) == [1.0]
    # Lane 1's car commits in the next slot; a car held after its position committed is not a sample.
    obs.slot_entered(2, 11.0)
    obs.car_held(0, 2, 11.1)
    obs.slot_committed(2, [(0, 2), (1, 1)], [0], 11.5)
    assert sorted(obs.finality.recent) == [0.5, 1.0, 1.25]
    summary = obs.summary()
    assert summary["finalityMs"] == {"samples": 3, "p50": 1000.0, "p90": 1250.0, "last": 1250.0}
    assert summary["slotMs"]["samples"] == 2 and summary["slotMs"]["last"] == 500.0
    assert summary["uptime"] == [1.0, 0.5]


def test_uptime_counts_the_recent_window_only() -> None:
    obs = ConsensusObserver(3, [0, 0, 0], window=4)
    assert obs.uptime() == [None, None, None]
    for slot in range(1, 5):
        obs.slot_committed(slot, [], [0, 1], float(slot))
    assert obs.uptime() == [1.0, 1.0, 0.0]
    for slot in range(5, 7):  # validator 1 goes down, 2 comes up: the window forgets the oldest two
        obs.slot_committed(slot, [], [0, 2], float(slot))
    assert obs.uptime() == [1.0, 0.5, 0.5]


def test_a_car_that_never_commits_at_its_position_is_forgotten() -> None:
    obs = ConsensusObserver(1, [0])
    obs.car_held(0, 1, 0.0)  # an equivocating twin this validator held; the other car at position 1 commits
    obs.slot_committed(1, [(0, 1)], [0], 1.0)
    obs.car_held(0, 1, 2.0)
    obs.slot_committed(2, [(0, 1)], [0], 3.0)
    assert list(obs.finality.recent) == [1.0]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4)), max_size=40), st.integers(1, 5))
def test_every_held_car_gives_exactly_one_sample_once_committed(held: list[tuple[int, int]], rounds: int) -> None:
    obs = ConsensusObserver(4, [0, 0, 0, 0])
    for t, (lane, grow) in enumerate(held):
        top = max((p for ln, p in obs._seen if ln == lane), default=obs._committed[lane])
        obs.car_held(lane, top + grow, float(t))
    pending = dict(obs._seen)
    tips = [(lane, max([p for ln, p in pending if ln == lane], default=0)) for lane in range(4)]
    for r in range(rounds):
        obs.slot_committed(r + 1, tips, [0, 1, 2], float(len(held) + r))
    assert obs.finality.count == len(pending)
    assert all(x >= 0 for x in obs.finality.recent)
    assert not obs._seen


def test_percentile_nearest_rank() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 1.0) == 4.0
