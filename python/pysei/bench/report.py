"""Files of ``pysei bench e2e --out DIR``: results.json, report.md, throughput.png and latency.png."""

from __future__ import annotations

import json
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

COLORS = {
    "pysei-400ms": "#1f77b4",
    "pysei-automine": "#6baed6",
    "anvil-automine": "#d62728",
    "anvil-bt1": "#ff9896",
    "hardhat-automine": "#ff7f0e",
}


def fmt_range(stat: dict[str, Any] | None, fmt: str = "{:,.0f}", scale: float = 1.0) -> str:
    """A statistic as "median (min–max)" (just the median for a single run; "—" when absent)."""
    if not stat:
        return "—"
    med = fmt.format(stat["median"] * scale)
    if len(stat.get("values", [])) > 1:
        return f"{med} ({fmt.format(stat['min'] * scale)}–{fmt.format(stat['max'] * scale)})"
    return med


def done_text(row: dict[str, Any], *, markdown: bool = False) -> str:
    """How many transactions completed, and what went wrong, for a table cell (terminal or Markdown)."""
    if not row["ok_runs"]:
        return "failed: " + "; ".join(row["errors"])[:200] if markdown else "failed"
    succ = statistics.median(row["successes"])
    text = f"{succ:,.0f}/{row['txs']:,}"
    if row["stalled"]:
        stalled = f"in {row['stalled']} of {row['ok_runs']} runs"
        text += f" **stalled** {stalled}" if markdown else f" STALLED {row['stalled']}/{row['ok_runs']}"
    if row["lost"]:
        text += f", {row['lost']:,} lost"
    if row["failures"]:
        text += f", {row['failures']:,} failed"
    return text


