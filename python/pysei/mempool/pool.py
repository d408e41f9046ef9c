"""The transaction pool between RPC ingest and the sequencer.

Semantics follow geth's legacy txpool (pending = executable from the sender's next nonce, queued = behind a nonce
gap, same-nonce replacement with a price bump, geth's error strings) with two differences forced by pysei's
pipeline, where execution trails ordering by a few blocks:

* Transactions handed to the sequencer by :meth:`Mempool.take` stay tracked as *in flight* until
  :meth:`Mempool.on_executed` reports their block, because the committed nonce does not cover them yet. Their
  nonces count as used: a new transaction reusing one is ``nonce too low``.
* Execution may *skip* an in-flight transaction (it turned out invalid against the real state). Every later
  transaction of that sender already placed in a not-yet-executed block is then doomed to fail as well; those are
  returned to the pool at once (queued, behind the gap) so the sender can fill the gap and have them re-ordered,
  and the stale copies still travelling in their blocks are remembered as *ghosts* so that their execution report
  does not disturb the re-pooled or re-taken copy.

Everything here runs on the node's asyncio loop: no locks, no I/O, no wall-clock reads except through the
injected ``clock``, so replaying the same calls gives the same pool.
"""

from __future__ import annotations

import enum
import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import msgspec

from pysei.chain.transaction import Transaction
from pysei.mempool.config import MempoolConfig
from pysei.mempool.errors import (
    AccountLimitError,
    AlreadyKnownError,
    FeeCapTooLowError,
    InsufficientFundsError,
    MempoolError,
    NonceTooLowError,
    ReplacementUnderpricedError,
    TipAboveFeeCapError,
    TxPoolFullError,
    UnderpricedError,
)
from pysei.mempool.interfaces import AccountReader, NewPendingCallback

_log = logging.getLogger(__name__)

DROPPED_KEPT = 4096
"""Skipped-for-good transactions remembered for RPC (bounded: a client asks soon after, or never)."""

MIN_TX_GAS = 21_000
"""Intrinsic gas of the cheapest transaction; intrinsic-gas checks happen before the pool, so no pooled
transaction has a smaller gas limit and :meth:`Mempool.take` can stop once less than this is left."""


class AddStatus(enum.Enum):
    PENDING = "pending"
    """Executable: its nonce continues the sender's run from the next unused nonce."""
    QUEUED = "queued"
    """Parked behind a nonce gap; promoted when the gap fills."""


class TxStatus(enum.Enum):
    PENDING = "pending"
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    """Taken for a block that has not been executed yet."""


class DropReason(enum.Enum):
    REPLACED = "replaced"
    """Outbid by a same-sender, same-nonce transaction."""
    EVICTED = "evicted"
    """Pushed out of a full pool by a better-paying transaction."""
    STALE = "stale"
    """Its nonce fell below the committed nonce (another transaction with that nonce executed)."""
    EXPIRED = "expired"
    """Queued for longer than ``queue_lifetime_s``."""


class Dropped(msgspec.Struct, frozen=True):
    """A pooled transaction that left the pool without being taken for a block, and why."""

    hash: bytes
    reason: DropReason


class AddOutcome(msgspec.Struct, frozen=True):
    """Result of admitting one transaction."""

    hash: bytes
    status: AddStatus
    replaced: bytes | None = None
    """Hash of the same-nonce transaction this one replaced, if any (also listed in ``dropped``)."""
    dropped: tuple[Dropped, ...] = ()
    """Everything that left the pool as a side effect: the replaced transaction, an evicted cheaper one, or
    stale transactions noticed while re-reading the sender's nonce."""


class PoolContent(msgspec.Struct, frozen=True):
    """Snapshot for ``txpool_content``-style RPCs: sender -> nonce -> transaction, nonces ascending.

    In-flight transactions are kept apart; an RPC that mimics geth (which has no such state) should report them
    as pending, since to a client they are still unmined.
    """

    pending: dict[bytes, dict[int, Transaction]]
    queued: dict[bytes, dict[int, Transaction]]
    in_flight: dict[bytes, dict[int, Transaction]]


