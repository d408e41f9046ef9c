"""Mempool limits and pricing rules."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MempoolConfig:
    """Tunables for :class:`pysei.mempool.Mempool`.

    The defaults are sized for a single sequencer producing a block every 400 ms: a block takes at most a few
    thousand transactions, so 50,000 pooled transactions is several seconds of full blocks, enough to absorb a
    burst without letting a spammer pin much memory (a pooled entry costs roughly 1 KiB with its raw encoding).
    """

    max_txs: int = 50_000
    """Global cap on pooled (pending + queued) transactions. In-flight ones do not count: they are already in
    blocks and leave as soon as those execute. When full, a new transaction must outbid the cheapest pooled one,
    which it then evicts; otherwise it is refused with ``txpool is full``."""

    max_txs_per_sender: int = 1_000
    """Cap on one sender's pooled (pending + queued) transactions. Higher than geth's 16 + 64 account slots
    because load generators and bridges legitimately stream hundreds of transactions from one key, but bounded so
    that a single key cannot take the whole pool. Refused with ``account limit exceeded``; replacements do not
    count against it."""

    price_bump_percent: int = 10
    """A same-sender, same-nonce replacement must raise both the fee cap and the tip by at least this percentage
    (geth's ``--txpool.pricebump``), and strictly, so that replacement churn always costs the sender something."""

    min_gas_price: int = 0
    """Smallest acceptable ``max_fee_per_gas`` in wei, independent of the base fee (Sei's minimum gas price).
    Zero leaves the base-fee check as the only floor."""

    queue_lifetime_s: float = 3 * 3600.0
    """How long a transaction may sit *queued* (behind a nonce gap) before :meth:`Mempool.evict_stale` drops it;
    geth's ``--txpool.lifetime`` default. The clock restarts when a transaction is demoted to queued."""

    def __post_init__(self) -> None:
        if self.max_txs < 1 or self.max_txs_per_sender < 1:
            raise ValueError("mempool limits must be positive")
        if self.price_bump_percent < 0 or self.min_gas_price < 0 or self.queue_lifetime_s < 0:
            raise ValueError("price bump, minimum gas price and queue lifetime must not be negative")
