"""``pysei bench e2e``: the same pre-signed load against pysei, anvil and Hardhat, side by side.

For every round, workload and target mode (targets alternate, and their order rotates each round) a fresh node
is started on a free loopback port, prepared by the untimed set-up, loaded by the timed phase of
:mod:`pysei.bench.loadgen`, watched (peak RSS and CPU of its process tree) and stopped. The results are
summarised per workload and target as the median over rounds with min–max; ``--out DIR`` writes
``results.json``, ``report.md`` and the PNG plots (:mod:`pysei.bench.report`).

Each workload's ceiling is measured in the same run, on the same machine: decoding and sender recovery of its
transactions alone, on every core (no node, no HTTP). A node that must do that for every transaction, and also
parse, execute, commit and answer on the same cores beside the load generator, finalises a fraction of it.

``pysei bench load`` runs the load generator alone against a node that is already running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil  # type: ignore[import-untyped]
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pysei.bench import loadgen
from pysei.bench.nodes import MODES, REFERENCE, Mode, NodeProcess, TreeSampler, parse_targets, tool_versions
from pysei.bench.report import done_text, fmt_range
from pysei.native import recovery_limit

METRICS = (
    "accepted_tps",
    "finalised_tps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "gas_per_s",
    "peak_rss_mb",
    "node_cores",
    "loadgen_cores",
    "background_cores",
)


def _add_load_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--txs", type=int, default=5_000, help="timed transactions per run")
    p.add_argument(
        "--accounts",
        type=int,
        default=400,
        help="sender accounts K (transaction i is sent by i %% K); keep K ≥ batch × concurrency",
    )
    p.add_argument("--batch", type=int, default=100, help="transactions per eth_sendRawTransaction JSON-RPC batch")
    p.add_argument("--concurrency", type=int, default=4, help="HTTP connections sending concurrently")
    p.add_argument("--stall", type=float, default=15.0, help="seconds without a new receipt that end a run as stalled")
    p.add_argument("--receipts", choices=["blocks", "poll"], default="blocks", help="how receipts are found")
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds one timed phase may take at most")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("e2e", help="the same pre-signed load against pysei, anvil and Hardhat, side by side")
    p.add_argument(
        "--targets",
        default="pysei,anvil,hardhat",
        help="comma-separated: pysei, anvil, hardhat (every mode of each) or modes: " + ", ".join(MODES),
    )
    p.add_argument("--workload", default="erc20", help="comma-separated: " + ", ".join(loadgen.WORKLOADS))
    p.add_argument("--rounds", type=int, default=1, help="repetitions; medians with min–max are reported")
    p.add_argument("--out", type=Path, help="write results.json, report.md and PNG plots to this directory")
    p.add_argument("--json", action="store_true", help="print results.json's content on stdout (tables go to stderr)")
    _add_load_options(p)
    p.add_argument("--seed", type=int, default=1, help="seed of the benchmark accounts and recipients")
    p.add_argument("--max-rss-mb", type=float, default=6_000, help="stop a node whose memory passes this")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run, wait up to S seconds for the machine to be idle (other work skews the figures)",
    )
    p.add_argument("--node-logs", action="store_true", help="leave each node's per-transaction logging on")
    p.add_argument(
        "--profile",
        action="store_true",
        help="record each pysei run's timed phase with py-spy (collapsed stacks under OUT/profiles) and summarise it",
    )
    p.add_argument("--pysei-arg", action="append", default=[], help="extra argument for `pysei node` (repeatable)")
    p.add_argument("--anvil-bin", help="anvil executable (default: tests/clients/js/node_modules, or ANVIL_BIN)")
    p.add_argument("--hardhat-dir", help="Hardhat 2 project with hardhat.bench-node.config.js")
    p.set_defaults(func=main)

    q = sub.add_parser("load", help="the load generator alone, against a running node (set-up, then timed phase)")
    q.add_argument("--url", default="http://127.0.0.1:8545")
    q.add_argument("--workload", default="erc20", choices=loadgen.WORKLOADS)
    _add_load_options(q)
    q.add_argument("--seed", type=int, help="seed of the benchmark accounts (default: random, so they are fresh)")
    q.add_argument("--funder", type=int, default=0, help="index of the dev account that funds the set-up")
    q.add_argument("--json", type=Path, help="write the result as JSON to this file")
    q.set_defaults(func=load_main)


def _options(args: argparse.Namespace) -> loadgen.TimedOptions:
    return loadgen.TimedOptions(
        batch=args.batch,
        concurrency=args.concurrency,
        stall_s=args.stall,
        receipts=args.receipts,
        time_limit=args.time_limit,
    )


# --- one run --------------------------------------------------------------------------------------------------------
def run_one(
    mode: Mode,
    plan: loadgen.Plan,
    opts: loadgen.TimedOptions,
    *,
    log_dir: Path,
    round_no: int,
    max_rss: int | None = None,
    logs: bool = False,
    anvil_bin: str | None = None,
    hh_dir: str | None = None,
    pysei_args: tuple[str, ...] = (),
    progress: loadgen.ProgressFn | None = None,
    status: Any = None,
    profile_dir: Path | None = None,
) -> dict[str, Any]:
    """Starts a fresh node of ``mode``, runs set-up and the timed phase of ``plan``, stops the node."""
    say = status or (lambda _m: None)
    rec: dict[str, Any] = {
        "target": mode.key,
        "family": mode.family,
        "label": mode.label,
        "workload": plan.workload,
        "round": round_no,
        "ok": False,
    }
    node = NodeProcess(mode, log_dir, logs=logs, anvil_bin=anvil_bin, hh_dir=hh_dir, pysei_args=pysei_args)
    sampler: TreeSampler | None = None
    try:
        t0 = time.perf_counter()
        say("starting")
        url = node.start()
        rec["startup_s"] = round(time.perf_counter() - t0, 3)
        sampler = TreeSampler(node.pid, max_rss=max_rss).start()
        say("set-up")
        t0 = time.perf_counter()
        asyncio.run(loadgen.run_setup(url, plan, log=say))
        rec["setup_s"] = round(time.perf_counter() - t0, 3)
        say("timed")
        spy = None
        if profile_dir is not None and mode.family == "pysei":
            from pysei.bench.profile import PySpy

            profile_dir.mkdir(parents=True, exist_ok=True)
            spy = PySpy(node.pid, profile_dir / f"profile-{mode.key}-{plan.workload}-r{round_no}.txt")
            time.sleep(0.5)  # let py-spy attach before the clock starts
        cpu0, t0, sys0, me0 = sampler.cpu_seconds(), time.perf_counter(), _busy(), _own_cpu()
        result = asyncio.run(loadgen.run_timed(url, plan, opts, progress=progress, abort=sampler.abort_reason))
        wall = time.perf_counter() - t0
        cpu = sampler.cpu_seconds() - cpu0
        # CPU used by everything else on the machine meanwhile (a build, another benchmark): it skews the figures.
        other = (_busy() - sys0) - cpu - (_own_cpu() - me0)
        rec["background_cores"] = round(max(0.0, other) / wall, 3) if wall > 0 else 0.0
        rec["loadgen_cores"] = round((_own_cpu() - me0) / wall, 3) if wall > 0 else 0.0
        if spy is not None:
            from pysei.bench.profile import summarise_folded

            folded = spy.stop()
            if folded is not None:
                rec["profile"] = {"path": str(folded), **summarise_folded(folded)}
        rec["result"] = result.to_json()
        rec["node_cpu_s"] = round(cpu, 3)
        rec["node_cores"] = round(cpu / wall, 3) if wall > 0 else 0.0
        rec["ok"] = True
    except (loadgen.SetupError, loadgen.RpcError, RuntimeError, OSError, aiohttp.ClientError, TimeoutError) as e:
        rec["error"] = f"{type(e).__name__}: {e}"
        if node.proc is not None and node.proc.poll() is not None:  # the node died: say why
            tail = node.log_path.read_text(errors="replace").strip().splitlines()[-1:] if node.log_path.exists() else []
            rec["error"] += f" (node exited with code {node.proc.returncode}: {' '.join(tail)[:300]})"
    finally:
        if sampler is not None:
            sampler.stop()
            rec["peak_rss_mb"] = round(sampler.peak / 2**20, 1)
        rec["exit_code"] = node.stop()
        rec["log"] = str(node.log_path)
    return rec


def _recovery_limit(plan: loadgen.Plan, repeats: int = 3) -> float:
    """The best of ``repeats`` timings of the plan's transactions decoded and sender-recovered on every core."""
    return max(len(plan.raws) / recovery_limit(plan.raws, os.cpu_count() or 1) for _ in range(repeats))


