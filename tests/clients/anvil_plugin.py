"""pytest plugin providing the ``devnet`` fixture backed by anvil (Foundry).

It implements the same fixture contract as the pysei ``devnet`` fixture from
``tests/conftest.py`` so that the real-client conformance suite can be
validated against a reference node (and, later, compared with pysei)::

    .venv/bin/python -m pytest -p tests.clients.anvil_plugin tests/test_web3py.py ...

Loaded like this it replaces the ``devnet`` fixture of tests/conftest.py (see
``pytest_plugin_registered`` below); ``--noconftest`` works too.

The ``devnet`` object has ``http_url``, ``ws_url`` (same port), ``chain_id``
(713714) and ``accounts``: the 20 dev accounts of the standard test mnemonic,
each with ``.address`` and ``.key``, funded with 10,000 ETH.

Environment knobs:

``ANVIL_BIN``
    anvil executable to use (default: the one installed by
    ``tests/clients/install.sh`` under ``tests/clients/js/node_modules``).
``ANVIL_BLOCK_TIME``
    seconds between blocks (interval mining) instead of anvil's instant
    automine; useful to check that clients do not assume instant inclusion.
``PYSEI_RPC_RECORD``
    path of a JSON file: put a recording proxy in front of the node and write
    the JSON-RPC methods used, per test, to that file at the end of the session
    (see ``tests/clients/rpc_recorder.py``).
``PYSEI_RPC_BLOCK``
    comma-separated JSON-RPC methods that the proxy answers with -32601
    ("method not found"), e.g. ``eth_fillTransaction,hardhat_metadata``: checks
    that the clients work against a node without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pysei.bench import nodes as bench_nodes
from pysei.chain.accounts import dev_accounts

CHAIN_ID = 713714
MNEMONIC = "test test test test test test test test test test test junk"
N_ACCOUNTS = 20
BALANCE_ETH = 10_000

CLIENTS_DIR = Path(__file__).resolve().parent
JS_DIR = CLIENTS_DIR / "js"


@dataclass(frozen=True)
class DevAccount:
    address: str
    key: str


@dataclass
class Devnet:
    http_url: str
    ws_url: str
    chain_id: int
    accounts: list[DevAccount]
    name: str = "anvil"
    log_path: str | None = None
    extra: dict = field(default_factory=dict)


def derive_dev_accounts(mnemonic: str = MNEMONIC, n: int = N_ACCOUNTS) -> list[DevAccount]:
    return [DevAccount(address=a.checksum_address, key="0x" + a.private_key.hex()) for a in dev_accounts(mnemonic, n)]


def anvil_binary() -> str:
    try:
        return bench_nodes.anvil_binary()
    except FileNotFoundError as e:
        raise pytest.UsageError(str(e)) from None


class AnvilProcess:
    def __init__(self, binary: str, log_dir: Path, block_time: str | None = None, extra_args: list[str] | None = None):
        self.binary = binary
        self.extra_args = extra_args or []
        self.log_dir = log_dir
        self.block_time = block_time
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_path = log_dir / "anvil.log"

    def start(self, attempts: int = 3, timeout: float = 30.0) -> None:
        last_err = ""
        for _ in range(attempts):
            port = bench_nodes.free_port()
            cmd = [
                self.binary,
                "--host", "127.0.0.1",
                "--port", str(port),
                "--chain-id", str(CHAIN_ID),
                "--accounts", str(N_ACCOUNTS),
                "--balance", str(BALANCE_ETH),
                "--mnemonic", MNEMONIC,
            ]  # fmt: skip
            if self.block_time:
                cmd += ["--block-time", self.block_time]
            cmd += self.extra_args
            log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if int(bench_nodes.rpc_call(url, "eth_chainId", timeout=2), 16) == CHAIN_ID:
                        self.port = port
                        return
                except (OSError, ValueError, RuntimeError):
                    pass
                time.sleep(0.1)
            last_err = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"anvil failed to start after {attempts} attempts:\n{last_err}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


_RECORDER = None  # RecordingProxy when PYSEI_RPC_RECORD is set
_CURRENT_TEST = "session"  # node id of the test being set up / run


@pytest.hookimpl(tryfirst=True)
def pytest_plugin_registered(plugin, manager):
    """Make ``-p tests.clients.anvil_plugin`` win over a conftest ``devnet``.

    Fixtures from conftest.py files take precedence over plugin fixtures, so
    the pysei ``devnet`` of tests/conftest.py would silently shadow this one.
    Loading this plugin explicitly means "run against anvil": when a conftest
    module defining ``devnet`` is registered, its ``devnet`` attribute is
    replaced by ours before pytest parses the module's fixtures.
    """
    if plugin is sys.modules[__name__]:
        return
    path = str(getattr(plugin, "__file__", "") or "")
    if os.path.basename(path) == "conftest.py" and "devnet" in vars(plugin):
        plugin.devnet = devnet


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # tryfirst: label the test before its fixtures are set up
    global _CURRENT_TEST
    _CURRENT_TEST = item.nodeid
    if _RECORDER is not None:
        _RECORDER.label = item.nodeid


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    if _RECORDER is not None:
        _RECORDER.label = "teardown"


@pytest.fixture(scope="session")
def devnet():
    global _RECORDER
    log_dir = Path(tempfile.mkdtemp(prefix="pysei-anvil-"))
    node = AnvilProcess(anvil_binary(), log_dir, block_time=os.environ.get("ANVIL_BLOCK_TIME") or None)
    node.start()
    http_url = f"http://127.0.0.1:{node.port}"
    ws_url = f"ws://127.0.0.1:{node.port}"
    recorder = None
    record_path = os.environ.get("PYSEI_RPC_RECORD")
    blocked = {m.strip() for m in os.environ.get("PYSEI_RPC_BLOCK", "").split(",") if m.strip()}
    if blocked and not record_path:
        record_path = os.path.join(str(log_dir), "rpc-methods.json")  # blocking needs the proxy
    try:
        accounts = derive_dev_accounts()
        # Sanity: anvil's own view of the dev accounts must match the derivation.
        node_accounts = [a.lower() for a in bench_nodes.rpc_call(http_url, "eth_accounts")]
        assert node_accounts[:N_ACCOUNTS] == [a.address.lower() for a in accounts], "anvil dev accounts mismatch"
        if record_path:
            try:
                from .rpc_recorder import RecordingProxy
            except ImportError:  # loaded as a top-level module via PYTHONPATH
                from rpc_recorder import RecordingProxy

            recorder = RecordingProxy(http_url, ws_url, blocked_methods=blocked).start()
            recorder.label = _CURRENT_TEST
            _RECORDER = recorder
            http_url, ws_url = recorder.http_url, recorder.ws_url
        yield Devnet(
            http_url=http_url,
            ws_url=ws_url,
            chain_id=CHAIN_ID,
            accounts=accounts,
            name="anvil",
            log_path=str(node.log_path),
        )
    finally:
        if recorder is not None:
            _RECORDER = None
            recorder.stop()
            recorder.dump(record_path)
        node.stop()
        shutil.rmtree(log_dir, ignore_errors=True)
