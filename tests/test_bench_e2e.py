"""``pysei bench e2e`` end to end, small: pysei (both modes) and anvil (both modes) on the same pre-signed load.

Checks the files ``--out`` writes: results.json (every target present, every run complete, positive figures),
report.md (a table row per target) and the PNG plots (they decode). anvil comes from tests/clients/install.sh,
which the test runs as the client tests do (a no-op when up to date).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pysei.bench.e2e import summarise
from pysei.bench.nodes import MODES, parse_targets
from pysei.cli import main

try:
    from tests.clients.tooling import ensure_installed
except ImportError:  # tests/ itself is the import root
    from clients.tooling import ensure_installed  # type: ignore[no-redef]

TARGETS = ["pysei-400ms", "pysei-automine", "anvil-automine", "anvil-bt1"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ensure_installed()
    out = tmp_path_factory.mktemp("bench-e2e")
    args = ["bench", "e2e", "--targets", "pysei,anvil", "--workload", "erc20", "--txs", "200", "--accounts", "40"]
    args += ["--batch", "20", "--concurrency", "2", "--stall", "20", "--time-limit", "120", "--out", str(out)]
    assert main(args) == 0
    return out


def test_results_json(report: Path) -> None:
    results = json.loads((report / "results.json").read_text())
    assert results["config"]["targets"] == TARGETS
    assert {r["target"] for r in results["runs"]} == set(TARGETS)
    assert results["versions"]["anvil"] and results["versions"]["pysei"]
    for run in results["runs"]:
        assert run["ok"], run.get("error")
        r = run["result"]
        assert not r["stalled"], r["stall_reason"]
        assert (r["successes"], r["failures"], r["lost"], r["duplicates"]) == (200, 0, 0, 0), run["target"]
        for key in ("accepted_tps", "finalised_tps", "gas_per_s", "total_seconds"):
            assert r[key] > 0, (run["target"], key)
        assert 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p95"] <= r["latency_ms"]["p99"]
        assert run["peak_rss_mb"] > 10 and run["node_cpu_s"] >= 0 and run["startup_s"] > 0
    summary = {s["target"]: s for s in results["summary"]}
    assert set(summary) == set(TARGETS)
    assert summary["pysei-400ms"]["vs_pysei"] == pytest.approx(1.0)
    for s in summary.values():
        assert s["finalised_tps"]["median"] > 0 and s["peak_rss_mb"]["median"] > 0 and s["vs_pysei"] > 0
    # The ceiling measured in the same run, and pysei's finalised rate as a share of it (anvil recovers its own).
    limit = results["recovery_limit_tx_per_s"]["erc20"]
    assert limit > 0
    for key in ("pysei-400ms", "pysei-automine"):
        assert summary[key]["x_recovery_limit"] == pytest.approx(summary[key]["finalised_tps"]["median"] / limit)
    assert "x_recovery_limit" not in summary["anvil-automine"]


def test_report_markdown(report: Path) -> None:
    md = (report / "report.md").read_text()
    assert "## Workload `erc20`" in md
    for key in TARGETS:
        row = next(line for line in md.splitlines() if line.startswith(f"| {MODES[key].label} |"))
        assert row.count("|") == 10 and "200/200" in row
    assert "![throughput](throughput.png)" in md and "![latency](latency.png)" in md


@pytest.mark.parametrize("name", ["throughput.png", "latency.png"])
def test_plots_decode(report: Path, name: str) -> None:
    from PIL import Image

    with Image.open(report / name) as img:
        img.verify()
    with Image.open(report / name) as img:
        assert img.format == "PNG" and img.size[0] > 400 and img.size[1] > 200
        assert len(img.convert("L").getcolors(maxcolors=1 << 16) or []) > 10  # not a blank canvas


def test_summary_medians_and_ranges() -> None:
    def run(target: str, rnd: int, tps: float, ok: bool = True) -> dict:
        res = {"accepted_tps": tps * 2, "finalised_tps": tps, "gas_per_s": tps * 5e4, "latency_ms": {"p50": 1.0}}
        res |= {"stalled": False, "stall_reason": None, "txs": 10, "successes": 10, "failures": 0, "lost": 0}
        res |= {"blocks": 1}
        return {"target": target, "workload": "w", "round": rnd, "ok": ok, "result": res, "peak_rss_mb": 100.0}

    modes = parse_targets("pysei-400ms,anvil-automine")
    runs = [run("pysei-400ms", i, v) for i, v in enumerate([10.0, 30.0, 20.0])]
    runs += [run("anvil-automine", i, v) for i, v in enumerate([5.0, 1.0, 3.0])]
    rows = {r["target"]: r for r in summarise(runs, modes, ["w"])}
    p = rows["pysei-400ms"]["finalised_tps"]
    assert (p["median"], p["min"], p["max"]) == (20.0, 10.0, 30.0)
    assert rows["anvil-automine"]["vs_pysei"] == pytest.approx(3.0 / 20.0)
    with pytest.raises(ValueError):
        parse_targets("geth")
    assert [m.key for m in parse_targets("anvil,pysei-automine")] == ["anvil-automine", "anvil-bt1", "pysei-automine"]