def markdown(results: dict[str, Any], plots: list[str]) -> str:
    cfg, env, ver = results["config"], results["environment"], results["versions"]
    rounds = cfg["rounds"]
    lines = [
        "# pysei vs anvil and Hardhat — end-to-end JSON-RPC benchmark",
        "",
        f"Run {results['started']} ({results['duration_s']:,.0f} s) on {env['cpu']}, {env['cores']} cores, "
        f"{env['memory_gb']} GB; {env['platform']}, Python {env['python']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in ver.items()) + ".",
        "",
        f"Load: {cfg['txs']:,} pre-signed EIP-1559 transactions per run from {cfg['accounts']} senders, sent with "
        f"`eth_sendRawTransaction` in JSON-RPC batches of {cfg['batch']} over {cfg['concurrency']} keep-alive HTTP "
        f"connections; receipts found with batched `eth_getTransactionReceipt` ({cfg['receipts']} mode). "
        f"A fresh node per run; {rounds} round{'s' if rounds != 1 else ''}, targets alternating"
        + (", medians with min–max." if rounds > 1 else "."),
        "",
    ]
    for w in cfg["workloads"]:
        plan = results["plans"].get(w, {})
        lines += [
            f"## Workload `{w}`",
            "",
            f"Gas limit per transaction {plan.get('gas_limit_per_tx', 0):,}; {plan.get('setup_txs', 0):,} untimed "
            "set-up transactions per node.",
            "",
            "| target | finalised tx/s | accepted tx/s | latency p50 / p95 / p99 (ms) | Mgas/s | peak RSS (MB) "
            "| node CPU (cores) | × pysei | receipts |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in (r for r in results["summary"] if r["workload"] == w):
            lat = " / ".join(fmt_range(r.get(k)).split(" ")[0] for k in ("p50_ms", "p95_ms", "p99_ms"))
            lines.append(
                f"| {r['label']} | {fmt_range(r.get('finalised_tps'))} | {fmt_range(r.get('accepted_tps'))} | "
                f"{lat if r.get('p50_ms') else '—'} | {fmt_range(r.get('gas_per_s'), '{:,.1f}', 1e-6)} | "
                f"{fmt_range(r.get('peak_rss_mb'))} | {fmt_range(r.get('node_cores'), '{:.2f}')} | "
                f"{(format(r['vs_pysei'], '.2f') + '×') if 'vs_pysei' in r else '—'} | {done_text(r, markdown=True)} |"
            )
        cpu = [
            f"{r['label']} {r['loadgen_cores']['median']:.2f} / {r['background_cores']['median']:.2f}"
            for r in results["summary"]
            if r["workload"] == w and "loadgen_cores" in r and "background_cores" in r
        ]
        if cpu:
            lines += ["", "CPU (cores) of the load generator / of every other process during the timed phase: "
                      + "; ".join(cpu) + "."]  # fmt: skip
        stalls = [(r["label"], s) for r in results["summary"] if r["workload"] == w for s in r["stall_reasons"]]
        if stalls:
            lines += ["", "Stalls:"] + [f"- {label}: {reason}" for label, reason in stalls]
        lines.append("")
    lines += [f"![{p.removesuffix('.png')}]({p})" for p in plots]
    for rec in (r for r in results["runs"] if "profile" in r):
        prof = rec["profile"]
        lines += [
            "",
            f"### Where pysei's time goes: {rec['label']}, `{rec['workload']}`, round {rec['round']}",
            "",
            f"py-spy, {prof['samples']:,} samples of the node during the timed phase (collapsed stacks: "
            f"`{Path(prof['path']).name}`).",
            "",
            "| self | function (top of stack) | inclusive | function (anywhere on the stack) |",
            "|---:|---|---:|---|",
        ]
        for a, b in zip(prof["self"], prof["inclusive"], strict=False):
            lines.append(f"| {a['share']:.1%} | `{a['function']}` | {b['share']:.1%} | `{b['function']}` |")
        lines += ["", "Threads: " + "; ".join(f"{t['function']} {t['share']:.0%}" for t in prof["threads"]) + "."]
    lines += [
        "",
        "## How to read it",
        "",
        "- **finalised tx/s**: successful transactions ÷ (first send → last receipt seen). For a run that stalled "
        "(no new receipt for the stall timeout) or hit its time limit, the denominator runs to the moment it was "
        "stopped, so the figure counts the wait.",
        "- **accepted tx/s**: transactions the node accepted ÷ (first send → last `eth_sendRawTransaction` answer). "
        "In automine modes pysei and Hardhat answer only after executing, so it is close to the finalised figure.",
        "- **latency**: per transaction, from the start of the batch request that carried it to the first time "
        "its receipt was seen.",
        "- **Mgas/s**: gas used by all receipts ÷ the finalised interval. Block-time nodes with a 30M gas limit "
        "(anvil, Hardhat) are bounded by block space (~30 Mgas/s at one block per second); pysei's 500M is not.",
        "- **peak RSS**: largest resident memory of the node's process tree, sampled every 100 ms from start to stop.",
        "- **node CPU**: CPU seconds of the node's process tree during the timed phase ÷ its wall time.",
        f"- **× pysei**: this target's median finalised tx/s ÷ that of pysei's default mode "
        f"({results['summary'][0].get('reference', 'pysei-400ms') if results['summary'] else 'pysei-400ms'}).",
        "",
        "## Reproduce",
        "",
        "```sh",
        "bash tests/clients/install.sh   # anvil and Hardhat 2 (npm)",
        "pip install -e '.[bench]'        # matplotlib, psutil",
        results.get("argv") or "pysei bench e2e",
        "```",
        "",
        "Every run's raw figures, errors and node log paths are in `results.json`.",
        "",
    ]
    return "\n".join(lines)


def _plot_throughput(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = results["config"]["workloads"]
    targets = results["config"]["targets"]
    summary = {(r["workload"], r["target"]): r for r in results["summary"]}
    labels = {r["target"]: r["label"] for r in results["summary"]}
    fig, axes = plt.subplots(1, 2, figsize=(max(9, 2.2 * len(workloads) * 2 + 4), 4.8), squeeze=False)
    width = 0.8 / max(1, len(targets))
    for ax, metric, title in (
        (axes[0][0], "finalised_tps", "finalised tx/s (first send → last receipt)"),
        (axes[0][1], "accepted_tps", "accepted tx/s (send phase)"),
    ):
        for j, t in enumerate(targets):
            xs, meds, lo, hi = [], [], [], []
            for i, w in enumerate(workloads):
                stat = summary.get((w, t), {}).get(metric)
                if not stat:
                    continue
                xs.append(i + (j - (len(targets) - 1) / 2) * width)
                meds.append(stat["median"])
                lo.append(stat["median"] - stat["min"])
                hi.append(stat["max"] - stat["median"])
            if not xs:
                continue
            bars = ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, label=labels.get(t, t), color=COLORS.get(t))
            for b, m in zip(bars, meds, strict=True):
                ax.annotate(f"{m:,.0f}", (b.get_x() + b.get_width() / 2, m), ha="center", va="bottom", fontsize=7)
            for i, w in enumerate(workloads):  # mark stalled runs
                row = summary.get((w, t))
                if row and row.get("stalled") and metric == "finalised_tps":
                    x = i + (j - (len(targets) - 1) / 2) * width
                    style = {"fontsize": 7, "color": "red", "fontweight": "bold", "rotation": 90}
                    ax.annotate("STALLED", (x, row[metric]["median"]), xytext=(0, 12), textcoords="offset points",
                                ha="center", va="bottom", **style)  # fmt: skip
        ax.set_xticks(range(len(workloads)), workloads)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("transactions per second")
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(5, max(1, len(names))), fontsize=8, frameon=False)
    cfg = results["config"]
    fig.suptitle(f"pysei vs anvil vs Hardhat — {cfg['txs']:,} txs, batch {cfg['batch']}, {cfg['concurrency']} conns")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_latency(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = results["config"]["workloads"]
    targets = results["config"]["targets"]
    labels = {r["target"]: r["label"] for r in results["summary"]}
    fig, axes = plt.subplots(1, len(workloads), figsize=(5.5 * len(workloads), 4.2), squeeze=False)
    for ax, w in zip(axes[0], workloads, strict=True):
        for t in targets:
            sample = sorted(
                x
                for r in results["runs"]
                if r["workload"] == w and r["target"] == t and r["ok"]
                for x in r["result"]["latency_sample_ms"]
            )
            if not sample:
                continue
            ys = [(i + 1) / len(sample) for i in range(len(sample))]
            row: dict[str, Any] = next((r for r in results["summary"] if r["workload"] == w and r["target"] == t), {})
            label = labels.get(t, t) + (" (stalled: received only)" if row.get("stalled") else "")
            ax.step([max(x, 0.1) for x in sample], ys, where="post", label=label, color=COLORS.get(t))
        ax.set_xscale("log")
        ax.set_xlabel("latency, send → receipt seen (ms, log scale)")
        ax.set_ylabel("fraction of transactions")
        ax.set_title(f"latency distribution — {w}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(out: Path, results: dict[str, Any]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    results.setdefault("argv", "pysei " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None)
    files = []
    plots = []
    for name, fn in (("throughput.png", _plot_throughput), ("latency.png", _plot_latency)):
        fn(results, out / name)
        plots.append(name)
        files.append(out / name)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "report.md").write_text(markdown(results, plots))
    return [out / "results.json", out / "report.md", *files]
