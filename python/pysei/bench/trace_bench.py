"""``pysei bench trace``: ``debug_traceBlockByNumber`` on one block of N ERC-20 transfers, pysei against anvil.

A fresh pysei devnet and a fresh anvil (``@foundry-rs/anvil``) are started on free loopback ports and prepared
alike by :mod:`pysei.bench.loadgen`'s set-up (accounts funded, BenchToken deployed and distributed). Then, on
each, automine is turned off and the block gas limit raised, the N pre-signed transfers are sent and one
``evm_mine`` puts them all into one block; the bench stops unless both blocks hold exactly N transactions. The
block is then traced with each tracer asked for, ``--rounds`` times, the two nodes alternating, and the median
wall time of the request (answer read in full, parsing excluded) is reported with the ratio. Both traces must
hold N results and no error entry.

anvil is started with ``--steps-tracing`` when the struct-log tracer (``default``) is asked for: without it its
struct logs are empty, which would make it look faster than it is.

anvil (1.7) traces a block by tracing each transaction on its own, replaying the block's earlier transactions
every time, so its time grows with the square of the block's size: a 5,000-transaction block takes it hours. A
request that passes ``--timeout`` is reported as such (and the ratio as a lower bound); the node that timed out is
restarted and its block rebuilt, because it goes on computing the abandoned answer, and it is not asked for that
tracer again.
"""

from __future__ import annotations

import argparse
import asyncio
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

from pysei.bench import loadgen
from pysei.bench.nodes import MODES, NodeProcess

TRACERS: dict[str, dict[str, Any]] = {
    "callTracer": {"tracer": "callTracer"},
    "prestateTracer": {"tracer": "prestateTracer"},
    "4byteTracer": {"tracer": "4byteTracer"},
    "default": {},
}
"""The tracers both nodes serve alike (anvil answers ``{}`` for flatCallTracer and muxTracer), with their options:
``default`` is geth's struct-log tracer with geth's defaults (stack and storage, no memory)."""

SEND_BATCH = 100
"""Transactions per eth_sendRawTransaction batch; with one sender per transaction of a batch (100 accounts), each
sender's nonces arrive in order."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace",
        help="debug_traceBlockByNumber on one block of N ERC-20 transfers, pysei vs anvil",
        description="Puts N pre-signed ERC-20 transfers into one block on a fresh pysei devnet and a fresh anvil, "
        "then times debug_traceBlockByNumber on it with each tracer. Example: pysei bench trace --txs 5000 "
        "--tracer callTracer,prestateTracer --rounds 3",
    )
    p.add_argument("--txs", type=int, default=5_000, help="transactions in the traced block")
    p.add_argument("--accounts", type=int, default=100, help="sender accounts (transaction i is sent by i %% K)")
    p.add_argument(
        "--tracer",
        default="callTracer",
        help="comma-separated, from: " + ", ".join(TRACERS) + " (default: geth's struct logs; large answers)",
    )
    p.add_argument("--rounds", type=int, default=3, help="timed traces per tracer and node; the median is reported")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object (tables go to stderr)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds one trace request may take")
    p.add_argument("--anvil-bin", help="anvil executable (default: tests/clients/js/node_modules, or ANVIL_BIN)")
    p.set_defaults(func=main)


@dataclass
class Target:
    """One node of the comparison, its block and its timings per tracer."""

    name: str
    node: NodeProcess
    url: str = ""
    block: dict[str, Any] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    timed_out: set[str] = field(default_factory=set)
    """Tracers whose request passed the timeout on this node."""
    answers: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per tracer: results, error entries and bytes of the last answer."""


class BenchError(RuntimeError):
    """The comparison cannot be made (a node refused the load, or the blocks differ)."""


