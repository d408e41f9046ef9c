"""A network's genesis file: chain id, block 0's timestamp, the funded dev accounts and the committee
(validators' Ed25519 public keys, stakes and addresses), and the key files of locally generated validators."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pysei.chain.constants import DEVNET_CHAIN_ID
from pysei.consensus.committee import Committee, Signer, make_committee

GENESIS = "genesis.json"
KEY = "validator_key"
DEFAULT_RPC_PORT = 8545
DEFAULT_P2P_PORT = 26656


@dataclass(frozen=True)
class Genesis:
    chain_id: int
    timestamp: int
    dev_accounts: int
    committee: Committee

    @classmethod
    def load(cls, path: Path) -> Genesis:
        raw = json.loads(path.read_text())
        entries = [
            (bytes.fromhex(v["pubkey"]), int(v["stake"]), v["host"], int(v["p2pPort"]), int(v["rpcPort"]))
            for v in raw["validators"]
        ]
        return cls(int(raw["chainId"]), int(raw["timestamp"]), int(raw["devAccounts"]), make_committee(entries))


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


def validator_entry(seed: bytes, *, host: str, p2p_port: int, rpc_port: int, stake: int = 100) -> dict[str, Any]:
    """One validator's record in the genesis file."""
    pubkey = Signer(seed, 0).pubkey.hex()
    return {"pubkey": pubkey, "stake": stake, "host": host, "p2pPort": p2p_port, "rpcPort": rpc_port}


def write_genesis(
    path: Path, entries: list[dict[str, Any]], *, chain_id: int = DEVNET_CHAIN_ID, dev_accounts: int = 20
) -> Path:
    """Writes a genesis file for ``entries`` (any order: the committee is ordered by public key), timestamped
    now; checks it loads."""
    if len({e["pubkey"] for e in entries}) != len(entries):
        raise ValueError("a validator key appears twice")
    genesis = {"chainId": chain_id, "timestamp": int(time.time()), "devAccounts": dev_accounts, "validators": entries}
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
) -> Path:
    """A loopback network: one key per validator under ``data_dir/v<i>/`` and ``data_dir/genesis.json``;
    validator i gets RPC port ``rpc_port + i`` and p2p port ``p2p_port + i`` unless ``ports`` lists (rpc, p2p)
    pairs. Equal stakes. Directories are numbered in committee order, so ``v<i>`` holds validator i."""
    seeds = sorted((os.urandom(32) for _ in range(validators)), key=lambda s: Signer(s, 0).pubkey)
    entries = []
    for i, seed in enumerate(seeds):
        write_key(data_dir / f"v{i}", seed)
        rpc, p2p = ports[i] if ports else (rpc_port + i, p2p_port + i)
        entries.append(validator_entry(seed, host="127.0.0.1", p2p_port=p2p, rpc_port=rpc))
    return write_genesis(data_dir / GENESIS, entries, chain_id=chain_id, dev_accounts=dev_accounts)
