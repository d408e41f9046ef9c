"""The distribution precompile on a running devnet, driven as a user does: a delegator calling Sei's precompile
ABI directly from web3.py, a Solidity contract (npm solc) that stakes and collects its own rewards, the validator's
operator withdrawing its commission, and the ``pysei tx withdraw-rewards|withdraw-commission`` / ``pysei query
rewards|community-pool`` commands.

The node starts from a genesis written by ``pysei genesis write`` with a block reward of 1,000 SEI and one
validator operated by a dev account (bonding 1,000 SEI, 10% commission; 2% community tax) and mines a block per
transaction (``--automine``), so every block holds the fees of known transactions. The expected rewards are
computed here from what the chain reports — each block's fees (receipts) and the validator's bonded tokens after
it (the staking precompile at that block) — with the rules of the README ("Token and modules"), independently of
the kernel's code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal, localcontext

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.middleware import SignAndSendRawMiddlewareBuilder

from pysei.chain.accounts import dev_accounts
from pysei.chain.constants import DEV_MNEMONIC
from tests.clients import solc
from tests.conftest import ROOT, Devnet, start_devnet

STAKING = Web3.to_checksum_address("0x0000000000000000000000000000000000001005")
DISTRIBUTION = Web3.to_checksum_address("0x0000000000000000000000000000000000001007")
BANK = Web3.to_checksum_address("0x0000000000000000000000000000000000001001")
SEI = 10**18
USEI = 10**12
"""Wei per usei."""
REWARD_USEI = 1_000 * 10**6
UNITS = 10**30
"""The distribution books' units per usei."""
DEC = 10**18
TAX = DEC // 50
COMMISSION = DEC // 10
ALICE, BOB, NOBODY, OPERATOR = 3, 4, 5, 6
"""Dev accounts: Alice delegates directly, Bob deploys the contract, Nobody never delegates, Operator runs the
validator."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    tmp = tmp_path_factory.mktemp("distribution")
    genesis = tmp / "genesis.json"
    operator = dev_accounts(DEV_MNEMONIC, OPERATOR + 1)[OPERATOR].checksum_address
    written = subprocess.run(
        [sys.executable, "-m", "pysei.cli", "genesis", "write", "--out", str(genesis)]
        + ["--block-reward-usei", str(REWARD_USEI), "--validator", f"{operator}:1000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    assert "block reward 1000000000 usei" in written.stdout
    devnet = start_devnet(tmp, "--genesis", str(genesis), "--automine")
    yield devnet
    assert devnet.stop() == 0


@pytest.fixture(scope="module")
def w3(node: Devnet) -> Web3:
    w3 = Web3(Web3.HTTPProvider(node.http_url, request_kwargs={"timeout": 30}))
    # Sign locally, as a wallet does.
    signers = [Account.from_key(node.accounts[i].key) for i in (ALICE, BOB, NOBODY)]
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(signers), layer=0)
    return w3


def transact(w3: Web3, fn: object, sender: str, value: int = 0) -> dict:  # type: ignore[type-arg]
    tx_hash = fn.transact({"from": sender, "value": value})  # type: ignore[attr-defined]
    receipt = dict(w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))
    assert receipt["status"] == 1
    return receipt


def validator(w3: Web3, block: int | str = "latest") -> tuple[str, int]:
    """The only validator's name and bonded tokens (usei) after `block`."""
    raw = w3.eth.call({"to": STAKING, "data": Web3.keccak(text="validators()")[:4]}, block)  # type: ignore[arg-type]
    ((name, _operator, tokens, _rate, _jailed),) = w3.codec.decode(["(string,address,uint256,uint256,bool)[]"], raw)[0]
    return name, tokens


def fee(receipt: dict) -> int:  # type: ignore[type-arg]
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


_allocations: dict[int, tuple[int, int]] = {}


