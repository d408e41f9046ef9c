"""Benchmark workloads: pre-signed transactions plus the genesis state they run on.

Each workload seeds its contracts and balances directly at genesis, or (amm, whose pool has immutables) deploys
them in untimed set-up blocks, and signs its transactions ahead of time, so timed phases measure execution only.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import rlp

from pysei.bench.signer import Signer
from pysei.chain import genesis
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


WORKLOADS = ("transfer", "erc20", "erc20-zipf", "amm", "nft", "mix", "staking")
"""``transfer``: ETH to uniform recipients; ``erc20``: BenchToken transfers to uniform recipients;
``erc20-zipf``: the same with Zipf-skewed recipients (s = 1.2, a hot set of balances); ``amm``: swaps on one
BenchPool (every swap reads and writes the same reserves: a dependency chain); ``nft``: BenchNFT mints (every
mint increments the same counter); ``mix``: a replay-like block drawing each transaction from those kinds
(``MIX`` weights), so short chains on the pool and the NFT counter interleave with independent transfers;
``staking``: 1 SEI delegations through the staking precompile (0x…1005) to the genesis validator, each from its
own delegator (module state is per-delegator slots, so they must not conflict)."""

MIX = {"transfer": 0.4, "erc20": 0.2, "erc20-zipf": 0.2, "amm": 0.1, "nft": 0.1}
GAS = {"transfer": 21_000, "erc20": 60_000, "erc20-zipf": 60_000, "amm": 150_000, "nft": 100_000, "staking": 150_000}
STAKING_ADDRESS = bytes.fromhex("00" * 18 + "1005")

NFT_ADDRESS = bytes.fromhex("7070" + "00" * 17 + "02")
ZIPF_S = 1.2
SELECTORS = {
    name: keccak(name.encode())[:4]
    for name in (
        "transfer(address,uint256)",
        "approve(address,uint256)",
        "sync()",
        "swap(bool,uint256,uint256)",
        "mint()",
        "delegate(string)",
    )
}


def _word(value: int | bytes) -> bytes:
    return value.rjust(32, b"\x00") if isinstance(value, bytes) else value.to_bytes(32, "big")


def create_address(sender: bytes, nonce: int) -> bytes:
    """The address CREATE gives a contract deployed by ``sender`` at ``nonce``."""
    return keccak(rlp.encode([sender, nonce]))[12:]


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    alloc: Alloc
    setup: list[tuple[list[bytes], list[bytes]]]
    """Blocks of (raw transactions, senders) executed and committed before the timed block (deployments)."""
    raws: list[bytes]
    senders: list[bytes]
    gas_limit: int
    """Sum of the timed transactions' gas limits: the block gas limit that lets all of them in."""


def _accounts(n: int) -> list[Signer]:
    return [Signer.from_seed(i) for i in range(n)]


class _Nonces:
    """Signs with each account's next nonce."""

    def __init__(self) -> None:
        self.next: dict[bytes, int] = {}

    def sign(self, signer: Signer, to: bytes | None, *, gas: int, data: bytes = b"", value: int = 0) -> bytes:
        nonce = self.next.get(signer.address, 0)
        self.next[signer.address] = nonce + 1
        return signer.sign_1559(
            chain_id=DEVNET_CHAIN_ID, nonce=nonce, to=to, value=value, data=data, gas=gas, max_fee=MAX_FEE, tip=TIP
        )


def _chunks(txs: list[tuple[bytes, bytes]], size: int = 5_000) -> list[tuple[list[bytes], list[bytes]]]:
    return [([r for r, _ in txs[i : i + size]], [s for _, s in txs[i : i + size]]) for i in range(0, len(txs), size)]


