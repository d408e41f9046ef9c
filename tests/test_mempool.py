"""Mempool: admission rules and geth error strings, pending/queued/in-flight bookkeeping, block selection.

The last part is a hypothesis state machine that drives the pool against a deliberately naive reference model
(block ids instead of ghosts, quadratic selection) and checks structural invariants after every step.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pysei.chain.transaction import DYNAMIC_FEE_TX_TYPE, Transaction
from pysei.mempool import (
    AccountLimitError,
    AddOutcome,
    AddStatus,
    AlreadyKnownError,
    Dropped,
    DropReason,
    FeeCapTooLowError,
    InsufficientFundsError,
    Mempool,
    MempoolConfig,
    MempoolError,
    NonceTooLowError,
    ReplacementUnderpricedError,
    TipAboveFeeCapError,
    TxPoolFullError,
    TxStatus,
    UnderpricedError,
)

RICH = 10**30
_hashes = itertools.count(1)


def address(i: int) -> bytes:
    return bytes([i]) * 20


A, B, C = address(0xA1), address(0xB2), address(0xC3)


def make_tx(
    sender: bytes,
    nonce: int,
    fee: int = 100,
    tip: int = 10,
    gas: int = 21_000,
    value: int = 0,
) -> Transaction:
    """A transaction with a fresh fake hash; the pool never re-derives hashes or signatures."""
    return Transaction(
        hash=next(_hashes).to_bytes(32, "big"),
        sender=sender,
        nonce=nonce,
        gas_limit=gas,
        max_fee_per_gas=fee,
        max_priority_fee_per_gas=tip,
        value=value,
        to=address(0xEE),
        input=b"",
        type=DYNAMIC_FEE_TX_TYPE,
        chain_id=1329,
        raw=b"\x02" + bytes(100),
        v=0,
        r=1,
        s=1,
    )


class Reader:
    """In-memory committed state that counts reads, so tests can check the pool's read pattern."""

    def __init__(self, accounts: dict[bytes, tuple[int, int]] | None = None) -> None:
        self.accounts: dict[bytes, tuple[int, int]] = dict(accounts or {})
        self.reads = 0

    def nonce_and_balance(self, address: bytes) -> tuple[int, int]:
        self.reads += 1
        return self.accounts.get(address, (0, 0))

    def nonces_and_balances(self, addresses: Sequence[bytes]) -> list[tuple[int, int]]:
        return [self.nonce_and_balance(a) for a in addresses]

    def set_nonce(self, address: bytes, nonce: int) -> None:
        self.accounts[address] = (nonce, self.accounts.get(address, (0, 0))[1])


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def make_pool(config: MempoolConfig | None = None) -> tuple[Mempool, Reader, Clock]:
    reader = Reader({A: (0, RICH), B: (0, RICH), C: (0, RICH)})
    clock = Clock()
    return Mempool(reader, config, clock=clock), reader, clock


def nonces(txs: Sequence[Transaction], sender: bytes) -> list[int]:
    return [tx.nonce for tx in txs if tx.sender == sender]


# ---------------------------------------------------------------------------------------------- admission


def test_consecutive_nonces_are_pending_and_advance_pending_nonce() -> None:
    pool, _, _ = make_pool()
    assert pool.pending_nonce(A) == 0
    outcomes = [pool.add(make_tx(A, n), base_fee=1) for n in range(3)]
    assert [o.status for o in outcomes] == [AddStatus.PENDING] * 3
    assert (pool.pending_count, pool.queued_count, pool.in_flight_count, len(pool)) == (3, 0, 0, 3)
    assert pool.pending_nonce(A) == 3


def test_pending_nonce_starts_at_committed_nonce() -> None:
    pool, reader, _ = make_pool()
    reader.set_nonce(A, 7)
    assert pool.pending_nonce(A) == 7
    assert pool.add(make_tx(A, 7), 1).status is AddStatus.PENDING
    assert pool.pending_nonce(A) == 8


def test_gap_is_queued_and_promoted_when_filled() -> None:
    pool, _, _ = make_pool()
    batches: list[tuple[bytes, ...]] = []
    pool.subscribe(lambda hashes: batches.append(tuple(hashes)))
    t0, t1, t2, t3 = (make_tx(A, n) for n in range(4))
    assert pool.add(t2, 1).status is AddStatus.QUEUED
    assert pool.add(t3, 1).status is AddStatus.QUEUED
    assert (pool.pending_count, pool.queued_count) == (0, 2)
    assert pool.pending_nonce(A) == 0
    assert pool.status(t2.hash) is TxStatus.QUEUED
    assert pool.add(t0, 1).status is AddStatus.PENDING
    assert pool.status(t2.hash) is TxStatus.QUEUED
    assert pool.add(t1, 1).status is AddStatus.PENDING
    assert (pool.pending_count, pool.queued_count) == (4, 0)
    assert pool.pending_nonce(A) == 4
    assert pool.status(t3.hash) is TxStatus.PENDING
    # One batch per call, the gap filler first, then what it promoted, in nonce order; queued adds notify nothing.
    assert batches == [(t0.hash,), (t1.hash, t2.hash, t3.hash)]


def test_already_known_for_pooled_and_in_flight() -> None:
    pool, _, _ = make_pool()
    tx = make_tx(A, 0)
    pool.add(tx, 1)
    with pytest.raises(AlreadyKnownError, match="^already known$"):
        pool.add(tx, 1)
    assert pool.take(10, 10**9, 1) == [tx]
    with pytest.raises(AlreadyKnownError, match="^already known$"):
        pool.add(tx, 1)


def test_nonce_below_committed_is_too_low() -> None:
    pool, reader, _ = make_pool()
    reader.set_nonce(A, 5)
    with pytest.raises(NonceTooLowError) as info:
        pool.add(make_tx(A, 3), 1)
    assert str(info.value) == "nonce too low: next nonce 5, tx nonce 3"
    assert (info.value.next_nonce, info.value.tx_nonce) == (5, 3)
    assert len(pool) == 0


