"""Session-cached Solidity artifacts compiled by tests/clients/js/compile.mjs.

``compile.mjs`` (npm ``solc``, pinned in tests/clients/js/package-lock.json)
runs once per Python process into a temporary directory; every caller gets
the same artifacts::

    from tests.clients import solc
    token = solc.contract("Token")      # {"abi": [...], "bytecode": "0x...", ...}
    path = solc.artifacts_path()        # JSON file, also handed to the JS scripts
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

try:
    from .tooling import JS_DIR, ensure_installed, node_bin
except ImportError:  # imported as a top-level module
    from tooling import JS_DIR, ensure_installed, node_bin  # type: ignore[no-redef]

COMPILE_TIMEOUT_S = 180


@functools.cache
def artifacts_path() -> Path:
    ensure_installed()
    tmp = Path(tempfile.mkdtemp(prefix="pysei-solc-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    out = tmp / "artifacts.json"
    proc = subprocess.run(
        [node_bin(), str(JS_DIR / "compile.mjs"), str(out)],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
    )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"compile.mjs failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return out


@functools.cache
def artifacts() -> dict[str, Any]:
    data = json.loads(artifacts_path().read_text())
    if not data.get("contracts"):
        raise RuntimeError("compile.mjs produced no contracts")
    return data


def interface(name: str) -> list[dict[str, Any]]:
    """The ABI of an interface (no bytecode), e.g. a precompile's."""
    interfaces = artifacts().get("interfaces", {})
    if name not in interfaces:
        raise KeyError(f"interface {name!r} not in artifacts (have {sorted(interfaces)})")
    return list(interfaces[name]["abi"])


def contract(name: str) -> dict[str, Any]:
    contracts = artifacts()["contracts"]
    if name not in contracts:
        raise KeyError(f"contract {name!r} not in artifacts (have {sorted(contracts)})")
    return contracts[name]
