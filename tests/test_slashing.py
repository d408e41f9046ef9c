"""Staking's and slashing's side of consensus through the node's execution stage: genesis consensus keys, the
committee records written at epoch boundaries, and the consensus inputs a block carries into execution —
double-sign evidence (slash, jail, tombstone) and the commit's signers (downtime) — including random sequences of
module operations and consensus events run sequentially and in parallel (hypothesis).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from eth_abi import encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysei import native
from pysei.chain import genesis as gen
from pysei.chain.accounts import dev_accounts
from pysei.chain.block import Infraction, OrderedBlock
from pysei.chain.constants import DEV_MNEMONIC, FEE_COLLECTOR, WEI_PER_SEI
from pysei.chain.transaction import decode_with_senders
from pysei.execution.executor import prevrandao
from pysei.native import BlockEnv
from tests.conftest import ROOT, start_devnet
from tests.test_modules import (
    BANK,
    BLOCK_REWARD,
    CHAIN_ID,
    DELEGATORS,
    DISTRIBUTION,
    OPERATORS,
    OWN,
    STAKING,
    START,
    UNITS,
    USEI,
    Chain,
    chain,
    selector,
    signed,
)

SLASHING = bytes.fromhex("0000000000000000000000000000000000001014")
WINDOW = 4
"""Blocks in the downtime window of these tests, of which half must be signed."""
SLASHING_PARAMS = gen.SlashingParams(
    signed_blocks_window=WINDOW, min_signed_per_window="0.5", downtime_jail_duration=30
)
SIGNING_INFO = "(string,int64,int64,int64,bool,int64)"
COINS = "(uint256,uint256,string)[]"

KEYS = [bytes([0xC0 - i]) * 32 for i in range(len(OPERATORS))]
"""The operators' consensus keys: the second sorts first, so committee order is not genesis order."""
EPOCH = 2


def keyed_network(keys: list[bytes | None] = list(KEYS), epoch_blocks: int = EPOCH) -> gen.Genesis:  # noqa: B006
    """Two validators with consensus keys, 50 s unbonding, a block reward (so that slashes settle rewards)."""
    g = gen.default_genesis(
        CHAIN_ID,
        [(op, OWN) for op in OPERATORS],
        gen.StakingParams(unbonding_time=50, epoch_blocks=epoch_blocks),
        gen.DistributionParams(block_reward_usei=BLOCK_REWARD),
        slashing=SLASHING_PARAMS,
    )
    validators = [
        msgspec.structs.replace(v, consensus_pubkey=None if k is None else k.hex())
        for v, k in zip(g.validators, keys, strict=True)
    ]
    return msgspec.structs.replace(g, validators=validators)


def test_committee_records_are_written_at_genesis_and_at_each_epoch_boundary(tmp_path: Path) -> None:
    with chain(tmp_path, 1, keyed_network()) as c:
        store = c.store.native
        assert native.epoch_blocks(store) == EPOCH
        power = OWN // USEI
        want = sorted((k, bytes.fromhex(op[2:]), power) for k, op in zip(KEYS, OPERATORS, strict=True))
        assert want[0][0] == KEYS[1]
        assert native.committee(store, 0) == want
        assert native.committee(store, 1) == want
        assert native.committee(store, 2) is None
        for number in (1, 2):
            block = OrderedBlock(number, START + number, [], evidence=(), signers=None)
            c.executor.execute(block)
            # Epoch 2 (blocks 5-6) is recorded at the end of block 2, the last of epoch 0 (blocks 1-2).
            assert (native.committee(store, 2) is None) == (number < EPOCH)
        assert native.committee(store, 2) == want
        assert native.committee(store, 3) is None


