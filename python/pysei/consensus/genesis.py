"""A network's genesis file: chain id, block 0's timestamp, the funded dev accounts and the committee
(validators' Ed25519 public keys, stakes and addresses), and the key files of locally generated validators."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

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
    """Writes ``genesis.json`` and one key per validator under ``data_dir/v<i>/``; validator i gets RPC port
    ``rpc_port + i`` and p2p port ``p2p_port + i`` unless ``ports`` lists (rpc, p2p) pairs. Equal stakes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    # Seeds in committee order (by public key), so that directory v<i> holds validator i.
    seeds = sorted((os.urandom(32) for _ in range(validators)), key=lambda s: Signer(s, 0).pubkey)
    for i, seed in enumerate(seeds):
        home = data_dir / f"v{i}"
        home.mkdir(exist_ok=True)
        (home / KEY).write_text(seed.hex() + "\n")
        os.chmod(home / KEY, 0o600)
        rpc, p2p = ports[i] if ports else (rpc_port + i, p2p_port + i)
        pubkey = bytes(Signer(seed, 0).pubkey)
        entries.append({"pubkey": pubkey.hex(), "stake": 100, "host": "127.0.0.1", "p2pPort": p2p, "rpcPort": rpc})
    genesis = {"chainId": chain_id, "timestamp": int(time.time()), "devAccounts": dev_accounts, "validators": entries}
    path = data_dir / GENESIS
    path.write_text(json.dumps(genesis, indent=2) + "\n")
    return path
