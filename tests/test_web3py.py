"""web3.py against the devnet: the real-client path most Python users take.

Deploys the ERC-20 compiled by tests/clients/js/compile.mjs, transfers,
reads balances, finds Transfer logs (eth_getLogs, eth_newFilter polling and
an eth_subscribe WebSocket subscription), and checks revert reasons from
eth_call / eth_estimateGas and from a mined status-0 transaction.

Uses dev accounts 1-3 (other client tests use other accounts, so nonces never
interleave) and only the ``devnet`` fixture.
"""

from __future__ import annotations

import asyncio

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_bloom import BloomFilter
from eth_utils import keccak, to_checksum_address
from web3 import AsyncWeb3, Web3, WebSocketProvider
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
)

try:
    from tests.clients import solc
    from tests.clients.web3_utils import deploy, make_w3, sign_and_send, wait
except ImportError:  # tests/ itself is the import root
    from clients import solc  # type: ignore[no-redef]
    from clients.web3_utils import deploy, make_w3, sign_and_send, wait  # type: ignore[no-redef]

ETHER = 10**18
SUPPLY = 1_000_000 * ETHER
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
ERROR_SELECTOR = "0x08c379a0"


def topic_of(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def hexstr(b) -> str:
    return b if isinstance(b, str) else "0x" + bytes(b).hex()


@pytest.fixture(scope="module")
def accts(devnet):
    a1, a2, a3 = devnet.accounts[1:4]
    return a1, a2, a3


@pytest.fixture(scope="module")
def w3(devnet, accts) -> Web3:
    w3 = make_w3(devnet.http_url, *(a.key for a in accts))
    assert w3.is_connected(), f"cannot reach {devnet.http_url}"
    return w3


@pytest.fixture(scope="module")
def token(w3, accts):
    art = solc.contract("Token")
    contract, receipt = deploy(w3, accts[0].key, art["abi"], art["bytecode"], "Py Token", "PYT", SUPPLY)
    return contract, receipt


@pytest.fixture(scope="module")
def reverter(w3, accts):
    art = solc.contract("Reverter")
    contract, _ = deploy(w3, accts[0].key, art["abi"], art["bytecode"])
    return contract


# --------------------------------------------------------------------- chain


def test_chain_basics(w3, devnet):
    assert devnet.chain_id == 713714
    assert w3.eth.chain_id == devnet.chain_id
    assert int(w3.net.version) == devnet.chain_id
    assert w3.client_version  # web3_clientVersion
    assert w3.eth.block_number >= 0
    latest = w3.eth.get_block("latest")
    assert latest["number"] <= w3.eth.block_number
    assert latest["baseFeePerGas"] > 0, "EIP-1559 base fee expected"
    assert w3.eth.gas_price > 0
    assert w3.eth.max_priority_fee >= 0
    genesis = w3.eth.get_block(0)
    assert genesis["number"] == 0
    assert genesis["hash"] != b"\x00" * 32


def test_dev_accounts_funded(w3, devnet):
    assert len(devnet.accounts) == 20
    for a in devnet.accounts:
        assert to_checksum_address(a.address) == a.address
        assert Account.from_key(a.key).address == a.address
        assert w3.eth.get_balance(a.address) > 1_000 * ETHER, a.address
    # Account 19 is not used by any client test: untouched, it holds exactly 10,000.
    last = devnet.accounts[19].address
    if w3.eth.get_transaction_count(last) == 0:
        assert w3.eth.get_balance(last) == 10_000 * ETHER


# ---------------------------------------------------------- plain transfers


def test_value_transfer_exact_accounting(w3, accts):
    sender = accts[0]
    recipient = Account.create().address
    before = w3.eth.get_balance(sender.address)
    nonce = w3.eth.get_transaction_count(sender.address)
    value = 3 * ETHER // 2
    tx_hash, signed = sign_and_send(w3, sender.key, {"to": recipient, "value": value, "gas": 21_000})
    assert hexstr(tx_hash) == hexstr(signed.hash)
    receipt = wait(w3, tx_hash)
    assert receipt["status"] == 1
    assert receipt["gasUsed"] == 21_000
    assert receipt["type"] == 2
    assert w3.eth.get_balance(recipient) == value
    after = w3.eth.get_balance(sender.address)
    assert before - after == value + receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_transaction_count(sender.address) == nonce + 1

    tx = w3.eth.get_transaction(tx_hash)
    assert tx["from"] == sender.address
    assert tx["to"] == recipient
    assert tx["value"] == value
    assert tx["nonce"] == nonce
    assert tx["chainId"] == w3.eth.chain_id
    # the node returns the signature we signed with
    assert (int.from_bytes(bytes(tx["r"]), "big"), int.from_bytes(bytes(tx["s"]), "big")) == (signed.r, signed.s)
    assert tx["yParity"] == signed.v
    # The effective gas price of a type-2 tx is min(maxFee, baseFee + tip).
    block = w3.eth.get_block(receipt["blockNumber"])
    assert receipt["effectiveGasPrice"] == min(tx["maxFeePerGas"], block["baseFeePerGas"] + tx["maxPriorityFeePerGas"])


def test_legacy_and_access_list_transactions(w3, accts):
    sender = accts[2]
    to = Account.create().address
    gas_price = w3.eth.gas_price
    # type 0, EIP-155 replay-protected
    h0, _ = sign_and_send(w3, sender.key, {"to": to, "value": 1, "gas": 21_000, "gasPrice": gas_price})
    r0 = wait(w3, h0)
    assert r0["status"] == 1 and r0["type"] == 0
    assert w3.eth.get_transaction(h0)["type"] == 0
    # type 1 (EIP-2930): an access list costs extra intrinsic gas
    access_list = [{"address": to, "storageKeys": ["0x" + "00" * 32]}]
    h1, _ = sign_and_send(
        w3,
        sender.key,
        {"to": to, "value": 2, "gasPrice": gas_price, "accessList": access_list, "type": 1, "gas": 30_000},
    )
    r1 = wait(w3, h1)
    assert r1["status"] == 1 and r1["type"] == 1
    assert r1["gasUsed"] == 21_000 + 2_400 + 1_900  # base + address + storage key
    tx1 = w3.eth.get_transaction(h1)
    assert tx1["type"] == 1
    assert [e["address"] for e in tx1["accessList"]] == [to]
    assert w3.eth.get_balance(to) == 3


# ---------------------------------------------------------------- the token


def test_deploy_token(w3, token, accts):
    contract, receipt = token
    art = solc.contract("Token")
    assert hexstr(w3.eth.get_code(contract.address)) == art["deployedBytecode"]
    assert contract.functions.name().call() == "Py Token"
    assert contract.functions.symbol().call() == "PYT"
    assert contract.functions.decimals().call() == 18
    assert contract.functions.totalSupply().call() == SUPPLY
    assert contract.functions.balanceOf(accts[0].address).call() == SUPPLY
    mint = contract.events.Transfer().process_receipt(receipt)
    assert len(mint) == 1
    assert mint[0]["args"]["from"] == "0x" + "00" * 20
    assert mint[0]["args"]["to"] == accts[0].address
    assert mint[0]["args"]["value"] == SUPPLY
    assert mint[0]["address"] == contract.address


def test_transfer_and_balances(w3, token, accts):
    contract, _ = token
    a1, a2, _ = accts
    before1 = contract.functions.balanceOf(a1.address).call()
    before2 = contract.functions.balanceOf(a2.address).call()
    tx_hash = contract.functions.transfer(a2.address, 1234).transact({"from": a1.address})
    receipt = wait(w3, tx_hash)
    assert receipt["status"] == 1
    events = contract.events.Transfer().process_receipt(receipt)
    assert [(e["args"]["from"], e["args"]["to"], e["args"]["value"]) for e in events] == [
        (a1.address, a2.address, 1234)
    ]
    assert events[0]["transactionHash"] == receipt["transactionHash"]
    assert contract.functions.balanceOf(a1.address).call() == before1 - 1234
    assert contract.functions.balanceOf(a2.address).call() == before2 + 1234
    # balance at an explicit block number equals latest here
    assert contract.functions.balanceOf(a2.address).call(block_identifier=receipt["blockNumber"]) == before2 + 1234


def test_approve_and_transfer_from(w3, token, accts):
    contract, _ = token
    a1, a2, a3 = accts
    r = wait(w3, contract.functions.approve(a2.address, 500).transact({"from": a1.address}))
    approval = contract.events.Approval().process_receipt(r)
    assert approval[0]["args"]["value"] == 500
    assert contract.functions.allowance(a1.address, a2.address).call() == 500
    r = wait(w3, contract.functions.transferFrom(a1.address, a3.address, 200).transact({"from": a2.address}))
    assert r["status"] == 1
    assert contract.functions.balanceOf(a3.address).call() == 200
    assert contract.functions.allowance(a1.address, a2.address).call() == 300
    with pytest.raises(ContractLogicError, match="ERC20: insufficient allowance"):
        contract.functions.transferFrom(a1.address, a3.address, 301).call({"from": a2.address})


def test_get_logs(w3, token, accts):
    contract, deploy_receipt = token
    a1, a2, _ = accts
    receipt = wait(w3, contract.functions.transfer(a2.address, 77).transact({"from": a1.address}))
    start = deploy_receipt["blockNumber"]

    # contract-event API (eth_getLogs with topic filters built by web3)
    to_a2 = contract.events.Transfer().get_logs(from_block=start, argument_filters={"to": a2.address})
    assert to_a2, "no Transfer logs to a2"
    assert to_a2[-1]["transactionHash"] == receipt["transactionHash"]
    assert to_a2[-1]["args"]["value"] == 77
    assert all(e["args"]["to"] == a2.address for e in to_a2)

    # raw eth_getLogs: address + topic0 + indexed `to`
    raw = w3.eth.get_logs(
        {
            "address": contract.address,
            "topics": [TRANSFER_TOPIC, None, topic_of(a2.address)],
            "fromBlock": start,
            "toBlock": "latest",
        }
    )
    assert [hexstr(log["transactionHash"]) for log in raw] == [hexstr(e["transactionHash"]) for e in to_a2]
    log = raw[-1]
    assert hexstr(log["topics"][0]) == TRANSFER_TOPIC
    assert hexstr(log["topics"][1]) == topic_of(a1.address)
    assert int.from_bytes(bytes(log["data"]), "big") == 77
    assert log["blockHash"] == receipt["blockHash"]
    assert log["blockNumber"] == receipt["blockNumber"]
    assert log["logIndex"] == receipt["logs"][0]["logIndex"]
    assert log["transactionIndex"] == receipt["transactionIndex"]
    assert log["removed"] is False

    # OR-ed topics, block hash filter, and an empty result
    either = w3.eth.get_logs(
        {
            "address": contract.address,
            "topics": [TRANSFER_TOPIC, [topic_of(a1.address), topic_of("0x" + "00" * 20)]],
            "fromBlock": start,
        }
    )
    assert len(either) >= 2  # at least the mint (from 0) and this transfer (from a1)
    by_hash = w3.eth.get_logs({"address": contract.address, "blockHash": receipt["blockHash"]})
    assert [hexstr(x["transactionHash"]) for x in by_hash] == [hexstr(receipt["transactionHash"])]
    nobody = Account.create().address
    assert (
        w3.eth.get_logs({"address": contract.address, "topics": [None, None, topic_of(nobody)], "fromBlock": start})
        == []
    )
    assert w3.eth.get_logs({"address": nobody, "fromBlock": start}) == []


def test_log_filter_polling(w3, token, accts):
    """eth_newFilter / eth_getFilterLogs / eth_getFilterChanges / eth_uninstallFilter."""
    contract, deploy_receipt = token
    a1, _, a3 = accts
    flt = contract.events.Transfer.create_filter(
        from_block=deploy_receipt["blockNumber"], argument_filters={"to": a3.address}
    )
    try:
        existing = flt.get_all_entries()
        assert all(e["args"]["to"] == a3.address for e in existing)
        flt.get_new_entries()  # drain
        receipt = wait(w3, contract.functions.transfer(a3.address, 5).transact({"from": a1.address}))
        new = flt.get_new_entries()
        assert [(e["transactionHash"], e["args"]["value"]) for e in new] == [(receipt["transactionHash"], 5)]
        assert flt.get_new_entries() == []
        assert len(flt.get_all_entries()) == len(existing) + 1
    finally:
        assert w3.eth.uninstall_filter(flt.filter_id) is True
    # block filter
    bf = w3.eth.filter("latest")
    try:
        receipt = wait(w3, contract.functions.transfer(a3.address, 1).transact({"from": a1.address}))
        hashes = bf.get_new_entries()
        assert receipt["blockHash"] in hashes
    finally:
        w3.eth.uninstall_filter(bf.filter_id)


def test_websocket_subscriptions(devnet, w3, token, accts):
    """eth_subscribe logs + newHeads over WebSocket, tx sent over the same socket."""
    contract, _ = token
    a1 = accts[0]
    recipient = Account.create().address
    # Sign with the HTTP client (nonce/fees), send over WebSocket.
    tx = contract.functions.transfer(recipient, 4321).build_transaction(
        {"from": a1.address, "nonce": w3.eth.get_transaction_count(a1.address, "pending")}
    )
    signed = Account.from_key(a1.key).sign_transaction(tx)

    async def scenario():
        async with AsyncWeb3(WebSocketProvider(devnet.ws_url)) as aw3:
            assert await aw3.eth.chain_id == devnet.chain_id
            log_sub = await aw3.eth.subscribe(
                "logs", {"address": contract.address, "topics": [TRANSFER_TOPIC, None, topic_of(recipient)]}
            )
            head_sub = await aw3.eth.subscribe("newHeads")
            assert log_sub != head_sub
            tx_hash = await aw3.eth.send_raw_transaction(signed.raw_transaction)
            got_log = got_head = None
            async for msg in aw3.socket.process_subscriptions():
                if msg["subscription"] == log_sub:
                    got_log = msg["result"]
                elif msg["subscription"] == head_sub:
                    got_head = msg["result"]
                if got_log is not None and got_head is not None:
                    break
            assert await aw3.eth.unsubscribe(log_sub) is True
            assert await aw3.eth.unsubscribe(head_sub) is True
            receipt = await aw3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.1)
            return tx_hash, got_log, got_head, receipt

    tx_hash, log, head, receipt = asyncio.run(asyncio.wait_for(scenario(), timeout=90))
    assert receipt["status"] == 1
    assert hexstr(log["transactionHash"]) == hexstr(tx_hash)
    assert log["address"] == contract.address
    assert hexstr(log["topics"][2]) == topic_of(recipient)
    assert int.from_bytes(bytes(log["data"]), "big") == 4321
    assert log["blockNumber"] == receipt["blockNumber"]
    assert hexstr(log["blockHash"]) == hexstr(receipt["blockHash"])
    assert head["number"] >= 1
    assert hexstr(head["hash"]) == hexstr(w3.eth.get_block(head["number"])["hash"])
    assert head["parentHash"] == w3.eth.get_block(head["number"] - 1)["hash"]
    assert contract.functions.balanceOf(recipient).call() == 4321


