"""State sync: a validator that starts far behind (or new) takes a snapshot from its peers instead of replaying
the chain slot by slot, which peers can no longer serve once their journals are pruned.

The validator asks every peer over p2p (``SnapshotRequest``); each offers a snapshot of the state after a recent
block together with that block's AppQC (the committee's signatures over its state commitment), the CommitQC of
its slot and the lane positions emitted up to it (``SnapshotOffer``). The validator downloads the newest offer in
chunks, and it trusts nothing of it unchecked: the snapshot's records must hash to the offered commitment
(``state.snapshot`` checks that on import), and the AppQC must be a quorum of the committee of the block's epoch
by stake, with valid signatures (``check_offer``). The committee is read from the imported state itself (the
staking module's record for that epoch), or is the genesis committee on a chain without records: as with any
snapshot sync, this trusts that no quorum of a past committee signs a false state (weak subjectivity).
Then it resumes consensus at the next slot, and the rest comes slot by slot.

Its own lane resumes where its peers last voted (the newest car of its own lane any peer holds, signed by its
own key), so a validator that lost its journal does not fork its own lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from pysei.consensus.committee import Committee, Signer
from pysei.consensus.journal import Journal
from pysei.consensus.messages import (
    AppVote,
    Car,
    Message,
    SnapshotChunk,
    SnapshotChunkRequest,
    SnapshotOffer,
    SnapshotRequest,
    _check_sigs,
)
from pysei.p2p.network import Network

log = logging.getLogger("pysei.statesync")

CHUNK_TIMEOUT = 20.0
"""Seconds to wait for one chunk before giving up on the offering peer."""
OFFER_GRACE = 3.0
"""Seconds to wait for the other peers' offers after the first one arrived."""


class StateSyncError(RuntimeError):
    """No usable snapshot: the message says why."""


def needs_snapshot(head: int | None, offers: list[SnapshotOffer]) -> SnapshotOffer | None:
    """The offer to take, if any: the newest one, when this validator has no chain, or when no peer can serve
    its next slot one by one (every peer's journal starts above it)."""
    if not offers:
        return None
    best = max(offers, key=lambda o: o.block)
    if head is not None and (head >= best.block or head + 1 >= min(o.first_slot for o in offers)):
        return None
    return best


def check_offer(offer: SnapshotOffer, commitment: bytes, committee: Committee) -> str | None:
    """Why ``offer`` cannot be trusted for a snapshot whose state hashes to ``commitment``, or None."""
    if offer.commitment != commitment:
        return "the snapshot's commitment is not the one the offer certifies"
    if offer.commit.proposal.slot != offer.block:
        return "the offer's commit certificate is for another slot"
    if (err := _check_sigs(committee, offer.sigs, AppVote.message(offer.block, offer.commitment))) is not None:
        return f"the AppQC does not verify: {err}"
    if (err := offer.commit.verify(committee)) is not None:
        return f"the commit certificate does not verify: {err}"
    if len(offer.lanes) != committee.n:
        return "the offer's lane positions are not one per lane"
    return None


async def fetch_snapshot(
    committee: Committee,
    signer: Signer,
    chain_id: int,
    listen: tuple[str, int],
    head: int | None,
    dest: Path,
    *,
    wait: float = 15.0,
) -> tuple[SnapshotOffer, list[Car]] | None:
    """Asks the peers for snapshots and, when one is needed (``needs_snapshot``), downloads it to ``dest``;
    returns its offer and the cars of this validator's own lane the peers voted for last. Listens on this
    validator's own p2p address meanwhile (peers with lower indices dial it)."""
    offers: dict[int, SnapshotOffer] = {}
    chunks: asyncio.Queue[SnapshotChunk] = asyncio.Queue(maxsize=4)
    arrived = asyncio.Event()
    peers = committee.n - 1

    def on_message(peer: int, msg: Any) -> None:
        if msg == "connected":
            network.send(peer, SnapshotRequest(head or 0))
        elif isinstance(msg, SnapshotOffer):
            offers[peer] = msg
            arrived.set()
        elif isinstance(msg, SnapshotChunk):
            with contextlib.suppress(asyncio.QueueFull):
                chunks.put_nowait(msg)

    network = Network(committee, signer, chain_id, on_message, Message)
    await network.start(*listen)
    try:
        # Every peer answers once it is connected and its snapshot is written. Peers connect one by one, so after
        # the first offer wait a little for the others (``OFFER_GRACE``; up to ``wait`` for the first): the
        # newest offer, and the newest car of this validator's own lane, may be any peer's.
        deadline = time.monotonic() + wait
        graced = False
        while time.monotonic() < deadline and len(offers) < peers:
            arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), max(0.0, deadline - time.monotonic()))
            if offers and not graced:
                graced, deadline = True, min(deadline, time.monotonic() + OFFER_GRACE)
        best = needs_snapshot(head, list(offers.values()))
        if best is None:
            return None
        peer = next(p for p, o in offers.items() if o is best)
        log.info("state sync: downloading the snapshot of block %d (%d bytes) from validator %d", best.block,
                 best.size, peer)  # fmt: skip
        tmp = dest.with_name(dest.name + ".part")
        with open(tmp, "wb") as out:
            offset = 0
            while offset < best.size:
                network.send(peer, SnapshotChunkRequest(best.block, offset))
                try:
                    chunk = await asyncio.wait_for(chunks.get(), CHUNK_TIMEOUT)
                except TimeoutError:
                    raise StateSyncError(f"validator {peer} stopped sending its snapshot at byte {offset}") from None
                if chunk.block != best.block or chunk.offset != offset or not chunk.data:
                    raise StateSyncError(f"validator {peer} sent a chunk it was not asked for")
                out.write(chunk.data)
                offset += len(chunk.data)
        tmp.replace(dest)
        return best, [o.lane_car for o in offers.values() if o.lane_car is not None]
    finally:
        await network.stop()


def resume_journal(journal: Journal, offer: SnapshotOffer, committee: Committee, me: int, own_cars: list[Car]) -> None:
    """Writes what consensus resumes from after a snapshot of block ``offer.block``: its commit (the next leader's
    ticket), its emission record (lane positions) and AppQC, and this validator's own lane tip: the newest car of
    its lane that a peer holds and that carries its own signature. Refuses to go on without it when its lane
    has committed cars: a first car again would fork its own lane (and be proven as equivocation)."""
    journal.put_commit(offer.commit)
    journal.put_emitted(offer.block, [], offer.lanes)
    journal.put_app_qc(offer.block, offer.commitment, [s.signer for s in offer.sigs])
    journal.put_app_qc_sigs(offer.block, offer.sigs)
    mine = [c for c in own_cars if c.lane == me and committee.verify(me, c.digest(), c.sig)]
    if not mine:
        if offer.lanes[me] > 0:
            raise StateSyncError("no peer holds the last car of this validator's lane: start it once more peers are up")
    else:
        car = max(mine, key=lambda c: c.pos)
        journal.put_cars([(car.digest(), car)])
        journal.put_own_tip(car.pos, car.digest())
        journal.put_lane_vote(me, car.pos, car.digest())
