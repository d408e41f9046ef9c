"""The TOML config file: `pysei config` and `pysei init` write a commented default, `pysei node --config` reads it,
flags override it, and a bad file stops the node with one line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from web3 import Web3

try:
    from tests.conftest import ROOT, start_devnet
except ImportError:  # tests/ itself is the import root
    from conftest import ROOT, start_devnet  # type: ignore[no-redef]


def pysei(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysei.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_config_writes_a_default_that_the_node_reads_and_flags_override(tmp_path: Path) -> None:
    path = tmp_path / "pysei.toml"
    assert pysei("config", "--out", str(path)).returncode == 0
    settings = tomllib.loads(path.read_text())["node"]
    assert settings["chain-id"] == 713714 and settings["automine"] is False and "# " in path.read_text()
    assert pysei("config", "--out", str(path)).returncode == 1  # never overwrites without --force
    text = (
        path.read_text().replace("chain-id = 713714", "chain-id = 777").replace("automine = false", "automine = true")
    )
    path.write_text(text)
    node = start_devnet(tmp_path, "--config", str(path), "--chain-id", "778")
    try:
        w3 = Web3(Web3.HTTPProvider(node.http_url))
        assert w3.eth.chain_id == 778  # the flag beat the file
        sender = node.accounts[0].address
        tx = w3.eth.send_transaction({"from": sender, "to": sender, "value": 1})
        assert w3.eth.get_transaction_receipt(tx)["status"] == 1  # automine from the file: mined on return
    finally:
        assert node.stop() == 0


def test_bad_config_stops_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    cases = {
        '[node]\nchain-id = "abc"\n': "chain-id: expected an integer",
        "[node]\nblock-tim = 1\n": "unknown setting 'block-tim'",
        "[node]\nautomine = 1\n": "automine must be true or false",
        '[node]\nlog-format = "xml"\n': "log-format must be one of text, json",
        "[node\n": "config file",
        "port = 1\n": "[node] table",
    }
    for text, message in cases.items():
        path.write_text(text)
        result = pysei("node", "--config", str(path), "--ephemeral", "--port", "0")
        assert result.returncode != 0, text
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and lines[0].startswith("error:"), (text, result.stderr)
    missing = pysei("node", "--config", str(tmp_path / "none.toml"))
    assert missing.returncode != 0 and "not found" in missing.stderr and "pysei config" in missing.stderr


def test_init_writes_the_commented_default_beside_the_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = pysei("init", "--home", str(home))
    assert result.returncode == 0, result.stderr
    path = home / "pysei.toml"
    assert f"node settings (commented defaults): {path}" in result.stdout
    assert (home / "validator_key").exists() and (home / "validator.json").exists()
    # The same file `pysei config` writes, and the node starts from it.
    assert pysei("config", "--out", str(tmp_path / "config.toml")).returncode == 0
    assert path.read_text() == (tmp_path / "config.toml").read_text()
    node = start_devnet(tmp_path, "--config", str(path))
    assert node.stop() == 0
    # An operator's own settings file in the home is kept.
    other = tmp_path / "other"
    other.mkdir()
    (other / "pysei.toml").write_text("[node]\nport = 9000\n")
    kept = pysei("init", "--home", str(other))
    assert kept.returncode == 0 and "exists, kept as it is" in kept.stdout
    assert (other / "pysei.toml").read_text() == "[node]\nport = 9000\n"
