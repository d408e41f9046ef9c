"""Deterministic deployments (issue 15, item 6): the CREATE2 deployer at its well-known address from genesis, and
the pre-EIP-155 ("keyless") transaction of Nick's method accepted, as on anvil; ``--refuse-unprotected-txs``
refuses it as geth does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import Web3RPCError

from pysei.chain.constants import CREATE2_DEPLOYER, CREATE2_DEPLOYER_CODE
from tests.clients.tooling import cast, ensure_installed
from tests.clients.web3_utils import wait
from tests.conftest import Devnet, start_devnet

FACTORY = to_checksum_address(CREATE2_DEPLOYER)
KEYLESS_DEPLOYMENT = bytes.fromhex(
    "f8a58085174876e800830186a08080b853604580600e600039806000f350fe7fffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf31ba022222222222222222222222222"
    "22222222222222222222222222222222222222a02222222222222222222222222222222222222222222222222222222222222222"
)
"""The factory's own deployment transaction (github.com/Arachnid/deterministic-deployment-proxy): a legacy
transaction without chain id, signed by nobody's key (r = s = 0x22…), from 0x3fab…5362 at gas price 100 gwei."""
KEYLESS_SENDER = "0x3fAB184622Dc19b6109349B94811493BF2a45362"
INIT_CODE = bytes.fromhex("600a600c600039600a6000f3602a60005260206000f3")
"""Copies the 10-byte runtime after it and returns it; the runtime returns the word 42."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    ensure_installed()
    devnet = start_devnet(tmp_path_factory.mktemp("create2"), "--block-time", "0.1")
    yield devnet
    assert devnet.stop() == 0


def test_the_create2_deployer_is_there_from_genesis(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    assert bytes(w3.eth.get_code(FACTORY, 0)) == CREATE2_DEPLOYER_CODE


def test_the_keyless_deployment_transaction_is_accepted(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    assert Account.recover_transaction(KEYLESS_DEPLOYMENT) == KEYLESS_SENDER
    funder = node.accounts[4]
    fund = {"from": funder.address, "to": KEYLESS_SENDER, "value": 100_000 * 100 * 10**9}
    assert wait(w3, w3.eth.send_transaction(fund))["status"] == 1
    receipt = wait(w3, w3.eth.send_raw_transaction(KEYLESS_DEPLOYMENT))
    # Mined like any transaction; the factory is already there (as on anvil), so its CREATE collides and fails.
    assert receipt["contractAddress"] == FACTORY
    assert w3.eth.get_transaction_count(KEYLESS_SENDER) == 1
    assert bytes(w3.eth.get_code(FACTORY)) == CREATE2_DEPLOYER_CODE
    assert w3.eth.get_transaction(receipt["transactionHash"])["v"] == 27


def test_an_unprotected_transfer_executes(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    sender = node.accounts[5]
    recipient = Account.create().address
    tx = {
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        "to": recipient,
        "value": 777,
        "gas": 21_000,
        "gasPrice": w3.eth.gas_price,
    }  # no chainId: a pre-EIP-155 signature
    signed = Account.sign_transaction(tx, sender.key)
    assert wait(w3, w3.eth.send_raw_transaction(signed.raw_transaction))["status"] == 1
    assert w3.eth.get_balance(recipient) == 777


def test_cast_deploys_through_the_factory(node: Devnet) -> None:
    salt = "0x" + "00" * 31 + "01"
    rpc = ["--rpc-url", node.http_url]
    key = node.accounts[6].key
    sent = cast("send", "--private-key", key, FACTORY, salt + INIT_CODE.hex(), "--json", *rpc)
    assert '"status":"0x1"' in sent.replace(" ", ""), sent
    computed = cast("compute-address", FACTORY, "--salt", salt, "--init-code", "0x" + INIT_CODE.hex())
    address = computed.split()[-1]
    expected = keccak(b"\xff" + CREATE2_DEPLOYER + bytes.fromhex(salt[2:]) + keccak(INIT_CODE))[12:]
    assert address.lower() == "0x" + expected.hex()
    assert cast("code", address, *rpc) == "0x602a60005260206000f3"
    assert int(cast("call", address, *rpc), 16) == 42


def test_refuse_unprotected_txs(tmp_path: Path) -> None:
    devnet = start_devnet(tmp_path, "--refuse-unprotected-txs")
    try:
        w3 = Web3(Web3.HTTPProvider(devnet.http_url))
        with pytest.raises(Web3RPCError, match="only replay-protected \\(EIP-155\\) transactions allowed over RPC"):
            w3.eth.send_raw_transaction(KEYLESS_DEPLOYMENT)
    finally:
        assert devnet.stop() == 0
