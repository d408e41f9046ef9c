"""What a devnet user sees of the node itself: admission that counts the sender's pending spend (issue 15, item 3)
and the per-block / per-transaction log lines (item 11).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
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


DRAIN_RUNTIME = bytes.fromhex("600060006000600047335af100")
"""CALL(gas, CALLER, SELFBALANCE, 0, 0, 0, 0): sends everything the executing account holds to the caller."""
DRAIN_INIT = bytes.fromhex("600d600c600039600d6000f3") + DRAIN_RUNTIME


def _signed(key: str, chain_id: int, **tx: object) -> bytes:
    base = {"chainId": chain_id, "gas": 100_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, "type": 2}
    return bytes(Account.sign_transaction({**base, **tx}, key).raw_transaction)


def test_a_transaction_skipped_at_execution_says_why(node: Devnet) -> None:
    """Admission cannot foresee every spend: an account that delegated its code (EIP-7702) to a drain is emptied
    by someone else's call in the same block, so its own transfer, admitted against the balance it had, is
    skipped. It must not vanish: the receipt lookup says it was dropped and why, and the log says so too."""
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    sponsor = node.accounts[10]
    victim = Account.create()
    cid = node.chain_id
    nonce = w3.eth.get_transaction_count(sponsor.address, "pending")
    drain = wait(w3, w3.eth.send_raw_transaction(_signed(sponsor.key, cid, nonce=nonce, data=DRAIN_INIT, gas=200_000)))
    wait(w3, w3.eth.send_transaction({"from": sponsor.address, "to": victim.address, "value": SEI}))
    auth = Account.sign_authorization({"chainId": cid, "address": drain["contractAddress"], "nonce": 0}, victim.key)
    delegate = Account.sign_transaction(
        {
            "chainId": cid,
            "type": 4,
            "nonce": nonce + 2,
            "to": sponsor.address,
            "value": 0,
            "gas": 100_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
            "authorizationList": [auth],
        },  # fmt: skip
        sponsor.key,
    )
    assert wait(w3, w3.eth.send_raw_transaction(delegate.raw_transaction))["status"] == 1
    assert bytes(w3.eth.get_code(victim.address)) == b"\xef\x01\x00" + bytes.fromhex(drain["contractAddress"][2:])
    # One batch, one block: the drain (the higher tip, so first) and the victim's transfer (nonce 1: the
    # authorization used nonce 0).
    emptying = _signed(sponsor.key, cid, nonce=nonce + 3, to=victim.address, maxPriorityFeePerGas=10**10)
    transfer = _signed(
        victim.key, cid, nonce=1, to=sponsor.address, value=SEI // 2, gas=21_000, maxPriorityFeePerGas=10**9
    )
    answers = requests.post(
        node.http_url,
        json=[
            {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]}
            for i, raw in enumerate((emptying, transfer))
        ],
        timeout=30,
    ).json()
    assert all("result" in a for a in answers), answers
    hashes = [a["result"] for a in sorted(answers, key=lambda a: a["id"])]
    assert wait(w3, hashes[0])["status"] == 1
    assert w3.eth.get_balance(victim.address) == 0
    with pytest.raises(Web3RPCError, match=f"transaction {hashes[1]} was dropped: skipped in block") as dropped:
        w3.eth.get_transaction_receipt(hashes[1])
    assert "insufficient" in str(dropped.value).lower()
    assert node.log_path is not None
    assert f"skipped {hashes[1]}: " in node.log_path.read_text()


def test_a_large_block_logs_one_line_instead_of_one_per_transaction(node: Devnet) -> None:
    """Above 100 transactions a block's per-transaction lines move to debug level (they cost a loaded validator
    about 5% of its CPU); the block line stays."""
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    sender = Account.from_key(node.accounts[14].key)
    nonce = w3.eth.get_transaction_count(sender.address, "pending")
    price = w3.eth.gas_price
    raws = [
        Account.sign_transaction(
            {"to": node.accounts[15].address, "value": 1, "gas": 21_000, "gasPrice": price, "nonce": nonce + i,
             "chainId": node.chain_id},
            sender.key,
        ).raw_transaction
        for i in range(120)
    ]  # fmt: skip
    # One JSON-RPC batch: the pool takes all of it before the sequencer's next cut.
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + r.hex()]}
             for i, r in enumerate(raws)]  # fmt: skip
    answers = requests.post(node.http_url, json=batch, timeout=30).json()
    hashes = [a["result"] for a in sorted(answers, key=lambda a: a["id"])]
    receipts = [wait(w3, h) for h in (hashes[0], hashes[-1])]
    number = receipts[0]["blockNumber"]
    assert receipts[1]["blockNumber"] == number
    assert node.log_path is not None
    log = node.log_path.read_text()
    assert f"INFO pysei.node: block {number}: 120 txs, {120 * 21_000:,} gas" in log
    assert "(120 transaction lines left out; --log-level debug lists them)" in log
    assert hashes[0][2:] not in log and hashes[-1][2:] not in log


def test_a_client_stuck_mid_request_does_not_keep_the_node_running(tmp_path: Path) -> None:
    """A client that sent a request's headers but not its body holds a handler open. SIGTERM must still stop the
    node (exit 0) instead of waiting on it for aiohttp's 60 s grace: the RPC server's stop is bounded
    (``app.devnet.stop_step``) and the log says it was cut short."""
    node = start_devnet(tmp_path)
    host, port = node.http_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as stuck:
        stuck.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999\r\n\r\n{")
        # The handler is reading the body once the server answers anything else: the request is in progress.
        assert requests.post(node.http_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).ok
        assert node.stop() == 0
    assert "stopping the RPC server took over" in node.log_path.read_text()
