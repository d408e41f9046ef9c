"""``pysei bench trace``: one block of ERC-20 transfers on pysei and on anvil, traced by both, figures as JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def test_bench_trace_json() -> None:
    args = [sys.executable, "-m", "pysei.cli", "bench", "trace", "--txs", "50", "--accounts", "10", "--rounds", "1"]
    out = subprocess.run(
        [*args, "--tracer", "callTracer,prestateTracer", "--json"], cwd=ROOT, capture_output=True, timeout=300
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    figures = orjson.loads(out.stdout)
    assert (figures["bench"], figures["txs"], figures["rounds"]) == ("trace", 50, 1)
    blocks = figures["blocks"]
    # All 50 transfers went into one block on each node, and the same EVM charged the same gas for them.
    assert blocks["pysei"]["transactions"] == blocks["anvil"]["transactions"] == 50
    assert blocks["pysei"]["gas_used"] == blocks["anvil"]["gas_used"] > 50 * 21_000
    assert list(figures["tracers"]) == ["callTracer", "prestateTracer"]
    for tracer in figures["tracers"].values():
        # Both traced blocks hold one result per transaction and no failed entry.
        assert tracer["pysei"]["results"] == tracer["anvil"]["results"] == 50
        assert tracer["pysei"]["errors"] == tracer["anvil"]["errors"] == 0
        for node in ("pysei", "anvil"):
            assert len(tracer[node]["times_ms"]) == 1 and tracer[node]["ms"] > 0 and tracer[node]["bytes"] > 0
        assert tracer["x_anvil"] == tracer["anvil"]["ms"] / tracer["pysei"]["ms"]
    # The table went to stderr, not into the JSON.
    assert b"pysei bench trace" in out.stderr


def test_bench_trace_refuses_an_unknown_tracer() -> None:
    args = [sys.executable, "-m", "pysei.cli", "bench", "trace", "--tracer", "jsTracer"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, timeout=60)
    assert out.returncode == 2
    assert b"unknown tracer(s) jsTracer" in out.stderr + out.stdout