def test_a_validator_without_consensus_key_sits_in_no_committee(tmp_path: Path) -> None:
    with chain(tmp_path, 1, keyed_network([KEYS[0], None])) as c:
        assert native.committee(c.store.native, 1) == [(KEYS[0], bytes.fromhex(OPERATORS[0][2:]), OWN // USEI)]


def env(**consensus: object) -> BlockEnv:
    return BlockEnv(
        number=1,
        timestamp=START,
        gas_limit=30_000_000,
        base_fee=10**9,
        beneficiary=FEE_COLLECTOR,
        prevrandao=prevrandao(START, 1),
        chain_id=CHAIN_ID,
        **consensus,  # type: ignore[arg-type]
    )


def test_block_env_refuses_malformed_consensus_inputs() -> None:
    env(evidence=[(KEYS[0], 1, "double-vote")], signers=KEYS)
    with pytest.raises(ValueError, match='unknown infraction kind "triple-vote"'):
        env(evidence=[(KEYS[0], 1, "triple-vote")])
    with pytest.raises(ValueError, match="32 bytes"):
        env(signers=[b"\x01" * 31])
    assert Infraction(KEYS[0], 3, "lane-equivocation").kind == "lane-equivocation"


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        (["ab" * 31, None], "is not an Ed25519 public key"),
        (["zz" * 32, None], "is not an Ed25519 public key"),
        (["ab" * 32, "ab" * 32], "reuses another validator's consensus key"),
    ],
)
def test_genesis_refuses_malformed_and_shared_consensus_keys(
    tmp_path: Path, keys: list[str | None], reason: str
) -> None:
    g = json.loads(gen.dump(keyed_network([None, None])))
    for v, k in zip(g["validators"], keys, strict=True):
        v["consensusPubkey"] = k
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(g))
    with pytest.raises(gen.GenesisError, match=reason):
        gen.load(path)
    g["staking"]["epoch_blocks"] = 0
    for v in g["validators"]:
        v["consensusPubkey"] = None
    path.write_text(json.dumps(g))
    with pytest.raises(gen.GenesisError, match="epoch_blocks must be at least 1"):
        gen.load(path)


# --- slashing through the executor ---------------------------------------------------------------------------


def slashing_info(c: Chain, v: int) -> tuple[object, ...]:
    """(signing info, seivaloper…, jailed, slash count, slashed usei) of validator `v`."""
    data = selector("slashingInfo(string)") + encode(["string"], [c.valopers[v]])
    return c.query(SLASHING, data, [SIGNING_INFO, "string", "bool", "uint64", "uint256"])


def delegation(c: Chain, d: int, v: int) -> int:
    data = selector("delegation(address,string)") + encode(
        ["address", "string"], [DELEGATORS[d].address, c.valopers[v]]
    )
    (out,) = c.query(STAKING, data, ["((uint256,string),(string,uint256,uint256,string))"])
    return out[0][0]  # type: ignore[index,no-any-return]


def supply_accounted(c: Chain) -> tuple[int, int]:
    """(total supply, what the chain holds) in distribution book units (10^-30 usei): the two must be equal —
    every EVM balance, bonded and unbonding stake, the community pool and every validator's outstanding rewards
    and commission."""
    (supply,) = c.query(BANK, selector("supply(string)") + encode(["string"], ["usei"]), ["uint256"])
    # A slash settles the operators' own delegations too: their rewards land in accounts genesis left empty.
    balances = [c.store.balance(a) for a in {*c.addresses, *(bytes.fromhex(op[2:]) for op in OPERATORS)}]
    assert all(b >= 0 for b in balances)
    (validators,) = c.query(STAKING, selector("validators()"), ["(string,address,uint256,uint256,bool,bytes32,bool)[]"])
    bonded = sum(v[2] for v in validators)  # type: ignore[attr-defined]
    unbonding = 0
    for account in DELEGATORS:
        for valoper in c.valopers:
            args = encode(["address", "string"], [account.address, valoper])
            (entries,) = c.query(
                STAKING, selector("unbondingDelegation(address,string)") + args, ["(uint256,uint64)[]"]
            )
            unbonding += sum(e[0] for e in entries)  # type: ignore[attr-defined]
    (pool,) = c.query(DISTRIBUTION, selector("communityPool()"), [COINS])
    books = sum(coin[0] for coin in pool)  # type: ignore[attr-defined]
    for valoper in c.valopers:
        data = selector("validatorDistribution(string)") + encode(["string"], [valoper])
        for coins in c.query(DISTRIBUTION, data, [COINS, COINS]):
            books += sum(coin[0] for coin in coins)  # type: ignore[attr-defined]
    held = sum(balances) * 10**18 + (bonded + unbonding) * UNITS + books
    return supply * UNITS, held  # type: ignore[operator]


