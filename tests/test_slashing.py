"""Staking's side of consensus through the node's execution stage: genesis consensus keys, the committee records
written at epoch boundaries, and the consensus inputs (evidence, commit signers) a block carries into execution.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from pysei import native
from pysei.chain import genesis as gen
from pysei.chain.block import Infraction, OrderedBlock
from pysei.chain.constants import FEE_COLLECTOR
from pysei.execution.executor import prevrandao
from pysei.native import BlockEnv
from tests.test_modules import CHAIN_ID, OPERATORS, OWN, START, USEI, chain

KEYS = [bytes([0xC0 - i]) * 32 for i in range(len(OPERATORS))]
"""The operators' consensus keys: the second sorts first, so committee order is not genesis order."""
EPOCH = 2


def keyed_network(keys: list[bytes | None] = list(KEYS), epoch_blocks: int = EPOCH) -> gen.Genesis:  # noqa: B006
    g = gen.default_genesis(
        CHAIN_ID, [(op, OWN) for op in OPERATORS], gen.StakingParams(unbonding_time=50, epoch_blocks=epoch_blocks)
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
