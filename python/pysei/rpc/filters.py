"""Log matching, polling filters (eth_newFilter & co.) and their expiry.

Filters are fed by commit events from the execution stage (never by polling the store): each installed filter
accumulates what it has not yet returned, bounded, and expires when not polled for ``FILTER_TIMEOUT`` seconds,
as geth does.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from pysei.chain.block import Log
from pysei.rpc import codec
from pysei.rpc.errors import invalid_params

FILTER_TIMEOUT = 300.0
MAX_PENDING_CHANGES = 100_000
"""Changes kept per filter between polls; older ones are dropped first."""


@dataclass(frozen=True, slots=True)
class LogCriteria:
    """Address and topic criteria of eth_getLogs / eth_newFilter / logs subscriptions."""

    addresses: frozenset[bytes] | None
    topics: tuple[frozenset[bytes] | None, ...]

    def matches(self, log: Log) -> bool:
        if self.addresses is not None and log.address not in self.addresses:
            return False
        if len(self.topics) > len(log.topics):
            return False
        return all(want is None or have in want for want, have in zip(self.topics, log.topics, strict=False))


def parse_criteria(obj: dict[str, Any]) -> LogCriteria:
    raw_addr = obj.get("address")
    addresses: frozenset[bytes] | None
    if raw_addr is None:
        addresses = None
    elif isinstance(raw_addr, list):
        addresses = frozenset(codec.address(a) for a in raw_addr) if raw_addr else None
    else:
        addresses = frozenset([codec.address(raw_addr)])
    raw_topics = obj.get("topics")
    if raw_topics is None:
        raw_topics = []
    if not isinstance(raw_topics, list):
        raise invalid_params("invalid topics: expected an array")
    if len(raw_topics) > 4:
        raise invalid_params("invalid topics: at most 4 positions")
    topics: list[frozenset[bytes] | None] = []
    for t in raw_topics:
        if t is None:
            topics.append(None)
        elif isinstance(t, list):
            topics.append(frozenset(codec.hash32(x, "topic") for x in t) if t else None)
        else:
            topics.append(frozenset([codec.hash32(t, "topic")]))
    return LogCriteria(addresses, tuple(topics))


@dataclass(slots=True)
class Filter:
    kind: str
    """"logs", "blocks" or "pending"."""
    criteria: LogCriteria | None = None
    from_block: int | None = None
    to_block: int | None = None
    changes: list[Any] = field(default_factory=list)
    last_poll: float = field(default_factory=time.monotonic)


class FilterRegistry:
    """Installed polling filters by id."""

    def __init__(self) -> None:
        self._filters: dict[str, Filter] = {}
        self._ids = itertools.count(1)

    def install(self, flt: Filter) -> str:
        fid = hex(next(self._ids))
        self._filters[fid] = flt
        return fid

    def get(self, fid: str) -> Filter | None:
        flt = self._filters.get(fid)
        if flt is not None:
            flt.last_poll = time.monotonic()
        return flt

    def remove(self, fid: str) -> bool:
        return self._filters.pop(fid, None) is not None

    def of_kind(self, kind: str) -> list[Filter]:
        return [f for f in self._filters.values() if f.kind == kind]

    def push(self, flt: Filter, items: list[Any]) -> None:
        flt.changes.extend(items)
        if len(flt.changes) > MAX_PENDING_CHANGES:
            del flt.changes[: len(flt.changes) - MAX_PENDING_CHANGES]

    def expire(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        stale = [fid for fid, f in self._filters.items() if now - f.last_poll > FILTER_TIMEOUT]
        for fid in stale:
            del self._filters[fid]
        return len(stale)
