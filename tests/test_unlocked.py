"""The node's unlocked dev accounts, used the way clients use them: the client names the sender and the node signs
(``eth_sendTransaction`` / ``eth_signTransaction``).

web3.py ``send_transaction`` and contract ``.transact()``; ethers' JsonRpcSigner, viem's JSON-RPC account and
``cast send --unlocked`` (tests/clients/js/unlocked.mjs); Hardhat 2 with ``accounts: "remote"`` (its default for
a node). A dedicated node, so the clients may spend from the first accounts (Hardhat's signers 0 and 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from tests.clients import solc
from tests.clients.tooling import HARDHAT2_DIR, JS_DIR, ensure_installed, node_bin
from tests.clients.web3_utils import wait
from tests.conftest import Devnet, start_devnet
from tests.test_js_clients import HARDHAT_TIMEOUT_S, SCRIPT_TIMEOUT_S, _check_hardhat_summary, _env, _run


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    ensure_installed()
    devnet = start_devnet(tmp_path_factory.mktemp("unlocked"), "--block-time", "0.1")
    yield devnet
    assert devnet.stop() == 0


def test_web3py_send_transaction_and_transact(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.http_url, request_kwargs={"timeout": 30}))
    sender = node.accounts[2].address
    recipient = Account.create().address
    receipt = wait(w3, w3.eth.send_transaction({"from": sender, "to": recipient, "value": 12345}))
    assert receipt["status"] == 1
    assert w3.eth.get_balance(recipient) == 12345

    art = solc.contract("Token")
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    deployed = wait(w3, factory.constructor("Unlocked", "UNL", 10**21).transact({"from": sender}))
    assert deployed["status"] == 1
    token = w3.eth.contract(address=deployed["contractAddress"], abi=art["abi"])
    called = wait(w3, token.functions.transfer(recipient, 99).transact({"from": sender}))
    assert called["status"] == 1
    assert token.functions.balanceOf(recipient).call() == 99


def test_ethers_viem_cast_json_rpc_signers(node: Devnet) -> None:
    cmd = [
        node_bin(),
        str(JS_DIR / "unlocked.mjs"),
        "--http", node.http_url,
        "--ws", node.ws_url,
        "--chain-id", str(node.chain_id),
        "--key", node.accounts[3].key,
        "--artifacts", str(solc.artifacts_path()),
    ]  # fmt: skip
    out = _run(cmd, cwd=JS_DIR, env=_env(node, "ethers"), timeout=SCRIPT_TIMEOUT_S, what="unlocked.mjs")
    assert "[unlocked] ALL CHECKS PASSED" in out, out[-4000:]
    assert out.count("[unlocked] ok") == 6, out[-4000:]


def test_hardhat2_remote_accounts(node: Devnet) -> None:
    out = _run(
        ["npx", "--no", "hardhat", "test", "--network", "pysei"],
        cwd=Path(HARDHAT2_DIR),
        env=_env(node, "hardhat2", PYSEI_REMOTE_ACCOUNTS="1"),
        timeout=HARDHAT_TIMEOUT_S,
        what="hardhat2 with accounts: remote",
    )
    _check_hardhat_summary(out, expected=5)