def build(name: str, n_txs: int, *, n_accounts: int | None = None, seed: int = 1) -> Workload:
    """The named workload (see ``WORKLOADS``) with ``n_txs`` timed transactions. Each sender sends once unless
    ``n_accounts`` is smaller than ``n_txs`` (then senders repeat with increasing nonces)."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r} ({', '.join(WORKLOADS)})")
    rng = random.Random(seed)
    signers = _accounts(n_accounts or n_txs)
    recipients = [keccak(b"recipient" + i.to_bytes(8, "big"))[:20] for i in range(max(1, n_txs))]
    alloc: Alloc = [(s.address, 1_000 * WEI_PER_SEI, 0, b"", []) for s in signers]
    validator = ""
    if name == "staking":
        # The network genesis (module state, one validator) with the senders funded on top.
        network = genesis.default_genesis()
        validator = network.validators[0].operator
        alloc = genesis.alloc(network, [(s.address, 1_000 * WEI_PER_SEI) for s in signers])
    nonces = _Nonces()
    setup: list[tuple[list[bytes], list[bytes]]] = []
    if name in ("erc20", "erc20-zipf", "mix"):
        code = bytes.fromhex(artifact("BenchToken")["deployedBytecode"][2:])
        storage = [(balance_slot(s.address), 10**24) for s in signers]
        storage.append((2, 10**24 * len(signers)))
        alloc.append((TOKEN_ADDRESS, 0, 1, code, storage))
    if name in ("nft", "mix"):
        alloc.append((NFT_ADDRESS, 0, 1, bytes.fromhex(artifact("BenchNFT")["deployedBytecode"][2:]), []))
    pool = _amm_setup(signers, alloc, nonces, setup) if name in ("amm", "mix") else b""
    zipf_weights = [1 / (r + 1) ** ZIPF_S for r in range(len(recipients))]
    raws, senders = [], []
    gas_limit = 0
    for i in range(n_txs):
        signer = signers[i % len(signers)]
        kind = rng.choices(list(MIX), list(MIX.values()))[0] if name == "mix" else name
        gas = GAS[kind]
        gas_limit += gas
        if kind == "transfer":
            raw = nonces.sign(signer, rng.choice(recipients), value=1, gas=gas)
        elif kind in ("erc20", "erc20-zipf"):
            to = rng.choices(recipients, zipf_weights)[0] if kind == "erc20-zipf" else rng.choice(recipients)
            raw = nonces.sign(
                signer, TOKEN_ADDRESS, gas=gas, data=SELECTORS["transfer(address,uint256)"] + _word(to) + _word(1)
            )
        elif kind == "nft":
            raw = nonces.sign(signer, NFT_ADDRESS, gas=gas, data=SELECTORS["mint()"])
        elif kind == "staking":
            data = (
                SELECTORS["delegate(string)"] + _word(32) + _word(len(validator)) + validator.encode().ljust(64, b"\0")
            )
            raw = nonces.sign(signer, STAKING_ADDRESS, gas=gas, data=data, value=WEI_PER_SEI)
        else:
            swap = SELECTORS["swap(bool,uint256,uint256)"] + _word(1) + _word(10**18) + _word(0)
            raw = nonces.sign(signer, pool, gas=gas, data=swap)
        raws.append(raw)
        senders.append(signer.address)
    return Workload(name, alloc, setup, raws, senders, gas_limit)


def _amm_setup(
    signers: list[Signer], alloc: Alloc, nonces: _Nonces, setup: list[tuple[list[bytes], list[bytes]]]
) -> bytes:
    """Deploys two BenchTokens and a BenchPool (its token addresses are immutables, so its code cannot simply be
    seeded), gives every sender token0 and an approval, and seeds the pool's liquidity. Returns the pool."""
    deployer = Signer.from_seed(10**9)
    alloc.append((deployer.address, 10**6 * WEI_PER_SEI, 0, b"", []))
    token_code = bytes.fromhex(artifact("BenchToken")["bytecode"][2:])
    supply = 10**30
    token0, token1, pool = (create_address(deployer.address, n) for n in range(3))
    pool_code = bytes.fromhex(artifact("BenchPool")["bytecode"][2:]) + _word(token0) + _word(token1)
    deploys = [
        (nonces.sign(deployer, None, gas=3_000_000, data=token_code + _word(supply)), deployer.address),
        (nonces.sign(deployer, None, gas=3_000_000, data=token_code + _word(supply)), deployer.address),
        (nonces.sign(deployer, None, gas=3_000_000, data=pool_code), deployer.address),
    ]
    transfer, approve = SELECTORS["transfer(address,uint256)"], SELECTORS["approve(address,uint256)"]
    funding = [
        (nonces.sign(deployer, token0, gas=100_000, data=transfer + _word(s.address) + _word(10**21)), deployer.address)
        for s in signers
    ]
    liquidity = [
        (nonces.sign(deployer, token, gas=100_000, data=transfer + _word(pool) + _word(10**27)), deployer.address)
        for token in (token0, token1)
    ]
    liquidity.append((nonces.sign(deployer, pool, gas=200_000, data=SELECTORS["sync()"]), deployer.address))
    approvals = [
        (nonces.sign(s, token0, gas=100_000, data=approve + _word(pool) + _word(2**256 - 1)), s.address)
        for s in signers
    ]
    setup.extend(_chunks(deploys + funding + liquidity + approvals))
    return pool
