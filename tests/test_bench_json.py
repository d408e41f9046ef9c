"""``pysei bench exec --json`` and ``pysei bench ingest --json``: a script reading stdout gets one JSON object with
every figure the table shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_bench_exec_json() -> None:
    args = [sys.executable, "-m", "pysei.cli", "bench", "exec", "--workload", "erc20", "--txs", "300"]
    out = subprocess.run(
        [*args, "--rounds", "1", "--threads", "1,2", "--json"], cwd=ROOT, capture_output=True, timeout=300, check=True
    )
    figures = orjson.loads(out.stdout)
    assert (figures["bench"], figures["txs"], figures["rounds"]) == ("exec", 300, 1)
    erc20 = figures["workloads"]["erc20"]
    # 1 thread, then 2 threads with and without prediction: the table's rows.
    assert [e["threads"] for e in erc20["engines"]] == [1, 2, 2]
    for engine in erc20["engines"]:
        assert engine["tx_per_s"] > 0 and engine["ms"] > 0
        assert abs(engine["tx_per_s"] * engine["ms"] / 1e3 - 300) < 1e-6 * 300
        assert engine["cores"] > 0  # CPU time of the process over the run's wall time
    assert erc20["engines"][0]["x_sequential"] == 1.0
    assert erc20["ceiling"]["tx_per_s"] > 0 and erc20["commit_ms"] > 0 and erc20["history_index_ms"] > 0
    # The 2-thread ceiling: plain revm on two shards split by sender. A shard misses the other's earlier writes,
    # so a recipient credited in both pays for a fresh balance slot twice: never less gas than the block.
    (sharded,) = erc20["ceiling_sharded"]
    assert sharded["threads"] == 2 and sharded["gas_used"] >= erc20["gas_used"]
    assert sharded["x_one_thread"] == pytest.approx(erc20["ceiling"]["ms"] / sharded["ms"])
    # Only the timed block counts: 300 ERC-20 transfers, each above a plain transfer's 21,000 gas.
    assert erc20["gas_used"] > 300 * 21_000
    # The inspector check replayed the same block (the same gas, else the bench exits 1) both ways.
    check = erc20["inspector_check"]
    for path in ("plain", "noop_inspector"):
        assert abs(check[path]["tx_per_s"] * check[path]["ms"] / 1e3 - 300) < 1e-6 * 300
    # The ratio is the inspector path's throughput over the plain path's.
    assert check["ratio"] == pytest.approx(check["noop_inspector"]["tx_per_s"] / check["plain"]["tx_per_s"])
    # The tables went to stderr, not into the JSON.
    assert b"pysei bench exec" in out.stderr and b"inspector plumbing" in out.stderr


def test_bench_ingest_json() -> None:
    args = [sys.executable, "-m", "pysei.cli", "bench", "ingest", "--txs", "300", "--batch", "50", "--accounts", "20"]
    out = subprocess.run([*args, "--rounds", "2", "--json"], cwd=ROOT, capture_output=True, timeout=300, check=True)
    figures = orjson.loads(out.stdout)
    assert (figures["bench"], figures["txs"], figures["batch"]) == ("ingest", 300, 50)
    # The bench exits 1 unless every transfer was admitted as pending; each round's figures are in the JSON.
    assert len(figures["rounds"]) == 2 and figures["best"] in figures["rounds"]
    for r in figures["rounds"]:
        assert r["tx_per_s"] > 0 and r["loop_us_per_tx"] > 0 and r["cpu_us_per_tx"] > 0
    assert figures["best"]["tx_per_s"] == max(r["tx_per_s"] for r in figures["rounds"])
    # The ceiling, recovery alone, on one thread and on every core.
    limits = figures["recovery_limit_tx_per_s"]
    assert set(limits) == {"1", str(os.cpu_count())} and all(rate > 0 for rate in limits.values())
    assert b"pysei bench ingest" in out.stderr