def test_nonce_taken_for_ordering_is_too_low() -> None:
    pool, _, _ = make_pool()
    for n in range(3):
        pool.add(make_tx(A, n), 1)
    assert len(pool.take(2, 10**9, 1)) == 2  # nonces 0 and 1 are now in flight; committed nonce is still 0
    with pytest.raises(NonceTooLowError, match="^nonce too low: next nonce 2, tx nonce 1$"):
        pool.add(make_tx(A, 1, fee=1_000, tip=1_000), 1)
    # Nonce 2 is still pooled, so a same-nonce transaction is a replacement attempt, not a nonce error.
    with pytest.raises(ReplacementUnderpricedError):
        pool.add(make_tx(A, 2), 1)
    assert pool.add(make_tx(A, 3), 1).status is AddStatus.PENDING


def test_insufficient_funds_message_and_numbers() -> None:
    pool, reader, _ = make_pool()
    reader.accounts[A] = (0, 2_000_000)
    with pytest.raises(InsufficientFundsError) as info:
        pool.add(make_tx(A, 0, fee=100, gas=21_000, value=5), 1)
    assert str(info.value) == (
        "insufficient funds for gas * price + value: balance 2000000, tx cost 2100005, overshot 100005"
    )
    assert (info.value.balance, info.value.cost, info.value.overshot) == (2_000_000, 2_100_005, 100_005)
    # Exactly affordable is fine: cost equal to the balance.
    assert pool.add(make_tx(A, 0, fee=95, gas=21_000, value=5_000), 1).status is AddStatus.PENDING


def test_fee_cap_below_base_fee_names_checksummed_sender() -> None:
    pool, reader, _ = make_pool()
    sender = bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    reader.accounts[sender] = (0, RICH)
    with pytest.raises(FeeCapTooLowError) as info:
        pool.add(make_tx(sender, 0, fee=9, tip=1), base_fee=10)
    assert str(info.value) == (
        "max fee per gas less than block base fee: address 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed, "
        "maxFeePerGas: 9, baseFee: 10"
    )
    assert pool.add(make_tx(sender, 0, fee=10, tip=1), base_fee=10).status is AddStatus.PENDING


def test_fee_cap_below_minimum_gas_price_is_underpriced() -> None:
    pool, _, _ = make_pool(MempoolConfig(min_gas_price=50))
    with pytest.raises(UnderpricedError) as info:
        pool.add(make_tx(A, 0, fee=49, tip=1), base_fee=0)
    assert str(info.value) == "transaction underpriced: gas fee cap 49, minimum needed 50"
    assert str(info.value).startswith("transaction underpriced")
    assert pool.add(make_tx(A, 0, fee=50, tip=1), base_fee=0).status is AddStatus.PENDING


def test_tip_above_fee_cap_is_refused() -> None:
    pool, _, _ = make_pool()
    with pytest.raises(TipAboveFeeCapError, match="^max priority fee per gas higher than max fee per gas: "):
        pool.add(make_tx(A, 0, fee=10, tip=11), 1)


@pytest.mark.parametrize(
    ("old", "new", "accepted"),
    [
        ((100, 10), (110, 11), True),  # exactly +10% on both
        ((100, 10), (109, 11), False),  # fee cap short by one
        ((100, 10), (110, 10), False),  # tip unchanged
        ((100, 10), (1_000, 10), False),  # a big fee cap does not excuse an unbumped tip
        ((100, 0), (110, 1), True),  # zero tip: any strictly higher tip meets the threshold
        ((100, 0), (110, 0), False),
        ((5, 1), (6, 2), True),  # wei-level prices: 10% rounds to zero, so "strictly higher" decides
        ((5, 1), (5, 2), False),
        ((5, 1), (6, 1), False),
    ],
)
def test_replacement_price_bump(old: tuple[int, int], new: tuple[int, int], accepted: bool) -> None:
    pool, _, _ = make_pool()
    first = make_tx(A, 0, fee=old[0], tip=old[1])
    second = make_tx(A, 0, fee=new[0], tip=new[1])
    pool.add(first, 0)
    if accepted:
        outcome = pool.add(second, 0)
        assert outcome.status is AddStatus.PENDING
        assert outcome.replaced == first.hash
        assert outcome.dropped == (Dropped(first.hash, DropReason.REPLACED),)
        assert first.hash not in pool and pool.get(second.hash) == second
    else:
        with pytest.raises(ReplacementUnderpricedError, match="^replacement transaction underpriced$"):
            pool.add(second, 0)
        assert first.hash in pool and second.hash not in pool
    assert (len(pool), pool.pending_count) == (1, 1)


def test_replacement_bump_is_configurable() -> None:
    pool, _, _ = make_pool(MempoolConfig(price_bump_percent=25))
    pool.add(make_tx(A, 0, fee=100, tip=20), 0)
    with pytest.raises(ReplacementUnderpricedError) as info:
        pool.add(make_tx(A, 0, fee=124, tip=25), 0)
    assert (info.value.min_fee_cap, info.value.min_tip) == (125, 25)
    assert pool.add(make_tx(A, 0, fee=125, tip=25), 0).replaced is not None


def test_replacing_a_queued_transaction_keeps_it_queued_and_silent() -> None:
    pool, _, _ = make_pool()
    batches: list[Sequence[bytes]] = []
    pool.subscribe(batches.append)
    pool.add(make_tx(A, 2), 0)
    outcome = pool.add(make_tx(A, 2, fee=200, tip=20), 0)
    assert outcome.status is AddStatus.QUEUED and outcome.replaced is not None
    assert (pool.pending_count, pool.queued_count) == (0, 1)
    assert batches == []


def test_replacing_a_pending_transaction_announces_the_new_one() -> None:
    pool, _, _ = make_pool()
    batches: list[Sequence[bytes]] = []
    pool.add(make_tx(A, 0), 0)
    pool.subscribe(batches.append)
    new = make_tx(A, 0, fee=200, tip=20)
    pool.add(new, 0)
    assert batches == [(new.hash,)]


def test_account_limit_counts_pooled_but_not_replacements() -> None:
    pool, _, _ = make_pool(MempoolConfig(max_txs_per_sender=2))
    pool.add(make_tx(A, 0), 0)
    pool.add(make_tx(A, 5), 0)
    with pytest.raises(AccountLimitError, match="^account limit exceeded: pooled 2 txs$"):
        pool.add(make_tx(A, 1), 0)
    assert pool.add(make_tx(A, 5, fee=200, tip=20), 0).replaced is not None
    assert pool.add(make_tx(B, 0), 0).status is AddStatus.PENDING
    # In-flight transactions free their slot.
    pool.take(1, 10**9, 0)
    assert pool.add(make_tx(A, 1), 0).status is AddStatus.PENDING