@dataclass(slots=True, eq=False)
class _Entry:
    tx: Transaction
    seq: int
    """Arrival order; breaks tip ties first-come first-served and keeps its value across a return to the pool."""
    time: float
    """When it arrived, or last became queued: the start of its queue lifetime."""


@dataclass(slots=True, eq=False)
class _Sender:
    """One sender's transactions.

    Invariants: every nonce in ``txs`` is >= ``base``; ``txs`` holds every nonce in ``[base, pending_end)`` and not
    ``pending_end``, so those are the pending ones and any higher nonce is queued; ``inflight`` nonces are distinct.
    """

    address: bytes
    nonce: int
    """Committed nonce as last read from the :class:`AccountReader`."""
    base: int
    """First nonce neither committed nor in flight: where the pending run starts."""
    pending_end: int
    txs: dict[int, _Entry] = field(default_factory=dict)
    inflight: dict[int, _Entry] = field(default_factory=dict)
    spend: int = 0
    """Total :func:`_cost` of ``txs`` and ``inflight``: what the sender's balance must still cover (the committed
    balance does not reflect in-flight transactions yet)."""


_HeapItem = tuple[int, int, int, int, _Entry]


class Mempool:
    """Pending/queued/in-flight transaction pool; see the module docstring for the lifecycle."""

    def __init__(
        self,
        reader: AccountReader,
        config: MempoolConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._config = config or MempoolConfig()
        self._clock = clock
        self._senders: dict[bytes, _Sender] = {}
        self._by_hash: dict[bytes, _Entry] = {}
        """Pooled (pending + queued) transactions."""
        self._inflight: dict[bytes, _Entry] = {}
        self._ghosts: dict[bytes, int] = {}
        """Hash -> number of doomed copies still travelling in unexecuted blocks (see the module docstring)."""
        self._ready: dict[bytes, _Sender] = {}
        """Senders with at least one pending transaction, so take() never scans queued-only senders."""
        self._n_pending = 0
        self._seq = 0
        self._pushes = 0
        # Lazy min-heap on (fee cap, tip, -seq): the eviction candidate is the cheapest, newest pooled
        # transaction. Entries that left the pool stay until they surface or the heap is compacted.
        self._price_heap: list[_HeapItem] = []
        self._heap_live = False
        """Whether ``_price_heap`` holds every pooled transaction (only near capacity, see ``_push_price``)."""
        self._heap_threshold = self._config.max_txs * 3 // 4
        self._subscribers: list[NewPendingCallback] = []
        self._dropped: OrderedDict[bytes, tuple[int, str]] = OrderedDict()
        """Hash → (block, reason) of the last ``DROPPED_KEPT`` transactions execution skipped for good."""

    # ------------------------------------------------------------------ admission

    def add(self, tx: Transaction, base_fee: int) -> AddOutcome:
        """Admit ``tx``, or raise a :class:`MempoolError` subclass without changing the pool."""
        nonce, balance = self._reader.nonce_and_balance(tx.sender)
        notify: list[bytes] = []
        outcome = self._add(tx, base_fee, nonce, balance, self._clock(), notify)
        self._publish(notify)
        return outcome

    def add_many(self, txs: Iterable[Transaction], base_fee: int) -> list[AddOutcome | MempoolError]:
        """Admit a JSON-RPC batch in order; each slot holds the outcome or the error, never raises for one tx.

        Committed state cannot change within one call (execution reports arrive on the same loop), so each
        sender's account is read once per batch.
        """
        txs = list(txs)
        senders = list(dict.fromkeys(tx.sender for tx in txs))
        reads = dict(zip(senders, self._reader.nonces_and_balances(senders), strict=True))
        now = self._clock()
        notify: list[bytes] = []
        results: list[AddOutcome | MempoolError] = []
        for tx in txs:
            account = reads[tx.sender]
            try:
                results.append(self._add(tx, base_fee, account[0], account[1], now, notify))
            except MempoolError as err:
                results.append(err)
        self._publish(notify)
        return results

    def _add(
        self, tx: Transaction, base_fee: int, committed: int, balance: int, now: float, notify: list[bytes]
    ) -> AddOutcome:
        # All checks come before any mutation, so a refusal leaves the pool exactly as it was.
        tx_hash = tx.hash
        if tx_hash in self._by_hash or tx_hash in self._inflight:
            raise AlreadyKnownError(tx_hash)
        fee_cap = tx.max_fee_per_gas
        tip = tx.max_priority_fee_per_gas
        if tip > fee_cap:
            raise TipAboveFeeCapError(tx.sender, tip, fee_cap)
        config = self._config
        if fee_cap < config.min_gas_price:
            raise UnderpricedError(fee_cap, config.min_gas_price)
        if fee_cap < base_fee:
            raise FeeCapTooLowError(tx.sender, fee_cap, base_fee)
        acct = self._senders.get(tx.sender)
        nonce = tx.nonce
        base = committed if acct is None else max(committed, acct.base)
        if nonce < base:
            raise NonceTooLowError(base, nonce)
        cost = _cost(tx)
        if cost > balance:
            raise InsufficientFundsError(balance, cost)
        old = acct.txs.get(nonce) if acct is not None else None
        # As geth: the sender's other pending transactions must stay covered too (a replacement frees its old cost).
        queued = 0 if acct is None else acct.spend - (_cost(old.tx) if old is not None else 0)
        if queued + cost > balance:
            raise InsufficientFundsError(balance, cost, queued)
        victim: _Entry | None = None
        if old is not None:
            _check_replacement(old.tx, fee_cap, tip, config.price_bump_percent)
        else:
            # Counted before re-syncing a lagging nonce, so stale entries still count: conservative, and it
            # keeps refusals mutation-free.
            if acct is not None and len(acct.txs) >= config.max_txs_per_sender:
                raise AccountLimitError(tx.sender, len(acct.txs))
            if len(self._by_hash) >= config.max_txs:
                victim = self._cheapest()
                if victim is None or (victim.tx.max_fee_per_gas, victim.tx.max_priority_fee_per_gas) >= (fee_cap, tip):
                    raise TxPoolFullError()

        dropped: list[Dropped] = []
        if acct is None:
            acct = self._senders[tx.sender] = _Sender(tx.sender, committed, committed, committed)
        elif committed > acct.nonce:
            self._sync(acct, committed, False, now, notify, dropped)
        if victim is not None and self._by_hash.get(victim.tx.hash) is victim:
            victim_acct = self._senders[victim.tx.sender]
            self._unpool(victim_acct, victim, now)
            dropped.append(Dropped(victim.tx.hash, DropReason.EVICTED))
            if victim_acct is not acct:
                self._forget_if_empty(victim_acct)

        self._seq += 1
        entry = _Entry(tx, self._seq, now)
        txs = acct.txs
        txs[nonce] = entry
        acct.spend += cost
        self._by_hash[tx_hash] = entry
        self._push_price(entry)
        replaced: bytes | None = None
        if old is not None:
            acct.spend -= _cost(old.tx)
            replaced = old.tx.hash
            del self._by_hash[replaced]
            dropped.append(Dropped(replaced, DropReason.REPLACED))
            pending = acct.base <= nonce < acct.pending_end
            if pending:
                notify.append(tx_hash)
        elif nonce == acct.pending_end:
            # Fills the gap at the head of the queue: it and any queued run behind it become executable.
            end = nonce
            while end in txs:
                notify.append(txs[end].tx.hash)
                end += 1
            self._n_pending += end - nonce
            acct.pending_end = end
            self._ready[acct.address] = acct
            pending = True
        else:
            pending = False
        return AddOutcome(tx_hash, AddStatus.PENDING if pending else AddStatus.QUEUED, replaced, tuple(dropped))

    # ------------------------------------------------------------------ ordering

    def take(self, max_txs: int, max_gas: int, base_fee: int) -> list[Transaction]:
        """Move the next block's transactions to in flight and return them in block order.

        Greedy by effective tip at ``base_fee`` (highest first, earliest arrival on ties) over the head of every
        sender's pending run, so each sender's transactions come out in nonce order with no gap. A sender whose
        head no longer fits the remaining gas is passed over for this block (as geth's miner does) rather than
        letting it block everyone else; one whose head's fee cap is below ``base_fee`` is left in the pool.
        O(senders + taken * log senders).
        """
        heap: list[tuple[int, int, _Sender]] = []
        for acct in self._ready.values():
            head = acct.txs[acct.base]
            if head.tx.max_fee_per_gas >= base_fee:
                heap.append((-head.tx.effective_tip(base_fee), head.seq, acct))
        heapq.heapify(heap)
        taken: list[Transaction] = []
        gas_left = max_gas
        by_hash = self._by_hash
        inflight = self._inflight
        while heap and len(taken) < max_txs and gas_left >= MIN_TX_GAS:
            acct = heap[0][2]
            nonce = acct.base
            entry = acct.txs[nonce]
            tx = entry.tx
            if tx.gas_limit > gas_left:
                heapq.heappop(heap)
                continue
            taken.append(tx)
            gas_left -= tx.gas_limit
            del acct.txs[nonce]
            del by_hash[tx.hash]
            acct.inflight[nonce] = entry
            inflight[tx.hash] = entry
            nonce += 1
            acct.base = nonce
            if nonce < acct.pending_end:
                head = acct.txs[nonce]
                if head.tx.max_fee_per_gas >= base_fee:
                    heapq.heapreplace(heap, (-head.tx.effective_tip(base_fee), head.seq, acct))
                    continue
            else:
                del self._ready[acct.address]
            heapq.heappop(heap)
        self._n_pending -= len(taken)
        return taken

    def on_executed(self, block_txs: Sequence[Transaction], reader: AccountReader | None = None) -> list[Dropped]:
        """Account for an executed and committed block (the same transactions ``take`` returned for it).

        Its in-flight entries leave the pool whether they succeeded or were skipped. Each sender in the block is
        re-read from ``reader`` (default: the pool's own); pooled transactions below the committed nonce are
        dropped as stale. If one of the sender's transactions in this block was skipped, its later in-flight
        transactions cannot succeed either and go back to the pool, queued behind the gap at the committed nonce.
        Returns the stale drops.
        """
        reader = reader or self._reader
        # sender -> one past the highest nonce of its in-flight transactions executed in this block (0: none);
        # a committed nonce below that means execution skipped one of them.
        expected: dict[bytes, int] = {}
        for tx in block_txs:
            tx_hash = tx.hash
            ghosts = self._ghosts.get(tx_hash)
            if ghosts:
                # A doomed copy from an older block than any copy now in flight: consume it, touch nothing else.
                if ghosts == 1:
                    del self._ghosts[tx_hash]
                else:
                    self._ghosts[tx_hash] = ghosts - 1
                expected.setdefault(tx.sender, 0)
                continue
            entry = self._inflight.pop(tx_hash, None)
            if entry is None:
                expected.setdefault(tx.sender, 0)
                continue
            owner = self._senders[tx.sender]
            del owner.inflight[tx.nonce]
            owner.spend -= _cost(tx)
            expected[tx.sender] = max(expected.get(tx.sender, 0), tx.nonce + 1)
        now = self._clock()
        notify: list[bytes] = []
        dropped: list[Dropped] = []
        pooled = [
            (sender, end, acct) for sender, end in expected.items() if (acct := self._senders.get(sender)) is not None
        ]
        accounts = reader.nonces_and_balances([sender for sender, _, _ in pooled])
        for (_, executed_end, acct), (committed, _) in zip(pooled, accounts, strict=True):
            self._sync(acct, committed, executed_end > max(committed, acct.nonce), now, notify, dropped)
            self._forget_if_empty(acct)
        self._publish(notify)
        return dropped

    # ------------------------------------------------------------------ eviction

    def evict_stale(self, now: float | None = None) -> list[Dropped]:
        """Drop queued transactions that have waited longer than ``queue_lifetime_s`` (same clock as the pool's).

        Pending ones are never expired: they are executable and will be taken. Meant to run every few seconds
        to minutes; it scans the queued transactions, which is fine at that rate.
        """
        if now is None:
            now = self._clock()
        lifetime = self._config.queue_lifetime_s
        dropped: list[Dropped] = []
        for acct in list(self._senders.values()):
            if len(acct.txs) == acct.pending_end - acct.base:
                continue
            end = acct.pending_end
            expired = [e for n, e in acct.txs.items() if n > end and now - e.time > lifetime]
            for entry in expired:
                self._unpool(acct, entry, now)
                dropped.append(Dropped(entry.tx.hash, DropReason.EXPIRED))
            self._forget_if_empty(acct)
        return dropped

    # ------------------------------------------------------------------ devnet edits

    def remove(self, tx_hash: bytes) -> bool:
        """Drops a pooled transaction (anvil_dropTransaction); later nonces of its sender become queued.
        In-flight ones are already in an ordered block and stay. Returns whether it was pooled."""
        entry = self._by_hash.get(tx_hash)
        if entry is None:
            return False
        acct = self._senders[entry.tx.sender]
        self._unpool(acct, entry, self._clock())
        self._forget_if_empty(acct)
        return True

    def clear(self) -> int:
        """Drops every pooled transaction (a devnet revert or reset: the state they were admitted against is gone).
        Call only when nothing is in flight. Returns how many were dropped."""
        assert not self._inflight, "clear() with transactions in flight"
        dropped = len(self._by_hash)
        self._senders.clear()
        self._by_hash.clear()
        self._ghosts.clear()
        self._ready.clear()
        self._price_heap = []
        self._heap_live = False
        self._n_pending = 0
        self._dropped.clear()  # notes about skips in blocks that no longer exist
        return dropped

    # ------------------------------------------------------------------ queries

    def pending_nonce(self, sender: bytes) -> int:
        """Nonce the sender's next transaction should carry: past committed, in-flight and pending ones.

        Backs ``eth_getTransactionCount(addr, "pending")``; queued transactions do not count, as in geth.
        """
        committed = self._reader.nonce_and_balance(sender)[0]
        acct = self._senders.get(sender)
        return committed if acct is None else max(committed, acct.pending_end)

    def get(self, tx_hash: bytes) -> Transaction | None:
        """A pooled or in-flight transaction (both are still unmined to a client)."""
        entry = self._by_hash.get(tx_hash) or self._inflight.get(tx_hash)
        return entry.tx if entry is not None else None

    def note_skipped(self, tx_hash: bytes, number: int, reason: str) -> bool:
        """Execution skipped ``tx_hash`` in block ``number``. Unless it is back in the pool (behind a nonce gap
        another skip left), it is gone for good: remember why, so that RPC can answer instead of staying silent.
        Returns whether it was back in the pool."""
        if tx_hash in self:
            return True
        self._dropped[tx_hash] = (number, reason)
        if len(self._dropped) > DROPPED_KEPT:
            self._dropped.popitem(last=False)
        return False

    def why_dropped(self, tx_hash: bytes) -> tuple[int, str] | None:
        """(block, reason) of a transaction execution skipped and that is not pooled again."""
        return None if tx_hash in self else self._dropped.get(tx_hash)

    def status(self, tx_hash: bytes) -> TxStatus | None:
        entry = self._by_hash.get(tx_hash)
        if entry is None:
            return TxStatus.IN_FLIGHT if tx_hash in self._inflight else None
        acct = self._senders[entry.tx.sender]
        return TxStatus.PENDING if entry.tx.nonce < acct.pending_end else TxStatus.QUEUED

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash or tx_hash in self._inflight

    def __len__(self) -> int:
        """Pending + queued + in flight."""
        return len(self._by_hash) + len(self._inflight)

    @property
    def pending_count(self) -> int:
        return self._n_pending

    @property
    def queued_count(self) -> int:
        return len(self._by_hash) - self._n_pending

    @property
    def in_flight_count(self) -> int:
        return len(self._inflight)

    @property
    def config(self) -> MempoolConfig:
        return self._config

    def content(self) -> PoolContent:
        pending: dict[bytes, dict[int, Transaction]] = {}
        queued: dict[bytes, dict[int, Transaction]] = {}
        in_flight: dict[bytes, dict[int, Transaction]] = {}
        for address, acct in self._senders.items():
            for nonce in sorted(acct.txs):
                bucket = pending if nonce < acct.pending_end else queued
                bucket.setdefault(address, {})[nonce] = acct.txs[nonce].tx
            if acct.inflight:
                in_flight[address] = {n: acct.inflight[n].tx for n in sorted(acct.inflight)}
        return PoolContent(pending, queued, in_flight)

    # ------------------------------------------------------------------ notifications

    def subscribe(self, callback: NewPendingCallback) -> Callable[[], None]:
        """Call ``callback`` with the hashes of transactions that became pending, once per pool call that
        promoted any; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _publish(self, hashes: list[bytes]) -> None:
        if not hashes or not self._subscribers:
            return
        batch = tuple(hashes)
        for callback in tuple(self._subscribers):
            try:
                callback(batch)
            except Exception:
                # A broken subscriber (say, a closed websocket) must not undo or abort pool bookkeeping.
                _log.exception("new-pending-transaction subscriber failed")

    # ------------------------------------------------------------------ internals

    def _sync(
        self,
        acct: _Sender,
        committed: int,
        skipped: bool,
        now: float,
        notify: list[bytes],
        dropped: list[Dropped],
    ) -> None:
        """Re-derive ``acct``'s pending run after its committed nonce or in-flight set changed."""
        old_base, old_end = acct.base, acct.pending_end
        acct.nonce = max(acct.nonce, committed)
        nonce = acct.nonce
        txs = acct.txs
        if skipped:
            # Execution stopped at ``nonce``: anything of this sender still in flight above it will fail too.
            for n in sorted(k for k in acct.inflight if k >= nonce):
                entry = acct.inflight.pop(n)
                tx_hash = entry.tx.hash
                del self._inflight[tx_hash]
                self._ghosts[tx_hash] = self._ghosts.get(tx_hash, 0) + 1
                if n in txs:
                    # Pooled nonces start above the in-flight ones, so this cannot happen; if it ever did, the
                    # pooled transaction is the newer intent and wins.
                    acct.spend -= _cost(entry.tx)
                    dropped.append(Dropped(tx_hash, DropReason.REPLACED))
                    continue
                entry.time = now
                txs[n] = entry
                self._by_hash[tx_hash] = entry
                self._push_price(entry)
        if nonce > old_base:
            for n in [k for k in txs if k < nonce]:
                entry = txs.pop(n)
                acct.spend -= _cost(entry.tx)
                del self._by_hash[entry.tx.hash]
                dropped.append(Dropped(entry.tx.hash, DropReason.STALE))
        base = max(nonce, max(acct.inflight) + 1) if acct.inflight else nonce
        acct.base = base
        # Without a skip nothing in [base, old_end) was removed, so the old run is still intact from there.
        end = old_end if not skipped and base <= old_end else base
        while end in txs:
            end += 1
        acct.pending_end = end
        self._n_pending += (end - base) - (old_end - old_base)
        # Pending now but not before (the two ranges are intervals, so this is interval arithmetic).
        for n in range(base, min(end, old_base)):
            notify.append(txs[n].tx.hash)
        for n in range(max(base, old_end), end):
            notify.append(txs[n].tx.hash)
        # Pending before, queued now: their queue lifetime starts now.
        for n in range(max(old_base, end), old_end):
            demoted = txs.get(n)
            if demoted is not None:
                demoted.time = now
        if end > base:
            self._ready[acct.address] = acct
        else:
            self._ready.pop(acct.address, None)

    def _unpool(self, acct: _Sender, entry: _Entry, now: float) -> None:
        """Remove a pooled entry; if it was pending, the rest of its run is demoted to queued."""
        nonce = entry.tx.nonce
        del acct.txs[nonce]
        acct.spend -= _cost(entry.tx)
        del self._by_hash[entry.tx.hash]
        if acct.base <= nonce < acct.pending_end:
            old_end = acct.pending_end
            self._n_pending -= old_end - nonce
            acct.pending_end = nonce
            for n in range(nonce + 1, old_end):
                acct.txs[n].time = now
            if nonce == acct.base:
                self._ready.pop(acct.address, None)

    def _forget_if_empty(self, acct: _Sender) -> None:
        # The reader is the source of truth for an idle sender; keeping its record would only leak memory.
        if not acct.txs and not acct.inflight:
            del self._senders[acct.address]
            self._ready.pop(acct.address, None)

    def _push_price(self, entry: _Entry) -> None:
        # The heap only serves eviction from a full pool, so it is kept only while the pool is near full:
        # maintaining it on every admission was 5% of the node's time under load (py-spy, `pysei bench e2e`).
        if not self._heap_live:
            if len(self._by_hash) >= self._heap_threshold:
                self._heap_live = True
                self._compact_price_heap()
            return
        if len(self._by_hash) < self._heap_threshold // 2:
            self._heap_live = False
            self._price_heap = []
            return
        heap = self._price_heap
        if len(heap) > 2 * len(self._by_hash) + 1024:
            self._compact_price_heap()
        self._pushes += 1
        tx = entry.tx
        # The push counter only keeps tuple comparison from reaching the (unorderable) entry.
        heapq.heappush(heap, (tx.max_fee_per_gas, tx.max_priority_fee_per_gas, -entry.seq, self._pushes, entry))

    def _compact_price_heap(self) -> None:
        items: list[_HeapItem] = []
        for entry in self._by_hash.values():
            self._pushes += 1
            tx = entry.tx
            items.append((tx.max_fee_per_gas, tx.max_priority_fee_per_gas, -entry.seq, self._pushes, entry))
        heapq.heapify(items)
        self._price_heap = items

    def _cheapest(self) -> _Entry | None:
        """The pooled transaction a full pool would evict: lowest fee cap, then tip, then the newest."""
        if not self._heap_live:
            self._heap_live = True
            self._compact_price_heap()
        heap = self._price_heap
        by_hash = self._by_hash
        while heap:
            entry = heap[0][4]
            if by_hash.get(entry.tx.hash) is entry:
                return entry
            heapq.heappop(heap)
        return None


def _cost(tx: Transaction) -> int:
    """The most a transaction can take from its sender's balance: gas limit × fee cap + value."""
    return tx.gas_limit * tx.max_fee_per_gas + tx.value


def _check_replacement(old: Transaction, fee_cap: int, tip: int, bump_percent: int) -> None:
    """geth's rule: both fee cap and tip strictly higher, and each at least ``old * (100 + bump) // 100``."""
    factor = 100 + bump_percent
    min_fee_cap = old.max_fee_per_gas * factor // 100
    min_tip = old.max_priority_fee_per_gas * factor // 100
    if fee_cap <= old.max_fee_per_gas or tip <= old.max_priority_fee_per_gas or fee_cap < min_fee_cap or tip < min_tip:
        raise ReplacementUnderpricedError(
            max(min_fee_cap, old.max_fee_per_gas + 1), max(min_tip, old.max_priority_fee_per_gas + 1)
        )