def main(args: argparse.Namespace) -> int:
    console = Console(width=max(130, shutil.get_terminal_size().columns), stderr=args.json)
    tracers = [t.strip() for t in str(args.tracer).split(",") if t.strip()]
    unknown = [t for t in tracers if t not in TRACERS]
    if unknown or not tracers:
        console.print(f"[red]unknown tracer(s) {', '.join(unknown)} (choose from {', '.join(TRACERS)})[/red]")
        return 2
    if args.txs < 1 or args.rounds < 1 or args.accounts < 2:
        console.print("[red]--txs and --rounds must be at least 1, --accounts at least 2[/red]")
        return 2
    with console.status(f"signing {args.txs:,} ERC-20 transfers"):
        plan = loadgen.make_plan("erc20", args.txs, n_accounts=args.accounts)
    anvil_args = ("--steps-tracing",) if "default" in tracers else ()
    with tempfile.TemporaryDirectory(prefix="pysei-bench-trace-") as tmp:
        targets = [
            Target("pysei", NodeProcess(MODES["pysei-automine"], Path(tmp))),
            Target(
                "anvil",
                NodeProcess(MODES["anvil-automine"], Path(tmp), anvil_bin=args.anvil_bin, anvil_args=anvil_args),
            ),
        ]
        try:
            for t in targets:
                with console.status(f"{t.name}: starting, set-up, {args.txs:,} transfers into one block"):
                    _prepare(t, plan)
            for r in range(args.rounds):
                for tracer in tracers:
                    # The nodes alternate, and which goes first swaps each round, so drift favours neither.
                    for t in targets if r % 2 == 0 else targets[::-1]:
                        if tracer in t.timed_out:
                            continue
                        with console.status(f"round {r + 1}/{args.rounds}: {t.name}, {tracer}"):
                            try:
                                asyncio.run(_trace(t, tracer, args.txs, args.timeout))
                            except TimeoutError:
                                t.timed_out.add(tracer)
                        if tracer in t.timed_out:
                            with console.status(f"{t.name} timed out on {tracer}: restarting it, rebuilding its block"):
                                t.node.stop()
                                _prepare(t, plan)
        except (BenchError, loadgen.SetupError, loadgen.RpcError, RuntimeError, OSError, TimeoutError) as e:
            console.print(f"[red]{type(e).__name__}: {e}[/red]")
            return 1
        finally:
            for t in targets:
                t.node.stop()
    figures = _report(console, targets, tracers, args)
    if args.json:
        print(orjson.dumps(figures).decode())
    return 0


def _prepare(t: Target, plan: loadgen.Plan) -> None:
    """Starts the node and builds its block; stops the bench unless the block holds every transaction."""
    t.url = t.node.start()
    asyncio.run(_one_block(t, plan))
    if t.block["transactions"] != plan.n_txs:
        raise BenchError(f"{t.name}'s block holds {t.block['transactions']} transactions, not {plan.n_txs}")


async def _one_block(t: Target, plan: loadgen.Plan) -> None:
    """Set-up, then every timed transaction of ``plan`` into one block mined on request; records that block."""
    await loadgen.run_setup(t.url, plan)
    async with loadgen.Rpc(t.url, timeout=600) as rpc:
        limit = max(30_000_000, 2 * plan.n_txs * plan.gas_limit)
        await rpc.call("evm_setBlockGasLimit", hex(limit))
        await rpc.call("evm_setAutomine", False)
        for start in range(0, plan.n_txs, SEND_BATCH):
            chunk = plan.raws[start : start + SEND_BATCH]
            answers = await rpc.batch([("eth_sendRawTransaction", [loadgen.hx(raw)]) for raw in chunk])
            refused = [err for _, err in answers if err is not None]
            if refused:
                raise BenchError(f"{t.name} refused {len(refused)} transfers, e.g. {refused[0]}")
        await rpc.call("evm_mine")
        block = await rpc.call("eth_getBlockByNumber", "latest", False)
    t.block = {
        "number": int(block["number"], 16),
        "transactions": len(block["transactions"]),
        "gas_used": int(block["gasUsed"], 16),
    }


