"""Shared fixtures: a real pysei devnet process on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account

from pysei.chain.accounts import dev_accounts
from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DevKey:
    address: str
    key: str


@dataclass
class Devnet:
    """A running node: its URLs, chain id, dev accounts and process (tests may kill it)."""

    http_url: str
    ws_url: str
    chain_id: int
    accounts: list[DevKey]
    process: subprocess.Popen[bytes]
    data_dir: Path | None = None
    log_path: Path | None = None
    args: list[str] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        return self.process.returncode


def _keys() -> list[DevKey]:
    return [DevKey(a.checksum_address, "0x" + a.private_key.hex()) for a in dev_accounts(DEV_MNEMONIC, 20)]


_KEYS: list[DevKey] | None = None


def start_devnet(tmp: Path, *extra: str, data_dir: Path | None = None, timeout: float = 60) -> Devnet:
    """Starts ``pysei node`` on a free port and waits until it listens."""
    global _KEYS
    if _KEYS is None:
        _KEYS = _keys()
    log_path = tmp / f"node-{time.monotonic_ns()}.log"
    args = [sys.executable, "-m", "pysei.cli", "node", "--port", "0", "--quiet", *extra]
    args += ["--data-dir", str(data_dir)] if data_dir is not None else ["--ephemeral"]
    log = open(log_path, "wb")  # noqa: SIM115 - stays open for the process's lifetime
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(b"listening") or not line:
            break
    if not line.startswith(b"listening"):
        proc.kill()
        raise RuntimeError(f"node did not start: {log_path.read_text()[-3000:]}")
    host_port = line.split()[1].decode()
    return Devnet(
        http_url=f"http://{host_port}",
        ws_url=f"ws://{host_port}",
        chain_id=DEVNET_CHAIN_ID,
        accounts=_KEYS,
        process=proc,
        data_dir=data_dir,
        log_path=log_path,
        args=list(extra),
    )


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The shared devnet: interval mining at 100 ms so that tests exercise ordering → execution as users do."""
    node = start_devnet(tmp_path_factory.mktemp("devnet"), "--block-time", "0.1")
    yield node
    code = node.stop()
    assert code == 0, f"devnet exited with {code}: {node.log_path.read_text()[-3000:] if node.log_path else ''}"


@pytest.fixture(scope="session")
def automine_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    node = start_devnet(tmp_path_factory.mktemp("devnet-automine"), "--automine")
    yield node
    assert node.stop() == 0


Account.enable_unaudited_hdwallet_features()
