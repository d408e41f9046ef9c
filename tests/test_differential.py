"""Differential test: pysei's native EVM kernel against py-evm on random blocks.

Both sides implement ``run_block(pre, env, raw_txs) -> BlockOutcome`` (see ``tests/oracle/model.py`` for the data
model and the block rules both must follow): the oracle in ``tests/oracle/pyevm_oracle.py``, pysei's in
``tests/oracle/pysei_runner.py``. Every transaction outcome (inclusion, status, gas used, logs, created address)
and the whole post-state must be equal.

``PYSEI_DIFF_EXAMPLES`` sets the number of random blocks per fork (default 100: about 5 s of py-evm per fork;
CI budget for this file is about two minutes). A failure prints the block with a per-transaction description and
a field-by-field diff.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oracle import pyevm_oracle
from tests.oracle.model import SPECS, BlockEnv, BlockOutcome, PreState, copy_state, diff_outcomes
from tests.oracle.strategies import random_block

EXAMPLES = int(os.environ.get("PYSEI_DIFF_EXAMPLES", "100"))

RunBlock = Callable[[PreState, BlockEnv, list[bytes]], BlockOutcome]


@pytest.fixture(scope="module")
def pysei_run_block() -> RunBlock:
    """pysei's ``run_block``, imported lazily so that this module imports before the runner exists."""
    try:
        module = importlib.import_module("tests.oracle.pysei_runner")
    except ModuleNotFoundError as exc:
        if exc.name == "tests.oracle.pysei_runner":
            pytest.skip("tests/oracle/pysei_runner.py (pysei's run_block) is not written yet")
        raise
    return module.run_block  # type: ignore[no-any-return]


@pytest.mark.parametrize("spec", SPECS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_pysei_matches_pyevm(pysei_run_block: RunBlock, spec: str, data: st.DataObject) -> None:
    block = data.draw(random_block(spec), label="block")
    expected = pyevm_oracle.run_block(copy_state(block.pre), block.env, list(block.raw_txs))
    actual = pysei_run_block(copy_state(block.pre), block.env, list(block.raw_txs))
    diff = diff_outcomes(expected, actual, ("py-evm", "pysei"))
    assert not diff, f"pysei diverges from py-evm:\n{diff}"
    assert expected == actual