async def _trace(t: Target, tracer: str, n_txs: int, timeout: float) -> None:
    """One timed debug_traceBlockByNumber: the request until its answer is read in full; then the answer checked."""
    body = orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "debug_traceBlockByNumber",
            "params": [hex(t.block["number"]), TRACERS[tracer]],
        }
    )
    async with loadgen.Rpc(t.url, timeout=timeout) as rpc:
        await rpc.call("eth_blockNumber")  # the connection is open before the clock starts
        t0 = time.perf_counter()
        async with rpc.session.post(rpc.url, data=body, headers=loadgen.JSON_HEADERS) as resp:
            data = await resp.read()
        seconds = time.perf_counter() - t0
    answer = orjson.loads(data)
    if "error" in answer:
        raise BenchError(f"{t.name} {tracer}: {answer['error']}")
    results = answer["result"]
    errors = sum(1 for r in results if "error" in r)
    if len(results) != n_txs or errors:
        raise BenchError(f"{t.name} {tracer}: {len(results)} traces ({errors} failed) for {n_txs} transactions")
    t.times.setdefault(tracer, []).append(seconds)
    t.answers[tracer] = {"results": len(results), "errors": errors, "bytes": len(data)}


def _median(t: Target, tracer: str) -> float | None:
    """Median seconds of the tracer's rounds on ``t``; None when it timed out."""
    return None if tracer in t.timed_out else statistics.median(t.times[tracer])


def _ratio(p: float | None, a: float | None, timeout: float) -> tuple[float | None, str | None]:
    """anvil's time over pysei's, and whether it is exact or a bound (a timed-out side took at least ``timeout``)."""
    if p is not None and a is not None:
        return a / p, "exact"
    if p is not None:
        return timeout / p, "at least"
    if a is not None:
        return a / timeout, "at most"
    return None, None


def _report(console: Console, targets: list[Target], tracers: list[str], args: argparse.Namespace) -> dict[str, Any]:
    pysei, anvil = targets
    table = Table(
        title=f"pysei bench trace — debug_traceBlockByNumber, one block of {args.txs:,} ERC-20 transfers, "
        f"median of {args.rounds}"
    )
    for col in ("tracer", "pysei ms", "anvil ms", "× anvil", "pysei tx/s", "anvil tx/s", "pysei MB", "anvil MB"):
        table.add_column(col, justify="left" if col == "tracer" else "right")
    out: dict[str, Any] = {}
    for tracer in tracers:
        medians = {t.name: _median(t, tracer) for t in targets}
        ratio, kind = _ratio(medians["pysei"], medians["anvil"], args.timeout)
        shown = {None: "-", "exact": "{:.2f}", "at least": "> {:.0f}", "at most": "< {:.2f}"}[kind]
        ms = {name: None if m is None else m * 1e3 for name, m in medians.items()}
        table.add_row(
            tracer,
            *(
                f"> {args.timeout * 1e3:,.0f} (timed out)" if ms[t.name] is None else f"{ms[t.name]:,.0f}"
                for t in targets
            ),
            shown.format(ratio),
            *("-" if m is None else f"{args.txs / m:,.0f}" for m in medians.values()),
            *("-" if tracer in t.timed_out else f"{t.answers[tracer]['bytes'] / 1e6:,.2f}" for t in targets),
        )
        out[tracer] = {
            t.name: {"ms": ms[t.name], "times_ms": [s * 1e3 for s in t.times.get(tracer, [])]}
            | {"timed_out": tracer in t.timed_out}
            | t.answers.get(tracer, {})
            for t in targets
        }
        out[tracer] |= {"x_anvil": ratio, "x_anvil_is": kind}
    console.print(table)
    console.print(
        f"× anvil: anvil's time over pysei's (above 1: pysei is faster; a timed-out request took more than "
        f"--timeout {args.timeout:g} s, so the ratio is a bound). Blocks: "
        + ", ".join(
            f"{t.name} #{t.block['number']} ({t.block['transactions']:,} txs, {t.block['gas_used']:,} gas)"
            for t in targets
        )
    )
    return {
        "bench": "trace",
        "txs": args.txs,
        "rounds": args.rounds,
        "timeout_s": args.timeout,
        "blocks": {t.name: t.block for t in targets},
        "tracers": out,
    }
