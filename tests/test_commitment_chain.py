"""The state commitment and historical reads over a chain of random blocks.

A random block's transactions (transfers, deploys, CREATE2 factories, storage writes, SELFDESTRUCT, 7702
delegations, reverts, invalid transactions, …) are cut into consecutive blocks on one store, executed with a
random thread count, and after the last block: the LtHash the commitment worker builds incrementally from the
change sets equals, at every block, the LtHash recomputed from scratch over the state dumped right after that
block, and reads at every past block through the history index return that dump.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oracle import pysei_runner
from tests.oracle.model import copy_state
from tests.oracle.strategies import random_block


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), spec=st.sampled_from(["cancun", "prague"]), threads=st.integers(1, 3))
def test_commitment_and_history_over_random_chains(data: st.DataObject, spec: str, threads: int) -> None:
    block = data.draw(random_block(spec, max_txs=32), label="block")
    n = len(block.raw_txs)
    cuts = data.draw(st.lists(st.integers(0, n), max_size=4), label="cuts")
    pysei_runner.run_chain(copy_state(block.pre), block.env, list(block.raw_txs), cuts, threads=threads)
