"""``pysei bench exec``: the kernel's block execution (sequential and parallel) over the LMDB store vs plain revm.

Both sides get the same pre-signed block with senders already recovered (recovery happens at ingest in the
node); the kernel side is the real call the node makes (``execute_block`` over an LMDB snapshot: decode,
execute, deferred fees, receipts, roots, write set), the ceiling is revm's own ``transact_commit`` loop over
``CacheDB``. For each parallel thread count there is a ceiling too: the block split by sender, each thread
running its share on plain revm over its own copy of the state, with no coordination; its ×seq column is the
most that many threads can give on this machine (cores sharing execution units give less than N×).
Parallel thread counts run with and without dependency prediction; prediction learns from executions, so later
rounds predict from what earlier ones taught it (as consecutive blocks do in the node).
The block commit to LMDB is timed separately.

The inspector check (on by default) shows that tracing support costs untraced execution nothing: in the same
rounds, the block is replayed on the same state as ``debug_trace*`` replays it, once through revm's plain path
(block execution's EVM, with the empty ``()`` inspector) and once through revm's inspector path with its
``NoOpInspector``, and the two throughputs and their ratio are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from pysei.bench.workloads import WORKLOADS, build
from pysei.chain.constants import DEVNET_CHAIN_ID, FEE_COLLECTOR, GWEI
from pysei.native import BlockEnv, execute_block, execute_in_memory, replay_block
from pysei.state.store import ChainStore


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="kernel execution (sequential and parallel) vs plain revm in memory (the ceiling)")
    p.add_argument("--workload", default="erc20", help="comma-separated: " + ", ".join(WORKLOADS))
    p.add_argument("--txs", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=5, help="timed repetitions; the median is reported")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object (tables go to stderr)")
    p.add_argument(
        "--threads",
        default="1," + str(os.cpu_count() or 1),
        help="comma-separated executor thread counts to measure, e.g. 1,2,4,8 (1 = sequential)",
    )
    p.add_argument(
        "--inspector-check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also replay the block through revm's plain path and its inspector path (no-op inspector)",
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


@dataclass(frozen=True, slots=True)
class Engine:
    """One kernel configuration: thread count, and whether dependency prediction is on."""

    threads: int
    predict: bool

    @property
    def label(self) -> str:
        return "kernel" if self.predict or self.threads == 1 else "kernel, no pred."


@dataclass
class Runs:
    times: list[float] = field(default_factory=list)
    cores: list[float] = field(default_factory=list)
    """CPU time of the whole process during each run ÷ its wall time: the cores it kept busy."""
    stats: dict[str, int] = field(default_factory=dict)
    fallback: str | None = None


def main(args: argparse.Namespace) -> int:
    # Wide enough for the table when the output is not a terminal (rich assumes 80 columns then).
    console = Console(width=max(130, shutil.get_terminal_size().columns), stderr=args.json)
    workloads = [w.strip() for w in str(args.workload).split(",") if w.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        console.print(f"[red]unknown workload(s) {', '.join(unknown)} (choose from {', '.join(WORKLOADS)})[/red]")
        return 2
    threads = sorted({max(1, int(t)) for t in str(args.threads).split(",") if t.strip()})
    # Parallel runs are measured with and without prediction: the difference is what prediction buys.
    engines = [Engine(t, predict) for t in threads for predict in ((True,) if t == 1 else (True, False))]
    figures: dict[str, dict[str, Any]] = {}
    for workload in workloads:
        result = _bench(console, workload, args.txs, args.rounds, engines, args.inspector_check)
        if isinstance(result, int):
            return result
        figures[workload] = result
    if args.json:
        print(orjson.dumps({"bench": "exec", "txs": args.txs, "rounds": args.rounds, "workloads": figures}).decode())
    return 0


def _ran(engine: Engine, fallback: str | None) -> str:
    if fallback is None:
        return "parallel"
    return "sequential" if engine.threads == 1 else f"sequential: {fallback}"


def _bench(
    console: Console, workload: str, n_txs: int, rounds: int, engines: list[Engine], inspector_check: bool
) -> int | dict[str, Any]:
    """Prints the workload's table; returns its figures (medians), or an exit status when the run is broken."""
    with console.status(f"signing {n_txs:,} {workload} transactions"):
        work = build(workload, n_txs)
    senders = b"".join(work.senders)
    env = _env(gas_limit=max(30_000_000, work.gas_limit))
    runs = {e: Runs() for e in engines}
    # Plain revm in memory at each thread count (1: the ceiling of the ×ceil column).
    ceiling_times: dict[int, list[float]] = {e.threads: [] for e in engines}
    shard_gas: dict[int, int] = {}
    # The inspector check's replays: False = revm's plain path, True = its inspector path (no-op inspector).
    replay_times: dict[bool, list[float]] = {False: [], True: []}
    gas = ceiling_gas = 0
    with tempfile.TemporaryDirectory(prefix="pysei-bench-") as tmp:
        store = ChainStore(Path(tmp) / "state")
        store.native.commit(0, alloc=work.alloc)
        for number, (raws, senders_) in enumerate(work.setup, start=1):
            # Set-up blocks (deployments, funding) are not timed: a gas limit that admits all of them.
            setup = execute_block(store.native, _env(gas_limit=10**12), raws, b"".join(senders_))
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
        digest = b""
        for r in range(rounds):
            # Alternate the engines within each round so that machine drift affects all alike.
            for engine in engines:
                with console.status(f"{workload} round {r + 1}/{rounds}: {engine.label}, {engine.threads} thread(s)"):
                    t0, cpu0 = time.perf_counter(), time.process_time()
                    result = execute_block(
                        store.native, env, work.raws, senders, threads=engine.threads, predict=engine.predict
                    )
                    wall = time.perf_counter() - t0
                    runs[engine].times.append(wall)
                    runs[engine].cores.append((time.process_time() - cpu0) / wall)
                if any(o[0] is not None or not o[1] for o in result.outcomes()):
                    console.print("[red]transactions were skipped or failed: the workload is broken[/red]")
                    return 1
                if digest and (result.gas_used, result.changes_digest) != (gas, digest):
                    console.print(f"[red]{engine.label} with {engine.threads} threads differs from sequential[/red]")
                    return 1
                gas, digest = result.gas_used, result.changes_digest
                # The last round's statistics: by then prediction has learned from the earlier rounds.
                runs[engine].stats = dict(result.stats())
                runs[engine].fallback = result.fallback
            for t, times in ceiling_times.items():
                with console.status(f"{workload} round {r + 1}/{rounds}: plain revm, {t} thread(s)"):
                    shard_gas[t], seconds = execute_in_memory(env, ceiling_alloc, work.raws, senders, threads=t)
                    times.append(seconds)
            ceiling_gas = shard_gas[1]
            # The two replays swap order every round, so drift does not favour one.
            for inspect in (r % 2 == 1, r % 2 == 0) if inspector_check else ():
                with console.status(f"{workload} round {r + 1}/{rounds}: replay, inspector path {inspect}"):
                    replay_gas, seconds = replay_block(store.native, env, work.raws, senders, inspect=inspect)
                if replay_gas != gas:
                    console.print(
                        f"[red]gas differs: kernel {gas}, replay (inspector path {inspect}) {replay_gas}[/red]"
                    )
                    return 1
                replay_times[inspect].append(seconds)
        assert result is not None
        head = len(work.setup) + 1
        t0 = time.perf_counter()
        store.native.commit(head, result=result)
        commit_time = time.perf_counter() - t0
        # The history index trails the commit (the commitment worker writes it); a read at an earlier block
        # catches it up first, which times that work on its own.
        t0 = time.perf_counter()
        store.native.account(FEE_COLLECTOR, head - 1)
        index_time = time.perf_counter() - t0
    if ceiling_gas != gas:
        console.print(f"[red]gas differs: kernel {gas}, plain revm {ceiling_gas}[/red]")
        return 1
    ceilings = {t: statistics.median(times) for t, times in ceiling_times.items()}
    c = ceilings[1]
    seq = statistics.median(runs[engines[0]].times)
    table = Table(title=f"pysei bench exec — {workload}, {n_txs:,} txs, median of {rounds} (kernel over LMDB)")
    for col in ("engine", "thr", "ms", "tx/s", "Mgas/s", "×seq", "×ceil", "reexec/1k", "util", "cores", "ran"):
        table.add_column(col, justify="left" if col in ("engine", "ran") else "right")
    rows: list[dict[str, Any]] = []
    for engine in engines:
        k = statistics.median(runs[engine].times)
        st = runs[engine].stats
        reexec = 1000 * (st["incarnations"] - st["txs"]) / max(1, st["txs"])
        # Busy time of the workers and of the committing thread over (threads + 1) × wall time of the same run.
        util = st["busy_ns"] / 1e9 / ((engine.threads + 1) * runs[engine].times[-1]) if st["busy_ns"] else None
        table.add_row(
            engine.label,
            str(engine.threads),
            f"{k * 1e3:.1f}",
            f"{n_txs / k:,.0f}",
            f"{gas / k / 1e6:,.0f}",
            f"{seq / k:.2f}",
            f"{c / k:.2f}",
            f"{reexec:.1f}",
            "-" if util is None else f"{util:.0%}",
            f"{statistics.median(runs[engine].cores):.2f}",
            _ran(engine, runs[engine].fallback),
        )
        rows.append(
            {
                "engine": engine.label,
                "threads": engine.threads,
                "ms": k * 1e3,
                "tx_per_s": n_txs / k,
                "mgas_per_s": gas / k / 1e6,
                "x_sequential": seq / k,
                "x_ceiling": c / k,
                "reexec_per_1k": reexec,
                "utilisation": util,
                "cores": statistics.median(runs[engine].cores),
                "ran": _ran(engine, runs[engine].fallback),
            }
        )
    for t, ct in ceilings.items():
        table.add_row(
            "revm (ceiling)" if t == 1 else "revm, shards",
            str(t),
            f"{ct * 1e3:.1f}",
            f"{n_txs / ct:,.0f}",
            f"{shard_gas[t] / ct / 1e6:,.0f}",
            f"{seq / ct:.2f}",
            f"{c / ct:.2f}",
            "-",
            "-",
            "-",
            "" if t == 1 else "split by sender, no coordination",
        )
    console.print(table)
    seq_cores = statistics.median(runs[engines[0]].cores)
    cpus = os.cpu_count() or 1
    for t, ct in ceilings.items():
        if t > 1:
            console.print(f"{t} threads of plain revm on disjoint shards: {c / ct:.2f}× one thread on this machine")
    if len(engines) > 1:
        console.print(
            f"cores: process CPU time ÷ wall time of the run. The sequential run keeps {seq_cores:.2f} of the "
            f"{cpus} cores busy (it decodes and seals receipts and tries on the pool while it executes), so a "
            f"parallel run doing the same work can be at most {cpus / seq_cores:.2f}× faster here"
        )
    console.print(
        f"block commit to LMDB (fsync): {commit_time * 1e3:.1f} ms; its history index entries, written after it "
        f"by the commitment worker: {index_time * 1e3:.1f} ms; gas used {gas:,}"
    )
    ceiling = {"ms": c * 1e3, "tx_per_s": n_txs / c, "mgas_per_s": gas / c / 1e6, "x_sequential": seq / c}
    sharded = [
        {"threads": t, "ms": ct * 1e3, "tx_per_s": n_txs / ct, "gas_used": shard_gas[t], "x_one_thread": c / ct}
        for t, ct in ceilings.items()
        if t > 1
    ]
    figures: dict[str, Any] = {
        "engines": rows,
        "ceiling": ceiling,
        "ceiling_sharded": sharded,
        "commit_ms": commit_time * 1e3,
        "history_index_ms": index_time * 1e3,
        "gas_used": gas,
    }
    if inspector_check:
        figures["inspector_check"] = _inspector_table(console, replay_times, n_txs)
    return figures


def _inspector_table(console: Console, times: dict[bool, list[float]], n_txs: int) -> dict[str, Any]:
    """Prints the inspector check's table; returns its figures (medians and the ratio)."""
    plain, inspected = statistics.median(times[False]), statistics.median(times[True])
    table = Table(title="inspector plumbing — the same block replayed untraced, same rounds (median)")
    for col in ("path", "ms", "tx/s", "× plain"):
        table.add_column(col, justify="left" if col == "path" else "right")
    table.add_row(
        "revm plain path, `()` inspector (block execution's)", f"{plain * 1e3:.1f}", f"{n_txs / plain:,.0f}", "1.00"
    )
    table.add_row(
        "revm inspector path, NoOpInspector",
        f"{inspected * 1e3:.1f}",
        f"{n_txs / inspected:,.0f}",
        f"{plain / inspected:.2f}",
    )
    console.print(table)
    return {
        "plain": {"ms": plain * 1e3, "tx_per_s": n_txs / plain},
        "noop_inspector": {"ms": inspected * 1e3, "tx_per_s": n_txs / inspected},
        "ratio": plain / inspected,
    }