def test_full_pool_refuses_what_cannot_outbid_the_cheapest() -> None:
    pool, _, _ = make_pool(MempoolConfig(max_txs=3))
    for sender in (A, B, C):
        pool.add(make_tx(sender, 0, fee=100, tip=10), 0)
    with pytest.raises(TxPoolFullError, match="^txpool is full$"):
        pool.add(make_tx(A, 1, fee=100, tip=10), 0)
    assert len(pool) == 3


def test_full_pool_evicts_cheapest_newest_and_demotes_its_followers() -> None:
    pool, _, _ = make_pool(MempoolConfig(max_txs=4))
    a0 = make_tx(A, 0, fee=50, tip=5)
    a1 = make_tx(A, 1, fee=500, tip=5)
    b0 = make_tx(B, 0, fee=50, tip=5)  # same price as a0 but newer: evicted first
    c0 = make_tx(C, 0, fee=300, tip=5)
    for tx in (a0, a1, b0, c0):
        pool.add(tx, 0)
    new = make_tx(C, 1, fee=60, tip=1)
    outcome = pool.add(new, 0)
    assert outcome.status is AddStatus.PENDING
    assert outcome.dropped == (Dropped(b0.hash, DropReason.EVICTED),)
    assert b0.hash not in pool and len(pool) == 4
    # Next cheapest is a0, at the head of A's run: A's nonce 1 loses its predecessor and becomes queued.
    outcome = pool.add(make_tx(B, 0, fee=70, tip=1), 0)
    assert outcome.dropped == (Dropped(a0.hash, DropReason.EVICTED),)
    assert pool.status(a1.hash) is TxStatus.QUEUED
    assert pool.pending_nonce(A) == 0
    assert (pool.pending_count, pool.queued_count) == (3, 1)


def test_refusals_leave_the_pool_unchanged() -> None:
    pool, reader, _ = make_pool(MempoolConfig(max_txs=2, min_gas_price=5))
    reader.accounts[C] = (0, 10)
    pool.add(make_tx(A, 0), 1)
    pool.add(make_tx(A, 2), 1)
    before = pool.content()
    bad = [
        make_tx(A, 0),  # replacement underpriced
        make_tx(A, 1, fee=4, tip=1),  # below minimum
        make_tx(A, 1, fee=5, tip=1),  # below base fee 6
        make_tx(C, 0),  # insufficient funds
        make_tx(B, 0, fee=100, tip=10),  # full; cheapest pooled is not cheaper
    ]
    results = pool.add_many(bad, base_fee=6)
    assert [type(r) for r in results] == [
        ReplacementUnderpricedError,
        UnderpricedError,
        FeeCapTooLowError,
        InsufficientFundsError,
        TxPoolFullError,
    ]
    assert pool.content() == before
    assert (pool.pending_count, pool.queued_count) == (1, 1)


def test_add_many_keeps_order_and_reads_each_sender_once() -> None:
    pool, reader, _ = make_pool()
    batches: list[Sequence[bytes]] = []
    pool.subscribe(batches.append)
    txs = [make_tx(A, 0), make_tx(A, 0), make_tx(B, 1), make_tx(A, 1), make_tx(B, 0)]
    reader.reads = 0
    results = pool.add_many(txs, 1)
    assert reader.reads == 2
    assert [r.status if not isinstance(r, MempoolError) else type(r) for r in results] == [
        AddStatus.PENDING,
        ReplacementUnderpricedError,
        AddStatus.QUEUED,
        AddStatus.PENDING,
        AddStatus.PENDING,
    ]
    # One notification for the whole batch.
    assert batches == [(txs[0].hash, txs[3].hash, txs[4].hash, txs[2].hash)]


def test_admission_resyncs_a_lagging_nonce_and_reports_stale_drops() -> None:
    pool, reader, _ = make_pool()
    stale = [make_tx(A, n) for n in range(2)]
    queued = make_tx(A, 3)
    for tx in [*stale, queued]:
        pool.add(tx, 0)
    reader.set_nonce(A, 2)  # nonces 0 and 1 were consumed without the pool seeing them executed
    outcome = pool.add(make_tx(A, 2), 0)
    assert outcome.status is AddStatus.PENDING
    assert set(outcome.dropped) == {Dropped(tx.hash, DropReason.STALE) for tx in stale}
    assert pool.status(queued.hash) is TxStatus.PENDING
    assert (pool.pending_count, pool.queued_count, pool.pending_nonce(A)) == (2, 0, 4)


# ---------------------------------------------------------------------------------------------- take


def test_take_orders_by_effective_tip_then_arrival() -> None:
    pool, _, _ = make_pool()
    a = make_tx(A, 0, fee=1_000, tip=5)
    b = make_tx(B, 0, fee=1_000, tip=7)
    c = make_tx(C, 0, fee=1_000, tip=5)
    for tx in (a, b, c):
        pool.add(tx, 0)
    assert pool.take(10, 10**9, 0) == [b, a, c]


def test_take_uses_tip_capped_by_fee_headroom() -> None:
    pool, _, _ = make_pool()
    capped = make_tx(A, 0, fee=10, tip=5)  # effective tip at base fee b: min(5, 10 - b)
    plain = make_tx(B, 0, fee=100, tip=3)
    pool.add(capped, 0)
    pool.add(plain, 0)
    assert pool.take(10, 10**9, base_fee=8) == [plain, capped]  # 2 < 3


def test_take_tie_at_equal_effective_tip_is_fifo() -> None:
    pool, _, _ = make_pool()
    capped = make_tx(A, 0, fee=10, tip=5)
    plain = make_tx(B, 0, fee=100, tip=3)
    pool.add(capped, 0)
    pool.add(plain, 0)
    assert pool.take(10, 10**9, base_fee=7) == [capped, plain]  # both 3: earlier arrival first


def test_take_keeps_each_sender_in_nonce_order_even_when_later_pays_more() -> None:
    pool, _, _ = make_pool()
    a0 = make_tx(A, 0, fee=100, tip=1)
    a1 = make_tx(A, 1, fee=100, tip=50)
    b0 = make_tx(B, 0, fee=100, tip=10)
    for tx in (a1, a0, b0):
        pool.add(tx, 0)
    assert pool.take(10, 10**9, 0) == [b0, a0, a1]