# ------------------------------------------------------------------ reverts


def test_revert_reason_from_eth_call_and_estimate(w3, token, reverter, accts):
    contract, _ = token
    a1, _, a3 = accts
    too_much = contract.functions.balanceOf(a1.address).call() + 1
    with pytest.raises(ContractLogicError) as exc:
        contract.functions.transfer(a3.address, too_much).call({"from": a1.address})
    assert "ERC20: insufficient balance" in exc.value.message
    data = hexstr(exc.value.data)
    assert data.startswith(ERROR_SELECTOR)
    assert abi_decode(["string"], bytes.fromhex(data[10:]))[0] == "ERC20: insufficient balance"

    with pytest.raises(ContractLogicError, match="ERC20: insufficient balance"):
        contract.functions.transfer(a3.address, too_much).estimate_gas({"from": a1.address})
    # transact() estimates gas first, so it fails before broadcasting
    nonce = w3.eth.get_transaction_count(a1.address)
    with pytest.raises(ContractLogicError, match="ERC20: insufficient balance"):
        contract.functions.transfer(a3.address, too_much).transact({"from": a1.address})
    assert w3.eth.get_transaction_count(a1.address) == nonce

    with pytest.raises(ContractLogicError, match="Reverter: custom reason"):
        reverter.functions.revertWithReason().call()
    # raw eth_call (no ABI help): the error still carries the revert data
    with pytest.raises(ContractLogicError) as exc:
        w3.eth.call({"to": reverter.address, "data": reverter.encode_abi("revertWithReason")})
    assert "Reverter: custom reason" in exc.value.message


