"""The SEI token, the staking and the distribution modules through the node's execution stage: genesis files,
and random sequences of delegations, undelegations, redelegations, reward withdrawals and block-time advances
executed as signed transactions, block by block, sequentially and in parallel, with every block's fees and a
minted block reward distributed.

Properties, after every block: total supply (the bank's slot, growing by the block reward) equals every EVM
balance plus bonded and unbonding stake plus the distribution books (community pool, commission, outstanding
rewards), exactly; delegations, unbonding entries, rewards, commission and the community pool equal a plain
Python model of the rules (F1 with integer rounding, README "Token and modules"); no balance goes negative;
each unbonding entry pays its delegator exactly once, in the first block at or after its completion time; the
sequential and the parallel chain have the same LtHash commitment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysei.chain import genesis as gen
from pysei.chain.block import OrderedBlock
from pysei.chain.constants import FEE_COLLECTOR, WEI_PER_SEI, WEI_PER_USEI
from pysei.chain.fees import FeeParams
from pysei.chain.transaction import decode_with_senders
from pysei.execution.executor import ChainParams, Executor, prevrandao
from pysei.native import BlockEnv, CallRequest, call
from pysei.state.store import ChainStore

STAKING = bytes.fromhex("0000000000000000000000000000000000001005")
BANK = bytes.fromhex("0000000000000000000000000000000000001001")
DISTRIBUTION = bytes.fromhex("0000000000000000000000000000000000001007")
CHAIN_ID = 713714
UNBONDING = 50
START = 1_700_000_000
USEI = 10**6
ROOT = Path(__file__).resolve().parent.parent


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


# --- genesis ----------------------------------------------------------------------------------------------------


def test_default_genesis_allocates_ten_billion_sei_by_category() -> None:
    g = gen.default_genesis()
    gen.validate(g)
    assert g.total_supply_usei == 10_000_000_000 * USEI
    shares = {c: sum(a.amount_usei for a in g.allocations if a.category == c) for c in gen.CATEGORIES}
    assert shares == {
        "ecosystem_reserve": 4_800_000_000 * USEI,
        "team": 2_000_000_000 * USEI,
        "private_sale": 2_000_000_000 * USEI,
        "foundation": 900_000_000 * USEI,
        "community": 300_000_000 * USEI,
    }
    # The validator's self-delegation is bonded, not an EVM balance; dev accounts come on top of the supply.
    alloc = gen.alloc(g, [(b"\x11" * 20, 5 * WEI_PER_SEI)])
    balances = sum(balance for _, balance, _, code, _ in alloc if not code)
    bonded = sum(v.self_delegation_usei for v in g.validators)
    assert balances == (g.total_supply_usei - bonded) * WEI_PER_USEI + 5 * WEI_PER_SEI


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda g: {**g, "total_supply_usei": g["total_supply_usei"] + 1}, "total supply must be"),
        (lambda g: {**g, "allocations": g["allocations"][1:]}, "category ecosystem_reserve"),
        (
            lambda g: {**g, "validators": [{**g["validators"][0], "self_delegation_usei": 10**18}]},
            "exceeds its operator's allocation",
        ),
        (lambda g: {**g, "validators": [{**g["validators"][0], "commission_rate": "0.01"}]}, "commission"),
        (lambda g: {**g, "validators": [{**g["validators"][0], "operator": "0x12"}]}, "not a 0x-prefixed"),
        (lambda g: {**g, "staking": {**g["staking"], "max_entries": 0}}, "max_entries"),
        (lambda g: {**g, "distribution": {**g["distribution"], "community_tax": "1.5"}}, "community_tax"),
        (lambda g: {**g, "distribution": {**g["distribution"], "block_reward_usei": -1}}, "block_reward_usei"),
        (lambda g: {**g, "surprise": 1}, "unknown field"),
    ],
)
def test_invalid_genesis_files_are_refused_with_the_reason(tmp_path: Path, change: object, reason: str) -> None:
    good = json.loads(gen.dump(gen.default_genesis()))
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(change(good)))  # type: ignore[operator]
    with pytest.raises(gen.GenesisError, match=reason):
        gen.load(path)


def test_genesis_command_writes_and_validates(tmp_path: Path) -> None:
    out = tmp_path / "genesis.json"
    operator = "0x" + "ab" * 20
    pysei = [sys.executable, "-m", "pysei.cli", "genesis"]
    write = subprocess.run(
        [*pysei, "write", "--out", str(out), "--validator", f"{operator}:2000000", "--unbonding-time", "60"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert write.returncode == 0, write.stderr
    assert "ecosystem_reserve" in write.stdout and "48%" in write.stdout
    g = gen.load(out)
    assert g.staking.unbonding_time == 60
    assert [(v.operator, v.self_delegation_usei) for v in g.validators] == [(operator, 2_000_000 * USEI)]
    broken = json.loads(out.read_text())
    broken["allocations"][0]["amount_usei"] += 1
    out.write_text(json.dumps(broken))
    check = subprocess.run([*pysei, "validate", str(out)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert check.returncode == 1
    assert "invalid genesis: category ecosystem_reserve" in check.stderr


# --- random module operations through the executor -------------------------------------------------------------

DELEGATORS = [Account.from_key(bytes([i + 1]) * 32) for i in range(5)]
DELEGATOR_INDEX = {bytes.fromhex(a.address[2:]): i for i, a in enumerate(DELEGATORS)}
OPERATORS = ["0x" + f"{0xA0 + i:02x}" * 20 for i in range(2)]
FUNDED = 1_000 * WEI_PER_SEI
OWN = 10 * USEI
"""Each validator's self-delegation: small, so that the delegators' shares (and their rewards) are large."""
BLOCK_REWARD = 1_234_567
"""Usei minted per block (an odd amount, so that every rounding step has a remainder)."""
UNITS = 10**30
"""The distribution books' units per usei."""
DEC = 10**18