def wait_idle(limit: float, *, threshold: float = 10.0, calm_s: int = 3) -> float:
    """Waits until the machine's CPU use stays under ``threshold`` % for ``calm_s`` seconds (at most ``limit``);
    returns the seconds waited."""
    t0 = time.monotonic()
    calm = 0
    while calm < calm_s and time.monotonic() - t0 < limit:
        calm = calm + 1 if psutil.cpu_percent(interval=1.0) < threshold else 0
    return time.monotonic() - t0


def _busy() -> float:
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0))


def _own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


# --- aggregation ----------------------------------------------------------------------------------------------------
def _values(rec: dict[str, Any]) -> dict[str, float]:
    r = rec["result"]
    lat = r.get("latency_ms") or {}
    return {
        "accepted_tps": r["accepted_tps"],
        "finalised_tps": r["finalised_tps"],
        "p50_ms": lat.get("p50", 0.0),
        "p95_ms": lat.get("p95", 0.0),
        "p99_ms": lat.get("p99", 0.0),
        "gas_per_s": r["gas_per_s"],
        "peak_rss_mb": rec.get("peak_rss_mb", 0.0),
        "node_cores": rec.get("node_cores", 0.0),
        "loadgen_cores": rec.get("loadgen_cores", 0.0),
        "background_cores": rec.get("background_cores", 0.0),
    }


