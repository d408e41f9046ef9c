"""What a devnet user sees of the node itself: admission that counts the sender's pending spend (issue 15, item 3)
and the per-block / per-transaction log lines (item 11).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError

from tests.clients import solc
from tests.clients.web3_utils import wait
from tests.conftest import Devnet, start_devnet

SEI = 10**18


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    # --log-level info with --quiet: the banner is one line (what start_devnet reads), the log stays at info.
    devnet = start_devnet(tmp_path_factory.mktemp("behaviour"), "--block-time", "0.4", "--log-level", "info")
    yield devnet
    assert devnet.stop() == 0


def test_a_second_spend_beyond_the_balance_is_refused_at_once(node: Devnet) -> None:
    """1 SEI funds two 0.6-SEI transfers only on paper: the second is refused with geth's message, not accepted
    and then lost."""
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    poor = Account.create()
    wait(w3, w3.eth.send_transaction({"from": node.accounts[7].address, "to": poor.address, "value": SEI}))
    price = w3.eth.gas_price
    first = {"to": node.accounts[8].address, "value": 6 * SEI // 10, "gas": 21_000, "gasPrice": price, "nonce": 0}
    second = {**first, "nonce": 1}
    first_hash = w3.eth.send_raw_transaction(
        Account.sign_transaction({**first, "chainId": node.chain_id}, poor.key).raw_transaction
    )
    with pytest.raises(Web3RPCError, match="insufficient funds for gas \\* price \\+ value: balance") as refused:
        w3.eth.send_raw_transaction(
            Account.sign_transaction({**second, "chainId": node.chain_id}, poor.key).raw_transaction
        )
    assert "queued cost" in str(refused.value)
    assert wait(w3, first_hash)["status"] == 1
    # Once the first is mined the balance says what is left, and a transfer that fits is accepted.
    left = w3.eth.get_balance(poor.address)
    fits = {**second, "value": left - 21_000 * price}
    assert (
        wait(
            w3,
            w3.eth.send_raw_transaction(
                Account.sign_transaction({**fits, "chainId": node.chain_id}, poor.key).raw_transaction
            ),
        )["status"]
        == 1
    )


def test_blocks_and_transactions_are_logged(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    sender = node.accounts[9].address
    art = solc.contract("Reverter")
    deployed = wait(
        w3, w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor().transact({"from": sender})
    )
    reverter = w3.eth.contract(address=deployed["contractAddress"], abi=art["abi"])
    failed = wait(w3, reverter.functions.setValue(101).transact({"from": sender, "gas": 100_000}))
    assert failed["status"] == 0
    assert node.log_path is not None
    log = node.log_path.read_text()
    number = deployed["blockNumber"]
    assert f"INFO pysei.node: block {number}: 1 txs, {deployed['gasUsed']:,} gas" in log
    address = deployed["contractAddress"].lower()
    assert f"tx 0x{bytes(deployed['transactionHash']).hex()}: contract created {address}" in log
    assert f"tx 0x{bytes(failed['transactionHash']).hex()}: reverted: Reverter: value too large" in log
