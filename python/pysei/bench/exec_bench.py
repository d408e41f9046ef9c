"""``pysei bench exec``: the kernel's sequential block execution over the LMDB store vs plain revm in memory.

Both sides get the same pre-signed block with senders already recovered (recovery happens at ingest in the
node); the kernel side is the real call the node makes (``execute_block`` over an LMDB snapshot: decode,
execute, deferred fees, receipts, roots, write set), the ceiling is revm's own ``transact_commit`` loop over
``CacheDB``. The block commit to LMDB is timed separately.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pysei.bench.workloads import build
from pysei.chain.constants import DEVNET_CHAIN_ID, FEE_COLLECTOR, GWEI
from pysei.native import BlockEnv, execute_block, execute_in_memory
from pysei.state.store import ChainStore


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="sequential kernel execution vs plain revm in memory (the ceiling)")
    p.add_argument("--workload", choices=["transfer", "erc20"], default="erc20")
    p.add_argument("--txs", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5, help="timed repetitions; the median is reported")
    p.set_defaults(func=main)


def _env(gas_limit: int) -> BlockEnv:
    return BlockEnv(
        number=1,
        timestamp=int(time.time()),
        gas_limit=gas_limit,
        base_fee=1 * GWEI,
        beneficiary=FEE_COLLECTOR,
        prevrandao=b"\x01" * 32,
        chain_id=DEVNET_CHAIN_ID,
    )


def main(args: argparse.Namespace) -> int:
    console = Console()
    with console.status(f"signing {args.txs:,} {args.workload} transactions"):
        work = build(args.workload, args.txs)
    senders = b"".join(work.senders)
    env = _env(gas_limit=max(30_000_000, 100_000 * args.txs))
    kernel_times, ceiling_times, commit_times = [], [], []
    gas = ceiling_gas = 0
    with tempfile.TemporaryDirectory(prefix="pysei-bench-") as tmp:
        store = ChainStore(Path(tmp) / "state")
        store.native.commit(alloc=work.alloc)
        for r in range(args.rounds):
            with console.status(f"round {r + 1}/{args.rounds}"):
                t0 = time.perf_counter()
                result = execute_block(store.native, env, work.raws, senders)
                kernel_times.append(time.perf_counter() - t0)
                gas = result.gas_used
                skipped = sum(1 for o in result.outcomes() if o[0] is not None)
                if skipped:
                    console.print(f"[red]{skipped} transactions skipped: the workload is broken[/red]")
                    return 1
                ceiling_gas, seconds = execute_in_memory(env, work.alloc, work.raws, senders)
                ceiling_times.append(seconds)
        # Commit once (it changes the state the rounds ran on) in a throw-away copy of the situation.
        t0 = time.perf_counter()
        store.native.commit(result=result)
        commit_times.append(time.perf_counter() - t0)
    if ceiling_gas != gas:
        console.print(f"[red]gas differs: kernel {gas}, plain revm {ceiling_gas}[/red]")
        return 1
    k, c = statistics.median(kernel_times), statistics.median(ceiling_times)
    table = Table(title=f"pysei bench exec — {args.workload}, {args.txs:,} txs, median of {args.rounds}")
    for col in ("engine", "time (ms)", "tx/s", "Mgas/s", "× ceiling"):
        table.add_column(col, justify="right" if col != "engine" else "left")
    table.add_row(
        "kernel over LMDB (execute_block)",
        f"{k * 1e3:.1f}",
        f"{args.txs / k:,.0f}",
        f"{gas / k / 1e6:,.0f}",
        f"{c / k:.2f}",
    )
    table.add_row(
        "plain revm, in memory (ceiling)", f"{c * 1e3:.1f}", f"{args.txs / c:,.0f}", f"{gas / c / 1e6:,.0f}", "1.00"
    )
    console.print(table)
    console.print(f"block commit to LMDB (fsync): {commit_times[0] * 1e3:.1f} ms; gas used {gas:,}")
    return 0
