"""A Vyper contract (tests/contracts/Counter.vy) compiled with the `vyper`
PyPI package, deployed and exercised with web3.py against the devnet.

Uses dev accounts 4 and 5 and only the ``devnet`` fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import vyper
from eth_abi import decode as abi_decode
from eth_utils import keccak
from vyper.compiler.settings import Settings
from web3.exceptions import ContractLogicError

try:
    from tests.clients.web3_utils import deploy, make_w3, wait
except ImportError:  # tests/ itself is the import root
    from clients.web3_utils import deploy, make_w3, wait  # type: ignore[no-redef]

SOURCE = Path(__file__).resolve().parent / "contracts" / "Counter.vy"
EVM_VERSION = "cancun"
LIMIT = 100


@pytest.fixture(scope="module")
def compiled():
    out = vyper.compile_code(
        SOURCE.read_text(),
        contract_path=str(SOURCE),
        output_formats=["abi", "bytecode", "bytecode_runtime"],
        settings=Settings(evm_version=EVM_VERSION),
    )
    assert out["bytecode"].startswith("0x") and len(out["bytecode"]) > 100
    return out


@pytest.fixture(scope="module")
def accts(devnet):
    return devnet.accounts[4], devnet.accounts[5]


@pytest.fixture(scope="module")
def w3(devnet, accts):
    return make_w3(devnet.http_url, *(a.key for a in accts))


@pytest.fixture(scope="module")
def counter(w3, compiled, accts):
    contract, receipt = deploy(w3, accts[0].key, compiled["abi"], compiled["bytecode"], LIMIT)
    return contract, receipt


def test_deploy_and_storage(w3, compiled, counter, accts):
    contract, receipt = counter
    assert receipt["status"] == 1
    assert "0x" + bytes(w3.eth.get_code(contract.address)).hex() == compiled["bytecode_runtime"]
    assert contract.functions.count().call() == 0
    assert contract.functions.limit().call() == LIMIT
    assert contract.functions.owner().call() == accts[0].address
    assert contract.functions.remaining().call() == LIMIT
    # raw storage: vyper 0.4 lays out `count` at slot 0 and `limit` at slot 1
    assert int.from_bytes(bytes(w3.eth.get_storage_at(contract.address, 1)), "big") == LIMIT


def test_increment_emits_event(w3, counter, accts):
    contract, _ = counter
    a4, a5 = accts
    r1 = wait(w3, contract.functions.increment(7).transact({"from": a4.address}))
    r2 = wait(w3, contract.functions.increment(5).transact({"from": a5.address}))
    assert r1["status"] == r2["status"] == 1
    assert contract.functions.count().call() == 12
    assert contract.functions.contributions(a4.address).call() == 7
    assert contract.functions.contributions(a5.address).call() == 5
    assert contract.functions.remaining().call() == LIMIT - 12

    (ev,) = contract.events.Incremented().process_receipt(r2)
    assert ev["args"]["sender"] == a5.address
    assert ev["args"]["by"] == 5
    assert ev["args"]["new_value"] == 12
    # the raw log: topic0 = event signature, topic1 = indexed sender
    (log,) = r2["logs"]
    assert bytes(log["topics"][0]) == keccak(text="Incremented(address,uint256,uint256)")
    assert bytes(log["topics"][1])[-20:] == bytes.fromhex(a5.address[2:])
    by, new_value = abi_decode(["uint256", "uint256"], bytes(log["data"]))
    assert (by, new_value) == (5, 12)

    logs = contract.events.Incremented().get_logs(from_block=r1["blockNumber"], argument_filters={"sender": a4.address})
    assert [(e["args"]["by"], e["transactionHash"]) for e in logs] == [(7, r1["transactionHash"])]
    # the return value, through eth_call
    assert contract.functions.increment(1).call({"from": a4.address}) == 13


def test_assert_reasons_from_eth_call(counter, accts):
    contract, _ = counter
    a4, a5 = accts
    with pytest.raises(ContractLogicError, match="Counter: increment must be positive"):
        contract.functions.increment(0).call({"from": a4.address})
    with pytest.raises(ContractLogicError, match="Counter: limit exceeded"):
        contract.functions.increment(LIMIT + 1).call({"from": a4.address})
    with pytest.raises(ContractLogicError, match="Counter: limit exceeded"):
        contract.functions.increment(LIMIT + 1).estimate_gas({"from": a4.address})
    with pytest.raises(ContractLogicError, match="Counter: only owner"):
        contract.functions.reset().call({"from": a5.address})


def test_failed_assert_mined_with_status_0(w3, counter, accts):
    contract, _ = counter
    a4, a5 = accts
    before = contract.functions.count().call()
    tx_hash = contract.functions.reset().transact({"from": a5.address, "gas": 100_000})
    receipt = wait(w3, tx_hash)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert contract.functions.count().call() == before
    tx = w3.eth.get_transaction(tx_hash)
    with pytest.raises(ContractLogicError, match="Counter: only owner"):
        w3.eth.call({"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}, receipt["blockNumber"])
    # the owner can reset
    ok = wait(w3, contract.functions.reset().transact({"from": a4.address}))
    assert ok["status"] == 1
    assert contract.functions.count().call() == 0
