"""The SEI token and the staking module through the node's execution stage: genesis files, and random sequences
of delegations, undelegations, redelegations and block-time advances executed as signed transactions, block by
block, sequentially and in parallel.

Properties, after every block: total supply (the bank's slot) equals every EVM balance plus bonded and unbonding
stake; delegations and unbonding entries equal a plain Python model; each unbonding entry pays its delegator
exactly once, in the first block at or after its completion time; the sequential and the parallel chain have the
same LtHash commitment.
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
        (lambda g: {**g, "gov": {**g["gov"], "quorum": "1.5"}}, r"gov.quorum: 1.5 must be within \[0, 1\]"),
        (lambda g: {**g, "gov": {**g["gov"], "voting_period": 0}}, r"gov/VotingPeriod must be within \[1, 31536000\]"),
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


def network() -> gen.Genesis:
    return gen.default_genesis(
        CHAIN_ID,
        [(op, 1_000_000 * USEI) for op in OPERATORS],
        gen.StakingParams(unbonding_time=UNBONDING, max_entries=3),
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
def chain(tmp: Path, threads: int, g: gen.Genesis | None = None) -> Iterator[Chain]:
    store = ChainStore(tmp / f"chain-{threads}", sync=False)
    g = g or network()
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
+ 1), undelegate and redelegate (usei)."""