def test_take_respects_count_and_moves_to_in_flight() -> None:
    pool, _, _ = make_pool()
    txs = [make_tx(A, n) for n in range(5)]
    pool.add_many(txs, 0)
    taken = pool.take(3, 10**9, 0)
    assert taken == txs[:3]
    assert (pool.pending_count, pool.queued_count, pool.in_flight_count, len(pool)) == (2, 0, 3, 5)
    assert pool.status(txs[0].hash) is TxStatus.IN_FLIGHT
    assert pool.get(txs[0].hash) == txs[0] and txs[0].hash in pool
    assert pool.pending_nonce(A) == 5
    assert pool.take(10, 10**9, 0) == txs[3:]
    assert pool.take(10, 10**9, 0) == []


def test_take_never_exceeds_gas_and_passes_over_a_sender_that_does_not_fit() -> None:
    pool, _, _ = make_pool()
    big = make_tx(A, 0, tip=50, gas=80_000)
    after_big = make_tx(A, 1, tip=50, gas=21_000)
    small = [make_tx(B, n, tip=1, gas=21_000) for n in range(3)]
    pool.add_many([big, after_big, *small], 0)
    assert pool.take(10, 100_000, 0) == [big]  # 20,000 left fits no transaction
    assert pool.take(10, 42_000, 0) == [after_big, small[0]]
    pool2, _, _ = make_pool()
    pool2.add_many([big, after_big, *small], 0)
    taken = pool2.take(10, 70_000, 0)
    # A's head cannot fit, so A is skipped for this block and its nonce 1 must not jump the queue.
    assert taken == small
    assert pool2.status(big.hash) is TxStatus.PENDING


def test_take_leaves_transactions_whose_fee_cap_is_below_base_fee() -> None:
    pool, _, _ = make_pool()
    cheap_head = make_tx(A, 0, fee=10, tip=1)
    rich_follower = make_tx(A, 1, fee=1_000, tip=100)
    b0 = make_tx(B, 0, fee=100, tip=1)
    b1 = make_tx(B, 1, fee=5, tip=1)
    pool.add_many([cheap_head, rich_follower, b0, b1], 0)
    # A's head cannot pay base fee 20, so neither can A's follower go (nonce order); B stops at b1.
    assert pool.take(10, 10**9, base_fee=20) == [b0]
    assert (pool.pending_count, pool.in_flight_count) == (3, 1)
    assert pool.status(cheap_head.hash) is TxStatus.PENDING
    # When the base fee falls they are still there; b1's effective tip is 0 at base fee 5, so it goes last.
    assert pool.take(10, 10**9, base_fee=5) == [cheap_head, rich_follower, b1]


def test_take_orders_a_large_pool_by_tip_without_nonce_gaps() -> None:
    # 4,000 senders x 2 txs in one block: also keeps an accidental quadratic from going unnoticed (seconds, not ms).
    pool, reader, _ = make_pool(MempoolConfig(max_txs=100_000))
    senders = [i.to_bytes(20, "big") for i in range(1, 4_001)]
    for s in senders:
        reader.accounts[s] = (0, RICH)
    pool.add_many([make_tx(s, n, tip=(i * 7919) % 101) for i, s in enumerate(senders) for n in range(2)], 0)
    taken = pool.take(10_000, 10**12, 0)
    assert len(taken) == 8_000
    tips = [tx.max_priority_fee_per_gas for tx in taken]
    assert tips == sorted(tips, reverse=True)
    seen: dict[bytes, int] = {}
    for tx in taken:
        assert tx.nonce == seen.get(tx.sender, 0)
        seen[tx.sender] = tx.nonce + 1


# ---------------------------------------------------------------------------------------------- execution


def execute(reader: Reader, block: Sequence[Transaction], skip: frozenset[bytes] = frozenset()) -> None:
    """Apply a block to the committed state the way the executor does: wrong nonces and ``skip`` fail."""
    for tx in block:
        nonce, balance = reader.accounts.get(tx.sender, (0, 0))
        if tx.hash not in skip and tx.nonce == nonce:
            reader.accounts[tx.sender] = (nonce + 1, balance)


def test_on_executed_success_clears_in_flight() -> None:
    pool, reader, _ = make_pool()
    txs = [make_tx(A, n) for n in range(3)]
    pool.add_many(txs, 0)
    block = pool.take(2, 10**9, 0)
    execute(reader, block)
    assert pool.on_executed(block) == []
    assert (pool.pending_count, pool.in_flight_count, len(pool)) == (1, 0, 1)
    assert txs[0].hash not in pool
    assert pool.pending_nonce(A) == 3
    assert reader.accounts[A][0] == 2


def test_on_executed_skip_returns_later_in_flight_and_reopens_the_nonce() -> None:
    pool, reader, _ = make_pool()
    a = [make_tx(A, n) for n in range(4)]
    b0 = make_tx(B, 0, tip=20)
    pool.add_many([*a, b0], 0)
    block1 = pool.take(3, 10**9, 0)
    assert nonces(block1, A) == [0, 1] and b0 in block1
    block2 = pool.take(1, 10**9, 0)
    assert block2 == [a[2]]
    assert pool.pending_nonce(A) == 4

    batches: list[Sequence[bytes]] = []
    pool.subscribe(batches.append)
    execute(reader, block1, skip=frozenset({a[1].hash}))
    assert pool.on_executed(block1) == []
    # A's committed nonce is 1: a[2] (in block2, doomed) comes back queued behind the gap, as does a[3].
    assert reader.accounts[A][0] == 1
    assert pool.pending_nonce(A) == 1
    assert pool.status(a[2].hash) is TxStatus.QUEUED
    assert pool.status(a[3].hash) is TxStatus.QUEUED
    assert a[1].hash not in pool and b0.hash not in pool
    assert (pool.pending_count, pool.queued_count, pool.in_flight_count) == (0, 2, 0)

    # The sender fills the gap; the returned transactions are re-ordered before block2 has even executed.
    refill = make_tx(A, 1, fee=200, tip=20)
    assert pool.add(refill, 0).status is AddStatus.PENDING
    assert batches == [(refill.hash, a[2].hash, a[3].hash)]
    block3 = pool.take(10, 10**9, 0)
    assert block3 == [refill, a[2], a[3]]

    # block2's stale copy of a[2] fails; its report must not disturb the copy in flight in block3.
    execute(reader, block2)
    assert reader.accounts[A][0] == 1
    assert pool.on_executed(block2) == []
    assert pool.status(a[2].hash) is TxStatus.IN_FLIGHT
    assert (pool.in_flight_count, pool.pending_nonce(A)) == (3, 4)

    execute(reader, block3)
    assert pool.on_executed(block3) == []
    assert len(pool) == 0 and pool.pending_nonce(A) == 4


