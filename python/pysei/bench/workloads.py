"""Benchmark workloads: pre-signed transactions plus the genesis state they run on.

Each workload seeds its contracts and balances directly at genesis (deploying them would be untimed set-up
anyway) and signs its transactions ahead of time, so timed phases measure execution only.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pysei.bench.signer import Signer
from pysei.chain.constants import DEVNET_CHAIN_ID, GWEI, WEI_PER_SEI
from pysei.native import keccak
from pysei.state.store import Alloc

CONTRACTS = Path(__file__).parent / "contracts" / "contracts.json"
TOKEN_ADDRESS = bytes.fromhex("7070" + "00" * 17 + "01")
TRANSFER_SELECTOR = keccak(b"transfer(address,uint256)")[:4]
MAX_FEE = 100 * GWEI
TIP = 1 * GWEI


@cache
def artifact(name: str) -> dict[str, str]:
    return json.loads(CONTRACTS.read_text())["contracts"][name]


def balance_slot(holder: bytes) -> int:
    """Storage slot of ``balanceOf[holder]`` in BenchToken (mapping at slot 0)."""
    return int.from_bytes(keccak(holder.rjust(32, b"\x00") + (0).to_bytes(32, "big")), "big")


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    alloc: Alloc
    raws: list[bytes]
    senders: list[bytes]


def _accounts(n: int) -> list[Signer]:
    return [Signer.from_seed(i) for i in range(n)]


def build(name: str, n_txs: int, *, n_accounts: int | None = None, seed: int = 1) -> Workload:
    """``transfer``: ETH transfers; ``erc20``: BenchToken transfers. Each sender sends once unless
    ``n_accounts`` is smaller than ``n_txs`` (then senders repeat with increasing nonces)."""
    rng = random.Random(seed)
    signers = _accounts(n_accounts or n_txs)
    recipients = [keccak(b"recipient" + i.to_bytes(8, "big"))[:20] for i in range(max(1, n_txs))]
    alloc: Alloc = [(s.address, 1_000 * WEI_PER_SEI, 0, b"", []) for s in signers]
    if name == "erc20":
        code = bytes.fromhex(artifact("BenchToken")["deployedBytecode"][2:])
        storage = [(balance_slot(s.address), 10**24) for s in signers]
        storage.append((2, 10**24 * len(signers)))
        alloc.append((TOKEN_ADDRESS, 0, 1, code, storage))
    elif name != "transfer":
        raise ValueError(f"unknown workload {name!r} (transfer, erc20)")
    nonces = [0] * len(signers)
    raws, senders = [], []
    for i in range(n_txs):
        k = i % len(signers)
        signer = signers[k]
        to = rng.choice(recipients)
        if name == "transfer":
            raw = signer.sign_1559(
                chain_id=DEVNET_CHAIN_ID, nonce=nonces[k], to=to, value=1, gas=21_000, max_fee=MAX_FEE, tip=TIP
            )
        else:
            data = TRANSFER_SELECTOR + to.rjust(32, b"\x00") + (1).to_bytes(32, "big")
            raw = signer.sign_1559(
                chain_id=DEVNET_CHAIN_ID,
                nonce=nonces[k],
                to=TOKEN_ADDRESS,
                data=data,
                gas=60_000,
                max_fee=MAX_FEE,
                tip=TIP,
            )
        nonces[k] += 1
        raws.append(raw)
        senders.append(signer.address)
    return Workload(name, alloc, raws, senders)