def test_custom_error_and_panic(w3, reverter, accts):
    a1 = accts[0]
    with pytest.raises(ContractCustomError) as exc:
        reverter.functions.revertWithCustomError().call({"from": a1.address})
    data = hexstr(exc.value.data)
    selector = "0x" + keccak(text="Unauthorized(address,uint256)")[:4].hex()
    assert data.startswith(selector)
    caller, code = abi_decode(["address", "uint256"], bytes.fromhex(data[10:]))
    assert to_checksum_address(caller) == a1.address
    assert code == 42
    with pytest.raises(ContractPanicError, match="0x01"):
        reverter.functions.panicAssert().call()
    with pytest.raises(ContractPanicError, match="0x12"):
        reverter.functions.divide(1, 0).call()
    assert reverter.functions.divide(10, 3).call() == 3


def test_failed_transaction_is_mined_with_status_0(w3, reverter, token, accts):
    a1 = accts[0]
    value_before = reverter.functions.value().call()
    balance_before = w3.eth.get_balance(a1.address)
    nonce = w3.eth.get_transaction_count(a1.address)
    # An explicit gas limit skips estimation, so the reverting tx is broadcast and mined.
    tx_hash = reverter.functions.setValue(1000).transact({"from": a1.address, "gas": 200_000})
    receipt = wait(w3, tx_hash)
    assert receipt["status"] == 0
    assert 21_000 < receipt["gasUsed"] < 200_000
    assert receipt["logs"] == []
    assert receipt["to"] == reverter.address
    assert receipt["contractAddress"] is None
    assert reverter.functions.value().call() == value_before
    assert w3.eth.get_transaction_count(a1.address) == nonce + 1
    # the sender still pays for the gas used
    assert balance_before - w3.eth.get_balance(a1.address) == receipt["gasUsed"] * receipt["effectiveGasPrice"]

    # Re-run the mined transaction with eth_call at its block to get the reason.
    tx = w3.eth.get_transaction(tx_hash)
    assert tx["gas"] == 200_000
    with pytest.raises(ContractLogicError, match="Reverter: value too large"):
        w3.eth.call(
            {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"], "value": tx["value"]},
            block_identifier=receipt["blockNumber"],
        )

    # Same for the token: a too-large transfer mined with status 0 leaves balances alone.
    contract, _ = token
    bal = contract.functions.balanceOf(a1.address).call()
    receipt = wait(
        w3, contract.functions.transfer(accts[1].address, bal + 1).transact({"from": a1.address, "gas": 100_000})
    )
    assert receipt["status"] == 0
    assert contract.functions.balanceOf(a1.address).call() == bal

    # and a successful call afterwards still works
    ok = wait(w3, reverter.functions.setValue(42).transact({"from": a1.address}))
    assert ok["status"] == 1
    assert reverter.functions.value().call() == 42
    (ev,) = reverter.events.ValueSet().process_receipt(ok)
    assert ev["args"]["value"] == 42


# ------------------------------------------------------- blocks and receipts


def test_block_and_receipt_fields(w3, token, accts):
    contract, _ = token
    a1, a2, _ = accts
    receipt = wait(w3, contract.functions.transfer(a2.address, 9).transact({"from": a1.address}))
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=True)

    assert block["hash"] == receipt["blockHash"]
    assert block["number"] == receipt["blockNumber"]
    assert any(t["hash"] == receipt["transactionHash"] for t in block["transactions"])
    assert block["gasUsed"] >= receipt["gasUsed"]
    assert block["gasLimit"] >= block["gasUsed"]
    assert block["baseFeePerGas"] > 0
    for field in ("parentHash", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom", "timestamp", "miner"):
        assert field in block, field
    parent = w3.eth.get_block(block["number"] - 1)
    assert block["parentHash"] == parent["hash"]
    assert block["timestamp"] >= parent["timestamp"]
    assert w3.eth.get_block(block["hash"])["number"] == block["number"]
    assert w3.eth.get_block_transaction_count(block["number"]) == len(block["transactions"])
    by_index = w3.eth.get_transaction_by_block(block["number"], receipt["transactionIndex"])
    assert by_index["hash"] == receipt["transactionHash"]

    assert tx["blockHash"] == receipt["blockHash"]
    assert tx["blockNumber"] == receipt["blockNumber"]
    assert tx["transactionIndex"] == receipt["transactionIndex"]
    assert tx["from"] == a1.address == receipt["from"]
    assert tx["to"] == contract.address == receipt["to"]
    assert receipt["cumulativeGasUsed"] >= receipt["gasUsed"]
    assert receipt["effectiveGasPrice"] > 0

    # logsBloom of the receipt and of the block must contain the log's address and topics
    for bloom_bytes in (receipt["logsBloom"], block["logsBloom"]):
        bloom = BloomFilter(int.from_bytes(bytes(bloom_bytes), "big"))
        assert bytes.fromhex(contract.address[2:]) in bloom
        assert bytes.fromhex(TRANSFER_TOPIC[2:]) in bloom
        assert bytes.fromhex(topic_of(a2.address)[2:]) in bloom

    missing = "0x" + "ab" * 32
    with pytest.raises(TransactionNotFound):  # the node returns null
        w3.eth.get_transaction_receipt(missing)
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction(missing)
    with pytest.raises(BlockNotFound):
        w3.eth.get_block(w3.eth.block_number + 1000)
