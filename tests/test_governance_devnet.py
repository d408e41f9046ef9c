"""The governance precompile (0x…1006) on a running devnet, driven as users do: an ethers script (Node) that
submits a parameter change, votes it through and sees it apply at the end of the voting block, then lets a
proposal miss its quorum and its deposit burn; the ``pysei tx``/``pysei query`` governance commands; and the
``sei_proposals``/``sei_proposal`` RPC methods the explorer reads.

The genesis (``pysei genesis write``) makes dev account 0 the only validator's operator, so its vote carries all
bonded stake; block time is advanced with the dev methods ``evm_increaseTime`` and ``evm_mine``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pysei.chain.accounts import dev_accounts
from pysei.chain.constants import DEV_MNEMONIC
from tests.clients.tooling import JS_DIR, ensure_installed, node_bin
from tests.conftest import ROOT, Devnet, start_devnet

SCRIPT_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    tmp = tmp_path_factory.mktemp("governance")
    genesis = tmp / "genesis.json"
    operator = "0x" + dev_accounts(DEV_MNEMONIC, 1)[0].address.hex()
    written = pysei("genesis", "write", "--out", str(genesis), "--validator", f"{operator}:1000")
    assert written.returncode == 0, written.stderr
    devnet = start_devnet(tmp, "--genesis", str(genesis), "--block-time", "0.1")
    yield devnet
    assert devnet.stop() == 0


def pysei(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysei.cli", *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )


def rpc(node: Devnet, method: str, *params: Any) -> Any:
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(node.http_url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_ethers_passes_a_parameter_change_and_burns_a_deposit_without_quorum(node: Devnet) -> None:
    ensure_installed()
    env = {
        **os.environ,
        "PYSEI_RPC_URL": node.http_url,
        "PYSEI_CHAIN_ID": str(node.chain_id),
        "PYSEI_PRIVATE_KEYS": f"{node.accounts[0].key},{node.accounts[1].key}",
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [node_bin(), str(JS_DIR / "governance.mjs")],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "[governance] ALL CHECKS PASSED" in out, out[-6000:]
    # What the explorer's network page reads: both proposals, decoded.
    proposals = rpc(node, "sei_proposals")["result"]
    assert [(p["type"], p["status"]) for p in proposals[:2]] == [("ParameterChange", "passed"), ("Text", "rejected")]
    assert proposals[0]["changes"] == [{"subspace": "staking", "key": "MaxEntries", "value": "8"}]
    assert proposals[0]["finalTally"]["yes"] == str(1_000 * 10**6)
    assert [p["id"] for p in rpc(node, "sei_proposals", "rejected")["result"]] == [2]
    error = rpc(node, "sei_proposals", "open")["error"]
    assert "unknown proposal status 'open'" in error["message"]


def test_command_line_proposes_votes_and_queries(node: Devnet) -> None:
    sent = pysei(
        "tx", "--rpc", node.http_url, "--dev-account", "0", "--json",
        "propose", "Longer votes", "Vote for four days.", "--change", "gov/VotingPeriod=345600", "--deposit", "3500",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    proposal_id = json.loads(sent.stdout)["proposal"]
    voted = pysei("tx", "--rpc", node.http_url, "--dev-account", "0", "vote", str(proposal_id), "yes=0.75,abstain=0.25")
    assert voted.returncode == 0, voted.stderr
    shown = pysei("query", "--rpc", node.http_url, "--json", "proposal", str(proposal_id))
    assert shown.returncode == 0, shown.stderr
    (proposal,) = json.loads(shown.stdout)
    assert proposal["status"] == "voting_period"
    assert proposal["title"] == "Longer votes"
    assert proposal["tally"]["yes"] == str(750 * 10**6) and proposal["tally"]["abstain"] == str(250 * 10**6)
    listed = pysei("query", "--rpc", node.http_url, "--json", "proposals", "--status", "voting_period")
    assert [p["id"] for p in json.loads(listed.stdout)] == [proposal_id]
    params = pysei("query", "--rpc", node.http_url, "--json", "gov-params")
    assert json.loads(params.stdout) == [
        {
            "minDepositUsei": str(3_500 * 10**6),
            "maxDepositPeriod": 2 * 86_400,
            "votingPeriod": 3 * 86_400,
            "quorum": "0.334000000000000000",
            "threshold": "0.500000000000000000",
            "vetoThreshold": "0.334000000000000000",
        }
    ]
    table = pysei("query", "--rpc", node.http_url, "proposals")
    assert table.returncode == 0 and "Longer" in table.stdout  # rich wraps the title in a narrow terminal
    from_rpc = rpc(node, "sei_proposal", proposal_id)["result"]
    assert from_rpc["tally"] == proposal["tally"]
    assert "proposal 99 does not exist" in rpc(node, "sei_proposal", 99)["error"]["message"]
    # Bad input stops at estimation with the precompile's reason, and sends nothing.
    for args, reason in (
        (["vote", "99", "yes"], "proposal 99 does not exist"),
        (
            ["propose", "t", "d", "--change", "staking/MaxValidators=0"],
            "staking/MaxValidators must be within [1, 10000]",
        ),
        (["vote", str(proposal_id), "maybe"], "vote option 'maybe'"),
        (["deposit", str(proposal_id), "0.0000001"], "at most 6 decimals"),
    ):
        refused = pysei("tx", "--rpc", node.http_url, "--dev-account", "2", *args)
        assert refused.returncode == 1, refused.stdout
        assert reason in refused.stderr, refused.stderr
