"""``pysei bench`` subcommands."""

from __future__ import annotations

import argparse


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (print figures; never part of the tests)")
    bench = p.add_subparsers(dest="bench", required=True)
    from pysei.bench import consensus, e2e, exec_bench, explorer_bench, ingest_bench, state_bench, trace_bench

    exec_bench.add_parser(bench)
    e2e.add_parser(bench)
    ingest_bench.add_parser(bench)
    state_bench.add_parser(bench)
    consensus.add_parser(bench)
    explorer_bench.add_parser(bench)
    trace_bench.add_parser(bench)
