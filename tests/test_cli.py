"""The ``pysei`` command as a user runs it: bad flags, startup failures, a shared or reused data directory.

Each case runs the real process and checks its exit code and the first line it prints: one line that says what
happened and what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from pysei.cli import _node_parser
from tests.conftest import ROOT, start_devnet

TIMEOUT_S = 60


def pysei(*args: str, timeout: float = TIMEOUT_S) -> tuple[int, str, str]:
    """Runs ``pysei ARGS``; returns (exit code, first line of stderr, all output)."""
    env = {**os.environ, "COLUMNS": "200"}  # argparse wraps help at the terminal width
    proc = subprocess.run(
        [sys.executable, "-m", "pysei.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    first = proc.stderr.splitlines()[0] if proc.stderr else ""
    return proc.returncode, first, out


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["--port", "99999"], "error: argument --port: expected an integer from 0 to 65,535, got '99999'"),
        (["--chain-id", "-3"], "error: argument --chain-id: expected an integer from 1 to "),
        (["--commitment-delay", "0"], "error: argument --commitment-delay: expected an integer from 1 to 256"),
        (["--block-time", "-1"], "error: argument --block-time: expected seconds above 0 and at most 3600"),
        (["--exec-threads", "0"], "error: argument --exec-threads: expected an integer from 1 to 256"),
        (["--accounts", "-1"], "error: argument --accounts: expected an integer from 0 to 1,000"),
        (["--gas-limit", "100"], "error: argument --gas-limit: expected an integer from 21,000 to "),
        (["--ephemeral", "--data-dir", "x"], "error: --ephemeral and --data-dir exclude each other"),
        (["--mnemonic", "not a mnemonic"], "error: argument --mnemonic: not a valid BIP-39 mnemonic"),
        (["--log-level", "loud"], "error: argument --log-level: invalid choice: 'loud'"),
    ],
)
def test_bad_flags_are_refused_with_their_range(args: list[str], first_line: str) -> None:
    code, first, _ = pysei("node", *args)
    assert code == 2
    assert first.startswith(first_line), first


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, first, _ = pysei("node", "--ephemeral", "--port", str(port))
    assert code == 1
    assert first == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use; another node (or anvil) may be "
        "running: choose another --port"
    )


def test_unbindable_host() -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    code, first, _ = pysei("node", "--ephemeral", "--host", "192.0.2.1", "--port", "0")
    assert code == 1
    assert first.startswith("error: cannot listen on 192.0.2.1:0: cannot assign requested address"), first


def test_data_dir_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("not a directory")
    code, first, _ = pysei("node", "--data-dir", str(path), "--port", "0")
    assert code == 1
    assert first == f"error: data directory {path} is a file: choose a directory with --data-dir"


def test_snapshot_import_of_a_missing_file(tmp_path: Path) -> None:
    code, first, _ = pysei("snapshot", "import", "--data-dir", str(tmp_path / "new"), "--in", str(tmp_path / "x.bin"))
    assert code == 1
    assert first == f"error: snapshot file {tmp_path / 'x.bin'} not found"
    assert not (tmp_path / "new").exists()


def test_second_node_on_a_data_dir_in_use_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "chain"
    first_node = start_devnet(tmp_path, data_dir=data)
    try:
        code, first, _ = pysei("node", "--data-dir", str(data), "--port", "0")
        assert code == 1
        assert first == (
            f"error: data directory {data} is in use by another pysei process (pid {first_node.process.pid}): "
            "stop it, or choose another --data-dir"
        )
        # The running node is untouched and still serves.
        assert Web3(Web3.HTTPProvider(first_node.http_url)).eth.block_number >= 0
    finally:
        assert first_node.stop() == 0
    # Once it stopped, the directory is free again (the lock dies with its process).
    again = start_devnet(tmp_path, data_dir=data)
    assert again.stop() == 0


def test_restart_with_other_genesis_settings_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "chain"
    node = start_devnet(tmp_path, "--automine", data_dir=data)
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": w3.eth.accounts[1], "value": 1})
    assert w3.eth.block_number == 1
    assert node.stop() == 0

    code, first, _ = pysei("node", "--data-dir", str(data), "--port", "0", "--chain-id", "31337")
    assert code == 1
    assert first == (
        f"error: the chain in {data} was started with --chain-id 713714, not 31337: start with --chain-id 713714, "
        "or add --reset to delete it and start a new chain"
    )
    other = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
    code, first, _ = pysei("node", "--data-dir", str(data), "--port", "0", "--mnemonic", other)
    assert code == 1
    assert first.startswith(f"error: the chain in {data} was started with another genesis allocation: other dev")

    # The same settings resume the chain, and the banner says so.
    resumed = subprocess.Popen(
        [sys.executable, "-m", "pysei.cli", "node", "--data-dir", str(data), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert resumed.stdout is not None
        lines = []
        for line in resumed.stdout:
            lines.append(line)
            if line.startswith("Listening on"):
                break
        banner = "".join(lines)
        assert "Chain:             resumed at block 1 (--reset deletes it and starts a new chain)" in banner, banner
        assert f"Data directory:    {data}" in banner
    finally:
        resumed.terminate()
        assert resumed.wait(timeout=TIMEOUT_S) == 0

    # --reset starts a new chain with the new settings.
    fresh = start_devnet(tmp_path, "--reset", "--chain-id", "31337", data_dir=data)
    try:
        w3 = Web3(Web3.HTTPProvider(fresh.http_url))
        assert (w3.eth.chain_id, w3.eth.block_number) == (31337, 0)
    finally:
        assert fresh.stop() == 0


def test_every_node_flag_has_help_and_a_shown_default() -> None:
    sub = argparse.ArgumentParser().add_subparsers()
    _node_parser(sub)
    for action in sub.choices["node"]._actions:
        assert action.help, f"{action.option_strings} has no help"
    code, _, out = pysei("node", "--help")
    assert code == 0
    assert "(default: 8545)" in out and "(default: 713714)" in out and "(default: 0.4)" in out


def test_make_run_on_a_built_tree_does_not_rebuild() -> None:
    """`make run` rebuilds the kernel only when its sources changed: on the tree these tests run in (built by
    `make test`), the build is up to date and `make run` only starts the node."""
    # Under `make test` this runs in a sub-make, whose children would print "Entering directory" lines.
    make = ["make", "--no-print-directory"]
    assert subprocess.run([*make, "-q", "build"], cwd=ROOT, timeout=TIMEOUT_S).returncode == 0
    plan = subprocess.run([*make, "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert plan.stdout.strip() == ".venv/bin/pysei node", plan.stdout


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 3), (16, 16)])
def test_executor_threads_default_to_sequential_below_three_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, threads: int
) -> None:
    """On 2 cores the sequential executor (which seals on the second core) beats the parallel one, so the node
    and `pysei node`'s flag default to it there; with more cores, one executor thread per core."""
    from pysei.node.config import NodeConfig

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)))
    assert NodeConfig().exec_threads == threads
    sub = argparse.ArgumentParser().add_subparsers()
    _node_parser(sub)
    assert sub.choices["node"].parse_args([]).exec_threads == threads