def test_on_executed_drops_pooled_transactions_below_the_committed_nonce() -> None:
    pool, reader, _ = make_pool()
    a0 = make_tx(A, 0)
    pool.add(a0, 0)
    block = pool.take(1, 10**9, 0)
    pooled = make_tx(A, 1)
    later = make_tx(A, 2)
    pool.add_many([pooled, later], 0)
    reader.set_nonce(A, 2)  # a0 plus a nonce-1 transaction that reached execution some other way
    assert pool.on_executed(block) == [Dropped(pooled.hash, DropReason.STALE)]
    assert pool.status(later.hash) is TxStatus.PENDING
    assert (pool.pending_count, pool.pending_nonce(A)) == (1, 3)


def test_state_committed_before_its_execution_report_arrives() -> None:
    # The node executes in a worker thread, so adds can see block 1's committed nonces before on_executed(block1).
    pool, reader, _ = make_pool()
    a = [make_tx(A, n) for n in range(3)]
    pool.add_many(a, 0)
    block1 = pool.take(2, 10**9, 0)
    block2 = pool.take(1, 10**9, 0)
    execute(reader, block1)
    with pytest.raises(NonceTooLowError, match="next nonce 3, tx nonce 2$"):
        pool.add(make_tx(A, 2, fee=500, tip=50), 0)  # still in flight in block2
    assert pool.add(make_tx(A, 3), 0).status is AddStatus.PENDING
    assert (pool.in_flight_count, pool.pending_nonce(A)) == (3, 4)
    execute(reader, block2)
    assert pool.on_executed(block1) == [] and pool.on_executed(block2) == []
    assert (pool.in_flight_count, pool.pending_count, pool.pending_nonce(A)) == (0, 1, 4)


def test_on_executed_tolerates_transactions_it_never_saw() -> None:
    pool, reader, _ = make_pool()
    foreign = make_tx(A, 0)
    execute(reader, [foreign])
    pool.add(make_tx(A, 1), 0)
    assert pool.on_executed([foreign]) == []
    assert pool.pending_count == 1


# ---------------------------------------------------------------------------------------------- eviction


def test_evict_stale_expires_only_old_queued_transactions() -> None:
    config = MempoolConfig(queue_lifetime_s=100.0)
    pool, _, clock = make_pool(config)
    pending = make_tx(A, 0)
    old_queued = make_tx(A, 5)
    pool.add_many([pending, old_queued], 0)
    clock.now += 60
    young_queued = make_tx(B, 3)
    pool.add(young_queued, 0)
    clock.now += 41
    assert pool.evict_stale() == [Dropped(old_queued.hash, DropReason.EXPIRED)]
    assert pending.hash in pool and young_queued.hash in pool
    assert pool.evict_stale(clock.now + 60) == [Dropped(young_queued.hash, DropReason.EXPIRED)]
    assert (pool.pending_count, pool.queued_count) == (1, 0)


def test_eviction_stays_correct_after_the_price_heap_is_compacted() -> None:
    pool, reader, _ = make_pool(MempoolConfig(max_txs=3))
    # Churn through far more entries than the pool holds so the lazy price heap compacts several times.
    for n in range(3_000):
        pool.add(make_tx(A, n, fee=1_000 + n, tip=1), 0)
        block = pool.take(1, 10**9, 0)
        execute(reader, block)
        pool.on_executed(block)
    cheap = make_tx(B, 0, fee=60, tip=1)
    pool.add_many([make_tx(A, 3_000, fee=90, tip=1), cheap, make_tx(C, 0, fee=70, tip=1)], 0)
    assert pool.add(make_tx(C, 1, fee=80, tip=1), 0).dropped == (Dropped(cheap.hash, DropReason.EVICTED),)
    assert len(pool._price_heap) < 2_000  # compaction happened; stale entries did not pile up


def test_queue_lifetime_restarts_on_demotion() -> None:
    pool, _, clock = make_pool(MempoolConfig(queue_lifetime_s=100.0, max_txs=3))
    a0 = make_tx(A, 0, fee=10, tip=1)
    a1 = make_tx(A, 1, fee=500, tip=50)
    pool.add_many([a0, a1, make_tx(B, 0, fee=500, tip=50)], 0)
    clock.now += 500
    pool.add(make_tx(C, 0, fee=500, tip=50), 0)  # evicts a0; a1 is demoted now
    assert pool.status(a1.hash) is TxStatus.QUEUED
    assert pool.evict_stale(clock.now + 99) == []
    assert pool.evict_stale(clock.now + 101) == [Dropped(a1.hash, DropReason.EXPIRED)]


# ---------------------------------------------------------------------------------------------- views, hooks


def test_content_splits_pending_queued_and_in_flight() -> None:
    pool, _, _ = make_pool()
    a = [make_tx(A, n) for n in (0, 1, 2, 4)]
    pool.add_many(a, 0)
    pool.take(1, 10**9, 0)
    content = pool.content()
    assert content.in_flight == {A: {0: a[0]}}
    assert content.pending == {A: {1: a[1], 2: a[2]}}
    assert content.queued == {A: {4: a[3]}}


def test_subscribers_can_unsubscribe_and_failures_are_contained() -> None:
    pool, _, _ = make_pool()
    seen: list[Sequence[bytes]] = []

    def broken(hashes: Sequence[bytes]) -> None:
        raise RuntimeError("socket closed")

    pool.subscribe(broken)
    unsubscribe = pool.subscribe(seen.append)
    first = make_tx(A, 0)
    assert pool.add(first, 0).status is AddStatus.PENDING
    unsubscribe()
    pool.add(make_tx(A, 1), 0)
    assert seen == [(first.hash,)]
    assert pool.pending_count == 2


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        MempoolConfig(max_txs=0)
    with pytest.raises(ValueError):
        MempoolConfig(price_bump_percent=-1)


# ---------------------------------------------------------------------------------------------- state machine