def network() -> gen.Genesis:
    return gen.default_genesis(
        CHAIN_ID,
        [(op, OWN) for op in OPERATORS],
        gen.StakingParams(unbonding_time=UNBONDING, max_entries=3),
        gen.DistributionParams(block_reward_usei=BLOCK_REWARD),
    )


@dataclass
class Chain:
    store: ChainStore
    executor: Executor
    addresses: list[bytes]
    number: int = 0
    timestamp: int = START
    valopers: list[str] = field(default_factory=list)

    def env(self) -> BlockEnv:
        return BlockEnv(
            number=self.number + 1,
            timestamp=self.timestamp,
            gas_limit=30_000_000,
            base_fee=10**9,
            beneficiary=FEE_COLLECTOR,
            prevrandao=prevrandao(self.timestamp, self.number + 1),
            chain_id=CHAIN_ID,
            spec_name="prague",
        )

    def query(self, to: bytes, data: bytes, types: list[str]) -> tuple[object, ...]:
        result = call(self.store.native, self.env(), CallRequest(sender=b"\x00" * 20, to=to, data=data))
        assert result.success, result.output
        return decode(types, result.output)


@contextmanager
def chain(tmp: Path, threads: int) -> Iterator[Chain]:
    store = ChainStore(tmp / f"chain-{threads}", sync=False)
    g = network()
    executor = Executor(
        store,
        ChainParams(
            chain_id=CHAIN_ID, gas_limit=30_000_000, beneficiary=FEE_COLLECTOR, fees=FeeParams(), exec_threads=threads
        ),
    )
    alloc = gen.alloc(g, [(bytes.fromhex(a.address[2:]), FUNDED) for a in DELEGATORS])
    executor.init_genesis(alloc, START)
    addresses = [entry[0] for entry in alloc] + [FEE_COLLECTOR]
    c = Chain(store, executor, addresses)
    (validators,) = c.query(STAKING, selector("validators()"), ["(string,address,uint256,uint256,bool)[]"])
    c.valopers = [v[0] for v in validators]  # type: ignore[union-attr]
    try:
        yield c
    finally:
        executor.close()


