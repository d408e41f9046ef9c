"""The staking and bank precompiles on a running devnet, driven as a user does: web3.py, a Solidity contract
compiled with npm solc that stakes through Sei's staking precompile, direct calls with Sei's ABI, and the
``pysei tx``/``pysei query`` commands.

The node starts from a genesis file written by ``pysei genesis write`` (Sei's 21-day unbonding period); block time
is advanced with the dev method ``evm_increaseTime``. An entry matures in the first block at or after its
completion time, and the devnet cuts a block when a transaction arrives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_utils import event_abi_to_log_topic
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound
from web3.middleware import SignAndSendRawMiddlewareBuilder

from pysei.native import precompile_abis
from tests.clients import solc
from tests.conftest import ROOT, Devnet, start_devnet

STAKING = Web3.to_checksum_address("0x0000000000000000000000000000000000001005")
BANK = Web3.to_checksum_address("0x0000000000000000000000000000000000001001")
UNBONDING_S = 21 * 86_400
SEI = 10**18
USEI_PER_SEI = 10**6


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    tmp = tmp_path_factory.mktemp("staking")
    genesis = tmp / "genesis.json"
    subprocess.run(
        [sys.executable, "-m", "pysei.cli", "genesis", "write", "--out", str(genesis)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    devnet = start_devnet(tmp, "--genesis", str(genesis), "--block-time", "0.1")
    yield devnet
    assert devnet.stop() == 0


@pytest.fixture(scope="module")
def w3(node: Devnet) -> Web3:
    w3 = Web3(Web3.HTTPProvider(node.http_url, request_kwargs={"timeout": 30}))
    # Sign locally, as a wallet does.
    signers = [Account.from_key(node.accounts[i].key) for i in (0, 2)]
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(signers), layer=0)
    w3.eth.default_account = node.accounts[0].address
    return w3


def transact(w3: Web3, fn: object, **tx: int) -> dict:  # type: ignore[type-arg]
    tx_hash = fn.transact(tx)  # type: ignore[attr-defined]
    return dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))


def poke(w3: Web3) -> dict:  # type: ignore[type-arg]
    """Any transaction: makes the devnet cut a block (end-of-block logic runs in every block)."""
    tx_hash = w3.eth.send_transaction({"to": w3.eth.accounts[1], "value": 1})
    return dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))


def validators(w3: Web3) -> list[tuple[str, str, int, int, bool]]:
    """pysei's `validators()` query of the staking precompile: (seivaloper…, operator, tokens, commission, jailed)."""
    raw = w3.eth.call({"to": STAKING, "data": Web3.keccak(text="validators()")[:4]})
    (out,) = w3.codec.decode(["(string,address,uint256,uint256,bool)[]"], raw)
    return list(out)


STAKING_ABI = next(p.abi for p in precompile_abis() if p.name == "staking")
"""The staking precompile's ABI as `pysei abi staking` prints it, with pysei's end-of-block `UnbondingCompleted`
(Sei's Solidity interface does not declare it)."""
UNBONDING_COMPLETED = Web3.to_hex(
    event_abi_to_log_topic(next(e for e in STAKING_ABI if e.get("name") == "UnbondingCompleted"))  # type: ignore[arg-type]
)


