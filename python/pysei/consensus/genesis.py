"""A network's genesis file: chain id, block 0's timestamp, the funded dev accounts and the committee
(validators' Ed25519 public keys, stakes and addresses), and the key files of locally generated validators.

Each validator entry also names its operator (an EVM address whose key ``operator_key`` holds): the chain's token
genesis (``token_genesis``) makes every validator a staking-module validator with that operator, its stake as
self-delegation (in SEI: power 1 per SEI) and its consensus key, so the committee of each epoch is the staking
module's active set (``epochBlocks`` blocks an epoch). A genesis file without operators (older localnets) keeps
its genesis committee for ever.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from pysei.chain import genesis as token
from pysei.chain.constants import DEVNET_CHAIN_ID
from pysei.consensus.committee import Committee, Signer, make_committee

GENESIS = "genesis.json"
KEY = "validator_key"
OPERATOR_KEY = "operator_key"
DEFAULT_EPOCH_BLOCKS = 100
OPERATOR_FEES_USEI = 1_000 * token.USEI_PER_SEI
"""Unbonded SEI each operator gets beside its self-delegation, to pay for its own transactions (unjail, edits)."""
DEFAULT_RPC_PORT = 8545
DEFAULT_P2P_PORT = 26656


@dataclass(frozen=True)
class Genesis:
    chain_id: int
    timestamp: int
    dev_accounts: int
    committee: Committee
    token: token.Genesis | None = None
    """The chain's token genesis with the validators as staking validators; None for a genesis without operators."""

    @classmethod
    def load(cls, path: Path) -> Genesis:
        raw = json.loads(path.read_text())
        entries = [
            (bytes.fromhex(v["pubkey"]), int(v["stake"]), v["host"], int(v["p2pPort"]), int(v["rpcPort"]))
            for v in raw["validators"]
        ]
        chain_id = int(raw["chainId"])
        linked = None
        if all("operator" in v for v in raw["validators"]):
            staked = [(v["operator"], v["pubkey"], int(v["stake"]), v.get("moniker", "")) for v in raw["validators"]]
            linked = token_genesis(chain_id, staked, int(raw.get("epochBlocks", DEFAULT_EPOCH_BLOCKS)))
        return cls(chain_id, int(raw["timestamp"]), int(raw["devAccounts"]), make_committee(entries), linked)


def token_genesis(chain_id: int, validators: list[tuple[str, str, int, str]], epoch_blocks: int) -> token.Genesis:
    """The default 10B SEI genesis with ``validators`` ((operator, consensus key hex, stake in SEI, moniker)) as
    its staking validators, each self-delegating its stake, plus ``OPERATOR_FEES_USEI`` unbonded for its fees
    (taken from the foundation's share, so the supply stays 10B)."""
    base = token.default_genesis(
        chain_id,
        validators=[(op, stake * token.USEI_PER_SEI) for op, _, stake, _ in validators],
        staking=token.StakingParams(epoch_blocks=epoch_blocks),
    )
    fees = [token.Allocation(op, "foundation", OPERATOR_FEES_USEI) for op, _, _, _ in validators]
    foundation = token.placeholder_address("foundation")
    allocations = [
        msgspec.structs.replace(a, amount_usei=a.amount_usei - len(fees) * OPERATOR_FEES_USEI)
        if a.address == foundation
        else a
        for a in base.allocations
    ]
    staking = [
        msgspec.structs.replace(v, consensus_pubkey=key, moniker=moniker or v.moniker)
        for v, (_, key, _, moniker) in zip(base.validators, validators, strict=True)
    ]
    linked = msgspec.structs.replace(base, allocations=allocations + fees, validators=staking)
    token.validate(linked)
    return linked


