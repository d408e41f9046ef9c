"""The parallel executor gives exactly the sequential result: receipts (status, gas, logs, created address),
skips, the addresses each transaction reached (the address index's) and the whole post-state, whatever the
thread count.

Blocks come from the differential test's strategies (transfers, deploys, CREATE/CREATE2 factories, storage,
logs, reverts, out-of-gas, SELFDESTRUCT, calls between contracts, invalid transactions), drawn larger so that
they take the parallel path (at least ``MIN_PARALLEL_TXS`` transactions) and contend on shared accounts.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysei.bench.exec_bench import _env
from pysei.bench.workloads import build
from pysei.native import execute_block
from pysei.state.store import ChainStore
from tests.oracle import pysei_runner
from tests.oracle.model import copy_state, diff_outcomes
from tests.oracle.strategies import RandomBlock, random_block

EXAMPLES = int(os.environ.get("PYSEI_PARALLEL_EXAMPLES", "60"))
JITTER_ENV = "PYSEI_EXEC_JITTER_US"
"""Test-only knob of the parallel executor (``native/src/parallel.rs``)."""


@contextmanager
def prediction(enabled: bool) -> Iterator[None]:
    """Runs the oracle's blocks with dependency prediction on (the default) or off."""
    with mock.patch.object(pysei_runner, "execute_block", functools.partial(execute_block, predict=enabled)):
        yield


@pytest.mark.parametrize("spec", ["cancun", "prague"])
@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    data=st.data(),
    threads=st.integers(min_value=2, max_value=4),
    predict=st.booleans(),
    jitter_us=st.sampled_from([0, 0, 40]),
)
def test_parallel_matches_sequential(
    spec: str, data: st.DataObject, threads: int, predict: bool, jitter_us: int
) -> None:
    block = data.draw(random_block(spec, max_txs=48), label="block")
    pysei_runner.fallbacks.clear()
    pysei_runner.reached.clear()
    sequential = pysei_runner.run_block(copy_state(block.pre), block.env, list(block.raw_txs), threads=1)
    # Workers sleep a random time (below jitter_us) before each execution: other interleavings, same result.
    with prediction(predict), mock.patch.dict(os.environ, {JITTER_ENV: str(jitter_us)}):
        parallel = pysei_runner.run_block(copy_state(block.pre), block.env, list(block.raw_txs), threads=threads)
    diff = diff_outcomes(sequential, parallel, ("sequential", f"{threads} threads"))
    assert not diff, f"parallel execution diverges:\n{diff}"
    assert sequential == parallel
    # The address index's keys too (records' `internal`, which the parallel workers collect per incarnation).
    assert pysei_runner.reached[0] == pysei_runner.reached[1]


def test_parallel_path_is_taken() -> None:
    """Guards the property above against passing vacuously: large random blocks do run in parallel (without
    prediction, which sends the many blocks that are one sender's nonce chain to sequential execution)."""
    fallbacks: list[str | None] = []

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(block=random_block("prague", max_txs=48))
    def run(block: RandomBlock) -> None:
        if len(block.raw_txs) < 16:
            return
        pysei_runner.fallbacks.clear()
        with prediction(False):
            pysei_runner.run_block(copy_state(block.pre), block.env, list(block.raw_txs), threads=2)
        fallbacks.extend(pysei_runner.fallbacks)

    run()
    # Blocks whose drawn gas limits could overflow the block are the strategy's doing, not the executor's.
    eligible = [f for f in fallbacks if f != "gas limits exceed the block's"]
    assert eligible.count(None) >= len(eligible) // 2 > 0, fallbacks


@pytest.mark.parametrize("workload", ["mix", "erc20-zipf"])
def test_benchmark_workloads_match_sequential(tmp_path: Path, workload: str) -> None:
    """The benchmark's contended blocks (pool swaps, NFT mints, hot ERC-20 holders between transfers) give the
    sequential block with and without prediction, also once prediction has learned from an earlier run."""
    work = build(workload, 300)
    store = ChainStore(tmp_path / "state")
    store.native.commit(0, alloc=work.alloc)
    for number, (raws, senders) in enumerate(work.setup, start=1):
        store.native.commit(number, result=execute_block(store.native, _env(10**12), raws, b"".join(senders)))
    env = _env(work.gas_limit)
    senders = b"".join(work.senders)

    def run(threads: int, predict: bool) -> tuple[object, ...]:
        r = execute_block(store.native, env, work.raws, senders, threads=threads, predict=predict)
        return (r.outcomes(), r.receipts_root, r.changes_digest, r.gas_used)

    expected = run(1, True)
    for threads, predict in ((2, False), (2, True), (2, True), (3, True)):
        assert run(threads, predict) == expected, (threads, predict)