def allocation(w3: Web3, block: int) -> tuple[int, int]:
    """What the end of `block` gave the validator: (delegator reward per usei of stake, commission), in book units.
    The block's fees and the minted reward; 2% tax; one validator, so all the rest is its share; 10% commission;
    the per-usei step rounded down."""
    if block in _allocations:
        return _allocations[block]
    fees = sum(fee(dict(r)) for r in w3.eth.get_block_receipts(block))
    total = fees * 10**18 + REWARD_USEI * UNITS
    share = total - total * TAX // DEC
    commission = share * COMMISSION // DEC
    _allocations[block] = ((share - commission) // validator(w3, block)[1], commission)
    return _allocations[block]


def earned(w3: Web3, stake_usei: int, first: int, last: int) -> int:
    """Book units a stake delegated since block `first` has earned by the end of block `last`."""
    return stake_usei * sum(allocation(w3, b)[0] for b in range(first, last + 1))


def pending(w3: Web3, who: str, block: int | str = "latest") -> int:
    """Sei's `rewards(who)` total: usei with 18 decimals."""
    distr = w3.eth.contract(DISTRIBUTION, abi=solc.interface("IDistr"))
    _per_validator, total = distr.functions.rewards(who).call(block_identifier=block)
    assert all(coin[1] == 18 and coin[2] == "usei" for coin in total)
    return sum(coin[0] for coin in total)


def test_two_delegators_accrue_by_stake_minus_commission_and_withdraw(node: Devnet, w3: Web3) -> None:
    name, _ = validator(w3)
    alice, bob = node.accounts[ALICE].address, node.accounts[BOB].address
    staking = w3.eth.contract(STAKING, abi=solc.interface("IStaking"))
    distr = w3.eth.contract(DISTRIBUTION, abi=solc.interface("IDistr"))
    artifact = solc.contract("RewardsUser")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deployed = transact(w3, factory.constructor(), bob)
    user = w3.eth.contract(Web3.to_checksum_address(deployed["contractAddress"]), abi=artifact["abi"])
    supply_before = w3.eth.contract(BANK, abi=solc.interface("IBank")).functions.supply("usei").call()
    head_before = w3.eth.block_number

    # Alice delegates 3,000 SEI herself, the contract 1,000 SEI: a stake share of 3 to 1.
    a_block = transact(w3, staking.functions.delegate(name), alice, 3_000 * SEI)["blockNumber"]
    c_block = transact(w3, user.functions.stake(name), bob, 1_000 * SEI)["blockNumber"]
    for _ in range(3):  # blocks with fees
        transact(w3, distr.functions.setWithdrawAddress(bob), bob)
    head = w3.eth.block_number

    # Pending rewards: every block since the delegation's (its own included: the stake as it is at the block's
    # end shares the block's reward), stake × the block's reward per usei, less the 2% tax and 10% commission.
    assert pending(w3, alice) == earned(w3, 3_000_000_000, a_block, head) // 10**12
    assert user.functions.pending().call() == earned(w3, 1_000_000_000, c_block, head) // 10**12
    assert pending(w3, alice) > 3 * user.functions.pending().call() > 0

    # Alice withdraws through the precompile: whole usei, to her own balance, with the event.
    before = w3.eth.get_balance(alice)
    receipt = transact(w3, distr.functions.withdrawDelegationRewards(name), alice)
    w_block = receipt["blockNumber"]
    paid = earned(w3, 3_000_000_000, a_block, w_block - 1) // UNITS
    assert paid > 0
    assert w3.eth.get_balance(alice) == before - fee(receipt) + paid * USEI
    (event,) = distr.events.DelegationRewardsWithdrawn().process_receipt(receipt)
    assert (event["args"]["delegator"], event["args"]["validator"], event["args"]["amount"]) == (alice, name, paid)
    # The withdrawal restarted her delegation: what is pending now is the withdrawal block's reward only.
    assert pending(w3, alice) == earned(w3, 3_000_000_000, w_block, w_block) // 10**12

    # The contract collects its own rewards (the contract is the delegator; its withdraw address is itself).
    receipt = transact(w3, user.functions.collect(name), bob)
    # The precompile's event comes first; only the contract's own is wanted here.
    (collected,) = user.events.Collected().process_receipt(receipt, errors=DISCARD)
    assert collected["args"]["wei_"] == earned(w3, 1_000_000_000, c_block, receipt["blockNumber"] - 1) // UNITS * USEI

    # Every block minted its reward; the books hold every commission since genesis.
    head = w3.eth.block_number
    supply = w3.eth.contract(BANK, abi=solc.interface("IBank")).functions.supply("usei").call()
    assert supply == supply_before + (head - head_before) * REWARD_USEI
    # pysei's query (exact book amounts: usei with 30 decimals).
    query = Web3.keccak(text="validatorDistribution(string)")[:4] + w3.codec.encode(["string"], [name])
    coins = "(uint256,uint256,string)[]"
    outstanding, commission = w3.codec.decode([coins, coins], w3.eth.call({"to": DISTRIBUTION, "data": query}))
    assert sum(c[0] for c in commission) == sum(allocation(w3, b)[1] for b in range(1, head + 1))
    assert sum(c[0] for c in outstanding) > 0


def test_command_line_shows_and_withdraws_rewards(node: Devnet, w3: Web3) -> None:
    name, _ = validator(w3)
    alice = node.accounts[ALICE].address
    transact(w3, w3.eth.contract(STAKING, abi=solc.interface("IStaking")).functions.delegate(name), alice, SEI)
    shown = pysei("query", "--rpc", node.http_url, "--json", "rewards", alice)
    assert shown.returncode == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    assert row["validator"] == name
    assert exact(row["usei"], 18) == pending(w3, alice) > 0
    before = w3.eth.get_balance(alice)
    sent = pysei("tx", "--rpc", node.http_url, "--dev-account", str(ALICE), "--json", "withdraw-rewards")
    assert sent.returncode == 0, sent.stderr
    block = json.loads(sent.stdout)["block"]
    receipt = dict(w3.eth.get_transaction_receipt(json.loads(sent.stdout)["tx"]))
    # It pays the whole usei of what was pending at the end of the block before.
    paid = pending(w3, alice, block - 1) // 10**18
    assert paid > 0
    assert w3.eth.get_balance(alice) == before - fee(receipt) + paid * USEI
    # A delegator without delegations is told so, and nothing is sent.
    nobody = node.accounts[NOBODY].address
    nonce = w3.eth.get_transaction_count(nobody)
    refused = pysei("tx", "--rpc", node.http_url, "--dev-account", str(NOBODY), "withdraw-rewards")
    assert refused.returncode == 1
    assert "has no delegations" in refused.stderr
    refused = pysei("tx", "--rpc", node.http_url, "--dev-account", str(NOBODY), "withdraw-rewards", "--validator", name)
    assert refused.returncode == 1
    assert "has no delegation to" in refused.stderr
    assert w3.eth.get_transaction_count(nobody) == nonce


def book(w3: Web3, signature: str, args: list[str], block: int | str = "latest") -> list[int]:
    """A pysei query of the distribution precompile answering coin lists (usei with 30 decimals): their sums."""
    types = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    data = Web3.keccak(text=signature)[:4] + w3.codec.encode(types, args)
    raw = w3.eth.call({"to": DISTRIBUTION, "data": data}, block)  # type: ignore[arg-type]
    coins = "(uint256,uint256,string)[]"
    lists = w3.codec.decode([coins] * (2 if "validator" in signature else 1), raw)
    assert all(c[1] == 30 and c[2] == "usei" for coins_ in lists for c in coins_)
    return [sum(c[0] for c in coins_) for coins_ in lists]


def test_operator_withdraws_commission_and_the_pool_is_shown(node: Devnet, w3: Web3) -> None:
    name, _ = validator(w3)
    operator = node.accounts[OPERATOR].address
    before = w3.eth.get_balance(operator)
    sent = pysei("tx", "--rpc", node.http_url, "--dev-account", str(OPERATOR), "--json", "withdraw-commission", name)
    assert sent.returncode == 0, sent.stderr
    block = json.loads(sent.stdout)["block"]
    receipt = dict(w3.eth.get_transaction_receipt(json.loads(sent.stdout)["tx"]))
    # Whole usei of the commission accrued by the end of the block before; the fraction stays.
    (_, commission) = book(w3, "validatorDistribution(string)", [name], block - 1)
    assert w3.eth.get_balance(operator) == before - fee(receipt) + commission // UNITS * USEI
    assert book(w3, "validatorDistribution(string)", [name])[1] == commission % UNITS + allocation(w3, block)[1]
    # Anyone else is refused, and nothing is sent.
    refused = pysei("tx", "--rpc", node.http_url, "--dev-account", str(NOBODY), "withdraw-commission", name)
    assert refused.returncode == 1
    assert "only the operator" in refused.stderr
    # The community pool as the command shows it: the precompile's exact amount.
    shown = pysei("query", "--rpc", node.http_url, "--json", "community-pool")
    assert shown.returncode == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    (pool,) = book(w3, "communityPool()", [])
    assert exact(row["community_pool_usei"], 30) == pool > 0
    assert (row["community_tax"], row["block_reward_usei"]) == ("2%", REWARD_USEI)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda d, v: d.functions.withdrawDelegationRewards("0x" + "77" * 20), "does not exist"),
        (lambda d, v: d.functions.withdrawDelegationRewards("seivaloper1nope"), "is not a validator address"),
        (lambda d, v: d.functions.withdrawDelegationRewards(v), "has no delegation"),
        (lambda d, v: d.functions.withdrawMultipleDelegationRewards([]), "no validators given"),
        (lambda d, v: d.functions.withdrawValidatorCommission(v), "only the operator"),
        (lambda d, v: d.functions.setWithdrawAddress("0x" + "00" * 20), "zero address"),
    ],
)
def test_bad_input_reverts_with_the_reason(node: Devnet, w3: Web3, call: object, reason: str) -> None:
    distr = w3.eth.contract(DISTRIBUTION, abi=solc.interface("IDistr"))
    fn = call(distr, validator(w3)[0])  # type: ignore[operator]
    with pytest.raises(ContractLogicError, match=reason):
        fn.call({"from": node.accounts[NOBODY].address})


