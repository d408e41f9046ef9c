"""``pysei bench ingest``: admission alone — hex parsing, decoding, sender recovery, the node's rules and the
mempool — for N pre-signed ERC-20 transfers, without HTTP, execution or receipts.

The transfers of :mod:`pysei.bench.loadgen`'s ``erc20`` plan are handed, as the 0x-hex strings a JSON-RPC batch
carries, to the node's own :class:`pysei.rpc.ingest.Ingest` in batches of ``--batch``, on an asyncio loop, into a
fresh :class:`pysei.mempool.Mempool` each round. Accounts are read from memory (every sender funded, nonces from
the plan), so the figure is the admission path's own cost. Besides wall-clock tx/s it reports the CPU the event
loop's thread spent per transaction (what caps a node's intake: recovery runs on other threads with the GIL
released) and the CPU of the whole process per transaction.

The ceiling is measured in the same run: decoding and libsecp256k1 sender recovery of the same transactions and
nothing else, on one thread and on every core. No ingest path can admit faster than that, and a node that must
also serve HTTP, execute and commit on the same cores gets a share of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from pysei.bench import loadgen
from pysei.chain.transaction import Transaction
from pysei.mempool import AddOutcome, Mempool, MempoolConfig, MempoolError
from pysei.native import recovery_limit
from pysei.node.config import NodeConfig
from pysei.rpc.ingest import Ingest

FUNDS = 10**30
"""Every sender's balance in wei: admission must never fail for want of funds."""
BASE_FEE = 1
"""Below the plan's fee cap, so no transfer is refused for its price."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="admission alone: decode + recover + rules + mempool for N pre-signed transactions",
        description="Feeds N pre-signed ERC-20 transfers (0x-hex, as a JSON-RPC batch carries them) through the "
        "node's ingest into a fresh mempool, in batches, and prints tx/s with the event loop's and the process's "
        "CPU per transaction. Example: pysei bench ingest --txs 20000 --rounds 3 --json",
    )
    p.add_argument("--txs", type=int, default=20_000, help="transactions per round")
    p.add_argument("--accounts", type=int, default=400, help="sender accounts (transaction i is sent by i %% K)")
    p.add_argument("--batch", type=int, default=100, help="transactions per ingest call (a JSON-RPC batch)")
    p.add_argument("--rounds", type=int, default=3, help="repetitions; the best round and every round are shown")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object (tables go to stderr)")
    p.set_defaults(func=main)


@dataclass(frozen=True)
class _Accounts:
    """The committed state the pool reads: every sender funded, at the nonce the plan starts from."""

    nonces: dict[bytes, int]

    def nonce_and_balance(self, address: bytes) -> tuple[int, int]:
        return self.nonces.get(address, 0), FUNDS

    def nonces_and_balances(self, addresses: Sequence[bytes]) -> list[tuple[int, int]]:
        return [(self.nonces.get(a, 0), FUNDS) for a in addresses]


class _Submitter:
    """What the node does with an ingested batch, less the sequencer's wake-up."""

    def __init__(self, pool: Mempool) -> None:
        self.pool = pool

    def submit(self, txs: list[Transaction]) -> list[AddOutcome | MempoolError]:
        return self.pool.add_many(txs, BASE_FEE)

    def wait_executed(self, tx_hashes: list[bytes]) -> Awaitable[None]:
        raise AssertionError("the bench runs without automine")


@dataclass(frozen=True)
class _Settings:
    """A devnet's defaults (``NodeConfig``), without automine."""

    chain_id: int
    gas_limit: int
    max_tx_size: int
    automine: bool = False
    allow_unprotected_txs: bool = False


async def _round(params: list[str], plan: loadgen.Plan, batch: int) -> dict[str, float]:
    pool = Mempool(
        _Accounts(dict(plan.start_nonces)), MempoolConfig(max_txs=len(params), max_txs_per_sender=len(params))
    )
    node = NodeConfig()
    ingest = Ingest(_Settings(plan.chain_id, node.gas_limit, node.max_tx_size), _Submitter(pool))
    loop_cpu, cpu, wall = time.thread_time(), time.process_time(), time.perf_counter()
    refused = 0
    for start in range(0, len(params), batch):
        answers = await ingest.ingest(params[start : start + batch])
        refused += sum(not isinstance(a, str) for a in answers)
    wall = time.perf_counter() - wall
    loop_cpu, cpu = time.thread_time() - loop_cpu, time.process_time() - cpu
    if refused or pool.pending_count != len(params):
        raise SystemExit(f"ingest refused {refused} of {len(params)} transactions: the bench is broken")
    n = len(params)
    return {"tx_per_s": n / wall, "loop_us_per_tx": loop_cpu / n * 1e6, "cpu_us_per_tx": cpu / n * 1e6}


def main(args: argparse.Namespace) -> None:
    console = Console(width=max(100, shutil.get_terminal_size().columns), stderr=args.json)
    with console.status(f"signing {args.txs:,} transfers"):
        plan = loadgen.make_plan("erc20", args.txs, n_accounts=args.accounts)
    params = [loadgen.hx(raw) for raw in plan.raws]
    cores = os.cpu_count() or 1
    rounds: list[dict[str, float]] = []
    limit: dict[int, list[float]] = {1: [], cores: []}
    for _ in range(args.rounds):
        # The ceiling is timed in every round, beside ingest; the best of its rounds is the one compared against.
        rounds.append(asyncio.run(_round(params, plan, args.batch)))
        for threads, times in limit.items():
            times.append(len(plan.raws) / recovery_limit(plan.raws, threads))
    best = max(rounds, key=lambda r: r["tx_per_s"])
    ceiling = {threads: max(rates) for threads, rates in limit.items()}
    table = Table(title=f"pysei bench ingest — {args.txs:,} ERC-20 transfers, batches of {args.batch}")
    for column in ("round", "tx/s", "event loop µs/tx", "process CPU µs/tx", "× recovery limit"):
        table.add_column(column, justify="right")
    for i, r in enumerate(rounds, 1):
        table.add_row(
            f"{i}{' (best)' if r is best else ''}",
            f"{r['tx_per_s']:,.0f}",
            f"{r['loop_us_per_tx']:.1f}",
            f"{r['cpu_us_per_tx']:.1f}",
            f"{r['tx_per_s'] / ceiling[cores]:.2f}",
        )
    for threads, rate in ceiling.items():
        table.add_row(f"recovery only, {threads} thr.", f"{rate:,.0f}", "-", f"{threads * 1e6 / rate:.1f}", "1.00")
    console.print(table)
    console.print(
        "recovery only: decoding and sender recovery of the same transactions and nothing else (best round): the "
        "ceiling of any ingest path; its CPU column is threads × wall time"
    )
    if args.json:
        figures: dict[str, Any] = {
            "bench": "ingest",
            "txs": args.txs,
            "batch": args.batch,
            "accounts": args.accounts,
            "best": best,
            "rounds": rounds,
            "recovery_limit_tx_per_s": {str(t): rate for t, rate in ceiling.items()},
        }
        print(orjson.dumps(figures).decode())
