"""`pysei abi`: the module precompiles' JSON ABIs as a user takes them for ethers, viem, web3.py or cast.

They are generated from the kernel's own interface definitions, so these tests check the other side: that the
printed ABI is what the command promises, and that it agrees with Sei's Solidity interfaces as a Sei contract
imports them (tests/contracts, compiled by npm solc), entry for entry.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from eth_utils import function_abi_to_4byte_selector

from pysei.native import precompile_abis
from tests.clients import solc
from tests.conftest import ROOT

ADDRESSES = {
    "bank": "0x0000000000000000000000000000000000001001",
    "staking": "0x0000000000000000000000000000000000001005",
    "governance": "0x0000000000000000000000000000000000001006",
    "distribution": "0x0000000000000000000000000000000000001007",
    "slashing": "0x0000000000000000000000000000000000001014",
}


def pysei_abi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysei.cli", "abi", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def shape(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What a call or a log depends on: kind, name, and the types (and indexing) of inputs and outputs."""

    def params(ps: list[dict[str, Any]]) -> tuple[Any, ...]:
        return tuple((p["type"], p.get("indexed", False), params(p.get("components", []))) for p in ps)

    return entry["type"], entry.get("name"), params(entry.get("inputs", [])), params(entry.get("outputs", []))


def test_listing_names_each_module_at_its_precompile_address() -> None:
    out = pysei_abi()
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0]: line.split()[1] for line in out.stdout.splitlines()}
    assert listed == ADDRESSES


@pytest.mark.parametrize("module", sorted(ADDRESSES))
def test_printed_abi_is_the_kernels(module: str) -> None:
    out = pysei_abi(module)
    assert out.returncode == 0, out.stderr
    (expected,) = [p for p in precompile_abis() if p.name == module]
    assert json.loads(out.stdout) == expected.abi and "0x" + expected.address.hex() == ADDRESSES[module]
    # Every function has a distinct selector, and every entry a name: a usable interface, not a stub.
    functions = [e for e in expected.abi if e["type"] == "function"]
    assert functions and all(e.get("name") for e in expected.abi)
    selectors = [function_abi_to_4byte_selector(e) for e in functions]
    assert len(set(selectors)) == len(selectors)


def test_unknown_module_is_one_clear_line() -> None:
    out = pysei_abi("oracle")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == (
        "error: unknown module 'oracle' (one of: bank, staking, governance, distribution, slashing)"
    )


@pytest.mark.parametrize(
    ("module", "interface"), [("staking", "IStaking"), ("bank", "IBank"), ("distribution", "IDistr")]
)
def test_sei_solidity_interfaces_are_covered_entry_for_entry(module: str, interface: str) -> None:
    """Each function and event of Sei's Solidity interface (as tests/contracts declares it) is in the kernel's
    ABI with the same types, so a contract compiled against Sei's interface and a client using `pysei abi` call
    and decode the same things."""
    (kernel,) = [p for p in precompile_abis() if p.name == module]
    ours = {shape(e) for e in kernel.abi}
    theirs = [shape(e) for e in solc.interface(interface)]
    assert theirs and [s for s in theirs if s not in ours] == []
