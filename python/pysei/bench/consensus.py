"""``pysei bench consensus``: load through every validator of a fresh loopback localnet.

Starts N validator processes (a generated genesis in a temporary directory), prepares the workload through
validator 0 (untimed: funding, deployment, token distribution), then sends the pre-signed transactions open-loop
at ``--rate`` tx/s for ``--duration`` s — each sender's transactions to one endpoint (sender k → validator
k mod N, as a wallet talks to one node), JSON-RPC batches every 20 ms — and follows the chain on validator 0.
Finality latency is send → the block holding the transaction is executed (a receipt exists; there are no
forks, so that is final). Reports committed tx/s, latency percentiles, fast-path share, view changes, the
longest gap between blocks and CPU per validator process; ``--kill-leader-at T`` kills (-9) the leader of the
slot open at T seconds and reports the longest commit gap after it while load is still offered (from the kill to
the last send: after that the chain goes idle, and the bench waits 3 s before resending, as a wallet would, what
the killed validator had accepted, so a gap there measures the bench, not consensus).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
from rich.console import Console
from rich.table import Table

from pysei.bench.nodes import free_port
from pysei.consensus.genesis import create_genesis
from pysei.consensus.launcher import ValidatorProcesses

TICK = 0.02
"""Seconds between send batches of the open-loop sender."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("consensus", help="Autobahn: load through every validator of a loopback localnet")
    p.add_argument("--validators", type=int, default=4)
    p.add_argument("--workload", default="erc20", help="a `pysei bench e2e` workload: transfer, erc20, erc20-zipf, …")
    p.add_argument("--rate", type=float, default=1000.0, help="offered load, transactions per second")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of sending")
    p.add_argument("--accounts", type=int, default=400, help="sending accounts")
    p.add_argument("--kill-leader-at", type=float, default=None, help="kill -9 the leader after T seconds")
    p.add_argument("--fsync", action="store_true", help="fsync every block (off by default: 4 nodes, one disk)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", type=Path, default=None, help="directory for results.json and plot.png")
    p.add_argument("--keep", action="store_true", help="keep the localnet's data directory")
    p.set_defaults(func=main)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def _run(args: argparse.Namespace, net: ValidatorProcesses, say: Any) -> dict[str, Any]:
    from pysei.bench.loadgen import Rpc, hx, make_plan, run_setup  # heavy; only when a run starts

    n = net.genesis.committee.n
    urls = [net.url(i) for i in range(n)]
    n_txs = int(args.rate * args.duration)
    say(f"signing {n_txs:,} {args.workload} transactions from {args.accounts} accounts")
    plan = make_plan(args.workload, n_txs, n_accounts=args.accounts, chain_id=net.genesis.chain_id)
    say("set-up (untimed) through validator 0")
    await run_setup(urls[0], plan, timeout=300)
    index = {h: i for i, h in enumerate(plan.hashes)}
    sent_at = [0.0] * n_txs
    final_at = [0.0] * n_txs
    block_times: list[tuple[float, int, int]] = []  # (time seen, number, txs)
    rpcs = [Rpc(u, connections=2, timeout=120) for u in urls]
    follow = Rpc(urls[0], connections=1, timeout=60)
    procs = {i: psutil.Process(p.pid) for i, p in net.procs.items()}
    cpu0 = {i: p.cpu_times() for i, p in procs.items()}
    status0 = [await r.call("sei_consensusStatus") for r in rpcs]
    errors: dict[str, int] = {}
    killed: dict[str, Any] = {}
    t_start = time.perf_counter()
    sending_done = asyncio.Event()

    async def send() -> None:
        pending: list[asyncio.Task[None]] = []
        nxt = 0
        while nxt < n_txs:
            due = min(n_txs, int((time.perf_counter() - t_start) * args.rate) + 1)
            per_node: dict[int, list[int]] = {}
            for i in range(nxt, due):
                per_node.setdefault((i % plan.n_accounts) % n, []).append(i)
            nxt = due
            now = time.perf_counter()
            for node, idxs in per_node.items():
                for i in idxs:
                    sent_at[i] = now
                pending.append(asyncio.create_task(post(node, idxs)))
            await asyncio.sleep(TICK)
        await asyncio.gather(*pending)
        killed["sent_until"] = time.perf_counter()
        sending_done.set()

    via = [-1] * n_txs
    """The endpoint each transaction was last sent to."""

    async def post(node: int, idxs: list[int]) -> None:
        # A wallet fails over: an endpoint that is down (killed) gets no more requests, a refused request goes to
        # the next endpoint.
        for attempt in range(n):
            target = (node + attempt) % n
            if target in killed.get("nodes", ()):
                continue
            for i in idxs:
                via[i] = target
            try:
                answers = await rpcs[target].batch([("eth_sendRawTransaction", [hx(plan.raws[i])]) for i in idxs])
            except Exception as exc:  # noqa: BLE001 - a dead endpoint, whatever aiohttp calls it
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + len(idxs)
                continue
            for _, err in answers:
                if err is not None:
                    msg = str(err.get("message", err) if isinstance(err, dict) else err)[:80]
                    errors[msg] = errors.get(msg, 0) + 1
            return

    async def rebroadcast_lost() -> None:
        """What the killed validator had accepted but not ordered died with it: send it again (wallets do)."""
        await sending_done.wait()
        await asyncio.sleep(3)
        dead = killed.get("nodes", set())
        lost = [i for i in range(n_txs) if final_at[i] == 0.0 and via[i] in dead]
        if lost:
            say(f"rebroadcasting {len(lost)} transactions the killed validator had accepted")
            killed["rebroadcast"] = len(lost)
            for k in range(0, len(lost), 200):
                await post((via[lost[k]] + 1) % n, lost[k : k + 200])

    async def track() -> None:
        number = int(await follow.call("eth_blockNumber"), 16)
        seen = 0
        deadline_after_send = 30.0
        while True:
            head = int(await follow.call("eth_blockNumber"), 16)
            while number < head:
                number += 1
                block = await follow.call("eth_getBlockByNumber", hex(number), False)
                now = time.perf_counter()
                txs = block["transactions"]
                block_times.append((now, number, len(txs)))
                for h in txs:
                    i = index.get(bytes.fromhex(h[2:]))
                    if i is not None and final_at[i] == 0.0:
                        final_at[i] = now
                        seen += 1
            if seen >= n_txs:
                return
            if sending_done.is_set() and time.perf_counter() - t_start > args.duration + deadline_after_send:
                return
            await asyncio.sleep(0.01)

    async def kill_leader() -> None:
        if args.kill_leader_at is None:
            return
        await asyncio.sleep(args.kill_leader_at)
        leader = (await rpcs[0].call("sei_consensusStatus"))["leader"]
        if leader == 0:  # validator 0 is the observer; kill the next slot's candidate instead
            leader = 1
        killed.update(nodes={leader}, at=time.perf_counter(), validator=leader)
        await asyncio.to_thread(net.kill, leader)
        say(f"killed validator {leader} (leader) at {args.kill_leader_at:.1f} s")

    await asyncio.gather(send(), track(), kill_leader(), rebroadcast_lost())
    t_end = time.perf_counter()
    cpu = {
        i: (sum(p.cpu_times()[:2]) - sum(cpu0[i][:2])) / (t_end - t_start)
        for i, p in procs.items()
        if i not in killed.get("nodes", ())
    }
    live = [i for i in range(n) if i not in killed.get("nodes", ())]
    status1 = {i: await rpcs[i].call("sei_consensusStatus") for i in live}
    for r in (*rpcs, follow):
        await r.close()
    fast = sum(status1[i]["fastCommits"] - status0[i]["fastCommits"] for i in live)
    slow = sum(status1[i]["slowCommits"] - status0[i]["slowCommits"] for i in live)
    view_changes = max(status1[i]["viewChanges"] - status0[i]["viewChanges"] for i in live)
    lat = [(f - s) * 1000 for s, f in zip(sent_at, final_at, strict=True) if f > 0]
    finalised = len(lat)
    last_final = max((f for f in final_at if f > 0), default=t_end)
    gaps = [(b[0] - a[0]) * 1000 for a, b in zip(block_times, block_times[1:], strict=False)]
    out: dict[str, Any] = {
        "validators": n,
        "workload": args.workload,
        "offered_tps": args.rate,
        "duration_s": args.duration,
        "sent": n_txs,
        "finalised": finalised,
        "committed_tps": finalised / max(last_final - t_start, 1e-9),
        "finality_ms": {"p50": _pct(lat, 0.5), "p95": _pct(lat, 0.95), "p99": _pct(lat, 0.99), "max": max(lat or [0])},
        "blocks": len(block_times),
        "fast_path_share": fast / (fast + slow) if fast + slow else 0.0,
        "view_changes": view_changes,
        "max_block_gap_ms": max(gaps or [0.0]),
        "cpu_per_validator": {str(i): round(c, 3) for i, c in cpu.items()},
        "errors": errors,
    }
    if "validator" in killed:
        until = killed["sent_until"]
        times = [t for t, _, _ in block_times]
        after = [(b - a) * 1000 for a, b in zip(times, times[1:], strict=False) if killed["at"] < b <= until]
        before_end = [t for t in times if t <= until]
        if before_end:  # a stall still open when sending ended counts up to then
            after.append((until - max(before_end[-1], killed["at"])) * 1000)
        out["killed_validator"] = killed["validator"]
        out["max_gap_after_kill_ms"] = max(after or [0.0])
        out["rebroadcast"] = killed.get("rebroadcast", 0)
    out["_series"] = {"blocks": [(t - t_start, num, k) for t, num, k in block_times], "latency_ms": lat}
    return out


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = result["_series"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    buckets: dict[int, int] = {}
    for t, _, k in series["blocks"]:
        buckets[int(t * 2)] = buckets.get(int(t * 2), 0) + k
    xs = sorted(buckets)
    a.plot([x / 2 for x in xs], [buckets[x] * 2 for x in xs])
    a.set(xlabel="s", ylabel="committed tx/s (0.5 s buckets)", title="throughput")
    b.hist(series["latency_ms"], bins=60)
    b.set(xlabel="send → final (ms)", ylabel="transactions", title="finality latency")
    fig.tight_layout()
    fig.savefig(path)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    tmp = Path(tempfile.mkdtemp(prefix="pysei-localnet-"))
    n = args.validators
    ports = [(free_port(), free_port()) for _ in range(n)]
    create_genesis(tmp, n, ports=ports, dev_accounts=1)
    net = ValidatorProcesses(tmp, fsync=args.fsync)
    # A SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the validators are stopped, not orphaned.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        net.start_all()
        for i in range(n):
            net.wait_ready(i)
        result = asyncio.run(_run(args, net, lambda m: console.print(f"[dim]{m}[/dim]")))
    finally:
        net.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            console.print(f"localnet kept in {tmp}")
    series = result.pop("_series")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(result, indent=2))
        _plot({**result, "_series": series}, args.out / "plot.png")
    if args.json:
        print(orjson.dumps(result).decode())
        return 0
    t = Table(title=f"pysei bench consensus: {n} validators, {args.workload}, {args.rate:,.0f} tx/s offered")
    t.add_column("metric")
    t.add_column("value", justify="right")
    lat = result["finality_ms"]
    rows = [
        ("finalised / sent", f"{result['finalised']:,} / {result['sent']:,}"),
        ("committed tx/s", f"{result['committed_tps']:,.0f}"),
        ("finality p50 / p95 / p99 (ms)", f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f}"),
        ("blocks", str(result["blocks"])),
        ("fast-path share", f"{result['fast_path_share']:.0%}"),
        ("view changes", str(result["view_changes"])),
        ("longest gap between blocks (ms)", f"{result['max_block_gap_ms']:.0f}"),
        ("CPU per validator (cores)", ", ".join(f"{v:.2f}" for v in result["cpu_per_validator"].values())),
    ]
    if "killed_validator" in result:
        rows.append(
            (f"longest gap after killing {result['killed_validator']} (ms)", f"{result['max_gap_after_kill_ms']:.0f}")
        )
    if result["errors"]:
        rows.append(("send errors", json.dumps(result["errors"])[:200]))
    for r in rows:
        t.add_row(*r)
    console.print(t)
    return 0