def run_block(chains: tuple[Chain, ...], raws: list[bytes], senders: list[bytes], **consensus: object) -> list[bool]:
    """Executes one block (one second after the last) on each chain, which must agree on the commitment; returns
    whether each transaction succeeded."""
    outcomes = []
    for c in chains:
        c.number += 1
        c.timestamp += 1
        block = OrderedBlock(c.number, c.timestamp, decode_with_senders(raws, senders), **consensus)  # type: ignore[arg-type]
        executed = c.executor.execute(block)
        assert not executed.skipped
        outcomes.append([r.success for r in executed.txs])
    first = chains[0]
    for c in chains[1:]:
        assert c.executor.commitments.wait_for(c.number) == first.executor.commitments.wait_for(first.number)
        assert outcomes[0] == outcomes[chains.index(c)]
    return outcomes[0]


def delegate_tx(c: Chain, d: int, v: int, sei: int, nonce: int) -> bytes:
    data = selector("delegate(string)") + encode(["string"], [c.valopers[v]])
    return signed(d, nonce, STAKING, sei * WEI_PER_SEI, data)


def test_evidence_slashes_jails_and_tombstones_through_the_executor(tmp_path: Path) -> None:
    with chain(tmp_path, 1, keyed_network()) as seq, chain(tmp_path, 2, keyed_network()) as par:
        me = bytes.fromhex(DELEGATORS[0].address[2:])
        assert run_block((seq, par), [delegate_tx(seq, 0, 0, 100, 0)], [me]) == [True]
        supply_before, _ = supply_accounted(seq)
        evidence = (Infraction(KEYS[0], seq.number, "double-vote"),)
        run_block((seq, par), [], [], evidence=evidence)
        info, _name, jailed, slashes, slashed = slashing_info(seq, 0)
        assert jailed and info[4] and slashes == 1  # type: ignore[index]
        # 5% of the delegator's 100 SEI and of the operator's own stake, burned.
        assert delegation(seq, 0, 0) == 95 * USEI
        assert slashed == 5 * USEI + OWN // 20
        supply_after, held = supply_accounted(seq)
        assert supply_after == held
        # The block minted its reward and burned the slash.
        assert supply_after == supply_before + (BLOCK_REWARD - slashed) * UNITS  # type: ignore[operator]
        # Out of the next committee; the same evidence again changes nothing.
        run_block((seq, par), [], [], evidence=evidence)
        assert slashing_info(seq, 0)[3] == 1
        assert native.committee(seq.store.native, 2) == [(KEYS[1], bytes.fromhex(OPERATORS[1][2:]), OWN // USEI)]


def test_a_committee_member_that_misses_its_window_is_jailed_for_downtime(tmp_path: Path) -> None:
    with chain(tmp_path, 1, keyed_network()) as c:
        for _ in range(WINDOW):
            assert not slashing_info(c, 0)[2]
            run_block((c,), [], [], signers=(KEYS[1],))
        info, _name, jailed, slashes, slashed = slashing_info(c, 0)
        assert jailed and not info[4] and slashes == 1  # type: ignore[index]
        assert info[3] == c.timestamp + SLASHING_PARAMS.downtime_jail_duration  # type: ignore[index]
        assert slashed == OWN // 100
        assert not slashing_info(c, 1)[2]


Event = tuple[str, int, int, int]
"""(kind, delegator or validator, validator, amount): delegate/undelegate/redelegate (SEI), evidence against a
validator, or a block whose commit only validator `v` signed."""

events = st.one_of(
    st.tuples(st.just("delegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 5)),
    st.tuples(st.just("undelegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("redelegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("evidence"), st.integers(0, 1), st.just(0), st.integers(0, 3)),
    st.tuples(st.just("offline"), st.integers(0, 1), st.just(0), st.just(0)),
    st.tuples(st.just("block"), st.just(0), st.just(0), st.just(0)),
)


def event_tx(c: Chain, e: Event, nonce: int) -> bytes:
    kind, d, v, amount = e
    if kind == "delegate":
        return delegate_tx(c, d, v, amount, nonce)
    if kind == "undelegate":
        data = selector("undelegate(string,uint256)") + encode(["string", "uint256"], [c.valopers[v], amount * USEI])
    else:
        args = [c.valopers[v], c.valopers[1 - v], amount * USEI]
        data = selector("redelegate(string,string,uint256)") + encode(["string", "string", "uint256"], args)
    return signed(d, nonce, STAKING, 0, data)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(script=st.lists(events, min_size=4, max_size=30))
def test_random_slashes_conserve_supply_and_agree_in_parallel(
    tmp_path_factory: pytest.TempPathFactory, script: list[Event]
) -> None:
    """Random delegations, undelegations and redelegations mixed with evidence and missed commits: after every
    block the supply is exactly what the chain holds (slashes burned), no balance is negative, a tombstoned
    validator stays jailed, and the sequential and the parallel chain have the same commitment."""
    tmp = tmp_path_factory.mktemp("slashing")
    with chain(tmp, 1, keyed_network()) as seq, chain(tmp, 2, keyed_network()) as par:
        nonces = [0] * len(DELEGATORS)
        raws: list[bytes] = []
        senders: list[bytes] = []
        for kind, d, v, amount in script:
            if kind in ("delegate", "undelegate", "redelegate"):
                raws.append(event_tx(seq, (kind, d, v, amount), nonces[d]))
                senders.append(bytes.fromhex(DELEGATORS[d].address[2:]))
                nonces[d] += 1
                continue
            consensus: dict[str, object] = {}
            if kind == "evidence":
                consensus["evidence"] = (Infraction(KEYS[d], max(seq.number + 1 - amount, 0), "double-vote"),)
            elif kind == "offline":
                consensus["signers"] = (KEYS[1 - d],)
            run_block((seq, par), raws, senders, **consensus)
            raws, senders = [], []
            supply, held = supply_accounted(seq)
            assert supply == held
            for validator in (0, 1):
                info, _name, jailed, _slashes, _slashed = slashing_info(seq, validator)
                assert jailed or not info[4]  # type: ignore[index]


# --- unjail on a devnet --------------------------------------------------------------------------------------


def pysei(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pysei.cli", *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )


def test_unjail_and_signing_info_from_the_command_line(tmp_path: Path) -> None:
    """A test genesis whose validator (operated by dev account 3) starts jailed until a time already past, as an
    exported genesis may carry a jailed validator: its operator unjails it with ``pysei tx unjail``."""
    operator = dev_accounts(DEV_MNEMONIC, 4)[3].checksum_address
    g = gen.default_genesis(validators=[(operator, 1_000 * USEI)])
    jailed = msgspec.structs.replace(g.validators[0], jailed_until=1, consensus_pubkey=KEYS[0].hex())
    path = tmp_path / "genesis.json"
    path.write_bytes(gen.dump(msgspec.structs.replace(g, validators=[jailed])))
    node = start_devnet(tmp_path, "--genesis", str(path), "--block-time", "0.1")
    try:
        rpc = ("--rpc", node.http_url, "--json")
        before = pysei("query", *rpc, "signing-info", operator)
        assert before.returncode == 0, before.stderr
        (info,) = json.loads(before.stdout)
        assert info["jailed"] and not info["tombstoned"] and info["slashes"] == 0
        assert info["consensus_address"].startswith("seivalcons1")
        by_consensus = pysei("query", *rpc, "signing-info", info["consensus_address"])
        assert json.loads(by_consensus.stdout) == [info]
        # Someone else cannot unjail it: dev account 0 operates no validator.
        refused = pysei("tx", *rpc, "--dev-account", "0", "unjail")
        assert refused.returncode == 1 and "is not a validator operator" in refused.stderr
        sent = pysei("tx", *rpc, "--dev-account", "3", "unjail")
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["block"] > 0
        (after,) = json.loads(pysei("query", *rpc, "signing-info", operator).stdout)
        assert not after["jailed"]
        (validator,) = json.loads(pysei("query", *rpc, "validators").stdout)
        assert validator["jailed"] is False and validator["tombstoned"] is False
        assert validator["consensus pubkey"] == KEYS[0].hex()
        again = pysei("tx", *rpc, "--dev-account", "3", "unjail")
        assert again.returncode == 1 and "is not jailed" in again.stderr
    finally:
        assert node.stop() == 0