def summarise(runs: list[dict[str, Any]], modes: list[Mode], workloads: list[str]) -> list[dict[str, Any]]:
    """Per workload and target: median, min and max of each metric over the rounds, and the ratio to pysei."""
    rows: list[dict[str, Any]] = []
    for w in workloads:
        group: list[dict[str, Any]] = []
        for m in modes:
            recs = [r for r in runs if r["workload"] == w and r["target"] == m.key]
            ok = [r for r in recs if r["ok"]]
            row: dict[str, Any] = {
                "workload": w,
                "target": m.key,
                "label": m.label,
                "family": m.family,
                "runs": len(recs),
                "ok_runs": len(ok),
                "errors": [r["error"] for r in recs if not r["ok"]],
                "stalled": sum(1 for r in ok if r["result"]["stalled"]),
                "stall_reasons": [r["result"]["stall_reason"] for r in ok if r["result"]["stalled"]],
                "txs": ok[0]["result"]["txs"] if ok else 0,
                "successes": [r["result"]["successes"] for r in ok],
                "failures": sum(r["result"]["failures"] for r in ok),
                "lost": sum(r["result"]["lost"] for r in ok),
                "blocks": [r["result"]["blocks"] for r in ok],
            }
            for key in METRICS:
                vals = [_values(r)[key] for r in ok]
                if vals:
                    row[key] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "values": vals}
            group.append(row)
        ref = next((g for g in group if g["target"] == REFERENCE and "finalised_tps" in g), None)
        ref = ref or next((g for g in group if g["family"] == "pysei" and "finalised_tps" in g), None)
        for g in group:
            if ref is not None and "finalised_tps" in g and ref["finalised_tps"]["median"] > 0:
                g["vs_pysei"] = g["finalised_tps"]["median"] / ref["finalised_tps"]["median"]
                g["reference"] = ref["target"]
        rows += group
    return rows