def test_contract_delegates_undelegates_and_funds_return_once(w3: Web3) -> None:
    name, _operator, tokens_before, _commission, jailed = validators(w3)[0]
    assert name.startswith("seivaloper1") and not jailed

    artifact = solc.contract("StakingUser")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deployed = w3.eth.wait_for_transaction_receipt(factory.constructor().transact(), timeout=30)
    user = w3.eth.contract(Web3.to_checksum_address(deployed["contractAddress"]), abi=artifact["abi"])

    receipt = transact(w3, user.functions.stake(name), value=5 * SEI)
    assert receipt["status"] == 1
    assert any(log["address"] == STAKING for log in receipt["logs"])  # the precompile's Delegate event
    assert user.functions.delegated(name).call() == 5 * USEI_PER_SEI
    assert w3.eth.get_balance(user.address) == 0
    # Bonded tokens follow at the end of the block.
    assert validators(w3)[0][2] == tokens_before + 5 * USEI_PER_SEI

    receipt = transact(w3, user.functions.unstake(name, 2 * USEI_PER_SEI))
    assert receipt["status"] == 1
    assert user.functions.delegated(name).call() == 3 * USEI_PER_SEI
    completes = w3.eth.get_block(receipt["blockNumber"])["timestamp"] + UNBONDING_S
    assert w3.eth.get_balance(user.address) == 0
    # A minute short of 21 days: not yet…
    w3.provider.make_request("evm_increaseTime", [UNBONDING_S - 60])  # type: ignore[arg-type]
    assert w3.eth.get_block(poke(w3)["blockNumber"])["timestamp"] < completes
    assert w3.eth.get_balance(user.address) == 0
    # …then the funds return at the first block past maturity, exactly once.
    w3.provider.make_request("evm_increaseTime", [60])  # type: ignore[arg-type]
    assert w3.eth.get_block(poke(w3)["blockNumber"])["timestamp"] >= completes
    assert w3.eth.get_balance(user.address) == 2 * SEI
    poke(w3)
    poke(w3)
    assert w3.eth.get_balance(user.address) == 2 * SEI
    # The maturity is a log of the block's end (a system log) in the first block past the completion time (the
    # devnet may cut an empty one before the poke's): eth_getLogs finds it under the block's system transaction
    # hash, one past the block's last transaction, and no receipt has that hash.
    since = {"fromBlock": receipt["blockNumber"], "toBlock": "latest", "address": STAKING}
    (log,) = w3.eth.get_logs({**since, "topics": [UNBONDING_COMPLETED]})  # type: ignore[arg-type]
    matured = log["blockNumber"]
    assert w3.eth.get_block(matured)["timestamp"] >= completes > w3.eth.get_block(matured - 1)["timestamp"]
    system_hash = Web3.keccak(b"pysei/end-block/" + matured.to_bytes(8, "big"))
    assert log["transactionHash"] == system_hash
    assert log["transactionIndex"] == len(w3.eth.get_block(matured)["transactions"])
    event = w3.eth.contract(abi=STAKING_ABI).events.UnbondingCompleted().process_log(log)
    assert event["args"]["delegator"] == user.address and event["args"]["amount"] == 2 * USEI_PER_SEI
    assert event["args"]["validator"] == name
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(system_hash)
    # Filtered by the event's topic over a range, as an indexer asks.
    topic = {"fromBlock": 0, "toBlock": "latest", "topics": [UNBONDING_COMPLETED]}
    assert [e["blockNumber"] for e in w3.eth.get_logs(topic)] == [matured]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda s, u: s.functions.delegate("seivaloper1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"), "is not a validator"),
        (lambda s, u: s.functions.delegate("0x" + "77" * 20), "does not exist"),
        (lambda s, u: s.functions.undelegate(u, 10**15), "exceeds the delegation"),
    ],
)
def test_bad_input_reverts_with_the_reason(w3: Web3, call: object, reason: str) -> None:
    staking = w3.eth.contract(STAKING, abi=solc.interface("IStaking"))
    fn = call(staking, validators(w3)[0][0])  # type: ignore[operator]
    with pytest.raises(ContractLogicError, match=reason):
        fn.call({"value": SEI} if fn.abi["stateMutability"] == "payable" else {})


def test_wei_remainder_and_malformed_calldata_revert_and_change_nothing(w3: Web3) -> None:
    staking = w3.eth.contract(STAKING, abi=solc.interface("IStaking"))
    name = validators(w3)[0][0]
    me = w3.eth.accounts[2]
    before = staking.functions.delegation(me, name).call()
    # Sent as real transactions (gas given, so no estimate stops them early): mined, reverted, nothing changed.
    remainder = staking.functions.delegate(name).transact({"from": me, "value": SEI + 1, "gas": 200_000})
    malformed = w3.eth.send_transaction({"from": me, "to": STAKING, "data": "0xdeadbeef01", "gas": 200_000})
    for tx_hash in (remainder, malformed):
        assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 0
    assert staking.functions.delegation(me, name).call() == before
    with pytest.raises(ContractLogicError, match="remainder of 1 wei"):
        staking.functions.delegate(name).call({"from": me, "value": SEI + 1})
    with pytest.raises(ContractLogicError, match="malformed call data"):
        w3.eth.call({"from": me, "to": STAKING, "data": "0xdeadbeef01"})