ops = st.one_of(
    st.tuples(st.just("delegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 6)),
    st.tuples(st.just("undelegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 3_000_000)),
    st.tuples(st.just("redelegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 3_000_000)),
    st.tuples(st.just("remainder"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("advance"), st.just(0), st.just(0), st.integers(1, 2 * UNBONDING)),
)


@dataclass
class Model:
    """Delegations (usei) and unbonding entries [(amount usei, completion)] by (delegator, validator)."""

    delegations: dict[tuple[int, int], int] = field(default_factory=dict)
    unbonding: dict[tuple[int, int], list[tuple[int, int]]] = field(default_factory=dict)
    incoming_until: dict[tuple[int, int], int] = field(default_factory=dict)
    redelegations: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)


def apply_model(m: Model, op: Op, now: int, max_entries: int) -> tuple[bool, int]:
    """Whether `op` succeeds, and the wei it takes from the delegator's balance (besides the fee)."""
    kind, d, v, amount = op
    if kind == "delegate":
        m.delegations[(d, v)] = m.delegations.get((d, v), 0) + amount * USEI
        return True, amount * WEI_PER_SEI
    if kind == "remainder":
        return False, 0
    have = m.delegations.get((d, v), 0)
    if kind == "undelegate":
        entries = m.unbonding.setdefault((d, v), [])
        if amount > have or len(entries) >= max_entries:
            return False, 0
        m.delegations[(d, v)] = have - amount
        entries.append((amount, now + UNBONDING))
        return True, 0
    dst = 1 - v
    live = [c for c in m.redelegations.get((d, v, dst), []) if c > now]
    if amount > have or m.incoming_until.get((d, v), 0) > now or len(live) >= max_entries:
        return False, 0
    m.delegations[(d, v)] = have - amount
    m.delegations[(d, dst)] = m.delegations.get((d, dst), 0) + amount
    m.redelegations[(d, v, dst)] = [*live, now + UNBONDING]
    m.incoming_until[(d, dst)] = now + UNBONDING
    return True, 0


def sign(c: Chain, op: Op, nonce: int) -> bytes:
    kind, d, v, amount = op
    value = 0
    if kind == "delegate":
        data, value = selector("delegate(string)") + encode(["string"], [c.valopers[v]]), amount * WEI_PER_SEI
    elif kind == "remainder":
        data, value = selector("delegate(string)") + encode(["string"], [c.valopers[v]]), amount * WEI_PER_SEI + 1
    elif kind == "undelegate":
        data = selector("undelegate(string,uint256)") + encode(["string", "uint256"], [c.valopers[v], amount])
    else:
        args = [c.valopers[v], c.valopers[1 - v], amount]
        data = selector("redelegate(string,string,uint256)") + encode(["string", "string", "uint256"], args)
    return signed(d, nonce, STAKING, value, data)


def signed(d: int, nonce: int, to: bytes, value: int, data: bytes, gas: int = 400_000) -> bytes:
    """A signed EIP-1559 transaction from delegator `d`."""
    tx = {
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "to": "0x" + to.hex(),
        "value": value,
        "data": data,
        "gas": gas,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "type": 2,
    }
    return bytes(DELEGATORS[d].sign_transaction(tx).raw_transaction)


def split_blocks(script: list[Op]) -> list[tuple[int, list[Op]]]:
    """The operations as blocks (timestamp, ops): each "advance" starts a new block that many seconds later."""
    blocks: list[tuple[int, list[Op]]] = [(START + 1, [])]
    for op in script:
        if op[0] == "advance":
            blocks.append((blocks[-1][0] + op[3], []))
        else:
            blocks[-1][1].append(op)
    return blocks


def execute_both(
    seq: Chain, par: Chain, timestamp: int, raws: list[bytes], senders: list[bytes], successes: list[bool]
) -> list[int]:
    """Executes one block on the sequential and the parallel chain; each transaction must succeed or revert as
    `successes` says, and both chains must reach the same commitment. Returns the fees (wei) by delegator."""
    for c in (seq, par):
        c.number += 1
        c.timestamp = timestamp
        executed = c.executor.execute(OrderedBlock(c.number, timestamp, decode_with_senders(raws, senders)))
        assert not executed.skipped
        assert [r.success for r in executed.txs] == successes
    assert seq.executor.commitments.wait_for(seq.number) == par.executor.commitments.wait_for(par.number)
    fees = [0] * len(DELEGATORS)
    for r in executed.txs:
        fees[DELEGATOR_INDEX[r.sender]] += r.gas_used * r.effective_gas_price
    return fees


def check_state(c: Chain, m: Model) -> None:
    (supply,) = c.query(BANK, selector("supply(string)") + encode(["string"], ["usei"]), ["uint256"])
    balances = sum(c.store.balance(a) for a in c.addresses)
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
        own = 1_000_000 * USEI
        assert validators[v][2] == own + sum(m.delegations.get((d, v), 0) for d in range(len(DELEGATORS)))  # type: ignore[index]
    assert supply * WEI_PER_USEI == balances + (bonded + unbonding) * WEI_PER_USEI  # type: ignore[operator]


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
        for timestamp, block_ops in split_blocks(script):
            before = [seq.store.balance(bytes.fromhex(a.address[2:])) for a in DELEGATORS]
            # Entries maturing at the end of this block are paid to their delegators, exactly once.
            payout = [0] * len(DELEGATORS)
            expected_cost = [0] * len(DELEGATORS)
            raws, senders, successes = [], [], []
            for op in block_ops:
                ok, cost = apply_model(model, op, timestamp, max_entries)
                raws.append(sign(seq, op, nonces[op[1]]))
                senders.append(bytes.fromhex(DELEGATORS[op[1]].address[2:]))
                nonces[op[1]] += 1
                successes.append(ok)
                expected_cost[op[1]] += cost
            for (d, _), entries in model.unbonding.items():
                payout[d] += sum(a for a, done in entries if done <= timestamp) * WEI_PER_USEI
                entries[:] = [(a, done) for a, done in entries if done > timestamp]
            fees = execute_both(seq, par, timestamp, raws, senders, successes)
            after = [seq.store.balance(bytes.fromhex(a.address[2:])) for a in DELEGATORS]
            for d in range(len(DELEGATORS)):
                assert after[d] == before[d] - fees[d] - expected_cost[d] + payout[d], f"delegator {d}"
            check_state(seq, model)
