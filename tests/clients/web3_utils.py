"""Small web3.py helpers shared by tests/test_web3py.py and tests/test_vyper.py.

Transactions are always signed locally and sent with eth_sendRawTransaction,
as real wallets and dapps do (the devnet need not manage keys).
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder

RECEIPT_TIMEOUT_S = 60
POLL_LATENCY_S = 0.1


def make_w3(http_url: str, *signer_keys: str) -> Web3:
    """HTTP Web3 whose `transact()` signs locally for the given keys."""
    w3 = Web3(Web3.HTTPProvider(http_url, request_kwargs={"timeout": 30}))
    if signer_keys:
        accounts = [Account.from_key(k) for k in signer_keys]
        w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(accounts), layer=0)
        w3.eth.default_account = accounts[0].address
    return w3


def wait(w3: Web3, tx_hash) -> Any:
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S, poll_latency=POLL_LATENCY_S)


def eip1559_fees(w3: Web3) -> dict[str, int]:
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = w3.eth.max_priority_fee
    return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}


def sign_and_send(w3: Web3, key: str, tx: dict[str, Any]):
    """Fill nonce/chainId/fees/gas if missing, sign with `key`, send raw; returns (tx_hash, signed)."""
    acct = Account.from_key(key)
    tx = dict(tx)
    tx.setdefault("from", acct.address)
    tx.setdefault("chainId", w3.eth.chain_id)
    tx.setdefault("nonce", w3.eth.get_transaction_count(acct.address, "pending"))
    if "gasPrice" not in tx and "maxFeePerGas" not in tx:
        tx.update(eip1559_fees(w3))
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    signed = acct.sign_transaction(tx)
    return w3.eth.send_raw_transaction(signed.raw_transaction), signed


def deploy(w3: Web3, key: str, abi: list, bytecode: str, *args: Any):
    """Deploy a contract; returns (contract, receipt)."""
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    acct = Account.from_key(key)
    tx = factory.constructor(*args).build_transaction(
        {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address, "pending")}
    )
    tx_hash, _ = sign_and_send(w3, key, tx)
    receipt = wait(w3, tx_hash)
    assert receipt["status"] == 1, f"deployment failed: {receipt}"
    assert receipt["contractAddress"], "deployment receipt has no contractAddress"
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi), receipt
