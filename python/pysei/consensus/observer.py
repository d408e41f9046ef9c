"""What one validator observes of consensus progress, for operators, metrics and the explorer.

Finality latency is measured per car: from the moment this validator first held it (proposed it, or received it
from its lane's owner) to the commit of the first slot whose cut includes it — the time a transaction waits
between dissemination and finality. Uptime is the share of the recent commit certificates that carry a
validator's vote, as this validator saw them: a validator that is down or partitioned stops appearing there.
Both are local observations, not consensus state (another validator may see other signer sets of a quorum).

Pure bookkeeping with the clock passed in, so it is tested without sockets or timers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

LATENCY_SAMPLES = 1024
"""Recent finality (and slot) latencies kept for the percentiles."""
UPTIME_WINDOW = 100
"""Commit certificates over which uptime is counted."""


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (sorted here); ``fraction`` in [0, 1]."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


class Samples:
    """Recent durations (seconds) for percentiles, and the running count and sum of all of them (a Prometheus
    summary's ``_count`` and ``_sum``)."""

    def __init__(self) -> None:
        self.recent: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.count = 0
        self.sum = 0.0

    def add(self, seconds: float) -> None:
        self.recent.append(seconds)
        self.count += 1
        self.sum += seconds

    def quantile(self, fraction: float) -> float | None:
        return percentile(self.recent, fraction) if self.recent else None

    def summary_ms(self) -> dict[str, Any]:
        """p50, p90 and the last sample in milliseconds."""
        if not self.recent:
            return {"samples": 0, "p50": None, "p90": None, "last": None}
        return {
            "samples": len(self.recent),
            "p50": round(percentile(self.recent, 0.5) * 1000, 1),
            "p90": round(percentile(self.recent, 0.9) * 1000, 1),
            "last": round(self.recent[-1] * 1000, 1),
        }


class ConsensusObserver:
    def __init__(self, n: int, committed: Sequence[int], window: int = UPTIME_WINDOW) -> None:
        self.n = n
        self._committed = list(committed)
        """Per lane, the highest position committed (cars at or below it are final already)."""
        self._seen: dict[tuple[int, int], float] = {}
        self.finality = Samples()
        """Seconds from holding a car to its commit."""
        self.slots = Samples()
        """Seconds from entering a slot to committing it."""
        self._signed: deque[frozenset[int]] = deque(maxlen=window)
        self._slot_entered: tuple[int, float] | None = None

    def car_held(self, lane: int, pos: int, at: float) -> None:
        """This validator holds car ``pos`` of ``lane`` from ``at`` on (the first time counts)."""
        if pos > self._committed[lane]:
            self._seen.setdefault((lane, pos), at)

    def slot_entered(self, slot: int, at: float) -> None:
        if self._slot_entered is None or self._slot_entered[0] != slot:
            self._slot_entered = (slot, at)

    def slot_committed(self, slot: int, tips: Iterable[tuple[int, int]], signers: Iterable[int], at: float) -> None:
        """Slot ``slot`` committed a cut with these (lane, position) tips under a certificate ``signers`` signed."""
        if self._slot_entered is not None and self._slot_entered[0] == slot:
            self.slots.add(at - self._slot_entered[1])
        for lane, pos in tips:
            for p in range(self._committed[lane] + 1, pos + 1):
                held = self._seen.pop((lane, p), None)
                if held is not None:
                    self.finality.add(at - held)
            self._committed[lane] = max(self._committed[lane], pos)
        # Cars this validator held that will never commit at their position (a lane's equivocating twin).
        for key in [k for k in self._seen if k[1] <= self._committed[k[0]]]:
            del self._seen[key]
        self._signed.append(frozenset(signers))

    def uptime(self) -> list[float | None]:
        """Per validator, the share of the recent commit certificates with its vote (None before any commit)."""
        if not self._signed:
            return [None] * self.n
        return [sum(v in s for s in self._signed) / len(self._signed) for v in range(self.n)]

    def summary(self) -> dict[str, Any]:
        """Finality and slot latencies in milliseconds (p50, p90, last) over the recent samples, and uptime."""
        return {"finalityMs": self.finality.summary_ms(), "slotMs": self.slots.summary_ms(), "uptime": self.uptime()}
