"""``pysei bench exec``: the kernel's block execution (sequential and parallel) over the LMDB store vs plain revm.

Both sides get the same pre-signed block with senders already recovered (recovery happens at ingest in the
node); the kernel side is the real call the node makes (``execute_block`` over an LMDB snapshot: decode,
execute, deferred fees, receipts, roots, write set), the ceiling is revm's own ``transact_commit`` loop over
``CacheDB``. The block commit to LMDB is timed separately.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pysei.bench.workloads import WORKLOADS, build
from pysei.chain.constants import DEVNET_CHAIN_ID, FEE_COLLECTOR, GWEI
from pysei.native import BlockEnv, execute_block, execute_in_memory
from pysei.state.store import ChainStore


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="kernel execution (sequential and parallel) vs plain revm in memory (the ceiling)")
    p.add_argument("--workload", choices=WORKLOADS, default="erc20")
    p.add_argument("--txs", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5, help="timed repetitions; the median is reported")
    p.add_argument(
        "--threads",
        default="1," + str(os.cpu_count() or 1),
        help="comma-separated executor thread counts to measure, e.g. 1,2,4,8 (1 = sequential)",
    )
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
    threads = sorted({max(1, int(t)) for t in str(args.threads).split(",") if t.strip()})
    with console.status(f"signing {args.txs:,} {args.workload} transactions"):
        work = build(args.workload, args.txs)
    senders = b"".join(work.senders)
    env = _env(gas_limit=max(30_000_000, work.gas_limit))
    times: dict[int, list[float]] = {t: [] for t in threads}
    stats: dict[int, dict[str, int]] = {}
    ceiling_times: list[float] = []
    gas = ceiling_gas = 0
    with tempfile.TemporaryDirectory(prefix="pysei-bench-") as tmp:
        store = ChainStore(Path(tmp) / "state")
        store.native.commit(0, alloc=work.alloc)
        for number, (raws, senders_) in enumerate(work.setup, start=1):
            setup = execute_block(store.native, env, raws, b"".join(senders_))
            if any(o[0] is not None or not o[1] for o in setup.outcomes()):
                console.print("[red]a set-up transaction failed: the workload is broken[/red]")
                return 1
            store.native.commit(number, result=setup)
        # The ceiling starts from the same state: everything the store holds once set-up is done.
        accounts, slots = store.native.dump_state()
        storage: dict[bytes, list[tuple[int, int]]] = {}
        for address, slot, value in slots:
            storage.setdefault(address, []).append((slot, value))
        ceiling_alloc = [(a, balance, nonce, code, storage.get(a, [])) for a, balance, nonce, code in accounts]
        result = None
        for r in range(args.rounds):
            # Alternate the engines within each round so that machine drift affects all alike.
            for t in threads:
                with console.status(f"round {r + 1}/{args.rounds}: kernel, {t} thread(s)"):
                    t0 = time.perf_counter()
                    result = execute_block(store.native, env, work.raws, senders, threads=t)
                    times[t].append(time.perf_counter() - t0)
                if any(o[0] is not None or not o[1] for o in result.outcomes()):
                    console.print("[red]transactions were skipped or failed: the workload is broken[/red]")
                    return 1
                if gas and result.gas_used != gas:
                    console.print(f"[red]gas differs between thread counts: {gas} vs {result.gas_used}[/red]")
                    return 1
                gas = result.gas_used
                stats[t] = dict(result.stats())
            with console.status(f"round {r + 1}/{args.rounds}: plain revm"):
                ceiling_gas, seconds = execute_in_memory(env, ceiling_alloc, work.raws, senders)
                ceiling_times.append(seconds)
        assert result is not None
        t0 = time.perf_counter()
        store.native.commit(len(work.setup) + 1, result=result)
        commit_time = time.perf_counter() - t0
    if ceiling_gas != gas:
        console.print(f"[red]gas differs: kernel {gas}, plain revm {ceiling_gas}[/red]")
        return 1
    c = statistics.median(ceiling_times)
    seq = statistics.median(times[threads[0]])
    table = Table(title=f"pysei bench exec — {args.workload}, {args.txs:,} txs, median of {args.rounds}")
    for col in ("engine", "thr", "ms", "tx/s", "Mgas/s", "×seq", "×ceil", "reexec/1k"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for t in threads:
        k = statistics.median(times[t])
        st = stats[t]
        reexec = 1000 * (st["incarnations"] - st["txs"]) / max(1, st["txs"])
        mode = "seq" if st["sequential_fallback"] else "par"
        table.add_row(
            f"kernel/LMDB {mode}",
            str(t),
            f"{k * 1e3:.1f}",
            f"{args.txs / k:,.0f}",
            f"{gas / k / 1e6:,.0f}",
            f"{seq / k:.2f}",
            f"{c / k:.2f}",
            f"{reexec:.1f}",
        )
    table.add_row(
        "revm in memory (ceiling)",
        "1",
        f"{c * 1e3:.1f}",
        f"{args.txs / c:,.0f}",
        f"{gas / c / 1e6:,.0f}",
        f"{seq / c:.2f}",
        "1.00",
        "-",
    )
    console.print(table)
    console.print(f"block commit to LMDB (fsync): {commit_time * 1e3:.1f} ms; gas used {gas:,}")
    return 0