Op = tuple[str, int, int, int]
"""(kind, delegator, validator, amount): delegate (whole SEI, or with a wei remainder when amount is odd × 10^12
+ 1), undelegate and redelegate (usei), withdraw (rewards from the validator)."""

ops = st.one_of(
    st.tuples(st.just("delegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 6)),
    st.tuples(st.just("undelegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 3_000_000)),
    st.tuples(st.just("redelegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 3_000_000)),
    st.tuples(st.just("remainder"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("withdraw"), st.integers(0, 4), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("advance"), st.just(0), st.just(0), st.integers(1, 2 * UNBONDING)),
)


@dataclass
class Model:
    """Delegations (usei) and unbonding entries [(amount usei, completion)] by (delegator, validator); the
    distribution books in units of 10^-30 usei: per validator the cumulative reward ratio per usei of stake,
    outstanding delegator rewards and commission, per delegation its starting ratio, and the community pool."""

    delegations: dict[tuple[int, int], int] = field(default_factory=dict)
    unbonding: dict[tuple[int, int], list[tuple[int, int]]] = field(default_factory=dict)
    incoming_until: dict[tuple[int, int], int] = field(default_factory=dict)
    redelegations: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    ratio: list[int] = field(default_factory=lambda: [0, 0])
    outstanding: list[int] = field(default_factory=lambda: [0, 0])
    commission: list[int] = field(default_factory=lambda: [0, 0])
    start: dict[tuple[int, int], int] = field(default_factory=dict)
    pool: int = 0

    def stake(self, d: int, v: int) -> int:
        return self.delegations.get((d, v), 0)

    def tokens(self, v: int) -> int:
        return OWN + sum(self.stake(d, v) for d in range(len(DELEGATORS)))

    def pending(self, d: int, v: int) -> int:
        return self.stake(d, v) * (self.ratio[v] - self.start.get((d, v), 0))

    def settle(self, d: int, v: int) -> int:
        """Pays a delegation's reward in whole usei (returned), the fraction to the pool; F1: the delegation
        restarts at the current ratio."""
        earned = self.pending(d, v)
        self.start[(d, v)] = self.ratio[v]
        self.outstanding[v] -= earned
        self.pool += earned % UNITS
        return earned // UNITS

    def allocate(self, fees_wei: int) -> None:
        """The end of a block: the fees and the block reward, 2% to the pool, the rest by stake, 10% commission,
        each step rounded down with its remainder to the pool."""
        total = fees_wei * 10**18 + BLOCK_REWARD * UNITS
        tax = total * (DEC // 50) // DEC
        power = self.tokens(0) + self.tokens(1)
        paid = 0
        for v in (0, 1):
            share = (total - tax) * self.tokens(v) // power
            commission = share * (DEC // 10) // DEC
            step = (share - commission) // self.tokens(v)
            self.ratio[v] += step
            self.outstanding[v] += step * self.tokens(v)
            self.commission[v] += commission
            paid += commission + step * self.tokens(v)
        self.pool += total - paid


def apply_model(m: Model, op: Op, now: int, max_entries: int) -> tuple[bool, int]:
    """Whether `op` succeeds, and the wei it moves to the delegator's balance (negative: takes; besides the fee),
    rewards settled included."""
    kind, d, v, amount = op
    if kind == "delegate":
        reward = m.settle(d, v)
        m.delegations[(d, v)] = m.stake(d, v) + amount * USEI
        return True, reward * WEI_PER_USEI - amount * WEI_PER_SEI
    if kind == "remainder":
        return False, 0
    have = m.stake(d, v)
    if kind == "withdraw":
        if have == 0:
            return False, 0
        return True, m.settle(d, v) * WEI_PER_USEI
    if kind == "undelegate":
        entries = m.unbonding.setdefault((d, v), [])
        if amount > have or len(entries) >= max_entries:
            return False, 0
        reward = m.settle(d, v)
        m.delegations[(d, v)] = have - amount
        entries.append((amount, now + UNBONDING))
        return True, reward * WEI_PER_USEI
    dst = 1 - v
    live = [c for c in m.redelegations.get((d, v, dst), []) if c > now]
    if amount > have or m.incoming_until.get((d, v), 0) > now or len(live) >= max_entries:
        return False, 0
    reward = m.settle(d, v) + m.settle(d, dst)
    m.delegations[(d, v)] = have - amount
    m.delegations[(d, dst)] = m.stake(d, dst) + amount
    m.redelegations[(d, v, dst)] = [*live, now + UNBONDING]
    m.incoming_until[(d, dst)] = now + UNBONDING
    return True, reward * WEI_PER_USEI


def sign(c: Chain, op: Op, nonce: int) -> bytes:
    kind, d, v, amount = op
    value = 0
    if kind == "delegate":
        data, value = selector("delegate(string)") + encode(["string"], [c.valopers[v]]), amount * WEI_PER_SEI
    elif kind == "remainder":
        data, value = selector("delegate(string)") + encode(["string"], [c.valopers[v]]), amount * WEI_PER_SEI + 1
    elif kind == "undelegate":
        data = selector("undelegate(string,uint256)") + encode(["string", "uint256"], [c.valopers[v], amount])
    elif kind == "withdraw":
        data = selector("withdrawDelegationRewards(string)") + encode(["string"], [c.valopers[v]])
    else:
        args = [c.valopers[v], c.valopers[1 - v], amount]
        data = selector("redelegate(string,string,uint256)") + encode(["string", "string", "uint256"], args)
    tx = {
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "to": "0x" + (DISTRIBUTION if kind == "withdraw" else STAKING).hex(),
        "value": value,
        "data": data,
        "gas": 400_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "type": 2,
    }
    return bytes(DELEGATORS[d].sign_transaction(tx).raw_transaction)


def check_distribution(c: Chain, m: Model) -> int:
    """The books and every delegator's rewards equal the model's; returns the books' total (units)."""
    coins = "(uint256,uint256,string)[]"

    def amount(coin_list: object, decimals: int) -> int:
        assert all(coin[1] == decimals and coin[2] == "usei" for coin in coin_list)  # type: ignore[attr-defined]
        return sum(coin[0] for coin in coin_list)  # type: ignore[attr-defined]

    (pool,) = c.query(DISTRIBUTION, selector("communityPool()"), [coins])
    assert amount(pool, 30) == m.pool
    books = m.pool
    for v, valoper in enumerate(c.valopers):
        outstanding, commission = c.query(
            DISTRIBUTION, selector("validatorDistribution(string)") + encode(["string"], [valoper]), [coins, coins]
        )
        assert (amount(outstanding, 30), amount(commission, 30)) == (m.outstanding[v], m.commission[v])
        # F1 owes the delegators (the operator's own stake never settles here) what the validator holds for them.
        owed = sum(m.pending(d, v) for d in range(len(DELEGATORS))) + OWN * m.ratio[v]
        assert m.outstanding[v] == owed
        books += m.outstanding[v] + m.commission[v]
    for d, account in enumerate(DELEGATORS):
        (rewards,) = c.query(
            DISTRIBUTION,
            selector("rewards(address)") + encode(["address"], [account.address]),
            [f"(({coins},string)[],{coins})"],
        )
        want = [(c.valopers[v], m.pending(d, v) // 10**12) for v in (0, 1) if m.stake(d, v)]
        assert [(r[1], amount(r[0], 18)) for r in rewards[0]] == want  # type: ignore[index]
        assert amount(rewards[1], 18) == sum(w for _, w in want)  # type: ignore[index]
    return books


def check_state(c: Chain, m: Model) -> None:
    (supply,) = c.query(BANK, selector("supply(string)") + encode(["string"], ["usei"]), ["uint256"])
    balances = sum(c.store.balance(a) for a in c.addresses)
    assert all(c.store.balance(a) >= 0 for a in c.addresses)
    (validators,) = c.query(STAKING, selector("validators()"), ["(string,address,uint256,uint256,bool)[]"])
    bonded = sum(v[2] for v in validators)  # type: ignore[union-attr]
    unbonding = 0
    for d, account in enumerate(DELEGATORS):
        for v, valoper in enumerate(c.valopers):
            args = encode(["address", "string"], [account.address, valoper])
            (delegation,) = c.query(
                STAKING,
                selector("delegation(address,string)") + args,
                ["((uint256,string),(string,uint256,uint256,string))"],
            )
            assert delegation[0][0] == m.delegations.get((d, v), 0)  # type: ignore[index]
            (entries,) = c.query(
                STAKING, selector("unbondingDelegation(address,string)") + args, ["(uint256,uint64)[]"]
            )
            assert sorted(entries) == sorted(m.unbonding.get((d, v), []))  # type: ignore[arg-type]
            unbonding += sum(e[0] for e in entries)  # type: ignore[union-attr]
    # Validator tokens are the sum of their delegations (the genesis self-delegations included).
    for v in range(len(OPERATORS)):
        assert validators[v][2] == m.tokens(v)  # type: ignore[index]
    books = check_distribution(c, m)
    assert supply * UNITS == (balances * 10**18) + (bonded + unbonding) * UNITS + books  # type: ignore[operator]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(script=st.lists(ops, min_size=4, max_size=40))
def test_random_module_operations(tmp_path_factory: pytest.TempPathFactory, script: list[Op]) -> None:
    tmp = tmp_path_factory.mktemp("modules")
    max_entries = network().staking.max_entries
    with chain(tmp, 1) as seq, chain(tmp, 2) as par:
        model = Model()
        nonces = [0] * len(DELEGATORS)
        blocks: list[tuple[int, list[Op]]] = [(START + 1, [])]
        for op in script:
            if op[0] == "advance":
                blocks.append((blocks[-1][0] + op[3], []))
            else:
                blocks[-1][1].append(op)
        for timestamp, block_ops in blocks:
            before = [seq.store.balance(bytes.fromhex(a.address[2:])) for a in DELEGATORS]
            # Entries maturing at the end of this block are paid to their delegators, exactly once.
            payout = [0] * len(DELEGATORS)
            moved = [0] * len(DELEGATORS)
            raws, senders, successes = [], [], []
            for op in block_ops:
                ok, wei = apply_model(model, op, timestamp, max_entries)
                raws.append(sign(seq, op, nonces[op[1]]))
                senders.append(bytes.fromhex(DELEGATORS[op[1]].address[2:]))
                nonces[op[1]] += 1
                successes.append(ok)
                moved[op[1]] += wei
            for (d, _), entries in model.unbonding.items():
                payout[d] += sum(a for a, done in entries if done <= timestamp) * WEI_PER_USEI
                entries[:] = [(a, done) for a, done in entries if done > timestamp]
            for c in (seq, par):
                c.number += 1
                c.timestamp = timestamp
                executed = c.executor.execute(OrderedBlock(c.number, timestamp, decode_with_senders(raws, senders)))
                assert not executed.skipped
                assert [r.success for r in executed.txs] == successes
            fees = [0] * len(DELEGATORS)
            for r in executed.txs:
                fees[DELEGATOR_INDEX[r.sender]] += r.gas_used * r.effective_gas_price
            # The collector took in every fee; the end of the block distributed them with the block reward.
            model.allocate(sum(fees))
            after = [seq.store.balance(bytes.fromhex(a.address[2:])) for a in DELEGATORS]
            for d in range(len(DELEGATORS)):
                assert after[d] == before[d] - fees[d] + moved[d] + payout[d], f"delegator {d}"
            assert seq.store.balance(FEE_COLLECTOR) == 0
            check_state(seq, model)
            n = seq.number
            assert seq.executor.commitments.wait_for(n) == par.executor.commitments.wait_for(n)