SENDERS = (A, B, C)
POOR = C
POOR_BALANCE = 500_000  # 21,000 gas affords a fee cap of at most 23, and less with value or more gas
BASE_FEES = (0, 1, 3, 6)
SM_CONFIG = MempoolConfig(
    max_txs=10, max_txs_per_sender=5, price_bump_percent=10, min_gas_price=2, queue_lifetime_s=100
)


@dataclass(frozen=True)
class Expect:
    """What the reference model says an add must do."""

    error: type[MempoolError] | None
    next_nonce: int | None = None
    pending: bool = False
    replaced: bytes | None = None
    evicted: bytes | None = None


@dataclass(eq=False)
class MEntry:
    tx: Transaction
    seq: int
    time: float


@dataclass
class Model:
    """Reference pool: every rule spelled out the slow, obvious way, with block ids instead of ghosts."""

    config: MempoolConfig
    committed: dict[bytes, int]
    balance: dict[bytes, int]
    pool: dict[bytes, dict[int, MEntry]] = field(default_factory=dict)
    inflight: dict[bytes, list[tuple[MEntry, int]]] = field(default_factory=dict)
    blocks: deque[tuple[int, list[Transaction]]] = field(default_factory=deque)
    seq: int = 0
    next_block: int = 0

    def base(self, s: bytes) -> int:
        return max([self.committed[s]] + [m.tx.nonce + 1 for m, _ in self.inflight.get(s, [])])

    def pending_end(self, s: bytes) -> int:
        end = self.base(s)
        while end in self.pool.get(s, {}):
            end += 1
        return end

    def split(self) -> tuple[dict[bytes, MEntry], dict[bytes, MEntry]]:
        pending: dict[bytes, MEntry] = {}
        queued: dict[bytes, MEntry] = {}
        for s, txs in self.pool.items():
            end = self.pending_end(s)
            for n, m in txs.items():
                (pending if n < end else queued)[m.tx.hash] = m
        return pending, queued

    def in_flight_hashes(self) -> set[bytes]:
        return {m.tx.hash for entries in self.inflight.values() for m, _ in entries}

    def restart_demoted(self, pending_before: dict[bytes, MEntry], now: float) -> None:
        _, queued = self.split()
        for h in pending_before.keys() & queued.keys():
            queued[h].time = now

    def add(self, tx: Transaction, base_fee: int, now: float) -> Expect:
        s, cfg = tx.sender, self.config
        pooled = self.pool.setdefault(s, {})
        if any(m.tx.hash == tx.hash for m in pooled.values()) or tx.hash in self.in_flight_hashes():
            return Expect(AlreadyKnownError)
        fee, tip = tx.max_fee_per_gas, tx.max_priority_fee_per_gas
        if tip > fee:
            return Expect(TipAboveFeeCapError)
        if fee < cfg.min_gas_price:
            return Expect(UnderpricedError)
        if fee < base_fee:
            return Expect(FeeCapTooLowError)
        if tx.nonce < self.base(s):
            return Expect(NonceTooLowError, next_nonce=self.base(s))
        cost = tx.gas_limit * fee + tx.value
        if cost > self.balance[s]:
            return Expect(InsufficientFundsError)
        old = pooled.get(tx.nonce)
        # What the sender's other pooled and in-flight transactions may spend must stay covered too.
        others = [m for m in pooled.values() if m is not old] + [m for m, _ in self.inflight.get(s, [])]
        if sum(m.tx.gas_limit * m.tx.max_fee_per_gas + m.tx.value for m in others) + cost > self.balance[s]:
            return Expect(InsufficientFundsError)
        victim = None
        if old is not None:
            bump = 100 + cfg.price_bump_percent
            o_fee, o_tip = old.tx.max_fee_per_gas, old.tx.max_priority_fee_per_gas
            if fee <= o_fee or tip <= o_tip or fee < o_fee * bump // 100 or tip < o_tip * bump // 100:
                return Expect(ReplacementUnderpricedError)
        else:
            if len(pooled) >= cfg.max_txs_per_sender:
                return Expect(AccountLimitError)
            everything = [m for txs in self.pool.values() for m in txs.values()]
            if len(everything) >= cfg.max_txs:
                victim = min(everything, key=lambda m: (m.tx.max_fee_per_gas, m.tx.max_priority_fee_per_gas, -m.seq))
                if (victim.tx.max_fee_per_gas, victim.tx.max_priority_fee_per_gas) >= (fee, tip):
                    return Expect(TxPoolFullError)
        pending_before, _ = self.split()
        if victim is not None:
            del self.pool[victim.tx.sender][victim.tx.nonce]
        self.seq += 1
        pooled[tx.nonce] = MEntry(tx, self.seq, now)
        self.restart_demoted(pending_before, now)
        pending = tx.nonce < self.pending_end(s)
        return Expect(
            None, pending=pending, replaced=old.tx.hash if old else None, evicted=victim.tx.hash if victim else None
        )

    def take(self, max_txs: int, max_gas: int, base_fee: int) -> list[Transaction]:
        ends = {s: self.pending_end(s) for s in self.pool}
        heads = {s: self.base(s) for s in self.pool}
        passed_over: set[bytes] = set()
        out: list[MEntry] = []
        gas_left = max_gas
        while len(out) < max_txs:
            best: tuple[tuple[int, int], bytes] | None = None
            for s, n in heads.items():
                if s in passed_over or n >= ends[s] or self.pool[s][n].tx.max_fee_per_gas < base_fee:
                    continue
                m = self.pool[s][n]
                key = (-m.tx.effective_tip(base_fee), m.seq)
                if best is None or key < best[0]:
                    best = (key, s)
            if best is None:
                break
            s = best[1]
            m = self.pool[s][heads[s]]
            if m.tx.gas_limit > gas_left:
                passed_over.add(s)
                continue
            out.append(m)
            gas_left -= m.tx.gas_limit
            heads[s] += 1
        self.next_block += 1
        for m in out:
            del self.pool[m.tx.sender][m.tx.nonce]
            self.inflight.setdefault(m.tx.sender, []).append((m, self.next_block))
        self.blocks.append((self.next_block, [m.tx for m in out]))
        return [m.tx for m in out]

    def execute_oldest(self, skip: frozenset[int], now: float) -> tuple[list[Transaction], set[bytes]]:
        """Run the oldest block; returns it and the hashes the pool should report as stale."""
        pending_before, _ = self.split()
        block_id, txs = self.blocks.popleft()
        for i, tx in enumerate(txs):
            if i not in skip and tx.nonce == self.committed[tx.sender]:
                self.committed[tx.sender] += 1
        stale: set[bytes] = set()
        for s in {tx.sender for tx in txs}:
            mine = [m for m, b in self.inflight.get(s, []) if b == block_id]
            rest = [(m, b) for m, b in self.inflight.get(s, []) if b != block_id]
            n = self.committed[s]
            if any(m.tx.nonce >= n for m in mine):
                if rest:
                    event("skip returned later in-flight transactions")
                for m, _ in rest:
                    m.time = now
                    self.pool.setdefault(s, {})[m.tx.nonce] = m
                rest = []
            self.inflight[s] = rest
            for nonce in [k for k in self.pool.get(s, {}) if k < n]:
                stale.add(self.pool[s].pop(nonce).tx.hash)
        self.restart_demoted(pending_before, now)
        return txs, stale

    def expire(self, now: float) -> set[bytes]:
        _, queued = self.split()
        expired = {h for h, m in queued.items() if now - m.time > self.config.queue_lifetime_s}
        for s in self.pool:
            self.pool[s] = {n: m for n, m in self.pool[s].items() if m.tx.hash not in expired}
        return expired


class MempoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.reader = Reader({s: (0, POOR_BALANCE if s == POOR else RICH) for s in SENDERS})
        self.pool = Mempool(self.reader, SM_CONFIG, clock=self.clock)
        self.model = Model(SM_CONFIG, dict.fromkeys(SENDERS, 0), {s: self.reader.accounts[s][1] for s in SENDERS})
        self.notified: list[bytes] = []
        self.pool.subscribe(self.notified.extend)
        self.submitted: list[Transaction] = []
        # hash -> "pooled" | "taken" | "executed" | a DropReason value: what the pool told us last.
        self.fate: dict[bytes, str] = {}

    @initialize()
    def start(self) -> None:
        assert len(self.pool) == 0

    def _expect_notified(self, newly_pending: set[bytes], single_step: bool = True) -> None:
        if single_step:
            assert len(self.notified) == len(set(self.notified)), "a transaction was announced twice in one batch"
        assert set(self.notified) == newly_pending
        self.notified.clear()

    def _record_dropped(self, dropped: Sequence[Dropped]) -> None:
        for d in dropped:
            assert d.hash not in self.pool
            self.fate[d.hash] = d.reason.value

    def _check(self, tx: Transaction, result: AddOutcome | MempoolError, expected: Expect) -> None:
        if expected.error is not None:
            assert type(result) is expected.error, (result, expected)
            if isinstance(result, NonceTooLowError):
                assert result.next_nonce == expected.next_nonce
            return
        assert isinstance(result, AddOutcome), result
        pending, replaced, evicted = expected.pending, expected.replaced, expected.evicted
        assert result.status is (AddStatus.PENDING if pending else AddStatus.QUEUED)
        assert result.replaced == replaced
        dropped = set()
        if replaced is not None:
            dropped.add(Dropped(replaced, DropReason.REPLACED))
            event("replaced")
        if evicted is not None:
            dropped.add(Dropped(evicted, DropReason.EVICTED))
            event("evicted")
        assert set(result.dropped) == dropped
        self._record_dropped(result.dropped)
        self.fate[tx.hash] = "pooled"
        self.submitted.append(tx)

    def _expect_add(self, tx: Transaction, base_fee: int, newly_pending: set[bytes]) -> Expect:
        pending_before = self.model.split()[0].keys()
        expected = self.model.add(tx, base_fee, self.clock.now)
        newly_pending |= self.model.split()[0].keys() - pending_before
        return expected

    def _submit(self, tx: Transaction, base_fee: int) -> None:
        newly_pending: set[bytes] = set()
        expected = self._expect_add(tx, base_fee, newly_pending)
        try:
            result: AddOutcome | MempoolError = self.pool.add(tx, base_fee)
        except MempoolError as err:
            result = err
        self._check(tx, result, expected)
        self._expect_notified(newly_pending)

    @rule(
        sender=st.sampled_from(SENDERS),
        offset=st.integers(-2, 3),
        fee=st.integers(1, 40),
        tip=st.integers(-1, 40),
        gas=st.sampled_from([21_000, 21_000, 50_000, 100_000]),
        value=st.sampled_from([0, 0, 10_000]),
        base_fee=st.sampled_from(BASE_FEES),
    )
    def add(self, sender: bytes, offset: int, fee: int, tip: int, gas: int, value: int, base_fee: int) -> None:
        nonce = max(0, self.model.pending_end(sender) + offset)
        # tip -1 stands for "one above the fee cap", so that refusal is drawn now and then, not half the time.
        tip = fee + 1 if tip < 0 else min(tip, fee)
        self._submit(make_tx(sender, nonce, fee=fee, tip=tip, gas=gas, value=value), base_fee)

    @rule(
        sender=st.sampled_from(SENDERS),
        fees=st.lists(st.sampled_from([3, 8, 13, 21, 34]), min_size=1, max_size=4),
        gap=st.booleans(),
    )
    def add_run(self, sender: bytes, fees: list[int], gap: bool) -> None:
        """A JSON-RPC batch of consecutive nonces from the sender's next (or one past it): builds long runs."""
        start = self.model.pending_end(sender) + int(gap)
        txs = [make_tx(sender, start + i, fee=fee, tip=fee // 3) for i, fee in enumerate(fees)]
        newly_pending: set[bytes] = set()
        expected = [self._expect_add(tx, 0, newly_pending) for tx in txs]
        results = self.pool.add_many(txs, 0)
        assert len(results) == len(txs)
        for tx, result, exp in zip(txs, results, expected, strict=True):
            self._check(tx, result, exp)
        self._expect_notified(newly_pending, single_step=False)

    @precondition(lambda self: bool(self.submitted))
    @rule(data=st.data(), base_fee=st.sampled_from(BASE_FEES))
    def resubmit(self, data: st.DataObject, base_fee: int) -> None:
        self._submit(data.draw(st.sampled_from(self.submitted)), base_fee)

    @rule(
        max_txs=st.integers(1, 6),
        max_gas=st.sampled_from([21_000, 60_000, 150_000, 10**7]),
        base_fee=st.sampled_from(BASE_FEES),
    )
    def take(self, max_txs: int, max_gas: int, base_fee: int) -> None:
        expected = self.model.take(max_txs, max_gas, base_fee)
        taken = self.pool.take(max_txs, max_gas, base_fee)
        assert taken == expected
        assert len(taken) <= max_txs and sum(tx.gas_limit for tx in taken) <= max_gas
        assert all(tx.max_fee_per_gas >= base_fee for tx in taken)
        next_nonce: dict[bytes, int] = {}
        for tx in taken:
            assert next_nonce.setdefault(tx.sender, tx.nonce) == tx.nonce, "nonce gap within a block"
            next_nonce[tx.sender] = tx.nonce + 1
            self.fate[tx.hash] = "taken"
        assert self.notified == []

    @precondition(lambda self: bool(self.model.blocks))
    @rule(skip=st.frozensets(st.integers(0, 7), max_size=2))
    def execute(self, skip: frozenset[int]) -> None:
        pending_before = self.model.split()[0].keys()
        block, stale = self.model.execute_oldest(skip, self.clock.now)
        for s in SENDERS:
            self.reader.set_nonce(s, self.model.committed[s])
        in_flight_elsewhere = {tx.hash for tx in block} & self.model.in_flight_hashes()
        if in_flight_elsewhere:
            event("stale copy executed while its re-taken copy is in flight")
        dropped = self.pool.on_executed(block)
        assert {d.hash for d in dropped} == stale
        assert all(d.reason is DropReason.STALE for d in dropped)
        self._record_dropped(dropped)
        for tx in block:
            if tx.hash not in self.pool:
                self.fate[tx.hash] = "executed"
        self._expect_notified(self.model.split()[0].keys() - pending_before)

    @precondition(lambda self: any(self.model.split()[1].values()))
    @rule(data=st.data(), fee=st.integers(20, 60))
    def fill_gap(self, data: st.DataObject, fee: int) -> None:
        """Send the missing nonce for a sender with queued transactions: the path after an execution skip."""
        _, queued = self.model.split()
        sender = data.draw(st.sampled_from(sorted({m.tx.sender for m in queued.values()})))
        self._submit(make_tx(sender, self.model.pending_end(sender), fee=fee, tip=fee // 2), 0)

    def _straddling_sender(self) -> bytes | None:
        """A sender with transactions both in the oldest unexecuted block and in a later one."""
        if len(self.model.blocks) < 2:
            return None
        oldest = {tx.sender for tx in self.model.blocks[0][1]}
        later = {tx.sender for _, txs in itertools.islice(self.model.blocks, 1, None) for tx in txs}
        both = sorted(oldest & later)
        return both[0] if both else None

    @precondition(lambda self: self._straddling_sender() is not None)
    @rule(fee=st.integers(20, 60), take_first=st.booleans())
    def skip_refill_retake(self, fee: int, take_first: bool) -> None:
        """The pipeline's nastiest path, which random steps rarely line up: execution skips a transaction whose
        successors already sit in a later block; the sender fills the gap and the pool re-orders the returned
        successors (optionally before) that later block executes with the doomed copies."""
        sender = self._straddling_sender()
        assert sender is not None
        oldest = self.model.blocks[0][1]
        self.execute(frozenset({next(i for i, tx in enumerate(oldest) if tx.sender == sender)}))
        self._submit(make_tx(sender, self.model.pending_end(sender), fee=fee, tip=fee // 2), 0)
        if take_first:
            self.take(6, 10**7, 0)
        self.execute(frozenset())

    @rule(dt=st.sampled_from([10.0, 45.0]))
    def advance_time(self, dt: float) -> None:
        self.clock.now += dt

    @rule()
    def evict_stale(self) -> None:
        expected = self.model.expire(self.clock.now)
        dropped = self.pool.evict_stale()
        assert {d.hash for d in dropped} == expected
        assert all(d.reason is DropReason.EXPIRED for d in dropped)
        if dropped:
            event("expired")
        self._record_dropped(dropped)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def matches_model(self) -> None:
        content = self.pool.content()
        pending, queued = self.model.split()
        assert {tx.hash for txs in content.pending.values() for tx in txs.values()} == pending.keys()
        assert {tx.hash for txs in content.queued.values() for tx in txs.values()} == queued.keys()
        assert {tx.hash for txs in content.in_flight.values() for tx in txs.values()} == self.model.in_flight_hashes()
        for s in SENDERS:
            assert self.pool.pending_nonce(s) == self.model.pending_end(s)

    @invariant()
    def pending_runs_are_gapless_and_disjoint(self) -> None:
        content = self.pool.content()
        for s in SENDERS:
            in_flight = sorted(content.in_flight.get(s, {}))
            if in_flight:
                assert in_flight == list(range(in_flight[0], in_flight[0] + len(in_flight)))
            base = max([self.reader.accounts[s][0]] + [n + 1 for n in in_flight])
            pending = sorted(content.pending.get(s, {}))
            assert pending == list(range(base, base + len(pending)))
            end = base + len(pending)
            assert all(n > end for n in content.queued.get(s, {}))
            assert self.pool.pending_nonce(s) == end
        hashes = [
            tx.hash
            for view in (content.pending, content.queued, content.in_flight)
            for txs in view.values()
            for tx in txs.values()
        ]
        assert len(hashes) == len(set(hashes)), "a transaction is in two states at once"

    @invariant()
    def counts_add_up(self) -> None:
        content = self.pool.content()
        n_pending = sum(len(v) for v in content.pending.values())
        n_queued = sum(len(v) for v in content.queued.values())
        n_in_flight = sum(len(v) for v in content.in_flight.values())
        assert (self.pool.pending_count, self.pool.queued_count, self.pool.in_flight_count) == (
            n_pending,
            n_queued,
            n_in_flight,
        )
        assert len(self.pool) == n_pending + n_queued + n_in_flight

    @invariant()
    def nothing_is_lost(self) -> None:
        for tx_hash, fate in self.fate.items():
            if fate in ("pooled", "taken"):
                assert tx_hash in self.pool, f"{tx_hash.hex()} vanished without a reason"
            else:
                assert tx_hash not in self.pool


MempoolMachine.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_mempool_state_machine = MempoolMachine.TestCase