def table(rows: list[dict[str, Any]], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in (
        "workload",
        "target",
        "finalised tx/s",
        "accepted tx/s",
        "latency p50/p95/p99 ms",
        "Mgas/s",
        "peak RSS MB",
        "node CPU",
        "× pysei",
        "done",
    ):
        t.add_column(col, justify="left" if col in ("workload", "target", "done") else "right")
    for r in rows:
        lat = "/".join(fmt_range(r.get(k), "{:,.0f}").split(" ")[0] for k in ("p50_ms", "p95_ms", "p99_ms"))
        t.add_row(
            r["workload"],
            r["label"],
            fmt_range(r.get("finalised_tps")),
            fmt_range(r.get("accepted_tps")),
            lat if r.get("p50_ms") else "—",
            fmt_range(r.get("gas_per_s"), "{:,.1f}", 1e-6),
            fmt_range(r.get("peak_rss_mb")),
            fmt_range(r.get("node_cores"), "{:.2f}"),
            f"{r['vs_pysei']:.2f}" if "vs_pysei" in r else "—",
            done_text(r),
        )
    return t


def profile_table(rec: dict[str, Any], top: int = 10) -> Table:
    prof = rec["profile"]
    t = Table(
        title=f"py-spy: {rec['label']}, {rec['workload']}, round {rec['round']} — {prof['samples']:,} samples "
        f"({prof['path']})",
        title_justify="left",
    )
    for col in ("self", "function (top of stack)", "inclusive", "function (anywhere on the stack)"):
        t.add_column(col, justify="right" if col in ("self", "inclusive") else "left")
    for a, b in zip(prof["self"][:top], prof["inclusive"][:top], strict=False):
        t.add_row(f"{a['share']:.1%}", a["function"], f"{b['share']:.1%}", b["function"])
    return t


def environment() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


# --- the command ----------------------------------------------------------------------------------------------------
def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console.width = max(console.width, 180)  # the tables stay readable in logs
    return console


def _check_lanes(console: Console, args: argparse.Namespace) -> None:
    if args.accounts < args.batch * args.concurrency:
        console.print(
            f"[yellow]--accounts {args.accounts} < batch × concurrency ({args.batch * args.concurrency}): batches "
            "will hold several transactions of one sender, which Hardhat's automine may refuse[/yellow]"
        )


def main(args: argparse.Namespace) -> int:
    console = _console(stderr=args.json)
    _check_lanes(console, args)
    try:
        modes = parse_targets(args.targets)
        workloads = [w.strip() for w in args.workload.split(",") if w.strip()]
        for w in workloads:
            if w not in loadgen.WORKLOADS:
                raise ValueError(f"unknown workload {w!r} (choose from {', '.join(loadgen.WORKLOADS)})")
        versions = tool_versions(modes, args.anvil_bin, args.hardhat_dir)
    except (ValueError, FileNotFoundError) as e:
        console.print(f"[red]{e}[/red]")
        return 2
    opts = _options(args)
    plans: dict[str, loadgen.Plan] = {}
    t0 = time.perf_counter()
    with console.status(f"signing {args.txs:,} transactions for each of {', '.join(workloads)}"):
        for w in workloads:
            plans[w] = loadgen.make_plan(w, args.txs, n_accounts=args.accounts, seed=args.seed)
    console.print(f"signed {args.txs * len(workloads):,} timed transactions in {time.perf_counter() - t0:.1f} s")
    log_dir = (args.out / "logs") if args.out else Path(tempfile.mkdtemp(prefix="pysei-bench-e2e-"))
    profile_dir = (log_dir.parent / "profiles") if args.profile else None
    runs: list[dict[str, Any]] = []
    started = time.time()
    total = args.rounds * len(workloads) * len(modes)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        overall = progress.add_task("runs", total=total)
        current = progress.add_task("", total=args.txs)
        for rnd in range(args.rounds):
            k = rnd % len(modes)
            order = modes[k:] + modes[:k]  # alternate targets, rotating who goes first
            for w in workloads:
                for mode in order:
                    desc = f"round {rnd + 1}/{args.rounds} · {w} · {mode.label}"
                    progress.reset(current, total=args.txs, description=f"{desc}: starting")
                    if args.wait_idle > 0:
                        progress.update(current, description=f"{desc}: waiting for the machine to be idle")
                        wait_idle(args.wait_idle)

                    def on_progress(sent: int, answered: int, receipts: int, _d: str = desc) -> None:
                        progress.update(current, completed=receipts, description=f"{_d}: sent {sent:,}, receipts")

                    def on_status(msg: str, _d: str = desc) -> None:
                        progress.update(current, description=f"{_d}: {msg}")

                    rec = run_one(
                        mode,
                        plans[w],
                        opts,
                        log_dir=log_dir,
                        round_no=rnd + 1,
                        max_rss=int(args.max_rss_mb * 2**20),
                        logs=args.node_logs,
                        anvil_bin=args.anvil_bin,
                        hh_dir=args.hardhat_dir,
                        pysei_args=tuple(args.pysei_arg),
                        progress=on_progress,
                        status=on_status,
                        profile_dir=profile_dir,
                    )
                    runs.append(rec)
                    if rec.get("background_cores", 0) > 0.25:
                        progress.console.print(
                            f"[yellow]{desc}: other processes used {rec['background_cores']:.2f} cores meanwhile: "
                            "the figures are skewed[/yellow]"
                        )
                    if not rec["ok"]:
                        progress.console.print(f"[red]{desc}: {rec['error']}[/red]")
                    elif rec["result"]["stalled"]:
                        progress.console.print(f"[yellow]{desc}: {rec['result']['stall_reason']}[/yellow]")
                    else:
                        r = rec["result"]
                        progress.console.print(
                            f"{desc}: {r['finalised_tps']:,.0f} tx/s finalised, {r['accepted_tps']:,.0f} accepted, "
                            f"p50 {r['latency_ms'].get('p50', 0):,.0f} ms, peak RSS {rec.get('peak_rss_mb', 0):,.0f} MB"
                        )
                    progress.advance(overall)
    rows = summarise(runs, modes, workloads)
    title = (
        f"pysei bench e2e — {args.txs:,} txs, {args.accounts} senders, batch {args.batch}, "
        f"{args.concurrency} connections, {'median of ' + str(args.rounds) if args.rounds > 1 else '1 round'}"
    )
    console.print(table(rows, title))
    ref = MODES[REFERENCE].label
    console.print(f"× pysei: finalised tx/s ÷ {ref}'s (or the first pysei mode run)")
    limits = {w: _recovery_limit(p) for w, p in plans.items()}
    for row in rows:
        if row["family"] == "pysei" and "finalised_tps" in row:
            row["x_recovery_limit"] = row["finalised_tps"]["median"] / limits[row["workload"]]
    for w, limit in limits.items():
        shares = [
            f"{r['label']} {r['x_recovery_limit']:.2f}×" for r in rows if r["workload"] == w and "x_recovery_limit" in r
        ]
        console.print(
            f"{w}: sender recovery alone on {os.cpu_count()} cores (the ceiling) {limit:,.0f} tx/s; finalised "
            f"÷ ceiling: {', '.join(shares) or '-'}"
        )
    for rec in runs:
        if "profile" in rec:
            console.print(profile_table(rec))
    results = {
        "command": "pysei bench e2e",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": round(time.time() - started, 1),
        "config": {
            "targets": [m.key for m in modes],
            "workloads": workloads,
            "txs": args.txs,
            "rounds": args.rounds,
            "accounts": args.accounts,
            "batch": args.batch,
            "concurrency": args.concurrency,
            "stall_s": args.stall,
            "receipts": args.receipts,
            "seed": args.seed,
            "node_logs": args.node_logs,
            "pysei_args": args.pysei_arg,
        },
        "plans": {w: p.describe() for w, p in plans.items()},
        "versions": versions,
        "environment": environment(),
        "summary": rows,
        "recovery_limit_tx_per_s": limits,
        "runs": runs,
    }
    if args.out:
        from pysei.bench.report import write_outputs

        files = write_outputs(args.out, results)
        console.print("wrote " + ", ".join(str(f) for f in files))
    if args.json:
        print(json.dumps(results, default=str))
    return 0 if all(r["ok"] for r in runs) else 1


def load_main(args: argparse.Namespace) -> int:
    console = _console()
    _check_lanes(console, args)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    try:
        from pysei.bench.nodes import rpc_call

        chain_id = int(rpc_call(args.url, "eth_chainId"), 16)
    except (OSError, RuntimeError, ValueError) as e:
        console.print(f"[red]no node at {args.url}: {e}[/red]")
        return 2
    with console.status(f"signing {args.txs:,} {args.workload} transactions"):
        plan = loadgen.make_plan(args.workload, args.txs, n_accounts=args.accounts, chain_id=chain_id, seed=seed)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as prog:
        task = prog.add_task("set-up", total=args.txs)

        async def go() -> tuple[dict[str, float], loadgen.RunResult]:
            await loadgen.run_setup(
                args.url, plan, funder=loadgen.dev_signer(args.funder), log=lambda m: prog.update(task, description=m)
            )
            prog.update(task, description="receipts")
            res = await loadgen.run_timed(
                args.url, plan, _options(args), progress=lambda s, a, r: prog.update(task, completed=r)
            )
            return {}, res

        try:
            _, res = asyncio.run(go())
        except loadgen.SetupError as e:
            console.print(f"[red]{e}[/red]")
            return 1
    t = Table(title=f"pysei bench load — {args.workload}, {args.txs:,} txs against {args.url}", title_justify="left")
    for col in ("metric", "value"):
        t.add_column(col)
    lat = res.latency_ms
    for name, value in (
        ("accepted tx/s", f"{res.accepted_tps:,.0f}"),
        ("finalised tx/s", f"{res.finalised_tps:,.0f}"),
        ("latency p50/p95/p99", f"{lat.get('p50', 0):,.0f} / {lat.get('p95', 0):,.0f} / {lat.get('p99', 0):,.0f} ms"),
        ("Mgas/s", f"{res.gas_per_s / 1e6:,.1f}"),
        ("successes / failures / lost", f"{res.successes:,} / {res.failures:,} / {res.lost:,}"),
        ("blocks (largest)", f"{res.blocks:,} ({res.max_block_txs:,} txs)"),
        ("stall", res.stall_reason or "no"),
    ):
        t.add_row(name, value)
    console.print(t)
    if args.json:
        import json

        args.json.write_text(json.dumps({"plan": plan.describe(), "result": res.to_json()}, indent=1))
    return 0 if not res.stalled and not res.lost and not res.failures else 1