def test_bank_reports_usei_balances_and_supply(w3: Web3) -> None:
    bank = w3.eth.contract(BANK, abi=solc.interface("IBank"))
    who = w3.eth.accounts[3]
    assert bank.functions.balance(who, "usei").call() == w3.eth.get_balance(who) // 10**12
    # 10B SEI of genesis plus the 20 dev accounts' 10,000 SEI each.
    assert bank.functions.supply("usei").call() == (10_000_000_000 + 20 * 10_000) * USEI_PER_SEI
    assert bank.functions.decimals("usei").call() == 6
    assert bank.functions.symbol("usei").call() == "SEI"
    with pytest.raises(ContractLogicError, match="unknown denom"):
        bank.functions.supply("uatom").call()


def pysei(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysei.cli", *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )


def test_command_line_delegates_and_queries(node: Devnet, w3: Web3) -> None:
    name = validators(w3)[0][0]
    me = node.accounts[7].address
    sent = pysei("tx", "--rpc", node.http_url, "--dev-account", "7", "--json", "delegate", name, "1.5")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["block"] > 0
    shown = pysei("query", "--rpc", node.http_url, "--json", "delegation", me, name)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)[0]["usei"] == 1_500_000
    listed = pysei("query", "--rpc", node.http_url, "--json", "validators")
    assert [v["validator"] for v in json.loads(listed.stdout)] == [name]
    # A bad one stops at estimation with the precompile's reason, and sends nothing.
    nonce = w3.eth.get_transaction_count(me)
    refused = pysei("tx", "--rpc", node.http_url, "--dev-account", "7", "undelegate", name, "2")
    assert refused.returncode == 1
    assert "exceeds the delegation of 1500000 usei" in refused.stderr
    assert w3.eth.get_transaction_count(me) == nonce


def test_an_account_creates_a_validator_takes_delegations_and_edits_its_commission(w3: Web3) -> None:
    """createValidator/editValidator with Sei's ABI: a dev account becomes a validator with its self-delegation,
    another delegates to it, and its commission changes once a day by at most its max change rate."""
    staking = w3.eth.contract(STAKING, abi=solc.interface("IStaking"))
    operator = w3.eth.accounts[2]
    pubkey = "ab" * 32
    created = transact(
        w3,
        staking.functions.createValidator(pubkey, "dev validator", "0.10", "0.20", "0.01", 10**6),
        value=2 * SEI,
        **{"from": operator},  # type: ignore[arg-type]
    )
    assert created["status"] == 1
    (event,) = staking.events.ValidatorCreated().process_receipt(created)
    name = event["args"]["validatorAddress"]
    assert name.startswith("seivaloper1") and event["args"]["moniker"] == "dev validator"
    assert transact(w3, staking.functions.delegate(name), value=3 * SEI)["status"] == 1
    mine = next(v for v in validators(w3) if v[0] == name)
    assert Web3.to_checksum_address(mine[1]) == operator and not mine[4]
    assert mine[2] == 5 * USEI_PER_SEI and mine[3] == 10**17  # bonded usei, commission (18 decimals)
    # The same key, or a second validator of the same operator: refused with the reason.
    with pytest.raises(ContractLogicError, match="belongs to another validator"):
        staking.functions.createValidator(pubkey, "copy", "0.10", "0.20", "0.01", 1).call({"value": SEI})
    with pytest.raises(ContractLogicError, match="once every 24 hours"):
        staking.functions.editValidator("", "0.105", 0).call({"from": operator})
    w3.provider.make_request("evm_increaseTime", [86_400])  # type: ignore[arg-type]
    poke(w3)
    with pytest.raises(ContractLogicError, match="max change rate"):
        staking.functions.editValidator("", "0.12", 0).call({"from": operator})
    edited = transact(w3, staking.functions.editValidator("", "0.105", 0), **{"from": operator})  # type: ignore[arg-type]
    assert edited["status"] == 1
    assert next(v for v in validators(w3) if v[0] == name)[3] == 105 * 10**15