def write_operator_key(home: Path) -> str:
    """Writes a fresh secp256k1 key for the validator's operator to ``home/operator_key`` (mode 600, never over an
    existing one); returns its address. The operator signs the validator's staking transactions (unjail, edit)."""
    from eth_account import Account  # slow to import (py_ecc): only `pysei init` and a new localnet need it

    key = os.urandom(32)
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(home / OPERATOR_KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FileExistsError(f"{home / OPERATOR_KEY} exists: an operator key is never overwritten") from None
    with os.fdopen(fd, "w") as f:
        f.write("0x" + key.hex() + "\n")
    return str(Account.from_key(key).address)


def write_key(home: Path, seed: bytes | None = None) -> bytes:
    """Writes an Ed25519 seed (fresh unless given) to ``home/validator_key``, mode 600, never over an existing
    key; returns the seed."""
    home.mkdir(parents=True, exist_ok=True)
    seed = seed if seed is not None else os.urandom(32)
    try:
        fd = os.open(home / KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FileExistsError(f"{home / KEY} exists: a validator key is never overwritten") from None
    with os.fdopen(fd, "w") as f:
        f.write(seed.hex() + "\n")
    return seed


def load_key(home: Path) -> bytes:
    return bytes.fromhex((home / KEY).read_text().strip())


def validator_entry(
    seed: bytes, *, host: str, p2p_port: int, rpc_port: int, stake: int = 1_000, operator: str | None = None
) -> dict[str, Any]:
    """One validator's record in the genesis file (``stake``: its self-delegation in SEI = its voting power)."""
    pubkey = Signer(seed, 0).pubkey.hex()
    entry: dict[str, Any] = {"pubkey": pubkey, "stake": stake, "host": host, "p2pPort": p2p_port, "rpcPort": rpc_port}
    if operator is not None:
        entry["operator"] = operator
    return entry


def write_genesis(
    path: Path,
    entries: list[dict[str, Any]],
    *,
    chain_id: int = DEVNET_CHAIN_ID,
    dev_accounts: int = 20,
    epoch_blocks: int = DEFAULT_EPOCH_BLOCKS,
) -> Path:
    """Writes a genesis file for ``entries`` (any order: the committee is ordered by public key), timestamped
    now; checks it loads."""
    if len({e["pubkey"] for e in entries}) != len(entries):
        raise ValueError("a validator key appears twice")
    if epoch_blocks < 1:
        raise ValueError("epoch blocks must be at least 1")
    genesis = {
        "chainId": chain_id,
        "timestamp": int(time.time()),
        "devAccounts": dev_accounts,
        "epochBlocks": epoch_blocks,
        "validators": entries,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(genesis, indent=2) + "\n")
    Genesis.load(path)
    return path


def create_genesis(
    data_dir: Path,
    validators: int,
    *,
    chain_id: int = DEVNET_CHAIN_ID,
    rpc_port: int = DEFAULT_RPC_PORT,
    p2p_port: int = DEFAULT_P2P_PORT,
    ports: list[tuple[int, int]] | None = None,
    dev_accounts: int = 20,
    epoch_blocks: int = DEFAULT_EPOCH_BLOCKS,
) -> Path:
    """A loopback network: one key per validator under ``data_dir/v<i>/`` and ``data_dir/genesis.json``;
    validator i gets RPC port ``rpc_port + i`` and p2p port ``p2p_port + i`` unless ``ports`` lists (rpc, p2p)
    pairs. Equal stakes; each validator's operator key is in ``v<i>/operator_key``. Directories are numbered in
    committee order, so ``v<i>`` holds validator i."""
    seeds = sorted((os.urandom(32) for _ in range(validators)), key=lambda s: Signer(s, 0).pubkey)
    entries = []
    for i, seed in enumerate(seeds):
        write_key(data_dir / f"v{i}", seed)
        operator = write_operator_key(data_dir / f"v{i}")
        rpc, p2p = ports[i] if ports else (rpc_port + i, p2p_port + i)
        entries.append(validator_entry(seed, host="127.0.0.1", p2p_port=p2p, rpc_port=rpc, operator=operator))
    return write_genesis(
        data_dir / GENESIS, entries, chain_id=chain_id, dev_accounts=dev_accounts, epoch_blocks=epoch_blocks
    )