def test_value_and_malformed_calldata_revert_and_change_nothing(node: Devnet, w3: Web3) -> None:
    distr = w3.eth.contract(DISTRIBUTION, abi=solc.interface("IDistr"))
    name, _ = validator(w3)
    alice = node.accounts[ALICE].address
    data = distr.encode_abi("withdrawDelegationRewards", [name])
    with pytest.raises(ContractLogicError, match="not payable"):
        w3.eth.call({"from": alice, "to": DISTRIBUTION, "data": data, "value": 1})
    with pytest.raises(ContractLogicError, match="malformed call data"):
        w3.eth.call({"from": alice, "to": DISTRIBUTION, "data": "0xdeadbeef01"})
    # As real transactions (gas given, so no estimate stops them): mined, reverted, nothing paid.
    before = w3.eth.get_balance(alice)
    hashes = [
        w3.eth.send_transaction({"from": alice, "to": DISTRIBUTION, "data": data, "value": 1, "gas": 200_000}),
        w3.eth.send_transaction({"from": alice, "to": DISTRIBUTION, "data": "0xdeadbeef01", "gas": 200_000}),
    ]
    receipts = [dict(w3.eth.wait_for_transaction_receipt(h, timeout=30)) for h in hashes]
    assert [r["status"] for r in receipts] == [0, 0]
    assert all(not r["logs"] for r in receipts)
    assert w3.eth.get_balance(alice) == before - sum(fee(r) for r in receipts)


def exact(text: str, decimals: int) -> int:
    """A decimal the command printed, times 10^decimals, without rounding."""
    with localcontext() as context:
        context.prec = 100
        value = Decimal(text).scaleb(decimals)
    assert value == value.to_integral_value()
    return int(value)


def pysei(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysei.cli", *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )
