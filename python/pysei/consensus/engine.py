"""The Autobahn ordering stage of one validator: lanes, slots, commit → blocks, catch-up and AppQCs.

It replaces the devnet sequencer: committed cuts become ``OrderedBlock``s on the same bounded execution queue.
All protocol decisions are in ``rules.py``; this module does the I/O around them on the node's event loop.

Commit rule (documented in the README): slot s, once its CommitQC exists, becomes exactly one block, number s.
Its transactions are, for each lane in committee order, the lane's cars after the last position an earlier slot
committed, up to the cut's tip, by position, each car's transactions in car order. Its timestamp is the leader's
proposal timestamp (seconds). One block per cut rather than Sei's one per car: fewer fsyncs, same order.

Slots run one at a time (as in Sei's implementation: slot s + 1 starts with CommitQC_s) and the leader proposes
only when some lane has a certified tip the chain has not committed, so an idle network sends nothing.

Routing: each sender's transactions belong to one lane (``Committee.lane_of``). A validator that receives a
transaction for another lane forwards it to the owner and remembers it; if it has not been executed after
``forward_timeout`` (the owner is down or lost it), the validator puts it into its own lane. A copy that reaches
the chain twice is harmless: execution skips a transaction whose nonce is spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import msgspec

from pysei.chain.block import Infraction, InfractionKind, OrderedBlock
from pysei.chain.transaction import Transaction, decode_with_senders, recover_transactions
from pysei.consensus.committee import Committee, Signer, epoch_committee
from pysei.consensus.journal import Journal
from pysei.consensus.messages import (
    CONFIRM,
    MAX_EVIDENCE,
    PREPARE,
    QC,
    SNAPSHOT_CHUNK,
    TC,
    ZERO,
    AppVote,
    Car,
    CarRequest,
    Cars,
    CarVote,
    Commit,
    Confirm,
    Evidence,
    Message,
    PoA,
    Prepare,
    Proposal,
    SlotRecord,
    SnapshotChunk,
    SnapshotChunkRequest,
    SnapshotOffer,
    SnapshotRequest,
    Status,
    SyncRequest,
    SyncResponse,
    Timeout,
    Txs,
    Vote,
)
from pysei.consensus.observer import ConsensusObserver
from pysei.consensus.rules import LaneVotes, SlotVotes, Tally, choose_reproposal
from pysei.mempool import Mempool
from pysei.p2p.network import Network
from pysei.state.store import ChainStore

log = logging.getLogger("pysei.consensus")

FAULT, _, _FAULT_FROM = os.environ.get("PYSEI_TEST_FAULT", "").partition("@")
"""Test-only fault hook (process tests of Byzantine behaviour): equivocate-lane, double-vote, conflicting-cuts,
bad-state; ``double-vote@S`` starts at slot S. Empty in every real run."""
FAULT_FROM_SLOT = int(_FAULT_FROM or 0)


MAX_VIEWS_AHEAD = 16
"""Messages for views further ahead of this replica's are dropped, so no peer can make it store a message for
every view number (honest replicas are never that far apart: a TC moves everyone)."""
MAX_EARLY_PREPARES = 16
"""Prepares of the next slots buffered until this replica gets there."""
MAX_CLOCK_AHEAD_MS = 10_000
"""A proposal's timestamp (its block's time) may be at most this far ahead of this validator's clock."""
CERTIFIED_KEPT = 10_000
"""AppQCs kept in memory (all are in the journal)."""
SYNC_BATCH = 32
"""Committed slots per sync response (a response is pulled right after the previous one is applied)."""
LEADER_UNREACHABLE_TIMEOUT = 0.3
"""View timer (seconds) while this replica has no connection to the view's leader."""


class StateDivergence(RuntimeError):
    """This validator computed a state commitment other than the one the committee certified."""


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    car_interval: float = 0.1
    """Least seconds between cars of this validator's lane (Sei cuts one every 0.4 s); a car also waits for its
    parent's PoA, so under load the cadence is set by the PoA round trip."""
    max_car_txs: int = 2000
    max_car_bytes: int = 2_000_000
    view_timeout: float = 1.5
    """Seconds a slot's view may take before replicas time out (Sei's default)."""
    fast_path_wait: float = 0.05
    """After a Prepare quorum, how long the leader waits for all n votes before taking the slow path."""
    forward_timeout: float = 2.0
    """Seconds a forwarded transaction may stay unexecuted before this validator orders it in its own lane."""
    journal_retention: int | None = 100_000
    """Slots whose commits and cars the journal keeps below the executed head (about 3 hours at 10 slots a
    second): what a restarted or lagging peer can still sync slot by slot from this validator. Older ones are
    deleted (the chain store holds their blocks); None keeps everything."""


class EpochStakes(Protocol):
    """Where the committee of each epoch comes from: the staking module's committee records in the executed
    state (``app/localnet.py`` reads them through the kernel). The record of epoch k is written when block
    (k−1)·E executes, so consensus, which runs ahead of execution, knows a slot's committee as long as
    execution is less than one epoch behind; when it is further behind, consensus waits for it there."""

    epoch_blocks: int

    def stakes(self, epoch: int) -> dict[bytes, int] | None:
        """Consensus public key → voting power in ``epoch``; None while the record is not executed yet."""
        ...


class ConsensusEngine:
    def __init__(
        self,
        config: ConsensusConfig,
        committee: Committee,
        signer: Signer,
        chain_id: int,
        journal: Journal,
        mempool: Mempool,
        store: ChainStore,
        execution_queue: asyncio.Queue[OrderedBlock],
        head: int,
        base_fee: Callable[[], int],
        gas_limit: int,
        submit: Callable[[list[Transaction]], Any],
        epochs: EpochStakes | None = None,
        snapshots: Path | None = None,
    ) -> None:
        self.config = config
        self.chain_id = chain_id
        self.snapshots = snapshots
        """Where this validator writes the snapshot it offers to validators that state-sync (None: it offers none)."""
        self._snapshot: tuple[int, Path, float] | None = None
        """(block, file, when written) of the snapshot on offer."""
        self._snapshot_waiters: set[int] = set()
        self._exporting = False
        self.members = committee
        """The genesis committee: every validator's key, address and lane number (the network's membership)."""
        self.epochs = epochs
        """None: the genesis stakes hold for ever (a chain whose staking module knows no consensus keys)."""
        self._epoch_committees: dict[int, Committee] = {}
        self._epoch_problem: set[int] = set()
        self._parked: tuple[int, int, TC | None] | None = None
        """A slot this replica waits to enter until execution has written its epoch's committee."""
        self.committee = committee
        """The committee of the slot this replica is in (``_enter`` switches it at epoch boundaries)."""
        self.epoch = 0
        """The epoch of ``committee``."""
        self._own_epoch = 0
        """The epoch whose stakes count the votes for this lane's pending car (its PoA names it)."""
        self.signer = signer
        self.me = signer.index
        self.journal = journal
        self.mempool = mempool
        self.store = store
        self.queue = execution_queue
        self._base_fee = base_fee
        self._gas_limit = gas_limit
        self._submit = submit
        self.network = Network(committee, signer, chain_id, self._on_message, Message)
        n = committee.n
        self.failure: BaseException | None = None
        self.halted = asyncio.Event()
        # --- lanes
        self.cars: dict[bytes, Car] = {}
        self.lane_votes = LaneVotes(journal.lane_votes())
        own = journal.own_tip()
        self.own_pos, self.own_digest = own if own is not None else (0, ZERO)
        self.own_poa: PoA | None = None
        self.own_pending: Car | None = None
        self._own_tally: Tally | None = None
        self._own_sent_at = 0.0
        self.tips: dict[int, PoA] = {}
        if self.own_pos > 0 and (last := journal.car(self.own_digest)) is not None:
            # After a restart the last own car's PoA is unknown: collect it again (voters that already voted
            # for this car vote again; nobody votes for another car at this position).
            self._await_poa(last)
        self._wanted: set[bytes] = set()
        # --- emission (slots → blocks) and consensus progress
        self.emitted_slot = head
        lanes = journal.emitted(head)
        self.lane_emitted: list[int] = lanes[1] if lanes is not None else [0] * n
        self.committed_tips = list(self.lane_emitted)
        self.committed_slot = head
        self.commits: dict[int, Commit] = {}
        while (c := journal.commit(self.committed_slot + 1)) is not None:
            self._apply_commit(c)
        self.votes = SlotVotes(self.committed_slot + 1)
        self._proposed: set[tuple[int, int]] = set()
        self._prepares: dict[tuple[int, int], Prepare] = {}
        self._tallies: dict[tuple[int, int, int], Tally] = {}
        self._timeouts: dict[tuple[int, int], dict[int, Timeout]] = {}
        self._tc: TC | None = None
        self._future: dict[int, list[tuple[int, Any]]] = {}
        self._last_ts = 0
        self._view_timer: asyncio.TimerHandle | None = None
        self._progress = asyncio.Event()
        self._wake = asyncio.Event()
        self._last_sync = 0.0
        self._pruned_at = head
        self._told_pruned: set[int] = set()
        self._last_commit_at = time.monotonic()
        self.peer_slots: dict[int, int] = {}
        # --- state agreement
        self.app_voted = journal.last_app_qc()
        self._app_tallies: dict[int, Tally] = {}
        self.certified: dict[int, tuple[bytes, list[int]]] = {}
        self._unchecked: set[int] = set()
        """Certified blocks not yet compared with this validator's own commitment."""
        self.last_certified = journal.last_app_qc()
        # --- routing
        self.forwarded: dict[bytes, tuple[Transaction, float]] = {}
        self._lane_txs: list[bytes] = []
        self._background: set[asyncio.Task[None]] = set()
        self.lane_progress: dict[int, float] = {}
        """lane → when this validator last learnt a new PoA of it (a lane that certifies cars is alive)."""
        """This lane's transactions waiting for the next car, in mempool order (per-sender nonce order)."""
        # --- observability
        self.stats = {"fast_commits": 0, "slow_commits": 0, "view_changes": 0, "cars": 0, "evidence": 0}
        included = journal.evidence_included()
        self._pending_evidence: dict[int, Evidence] = {}
        """Stored evidence no committed block carries yet, by offender: the next proposals of this leader do."""
        for e in journal.evidence():
            if e.offender not in included:
                self._pending_evidence.setdefault(e.offender, e)
        self.observer = ConsensusObserver(n, self.committed_tips)
        self._tasks: list[asyncio.Task[None]] = []
        self._handlers: dict[type, Callable[[int, Any], str | None]] = {
            Car: self._on_car,
            CarVote: self._on_car_vote,
            PoA: lambda _, m: self._on_poa(m),
            Prepare: self._on_prepare,
            Vote: self._on_vote,
            Confirm: self._on_confirm,
            Commit: self._on_commit,
            Timeout: self._on_timeout,
            TC: lambda _, m: self._on_tc(m),
            AppVote: self._on_app_vote,
            Txs: lambda _, m: self._on_txs(m),
            CarRequest: self._on_car_request,
            Cars: lambda _, m: self._on_cars(m),
            Status: self._on_status,
            SyncRequest: self._on_sync_request,
            SyncResponse: self._on_sync_response,
            SnapshotRequest: self._on_snapshot_request,
            SnapshotChunkRequest: self._on_snapshot_chunk_request,
        }

    # =================================================================================================== life
    async def start(self, host: str, port: int) -> int:
        bound = await self.network.start(host, port)
        self._enter(self.committed_slot + 1, 0)
        self._check_own_poa()  # after a restart, alone (a network of one) the own vote is the PoA
        for coro, name in (
            (self._lane_loop(), "lane"),
            (self._emit_loop(), "emit"),
            (self._app_loop(), "appqc"),
            (self._status_loop(), "status"),
        ):
            task = asyncio.create_task(coro, name=f"consensus-{name}")
            task.add_done_callback(self._task_done)
            self._tasks.append(task)
        return bound

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.critical("consensus task %s failed: %s", task.get_name(), exc, exc_info=exc)
            self.failure = exc
            self.halted.set()

    async def run(self) -> None:
        """The node's ordering stage: runs until the engine halts (a failure is re-raised to stop the node)."""
        await self.halted.wait()
        if self.failure is not None:
            raise self.failure

    async def stop(self) -> None:
        if self._view_timer is not None:
            self._view_timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.network.stop()

    def status(self) -> dict[str, Any]:
        leader = self.committee.leader(self.votes.slot, self.votes.view)
        return {
            "validator": self.me,
            "slot": self.votes.slot,
            "view": self.votes.view,
            "epoch": self.epoch_of(self.votes.slot),
            "epochBlocks": self.epochs.epoch_blocks if self.epochs is not None else None,
            "leader": leader,
            "committedSlot": self.committed_slot,
            "executedBlock": self.emitted_slot,
            "laneTips": [self.tips[lane].pos if lane in self.tips else 0 for lane in range(self.committee.n)],
            "laneCommitted": list(self.committed_tips),
            "lastCertifiedBlock": self.last_certified,
            "fastCommits": self.stats["fast_commits"],
            "slowCommits": self.stats["slow_commits"],
            "viewChanges": self.stats["view_changes"],
            "cars": self.stats["cars"],
            "evidence": self.stats["evidence"],
            "forwardedPending": len(self.forwarded),
            **self.observer.summary(),
            "peers": [
                {
                    "validator": p,
                    "connected": s.connected,
                    "sent": s.sent,
                    "received": s.received,
                    "dropped": s.dropped,
                    "misbehaviour": s.misbehaviour,
                    "lastError": s.last_error,
                }
                for p, s in self.network.stats.items()
            ],
            "rejectedConnections": self.network.rejected_handshakes,
        }

    # ============================================================================================== dispatch
    def _on_message(self, peer: int, msg: Any) -> None:
        if msg == "connected":
            self.network.send(peer, Status(self.committed_slot))
            if self.own_pending is not None:
                self.network.send(peer, self.own_pending)
            return
        if msg == "disconnected":
            if peer == self.committee.leader(self.votes.slot, self.votes.view):
                self._arm_timer()  # the leader is gone: the short timer applies now, not after the full one
            return
        try:
            err = self._dispatch(peer, msg)
        except StateDivergence as exc:
            log.critical("%s", exc)  # now, not only at exit: a slow shutdown must not hide when it was seen
            self.failure = exc
            self.halted.set()
            return
        if err is not None:
            self.network.penalize(peer, err)

    def _dispatch(self, peer: int, msg: Any) -> str | None:
        """Runs the message's handler; returns why the peer misbehaved, if it did."""
        handler = self._handlers.get(type(msg))
        if handler is None:
            return "message a validator may not send"
        return handler(peer, msg)

    def _on_status(self, peer: int, msg: Status) -> str | None:
        self._maybe_sync(peer, msg.committed_slot)
        return None

    def _evidence(self, kind: str, offender: int, first: Any, second: Any) -> None:
        """Stores the first proof against ``offender`` (one is enough: slashing tombstones it) for this
        validator's next proposals to carry to the chain."""
        if offender in self._pending_evidence or self.journal.has_evidence(offender):
            return
        enc = msgspec.msgpack.encode
        evidence = Evidence(kind, offender, enc(first), enc(second))
        self.journal.put_evidence(evidence)
        self._pending_evidence[offender] = evidence
        self.stats["evidence"] += 1
        log.warning("evidence: %s by validator %d stored", kind, offender)

    # ================================================================================================ epochs
    def epoch_of(self, slot: int) -> int:
        return 0 if self.epochs is None else max(0, slot - 1) // self.epochs.epoch_blocks

    def committee_at(self, slot: int) -> Committee | None:
        """The committee of ``slot``'s epoch (epoch k: slots k·E+1 … (k+1)·E), None while execution has not
        written it yet."""
        return self.committee_of(self.epoch_of(slot))

    def committee_of(self, epoch: int) -> Committee | None:
        """The committee of ``epoch`` (None while execution has not written its record). Stakes of keys outside
        the genesis membership are left out: such a validator has no address to reach, so it cannot vote
        (joining needs its p2p endpoint in every validator's genesis)."""
        if self.epochs is None:
            return self.members
        committee = self._epoch_committees.get(epoch)
        if committee is not None:
            return committee
        stakes = self.epochs.stakes(epoch)
        if stakes is None:
            return None
        committee = epoch_committee(self.members, stakes)
        if committee is self.members and epoch not in self._epoch_problem:
            self._epoch_problem.add(epoch)
            log.error("epoch %d: the committee record has no stake of a genesis member; keeping genesis", epoch)
        if len(self._epoch_committees) >= 16:  # records are never overwritten: an evicted epoch is read again
            del self._epoch_committees[min(self._epoch_committees)]
        self._epoch_committees[epoch] = committee
        return committee

    def _poa_committee(self, poa: PoA | None) -> Committee | None:
        """The committee a PoA's votes were counted under: its epoch's (a lane idle for epochs carries an old
        one; a peer already in the next epoch sends a new one). None while that epoch's record is not executed
        here: the message is ignored, not held against the peer, and comes again (cars are resent)."""
        if poa is None or poa.epoch == self.epoch:
            return self.committee
        return self.committee_of(poa.epoch)

    def _switch_committee(self, committee: Committee, slot: int) -> None:
        self.epoch = self.epoch_of(slot)
        if [m.stake for m in committee.members] == [m.stake for m in self.committee.members]:
            self.committee = committee  # a new epoch with the same stakes: a pending tally counts alike
            self._own_epoch = self.epoch
            return
        self.committee = committee
        log.info("slot %d: a new epoch committee, stakes %s", slot, {m.index: m.stake for m in committee.members})
        if committee.members[self.me].stake == 0:
            # Out of this epoch's committee: no cut includes this lane now, so what its uncommitted cars hold goes
            # to the lanes that are in it (a copy that lands twice is skipped by execution).
            digest, pos = self.own_digest, self.own_pos
            while pos > self.committed_tips[self.me] and (car := self.cars.get(digest) or self.journal.car(digest)):
                self._lane_txs[:0] = car.txs
                digest, pos = car.parent, pos - 1
            self.own_pending = self._own_tally = None
            return
        # This lane's last car may have been certified under the old stakes only: certify it again under the
        # new ones, so the leader can include it (peers vote again for a car they already voted for).
        if self.own_pending is not None:
            self._await_poa(self.own_pending)
        elif self.own_pos > self.committed_tips[self.me] and (
            self.own_poa is None or self.own_poa.verify(committee) is not None
        ):
            last = self.cars.get(self.own_digest) or self.journal.car(self.own_digest)
            if last is not None:
                self._await_poa(last)
                self.network.broadcast(last)

    # ================================================================================================= lanes
    async def _lane_loop(self) -> None:
        """Cuts this validator's cars: one unconfirmed car at a time (the next car carries the previous one's PoA),
        at most one per ``car_interval`` unless a full car is waiting, and only while transactions are pending."""
        last = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.car_interval)
            self._wake.clear()
            self._route_pending()
            if self.committee.members[self.me].stake == 0:
                self._hand_over()
                continue
            if self.own_pending is not None:
                if time.monotonic() - self._own_sent_at > 1.0:  # votes lost or peers reconnecting: resend
                    self._own_sent_at = time.monotonic()
                    self.network.broadcast(self.own_pending)
                continue
            now = time.monotonic()
            if self.forwarded:
                self._lane_txs.extend(self._due_forwards(now))
            full = len(self._lane_txs) >= self.config.max_car_txs
            if self._lane_txs and (full or now - last >= self.config.car_interval):
                last = now
                self._propose_car(self._take_car())

    def _hand_over(self) -> None:
        """Outside the committee: this validator's lane transactions, and forwarded ones whose owner's lane
        looks dead, go to connected lanes of the committee."""
        raws, self._lane_txs = self._lane_txs, []
        if self.forwarded:
            raws += self._due_forwards(time.monotonic())
        if not raws:
            return
        reachable = [i for i in self.committee.active if i in self.network.connected]
        if not reachable:
            self._lane_txs = raws  # nobody to hand them to yet: keep them
            return
        now = time.monotonic()
        by_owner: dict[int, list[Transaction]] = {}
        for tx in recover_transactions(raws):
            if isinstance(tx, str):
                continue
            owner = self.committee.lane_of(tx.sender)
            owner = owner if owner in reachable else reachable[0]
            by_owner.setdefault(owner, []).append(tx)
            self.forwarded[tx.hash] = (tx, now + self.config.forward_timeout)
        for owner, txs in by_owner.items():
            self.network.send(owner, Txs([t.raw for t in txs], [t.sender for t in txs]))

    def notify(self) -> None:
        """Ingest made transactions pending: route them now (forwarding has no cadence to wait for)."""
        self._route_pending()
        self._wake.set()

    def _route_pending(self) -> None:
        """Moves pending transactions out of the mempool: this lane's into the next car, others' to their owner."""
        if not self.mempool.pending_count:
            return
        taken = self.mempool.take(self.config.max_car_txs * 4, self._gas_limit, self._base_fee())
        forward: dict[int, list[Transaction]] = {}
        now = time.monotonic()
        for tx in taken:
            owner = self.committee.lane_of(tx.sender)
            if owner == self.me:
                self._lane_txs.append(tx.raw)
            else:
                forward.setdefault(owner, []).append(tx)
                self.forwarded[tx.hash] = (tx, now + self.config.forward_timeout)
        for owner, txs in forward.items():
            self.network.send(owner, Txs([t.raw for t in txs], [t.sender for t in txs]))

    def _take_car(self) -> list[bytes]:
        size = 0
        for i, raw in enumerate(self._lane_txs):
            size += len(raw)
            if size > self.config.max_car_bytes or i >= self.config.max_car_txs:
                break
        else:
            i = len(self._lane_txs)
        car, self._lane_txs = self._lane_txs[:i], self._lane_txs[i:]
        return car

    def _due_forwards(self, now: float) -> list[bytes]:
        """Forwarded transactions not executed in time go into this lane when their owner's lane looks dead
        (no link to it, or no new PoA of its lane for ``forward_timeout``); an owner that is merely busy keeps
        them, so a slow chain does not fill with duplicates. ``forwarded`` is kept in deadline order."""
        timeout = self.config.forward_timeout
        expired = []
        for h, (tx, deadline) in self.forwarded.items():
            if deadline > now:
                break
            expired.append((h, tx))
        if not expired:
            return []
        connected = set(self.network.connected)
        nonces = self.store.nonces_and_balances([tx.sender for _, tx in expired])
        out = []
        for (h, tx), (nonce, _) in zip(expired, nonces, strict=True):
            del self.forwarded[h]
            if nonce > tx.nonce:
                continue  # executed (or its nonce spent by another): done
            self.forwarded[h] = (tx, now + timeout)  # re-inserted at the end: the order stays by deadline
            owner = self.committee.lane_of(tx.sender)
            if owner not in connected or now - self.lane_progress.get(owner, 0.0) >= timeout:
                out.append(tx.raw)
        return out

    def _propose_car(self, txs: list[bytes]) -> None:
        pos = self.own_pos + 1
        poa = self.own_poa if pos > 1 else None
        car = Car(self.me, pos, self.own_digest, txs, poa).signed(self.signer)
        d = car.digest()
        self.own_pos, self.own_digest = pos, d
        self.journal.put_own_tip(pos, d)
        self.journal.put_cars([(d, car)])
        self.cars[d] = car
        self.lane_votes.record(car, d)
        self.journal.put_lane_vote(self.me, pos, d)
        self.observer.car_held(self.me, pos, time.monotonic())
        self._await_poa(car)
        self.stats["cars"] += 1
        self.network.broadcast(car)
        if FAULT == "equivocate-lane" and pos == 2:
            twin = Car(self.me, pos, car.parent, txs[::-1] + [b"\x00"], poa).signed(self.signer)
            self.network.broadcast(twin)
        self._check_own_poa()

    def _await_poa(self, car: Car) -> None:
        self.own_pending = car
        self._own_epoch = self.epoch
        self._own_tally = Tally(self.committee, self.committee.availability)
        self._own_tally.add(
            self.me, self.own_digest, self.signer.sign(CarVote.message(self.me, car.pos, self.own_digest))
        )
        self._own_sent_at = time.monotonic()

    def _on_car(self, peer: int, car: Car) -> str | None:
        if car.lane != peer:
            return "car of another validator's lane"
        if (parent_committee := self._poa_committee(car.parent_poa)) is None:
            return None
        if (err := car.verify(self.committee, parent_committee)) is not None:
            return err
        d = car.digest()
        if car.parent_poa is not None:
            self._learn_tip(car.parent_poa)
        refusal = self.lane_votes.decide(car, d)
        if refusal == "duplicate":
            pass  # our vote was lost: vote again below
        elif refusal is not None:
            voted = self.lane_votes.voted.get(car.lane)
            if voted is not None and voted[0] == car.pos and voted[1] != d:
                first = self.cars.get(voted[1]) or self.journal.car(voted[1])
                if first is not None:
                    self._evidence("lane-equivocation", car.lane, first, car)
            return None
        else:
            self.lane_votes.record(car, d)
            self.journal.put_lane_vote(car.lane, car.pos, d)
            self.journal.put_cars([(d, car)])
            self.cars[d] = car
            self.observer.car_held(car.lane, car.pos, time.monotonic())
        self.network.send(
            peer, CarVote(car.lane, car.pos, d, self.me, self.signer.sign(CarVote.message(car.lane, car.pos, d)))
        )
        return None

    def _on_car_vote(self, peer: int, vote: CarVote) -> str | None:
        if vote.voter != peer or vote.lane != self.me:
            return "car vote not from its voter or not for this lane"
        if not self.committee.verify(vote.voter, CarVote.message(vote.lane, vote.pos, vote.digest), vote.sig):
            return "bad car vote signature"
        pending = self.own_pending
        if pending is None or self._own_tally is None or vote.pos != pending.pos:
            return None
        self._own_tally.add(vote.voter, vote.digest, vote.sig)
        self._check_own_poa()
        return None

    def _check_own_poa(self) -> None:
        pending, tally = self.own_pending, self._own_tally
        if pending is None or tally is None:
            return
        sigs = tally.certificate(self.own_digest)
        if sigs is None:
            return
        poa = PoA(self.me, pending.pos, self.own_digest, sigs, self._own_epoch)
        self.own_poa, self.own_pending, self._own_tally = poa, None, None
        self._wake.set()  # the next car may go
        self.network.broadcast(poa)
        self._learn_tip(poa)

    def _on_poa(self, poa: PoA) -> str | None:
        known = self.tips.get(poa.lane)
        if known is not None and known.pos >= poa.pos:
            return None
        if (committee := self._poa_committee(poa)) is None:
            return None
        if (err := poa.verify(committee)) is not None:
            return err
        self._learn_tip(poa)
        return None

    def _learn_tip(self, poa: PoA) -> None:
        known = self.tips.get(poa.lane)
        if known is None or poa.pos > known.pos:
            self.tips[poa.lane] = poa
            self.lane_progress[poa.lane] = time.monotonic()
            if poa.lane == self.me and poa.pos == self.own_pos and self.own_pending is not None:
                self.own_poa, self.own_pending, self._own_tally = poa, None, None  # learnt from a peer
            self._maybe_propose()

    # ================================================================================================= slots
    def _enter(self, slot: int, view: int, tc: TC | None = None) -> None:
        committee = self.committee_at(slot)
        if committee is None:
            # Execution has not written this epoch's committee yet: wait here (``_app_loop`` retries).
            if self._parked is None:
                log.info("slot %d: waiting for execution to reach the record of its epoch's committee", slot)
            self._parked = (slot, view, tc)
            if self._view_timer is not None:
                self._view_timer.cancel()
            return
        self._parked = None
        if committee is not self.committee:
            self._switch_committee(committee, slot)
        self.observer.slot_entered(slot, time.monotonic())
        if slot != self.votes.slot:
            self.votes = SlotVotes(slot)
            self._tc = None
            self._tallies = {k: t for k, t in self._tallies.items() if k[1] >= slot}
            self._timeouts = {k: t for k, t in self._timeouts.items() if k[0] >= slot}
            self._prepares = {k: p for k, p in self._prepares.items() if k[0] >= slot}
        if view > self.votes.view:
            self.stats["view_changes"] += view - self.votes.view
            log.info("slot %d: view change to view %d (leader %d)", slot, view, self.committee.leader(slot, view))
        self.votes.view = max(self.votes.view, view)
        if tc is not None:
            self._tc = tc
        self._arm_timer()
        self._maybe_propose()
        for sender, msg in self._future.pop(slot, []):
            self._on_message(sender, msg)

    def _arm_timer(self) -> None:
        if self._view_timer is not None:
            self._view_timer.cancel()
        loop = asyncio.get_running_loop()
        # Consecutive view changes in one slot back off, so a slow network still reaches a view it can finish.
        delay = self.config.view_timeout * min(1.5**self.votes.view, 8)
        leader = self.committee.leader(self.votes.slot, self.votes.view)
        if leader != self.me and leader not in self.network.connected:
            # No link to the leader (crashed, or cut off): don't wait out the full timer. One replica's early
            # timeout changes nothing by itself; it takes F+1 of them for everyone to join.
            delay = min(delay, LEADER_UNREACHABLE_TIMEOUT)
        self._view_timer = loop.call_later(delay, self._on_view_timer, self.votes.slot, self.votes.view)

    def _work_pending(self) -> bool:
        if self.votes.voted is not None or (self.votes.slot, self.votes.view) in self._prepares:
            return True
        return any(poa.pos > self.committed_tips[lane] for lane, poa in self.tips.items())

    def _on_view_timer(self, slot: int, view: int) -> None:
        if (slot, view) != (self.votes.slot, self.votes.view):
            return
        if not self._work_pending():
            self._arm_timer()
            return
        self._send_timeout()
        self._arm_timer()

    def _send_timeout(self) -> None:
        v = self.votes
        mine = self._timeouts.get((v.slot, v.view), {}).get(self.me)
        if mine is not None:
            # Still stuck in this view: send the same Timeout again (peers that were cut off never got it).
            self.network.broadcast(mine)
            return
        v.timed_out.add(v.view)
        t = Timeout(v.slot, v.view, v.high_qc, v.high_qc_prop, v.voted_view, v.voted, self.me)
        t = msgspec.structs.replace(t, sig=self.signer.sign(t.message()))
        log.info("slot %d view %d: timeout", v.slot, v.view)
        self.network.broadcast(t)
        self._add_timeout(t)

    def _on_timeout(self, peer: int, t: Timeout) -> str | None:
        if t.voter != peer:
            return "timeout not from its voter"
        if t.slot < self.votes.slot:
            if (c := self.commits.get(t.slot) or self.journal.commit(t.slot)) is not None:
                self.network.send(peer, c)  # the peer missed this slot's commit
            return None
        if t.slot > self.votes.slot:
            self._maybe_sync(peer, t.slot - 1)
            return None
        if t.view > self.votes.view + MAX_VIEWS_AHEAD:
            return None  # no memory for views nobody can reach soon
        if t.view < self.votes.view:
            if self._tc is not None and self._tc.view >= t.view:
                self.network.send(peer, self._tc)  # the peer missed the TC that moved us on
            return None
        if (err := t.verify(self.committee)) is not None:
            return err
        self._add_timeout(t)
        return None

    def _on_tc(self, tc: TC) -> str | None:
        if tc.slot != self.votes.slot or tc.view < self.votes.view:
            return None
        if (err := tc.verify(self.committee)) is not None:
            return err
        self._enter(tc.slot, tc.view + 1, tc)
        return None

    def _add_timeout(self, t: Timeout) -> None:
        got = self._timeouts.setdefault((t.slot, t.view), {})
        got[t.voter] = t
        if t.view >= self.votes.view and t.view not in self.votes.timed_out and self.committee.is_available(got):
            # F+1 gave up on this view (at least one of them honest): join them, catching up from a lower view.
            if t.view > self.votes.view:
                self._enter(t.slot, t.view)
            self._send_timeout()
        if self.committee.has_quorum(got) and t.view >= self.votes.view and t.slot == self.votes.slot:
            tc = TC(t.slot, t.view, sorted(got.values(), key=lambda x: x.voter))
            self._enter(t.slot, t.view + 1, tc)

    def _maybe_propose(self) -> None:
        v = self.votes
        slot, view = v.slot, v.view
        if self.committee.leader(slot, view) != self.me or (slot, view) in self._proposed:
            return
        if slot <= self.committed_slot:
            return
        ticket_qc = None
        if slot > 1:
            prev = self.commits.get(slot - 1) or self.journal.commit(slot - 1)
            if prev is None:
                return
            ticket_qc = prev.qc
        proposal = None
        tc = None
        if view > 0:
            tc = self._tc
            if tc is None or tc.view != view - 1:
                return
            proposal = choose_reproposal(tc, self.committee)
        if proposal is None:
            committee = self.committee
            tips = [
                p
                for lane, p in sorted(self.tips.items())
                if p.pos > self.committed_tips[lane]
                and committee.members[lane].stake > 0
                and p.verify(committee) is None
            ]
            if not tips:
                return
            self._last_ts = max(self._last_ts + 1, int(time.time() * 1000))
            evidence = [e for e in self._pending_evidence.values() if e.verify(committee) is None][:MAX_EVIDENCE]
            proposal = Proposal(slot, self._last_ts, tips, evidence)
        self._proposed.add((slot, view))
        prepare = Prepare(view, proposal, ticket_qc, tc, self.me).signed(self.signer)
        self.network.broadcast(prepare)
        if FAULT == "conflicting-cuts":
            twin = Prepare(
                view, msgspec.structs.replace(proposal, timestamp_ms=proposal.timestamp_ms + 1), ticket_qc, tc, self.me
            )
            self.network.broadcast(twin.signed(self.signer))
        self._on_prepare(self.me, prepare)

    def _on_prepare(self, peer: int, p: Prepare) -> str | None:
        slot = p.proposal.slot
        if p.leader != peer or self.committee.leader(slot, p.view) != peer:
            return "prepare not from the slot's leader"
        if slot < self.votes.slot or p.view > self.votes.view + MAX_VIEWS_AHEAD:
            return None
        if slot > self.votes.slot:
            early = self._future.setdefault(slot, [])
            if slot <= self.votes.slot + 2 and len(early) < MAX_EARLY_PREPARES:
                early.append((peer, p))
            self._maybe_sync(peer, slot - 1)
            return None
        if not self.committee.verify(peer, p.message(), p.sig):
            return "bad prepare signature"
        key = (slot, p.view)
        seen = self._prepares.get(key)
        if seen is not None:
            if seen.proposal.digest() != p.proposal.digest():
                self._evidence("conflicting-proposals", peer, seen, p)
            return None
        if (err := p.proposal.verify(self.committee)) is not None:
            return err
        if p.view > 0:
            if p.ticket_tc is None or p.ticket_tc.slot != slot or p.ticket_tc.view != p.view - 1:
                return "prepare in a later view without its timeout certificate"
            if (err := p.ticket_tc.verify(self.committee)) is not None:
                return err
            required = choose_reproposal(p.ticket_tc, self.committee)
            if required is not None and required.digest() != p.proposal.digest():
                return "prepare ignores the proposal its timeout certificate requires"
            if p.view > self.votes.view:
                self._enter(slot, p.view, p.ticket_tc)
        self._prepares[key] = p
        if p.proposal.timestamp_ms > time.time() * 1000 + MAX_CLOCK_AHEAD_MS:
            return None  # a block time from the future: no vote (a clock may be off, so not misbehaviour)
        for tip in p.proposal.tips:
            self._learn_tip(tip)
        if not self.votes.may_prepare(p.view) or p.view in self.votes.timed_out:
            return None
        self.votes.record_prepare(p.view, p.proposal)
        vote = Vote.make(self.signer, PREPARE, slot, p.view, p.proposal.digest())
        self._send_vote(peer, vote)
        if FAULT == "double-vote" and slot >= FAULT_FROM_SLOT:
            self._send_vote(peer, Vote.make(self.signer, PREPARE, slot, p.view, bytes(32)))
        return None

    def _send_vote(self, leader: int, vote: Vote) -> None:
        if leader == self.me:
            self._on_vote(self.me, vote)
        else:
            self.network.send(leader, vote)

    def _on_vote(self, peer: int, vote: Vote) -> str | None:
        if vote.voter != peer or vote.kind not in (PREPARE, CONFIRM):
            return "vote not from its voter"
        if vote.slot != self.votes.slot or self.committee.leader(vote.slot, vote.view) != self.me:
            return None
        if vote.view > self.votes.view + MAX_VIEWS_AHEAD:
            return None
        if not vote.verify(self.committee):
            return "bad vote signature"
        key = (vote.kind, vote.slot, vote.view)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = Tally(self.committee, self.committee.quorum)
        had_quorum = tally.certificate(vote.digest) is not None
        conflict = tally.add(vote.voter, vote.digest, vote.sig)
        if conflict is not None:
            first = Vote(vote.kind, vote.slot, vote.view, conflict[0], vote.voter, conflict[1])
            self._evidence("double-vote", vote.voter, first, vote)
            return None
        prepare = self._prepares.get((vote.slot, vote.view))
        if prepare is None or prepare.proposal.digest() != vote.digest:
            return None
        sigs = tally.certificate(vote.digest)
        if sigs is None:
            return None
        qc = QC(vote.kind, vote.slot, vote.view, vote.digest, sigs)
        if vote.kind == CONFIRM:
            self._finish(prepare.proposal, qc, fast=False)
        elif tally.unanimous(vote.digest):
            self._finish(prepare.proposal, qc, fast=True)
        elif not had_quorum:
            asyncio.get_running_loop().call_later(self.config.fast_path_wait, self._slow_path, vote.slot, vote.view)
        return None

    def _slow_path(self, slot: int, view: int) -> None:
        if slot != self.votes.slot or self.committed_slot >= slot:
            return
        prepare = self._prepares.get((slot, view))
        tally = self._tallies.get((PREPARE, slot, view))
        if prepare is None or tally is None:
            return
        d = prepare.proposal.digest()
        sigs = tally.certificate(d)
        if sigs is None:
            return
        confirm = Confirm(QC(PREPARE, slot, view, d, sigs))
        self.network.broadcast(confirm)
        self._on_confirm(self.me, confirm)

    def _on_confirm(self, peer: int, c: Confirm) -> str | None:
        qc = c.qc
        if qc.kind != PREPARE or self.committee.leader(qc.slot, qc.view) != peer:
            return "confirm not from the slot's leader"
        if qc.slot != self.votes.slot:
            return None
        prepare = self._prepares.get((qc.slot, qc.view))
        if prepare is None or prepare.proposal.digest() != qc.digest:
            return None  # a replica acks only proposals it holds, so a TC can always name the proposal
        if not self.votes.may_ack(qc):
            return None
        if peer != self.me and (err := qc.verify(self.committee)) is not None:
            return err
        self.votes.record_qc(qc, prepare.proposal)
        self.votes.acked_views.add(qc.view)
        self._send_vote(peer, Vote.make(self.signer, CONFIRM, qc.slot, qc.view, qc.digest))
        return None

    def _finish(self, proposal: Proposal, qc: QC, *, fast: bool) -> None:
        if self.committed_slot >= proposal.slot:
            return
        commit = Commit(proposal, qc)
        self.network.broadcast(commit)
        self.stats["fast_commits" if fast else "slow_commits"] += 1
        self._commit(commit)

    def _on_commit(self, peer: int, c: Commit) -> str | None:
        slot = c.proposal.slot
        if slot <= self.committed_slot:
            return None
        if slot > self.committed_slot + 1:
            self._maybe_sync(peer, slot)
            return None
        committee = self.committee_at(slot)
        if committee is None:
            return None  # its epoch's committee is not executed yet: sync fetches it again later
        if (err := c.verify(committee)) is not None:
            return err
        self._commit(c)
        return None

    def _apply_commit(self, c: Commit) -> None:
        slot = c.proposal.slot
        self.commits[slot] = c
        self.committed_slot = slot
        for tip in c.proposal.tips:
            self.committed_tips[tip.lane] = max(self.committed_tips[tip.lane], tip.pos)
        for e in c.proposal.evidence:
            self.journal.put_evidence_included(e.offender, slot)
            self._pending_evidence.pop(e.offender, None)

    def _commit(self, c: Commit) -> None:
        self.journal.put_commit(c)
        self._apply_commit(c)
        slot = c.proposal.slot
        path = "fast" if c.qc.kind == PREPARE else "slow"
        now = time.monotonic()
        self.observer.slot_committed(
            slot, [(t.lane, t.pos) for t in c.proposal.tips], [s.signer for s in c.qc.sigs], now
        )
        log.info(
            "slot %d committed (view %d, %s path, leader %d, tips %s, %.0f ms since the last)",
            slot,
            c.qc.view,
            path,
            self.committee.leader(slot, c.qc.view),
            [(t.lane, t.pos) for t in c.proposal.tips],
            (now - self._last_commit_at) * 1000,
        )
        self._last_commit_at = now
        self._progress.set()
        self._enter(slot + 1, 0)

    # ============================================================================================== emission
    async def _emit_loop(self) -> None:
        """Turns committed slots into blocks, in slot order, fetching cars it lacks from their PoA signers."""
        while True:
            slot = self.emitted_slot + 1
            commit = self.commits.get(slot) or self.journal.commit(slot)
            if commit is None:
                self._progress.clear()
                await self._progress.wait()
                continue
            cars = await self._gather(commit)
            lanes = list(self.lane_emitted)
            for car in cars:
                lanes[car.lane] = car.pos
            raws = [raw for car in cars for raw in car.txs]
            decoded = await asyncio.to_thread(recover_transactions, raws) if raws else []
            # An entry that does not decode is dropped identically by every validator.
            txs = [d for d in decoded if not isinstance(d, str)]
            self.journal.put_emitted(slot, [c.digest() for c in cars], lanes)
            await self.queue.put(
                OrderedBlock(
                    number=slot,
                    timestamp=commit.proposal.timestamp_ms // 1000,
                    txs=txs,
                    evidence=tuple(self._infraction(e, slot) for e in commit.proposal.evidence),
                    signers=tuple(self.members.members[s.signer].pubkey for s in commit.qc.sigs),
                )
            )
            self.emitted_slot = slot
            self.lane_emitted = lanes
            self.commits.pop(slot - 64, None)
            for car in cars:
                self.cars.pop(car.digest(), None)
            self._maybe_prune(slot)

    def _infraction(self, e: Evidence, slot: int) -> Infraction:
        """What the slashing module needs of a piece of evidence: whose key, when (the slot the messages name;
        for two cars, which name none, the slot that carries the evidence) and what."""
        height = e.height()
        kind = cast(InfractionKind, e.kind)  # one of EVIDENCE_KINDS: the proposal's evidence was verified
        return Infraction(self.members.members[e.offender].pubkey, height if height is not None else slot, kind)

    def _maybe_prune(self, slot: int) -> None:
        """Prunes the journal below the retention window, a quarter window at a time. The window is counted from
        the executed head, not the emitted slot: a restart re-reads the emission record of the executed head."""
        keep = self.config.journal_retention
        if keep is None or slot - self._pruned_at < max(1, keep // 4):
            return
        self._pruned_at = slot
        below = min(slot, self.store.head() or 0) - keep
        if below > 1:
            cars = self.journal.prune(below)
            log.debug("journal pruned below slot %d (%d cars)", below, cars)

    async def _gather(self, commit: Commit) -> list[Car]:
        attempt = 0
        while True:
            cars: list[Car] = []
            missing: list[tuple[bytes, PoA]] = []
            for tip in commit.proposal.tips:
                chain: list[Car] = []
                want, pos = tip.digest, tip.pos
                while pos > self.lane_emitted[tip.lane]:
                    car = self.cars.get(want) or self.journal.car(want)
                    if car is None:
                        missing.append((want, tip))
                        break
                    chain.append(car)
                    want, pos = car.parent, pos - 1
                cars.extend(reversed(chain))
            if not missing:
                return cars
            for want, tip in missing:
                self._wanted.add(want)
                signers = [s.signer for s in tip.sigs if s.signer != self.me]
                targets = signers if attempt < 3 else self.network.connected
                for peer in targets:
                    self.network.send(peer, CarRequest([want]))
            attempt += 1
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))

    def _on_car_request(self, peer: int, req: CarRequest) -> str | None:
        if len(req.digests) > 256:
            return "car request too large"
        found = [c for d in req.digests if (c := self.cars.get(d) or self.journal.car(d)) is not None]
        if found:
            self.network.send(peer, Cars(found))
        return None

    def _on_cars(self, msg: Cars) -> str | None:
        for car in msg.cars:
            d = car.digest()
            if d not in self._wanted:
                continue
            if (parent_committee := self._poa_committee(car.parent_poa)) is None:
                continue
            if (err := car.verify(self.committee, parent_committee)) is not None:
                return err
            self._wanted.discard(d)
            self.cars[d] = car
            self.journal.put_cars([(d, car)])
        return None

    # =================================================================================================== sync
    def _maybe_sync(self, peer: int, their_slot: int, *, now: bool = False) -> None:
        t = time.monotonic()
        self.peer_slots[peer] = max(self.peer_slots.get(peer, 0), their_slot)
        if their_slot <= self.committed_slot or (not now and t - self._last_sync < 0.3):
            return
        self._last_sync = t
        self.network.send(peer, SyncRequest(self.committed_slot + 1, SYNC_BATCH))

    def _on_sync_request(self, peer: int, req: SyncRequest) -> str | None:
        first = self.journal.first_commit_slot()
        if first is not None and req.from_slot < first and req.from_slot not in self.commits:
            if peer in self._told_pruned:
                return None
            self._told_pruned.add(peer)
            log.warning(
                "validator %d asks for slot %d, pruned from this journal (it keeps slots from %d): it cannot catch "
                "up slot by slot from here",
                peer,
                req.from_slot,
                first,
            )
            return None
        records = []
        for slot in range(req.from_slot, req.from_slot + min(req.count, SYNC_BATCH)):
            commit = self.commits.get(slot) or self.journal.commit(slot)
            emitted = self.journal.emitted(slot)
            if commit is None or emitted is None:
                break
            cars = [c for d in emitted[0] if (c := self.cars.get(d) or self.journal.car(d)) is not None]
            records.append(SlotRecord(commit, cars))
        if records:
            self.network.send(peer, SyncResponse(records))
        return None

    def _on_sync_response(self, peer: int, msg: SyncResponse) -> str | None:
        err = self._apply_sync(msg)
        if err is None and msg.records:
            self._maybe_sync(peer, self.peer_slots.get(peer, 0), now=True)  # far behind: keep pulling
        return err

    def _apply_sync(self, msg: SyncResponse) -> str | None:
        """Applies certified slots in order; cars are checked against the cut's tips by their hash chain."""
        for rec in msg.records:
            slot = rec.commit.proposal.slot
            if slot <= self.committed_slot:
                continue
            if slot != self.committed_slot + 1:
                return None
            committee = self.committee_at(slot)
            if committee is None:
                return None  # wait for execution to write the slot's epoch committee; the next pull resumes
            if (err := rec.commit.verify(committee)) is not None:
                return err
            by_lane: dict[int, list[Car]] = {}
            for car in rec.cars:
                by_lane.setdefault(car.lane, []).append(car)
            verified: list[tuple[bytes, Car]] = []
            for tip in rec.commit.proposal.tips:
                chain = by_lane.pop(tip.lane, [])
                if len(chain) != max(0, tip.pos - self.committed_tips[tip.lane]):
                    return "sync response without exactly the cars the cut commits"
                want, pos = tip.digest, tip.pos
                for car in reversed(chain):
                    d = car.digest()
                    if d != want or car.pos != pos or car.lane != tip.lane:
                        return "sync response with cars that do not chain to the certified tip"
                    verified.append((d, car))
                    want, pos = car.parent, pos - 1
            if by_lane:
                return "sync response with cars outside the cut"
            self.journal.put_cars(verified)
            for d, car in verified:
                self.cars[d] = car
            self._commit(rec.commit)
        return None

    # ============================================================================================ state sync
    def _on_snapshot_request(self, peer: int, req: SnapshotRequest) -> str | None:
        """A validator state-syncing: offer a snapshot at a recent certified block (exported in a thread, once a
        minute at most; the offer goes out when it is written)."""
        if self.snapshots is None:
            return None
        self._snapshot_waiters.add(peer)
        snap = self._snapshot
        if snap is not None and time.monotonic() - snap[2] < 60 and snap[0] > req.head:
            self._offer_snapshot()
        elif not self._exporting:
            self._exporting = True
            task = asyncio.create_task(self._export_snapshot(), name="consensus-snapshot")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return None

    def _snapshot_block(self) -> int | None:
        """The newest block this validator can offer: executed, certified (with the AppQC's signatures), with its
        commit and emission record still in the journal."""
        head = self.store.head() or 0
        for block in sorted((b for b in self.certified if b <= head), reverse=True)[:64]:
            if self.journal.app_qc_sigs(block) and self.journal.commit(block) and self.journal.emitted(block):
                return block
        return None

    async def _export_snapshot(self) -> None:
        from pysei.state.snapshot import SnapshotError, export  # state's snapshot format; only this path needs it

        try:
            block = self._snapshot_block()
            if block is None or self.snapshots is None:
                return
            self.snapshots.mkdir(parents=True, exist_ok=True)
            path = self.snapshots / "offer.snapshot"
            for _ in range(3):  # blocks commit while the state is read: a mismatch is retried, never served
                try:
                    await asyncio.to_thread(
                        export, self.store, path, chain_id=self.chain_id, number=block, advance=False
                    )
                    break
                except SnapshotError as exc:
                    log.warning("snapshot of block %d for a syncing validator: %s; retrying", block, exc)
            else:
                return
            self._snapshot = (block, path, time.monotonic())
            log.info("snapshot of block %d written for validators that state-sync", block)
            self._offer_snapshot()
        finally:
            self._exporting = False

    def _offer_snapshot(self) -> None:
        assert self._snapshot is not None
        block, path, _ = self._snapshot
        sigs, commit, emitted = self.journal.app_qc_sigs(block), self.journal.commit(block), self.journal.emitted(block)
        cert = self.certified.get(block) or self.journal.app_qc(block)
        if sigs is None or commit is None or emitted is None or cert is None:
            return
        first = self.journal.first_commit_slot() or 1
        for peer in self._snapshot_waiters:
            voted = self.lane_votes.voted.get(peer)
            car = (self.cars.get(voted[1]) or self.journal.car(voted[1])) if voted is not None else None
            offer = SnapshotOffer(block, cert[0], sigs, commit, emitted[1], path.stat().st_size, first, car)
            self.network.send(peer, offer)
        self._snapshot_waiters.clear()

    def _on_snapshot_chunk_request(self, peer: int, req: SnapshotChunkRequest) -> str | None:
        snap = self._snapshot
        if snap is None or snap[0] != req.block or req.offset < 0:
            return None
        with open(snap[1], "rb") as f:
            f.seek(req.offset)
            data = f.read(SNAPSHOT_CHUNK)
        self.network.send(peer, SnapshotChunk(req.block, req.offset, data))
        return None

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.network.broadcast(Status(self.committed_slot))
            if self.forwarded and len(self.forwarded) > 200_000:  # bounded: forget the oldest
                for h in list(self.forwarded)[:50_000]:
                    del self.forwarded[h]

    # ================================================================================================ routing
    def _on_txs(self, msg: Txs) -> str | None:
        if len(msg.raws) > 20_000 or len(msg.senders) != len(msg.raws) or any(len(s) != 20 for s in msg.senders):
            return "malformed forwarded transactions"
        try:
            # No signature recovery here (the forwarder did it; see Txs): decoding only, in Rust.
            txs = decode_with_senders(msg.raws, msg.senders)
        except ValueError as exc:
            return f"undecodable forwarded transaction: {exc}"
        self._submit(txs)
        return None

    # ====================================================================================== state agreement
    def own_commitment(self, block: int) -> bytes | None:
        c = self.store.commitment(block)
        if c is not None and FAULT == "bad-state" and block >= 3:
            c = bytes([c[0] ^ 1]) + c[1:]  # the test hook: this validator "computes" a different state
        return c

    async def _app_loop(self) -> None:
        """Signs the LtHash commitment of every executed block once the commitment worker has it (and enters a
        slot that waited for its epoch's committee once execution has written it)."""
        while True:
            await asyncio.sleep(0.1)
            if self._parked is not None and self.committee_at(self._parked[0]) is not None:
                self._enter(*self._parked)
            head = self.store.head() or 0
            for _ in range(min(head - self.app_voted, 256)):  # a bounded burst: the loop stays responsive
                block = self.app_voted + 1
                c = self.own_commitment(block)
                if c is None:
                    break
                vote = AppVote(block, c, self.me, self.signer.sign(AppVote.message(block, c)))
                self.network.broadcast(vote)
                self.app_voted = block
                self._add_app_vote(vote)
            self._check_certified()

    def _on_app_vote(self, peer: int, vote: AppVote) -> str | None:
        if vote.voter != peer:
            return "app vote not from its voter"
        if vote.block <= self.last_certified and vote.block in self.certified:
            return None
        committee = self.committee_at(vote.block)
        if committee is None:
            return None  # a block this validator has not executed this far ahead of: it certifies it later
        if not vote.verify(committee):
            return "bad app vote signature"
        self._add_app_vote(vote)
        return None

    def _add_app_vote(self, vote: AppVote) -> None:
        tally = self._app_tallies.get(vote.block)
        if tally is None:
            if len(self._app_tallies) > 10_000:
                return
            committee = self.committee_at(vote.block) or self.committee
            tally = self._app_tallies[vote.block] = Tally(committee, committee.quorum)
        tally.add(vote.voter, vote.commitment, vote.sig)
        sigs = tally.certificate(vote.commitment)
        if sigs is None or vote.block in self.certified:
            return
        signers = [s.signer for s in sigs]
        self.certified[vote.block] = (vote.commitment, signers)
        self._unchecked.add(vote.block)
        self.journal.put_app_qc(vote.block, vote.commitment, signers)
        self.journal.put_app_qc_sigs(vote.block, sigs)
        self.last_certified = max(self.last_certified, vote.block)
        del self._app_tallies[vote.block]
        while len(self.certified) > CERTIFIED_KEPT and (oldest := next(iter(self.certified))) not in self._unchecked:
            del self.certified[oldest]  # the journal keeps every AppQC; memory keeps the recent ones
        self._check_certified()

    def _check_certified(self) -> None:
        """Compares each newly certified commitment with this validator's own, once its own is computed."""
        for block in sorted(b for b in self._unchecked if b <= self.app_voted):
            commitment, signers = self.certified[block]
            own = self.own_commitment(block)
            if own is None:
                continue
            self._unchecked.discard(block)
            if own != commitment:
                raise StateDivergence(
                    f"state divergence at block {block}: this validator's commitment is {own.hex()}, but validators "
                    f"{signers} certified {commitment.hex()}; stopping rather than continuing on a different state"
                )

    def certificate(self, block: int) -> tuple[bytes, list[bytes]] | None:
        """The AppQC of ``block``: the certified commitment and its signers' public keys."""
        cert = self.certified.get(block) or self.journal.app_qc(block)
        if cert is None:
            return None
        return cert[0], [self.committee.members[i].pubkey for i in cert[1]]

    def validators(self) -> list[dict[str, Any]]:
        uptime = self.observer.uptime()
        return [
            {
                "index": m.index,
                "publicKey": "0x" + m.pubkey.hex(),
                "stake": m.stake,
                "p2p": f"{m.host}:{m.p2p_port}",
                "rpc": f"http://{m.host}:{m.rpc_port}",
                "connected": m.index == self.me or m.index in self.network.connected,
                "uptime": uptime[m.index],
            }
            for m in self.committee.members
        ]

    def evidence(self) -> list[dict[str, Any]]:
        return [
            {"kind": e.kind, "offender": e.offender, "first": "0x" + e.first.hex(), "second": "0x" + e.second.hex()}
            for e in self.journal.evidence()
        ]
