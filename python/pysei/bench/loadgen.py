"""An asynchronous JSON-RPC load generator that works against any standard node (pysei, anvil, Hardhat, geth…).

A run has two phases:

* **Set-up** (untimed, standard ``eth_*`` methods only): fund the benchmark accounts from a dev account, deploy
  the workload's contracts, distribute tokens, approve the pool. Set-up transactions from one sender are sent one
  at a time in nonce order (Hardhat serves batch entries concurrently and refuses them out of order in
  automine) and every stage waits for its receipts.
* **Timed phase**: transactions signed *before* it starts (:class:`Plan`) are sent with ``eth_sendRawTransaction``
  in JSON-RPC batches over ``concurrency`` keep-alive connections, while a tracker finds every receipt. Each
  transaction's send time and first-seen-receipt time are recorded; a stall (no new receipt or send answer for
  ``stall_s``) is reported and ends the run instead of hanging it.

Receipts are found with batched ``eth_getTransactionReceipt``. In ``blocks`` mode (the default) the tracker
follows ``eth_blockNumber`` and asks only for the receipts of the benchmark's transactions that new blocks list
(``eth_getBlockByNumber``, hashes only), so each receipt is fetched once and polling costs the node almost
nothing; ``poll`` mode instead cycles through every outstanding hash. Both sweep the stragglers directly
before declaring a transaction lost. Every receipt is counted exactly once.

Transaction ``i`` is sent by account ``i % K`` with that account's next nonce. Connection ``c`` of the
``concurrency`` connections owns the accounts ``k`` with ``k % concurrency == c`` and sends their transactions in
nonce order, one request at a time; with ``K ≥ batch × concurrency`` every batch holds one transaction per
sender, which is what Hardhat's automine needs (it refuses nonce gaps and serves a batch's entries concurrently).

Workloads:

``transfer``    ETH transfers among the K accounts
``erc20``       BenchToken transfers to recipients drawn uniformly from the K accounts
``erc20-zipf``  the same with Zipf-skewed recipients (a few hot balances)
``amm``         swaps on one constant-product pool (BenchPool) over two BenchTokens, alternating direction
``nft``         BenchNFT (minimal ERC-721) mints
``storage``     BenchStorage.write: 10 fresh storage slots per call
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import statistics
import time
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import accumulate, islice
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import rlp  # type: ignore[import-untyped]
from coincurve import PrivateKey

from pysei.bench.signer import Signer
from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID, GWEI, WEI_PER_SEI
from pysei.native import keccak

CONTRACTS = Path(__file__).parent / "contracts" / "contracts.json"
WORKLOADS = ("transfer", "erc20", "erc20-zipf", "amm", "nft", "storage")

MAX_FEE = 100 * GWEI
"""Fee cap of every benchmark transaction: far above the base fee any of the nodes reaches in a run."""
TIP = 1 * GWEI

GAS = {
    "transfer": 21_000,
    "erc20": 60_000,
    "erc20-zipf": 60_000,
    "amm": 100_000,
    "nft": 100_000,
    "storage": 300_000,
}
"""Gas limit of each workload's timed transactions (measured use plus a margin; see tests/test_loadgen.py)."""

DEPLOY_GAS = 2_000_000
CALL_GAS = 120_000
STORAGE_SLOTS_PER_CALL = 10
TOKEN_SUPPLY = 10**30
TOKEN_PER_ACCOUNT = 10**24
POOL_LIQUIDITY = 10**26
SWAP_AMOUNT = 10**18
ZIPF_S = 1.2

JSON_HEADERS = {"Content-Type": "application/json"}


class SetupError(RuntimeError):
    """The untimed set-up could not prepare the node (refused or failed transaction, wrong chain, used keys)."""


# --- ABI and addresses --------------------------------------------------------------------------------------------
@cache
def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def word(value: int | bytes | bool) -> bytes:
    if isinstance(value, bytes):
        return value.rjust(32, b"\x00")
    return int(value).to_bytes(32, "big")


def calldata(signature: str, *args: int | bytes | bool) -> bytes:
    return selector(signature) + b"".join(word(a) for a in args)


def create_address(sender: bytes, nonce: int) -> bytes:
    """Address of the contract that ``sender`` creates with ``nonce`` (CREATE)."""
    return keccak(rlp.encode([sender, nonce]))[12:]


@cache
def artifact(name: str) -> dict[str, Any]:
    return json.loads(CONTRACTS.read_text())["contracts"][name]


def init_code(name: str, *args: int | bytes) -> bytes:
    return bytes.fromhex(artifact(name)["bytecode"][2:]) + b"".join(word(a) for a in args)


def signer_from_key(key: bytes) -> Signer:
    pk = PrivateKey(key)
    return Signer(pk, keccak(pk.public_key.format(compressed=False)[1:])[12:])


def bench_signer(seed: int, role: str, index: int) -> Signer:
    """A deterministic benchmark key: the same ``seed`` gives the same accounts (and contract addresses)."""
    return signer_from_key(
        keccak(b"pysei-loadgen" + seed.to_bytes(8, "big") + role.encode() + index.to_bytes(8, "big"))
    )


def dev_signer(index: int = 0, mnemonic: str = DEV_MNEMONIC) -> Signer:
    from pysei.chain.accounts import dev_accounts

    return signer_from_key(dev_accounts(mnemonic, index + 1)[index].private_key)


def hx(b: bytes) -> str:
    return "0x" + b.hex()


# --- the plan: set-up and pre-signed timed transactions -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SetupTx:
    sender: bytes
    raw: bytes
    label: str
    creates: bytes | None = None
    """Expected contract address for a deployment."""


@dataclass
class Plan:
    """Everything a run sends, fixed before any node is touched: the same plan runs against every target."""

    workload: str
    chain_id: int
    n_accounts: int
    seed: int
    deployer: Signer
    senders: list[Signer]
    contracts: dict[str, bytes]
    funding: list[tuple[bytes, int]]
    """(address, wei) the dev account sends before the set-up stages."""
    stages: list[list[SetupTx]]
    start_nonces: dict[bytes, int]
    """Nonce each benchmark account must have after set-up (the timed transactions start there)."""
    raws: list[bytes]
    hashes: list[bytes]
    gas_limit: int
    max_fee: int

    @property
    def n_txs(self) -> int:
        return len(self.raws)

    def describe(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "txs": self.n_txs,
            "accounts": self.n_accounts,
            "seed": self.seed,
            "gas_limit_per_tx": self.gas_limit,
            "max_fee_gwei": self.max_fee / GWEI,
            "contracts": {k: hx(v) for k, v in self.contracts.items()},
            "setup_txs": sum(len(s) for s in self.stages) + len(self.funding),
        }


def _zipf_cdf(n: int, s: float) -> list[float]:
    weights = [1.0 / (r**s) for r in range(1, n + 1)]
    total = sum(weights)
    return [c / total for c in accumulate(weights)]


def make_plan(
    workload: str,
    n_txs: int,
    *,
    n_accounts: int = 100,
    chain_id: int = DEVNET_CHAIN_ID,
    seed: int = 1,
    max_fee: int = MAX_FEE,
    tip: int = TIP,
    zipf_s: float = ZIPF_S,
) -> Plan:
    """Builds and signs the set-up and timed transactions of ``workload`` for fresh nodes.

    The benchmark accounts are derived from ``seed`` and must be unused on the node (nonce 0): the timed
    transactions' nonces and the contracts' addresses are fixed here, before the node is touched.
    """
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r} (choose from {', '.join(WORKLOADS)})")
    if n_txs < 1 or n_accounts < 2:
        raise ValueError("need at least 1 transaction and 2 accounts")
    rng = random.Random(seed * 1_000_003 + WORKLOADS.index(workload))
    deployer = bench_signer(seed, "deployer", 0)
    senders = [bench_signer(seed, "sender", i) for i in range(n_accounts)]
    k = n_accounts
    gas = GAS[workload]
    contracts: dict[str, bytes] = {}
    deploy_txs: list[SetupTx] = []
    sender_stage: list[SetupTx] = []
    dnonce = 0

    def sign(s: Signer, nonce: int, to: bytes | None, data: bytes, gas_limit: int, value: int = 0) -> bytes:
        return s.sign_1559(
            chain_id=chain_id, nonce=nonce, to=to, value=value, data=data, gas=gas_limit, max_fee=max_fee, tip=tip
        )

    def deployer_tx(label: str, to: bytes | None, data: bytes, gas_limit: int) -> None:
        nonlocal dnonce
        creates = create_address(deployer.address, dnonce) if to is None else None
        deploy_txs.append(SetupTx(deployer.address, sign(deployer, dnonce, to, data, gas_limit), label, creates))
        dnonce += 1

    def deploy(name: str, contract: str, *args: int | bytes) -> bytes:
        address = create_address(deployer.address, dnonce)
        deployer_tx(f"deploy {name}", None, init_code(contract, *args), DEPLOY_GAS)
        contracts[name] = address
        return address

    start = dict.fromkeys((s.address for s in senders), 0)
    if workload in ("erc20", "erc20-zipf"):
        token = deploy("token", "BenchToken", TOKEN_SUPPLY)
        for s in senders:
            deployer_tx(
                "distribute token", token, calldata("transfer(address,uint256)", s.address, TOKEN_PER_ACCOUNT), CALL_GAS
            )
    elif workload == "amm":
        token0 = deploy("token0", "BenchToken", TOKEN_SUPPLY)
        token1 = deploy("token1", "BenchToken", TOKEN_SUPPLY)
        pool = deploy("pool", "BenchPool", token0, token1)
        for t in (token0, token1):
            deployer_tx("seed pool", t, calldata("transfer(address,uint256)", pool, POOL_LIQUIDITY), CALL_GAS)
        deployer_tx("sync pool", pool, calldata("sync()"), CALL_GAS)
        for s in senders:
            for t in (token0, token1):
                deployer_tx(
                    "distribute token", t, calldata("transfer(address,uint256)", s.address, TOKEN_PER_ACCOUNT), CALL_GAS
                )
        approve = calldata("approve(address,uint256)", pool, 2**256 - 1)
        for s in senders:
            for n, t in enumerate((token0, token1)):
                sender_stage.append(SetupTx(s.address, sign(s, n, t, approve, CALL_GAS), "approve pool"))
            start[s.address] = 2
    elif workload == "nft":
        deploy("nft", "BenchNFT")
    elif workload == "storage":
        deploy("storage", "BenchStorage")

    stages = [st for st in (deploy_txs, sender_stage) if st]
    raws: list[bytes] = []
    cdf = _zipf_cdf(k - 1, zipf_s) if workload == "erc20-zipf" else []
    # Zipf ranks: a fixed random permutation of the accounts, so the hot recipients are not the first senders.
    ranking = list(range(k))
    rng.shuffle(ranking)
    nonces = dict(start)
    for i in range(n_txs):
        s = senders[i % k]
        nonce = nonces[s.address]
        nonces[s.address] = nonce + 1
        if workload in ("transfer", "erc20"):
            j = rng.randrange(k - 1)
            to_acct = senders[j if j < i % k else j + 1].address
        elif workload == "erc20-zipf":
            r = ranking[min(bisect_left(cdf, rng.random()), k - 2)]
            to_acct = senders[r if r != i % k else ranking[-1]].address
        if workload == "transfer":
            raw = sign(s, nonce, to_acct, b"", gas, value=1)
        elif workload in ("erc20", "erc20-zipf"):
            raw = sign(s, nonce, contracts["token"], calldata("transfer(address,uint256)", to_acct, 1), gas)
        elif workload == "amm":
            data = calldata("swap(bool,uint256,uint256)", (i // k + i % k) % 2 == 0, SWAP_AMOUNT, 0)
            raw = sign(s, nonce, contracts["pool"], data, gas)
        elif workload == "nft":
            raw = sign(s, nonce, contracts["nft"], calldata("mint()"), gas)
        else:
            data = calldata("write(uint256,uint256)", i * STORAGE_SLOTS_PER_CALL, STORAGE_SLOTS_PER_CALL)
            raw = sign(s, nonce, contracts["storage"], data, gas)
        raws.append(raw)
    # Fund every account for its worst case (fee cap × gas limit) plus values, and a margin.
    per_sender = Counter(i % k for i in range(n_txs))
    funding = []
    if deploy_txs:
        deploy_cost = sum((DEPLOY_GAS if t.creates else CALL_GAS) * max_fee for t in deploy_txs)
        funding.append((deployer.address, deploy_cost + WEI_PER_SEI))
    for idx, s in enumerate(senders):
        n = per_sender.get(idx, 0)
        setup_cost = start[s.address] * CALL_GAS * max_fee
        funding.append((s.address, n * (gas * max_fee + 1) + setup_cost + WEI_PER_SEI // 10))
    start[deployer.address] = dnonce
    return Plan(
        workload=workload,
        chain_id=chain_id,
        n_accounts=k,
        seed=seed,
        deployer=deployer,
        senders=senders,
        contracts=contracts,
        funding=funding,
        stages=stages,
        start_nonces=start,
        raws=raws,
        hashes=[keccak(r) for r in raws],
        gas_limit=gas,
        max_fee=max_fee,
    )


# --- JSON-RPC client ----------------------------------------------------------------------------------------------
class RpcError(RuntimeError):
    def __init__(self, method: str, error: Any) -> None:
        super().__init__(f"{method}: {error}")
        self.error = error


class Rpc:
    """A minimal keep-alive JSON-RPC client over one aiohttp session with ``connections`` connections."""

    def __init__(self, url: str, *, connections: int = 1, timeout: float = 60.0) -> None:
        self.url = url
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, force_close=False),
            timeout=aiohttp.ClientTimeout(total=timeout),
            json_serialize=lambda o: orjson.dumps(o).decode(),
        )
        self._ids = 0

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> Rpc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def post(self, body: bytes) -> Any:
        async with self.session.post(self.url, data=body, headers=JSON_HEADERS) as resp:
            data = await resp.read()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise RpcError("post", f"HTTP {resp.status}: {data[:200]!r}") from e

    async def call(self, method: str, *params: Any) -> Any:
        self._ids += 1
        out = await self.post(orjson.dumps({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}))
        if not isinstance(out, dict):
            raise RpcError(method, f"unexpected answer {out!r:.200}")
        if "error" in out:
            raise RpcError(method, out["error"])
        return out.get("result")

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[Any, Any]]:
        """Sends one JSON-RPC batch; returns (result, error) per call, in call order."""
        if not calls:
            return []
        body = orjson.dumps(
            [{"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in enumerate(calls)]
        )
        out = await self.post(body)
        if isinstance(out, dict):  # the whole batch was refused
            err = out.get("error", out)
            return [(None, err)] * len(calls)
        answers: list[tuple[Any, Any]] = [(None, "no answer")] * len(calls)
        for entry in out:
            i = entry.get("id")
            if isinstance(i, int) and 0 <= i < len(calls):
                answers[i] = (entry.get("result"), entry.get("error"))
        return answers


def _chunks(seq: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


# --- set-up -------------------------------------------------------------------------------------------------------
async def _wait_receipts(rpc: Rpc, hashes: list[str], labels: list[str], timeout: float) -> list[dict[str, Any]]:
    """Waits for every receipt; raises SetupError on a failed transaction or at ``timeout``."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    delay = 0.005
    while len(found) < len(hashes):
        missing = [h for h in hashes if h not in found]
        for chunk in _chunks(missing, 500):
            for h, (res, err) in zip(
                chunk, await rpc.batch([("eth_getTransactionReceipt", [h]) for h in chunk]), strict=True
            ):
                if err is None and res is not None:
                    found[h] = res
        if len(found) == len(hashes):
            break
        if time.monotonic() > deadline:
            raise SetupError(
                f"set-up: {len(hashes) - len(found)} of {len(hashes)} receipts missing after {timeout:.0f} s"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
    receipts = [found[h] for h in hashes]
    for r, label in zip(receipts, labels, strict=True):
        if int(r.get("status", "0x0"), 16) != 1:
            raise SetupError(f"set-up transaction failed ({label}): {r.get('transactionHash')}")
    return receipts


async def _send_sequential(rpc: Rpc, txs: list[SetupTx], batch: int) -> None:
    """Sends set-up transactions: one sender's in nonce order, one at a time; different senders' in batches."""
    queues: dict[bytes, list[SetupTx]] = {}
    for t in txs:
        queues.setdefault(t.sender, []).append(t)
    wave = 0
    while True:
        current = [q[wave] for q in queues.values() if wave < len(q)]
        if not current:
            break
        for chunk in _chunks(current, batch):
            if len(chunk) == 1:
                answers = [(None, None)]
                try:
                    await rpc.call("eth_sendRawTransaction", hx(chunk[0].raw))
                except RpcError as e:
                    answers = [(None, e.error)]
            else:
                answers = await rpc.batch([("eth_sendRawTransaction", [hx(t.raw)]) for t in chunk])
            for t, (_, err) in zip(chunk, answers, strict=True):
                if err is not None:
                    raise SetupError(f"set-up transaction refused ({t.label}): {err}")
        wave += 1


async def run_setup(
    url: str,
    plan: Plan,
    *,
    funder: Signer | None = None,
    timeout: float = 300.0,
    log: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Prepares a node for ``plan`` (untimed). Returns the seconds each step took."""
    funder = funder or dev_signer(0)
    say = log or (lambda _msg: None)
    times: dict[str, float] = {}
    async with Rpc(url, connections=1, timeout=60) as rpc:
        chain_id = int(await rpc.call("eth_chainId"), 16)
        if chain_id != plan.chain_id:
            raise SetupError(f"node's chain id is {chain_id}, the plan was signed for {plan.chain_id}")
        accounts = list(plan.start_nonces)
        counts = await rpc.batch([("eth_getTransactionCount", [hx(a), "pending"]) for a in accounts])
        used = [hx(a) for a, (res, err) in zip(accounts, counts, strict=True) if err is not None or int(res, 16) != 0]
        if used:
            raise SetupError(
                f"{len(used)} benchmark accounts already used on this node (e.g. {used[0]}): use another seed"
            )
        # 1. funding, from the dev account, one at a time in nonce order
        t0 = time.perf_counter()
        need = sum(v for _, v in plan.funding)
        balance = int(await rpc.call("eth_getBalance", hx(funder.address), "latest"), 16)
        if balance < need + 10**17:
            raise SetupError(f"funding account {hx(funder.address)} has {balance} wei, set-up needs {need}")
        nonce = int(await rpc.call("eth_getTransactionCount", hx(funder.address), "pending"), 16)
        gas_price = int(await rpc.call("eth_gasPrice"), 16)
        fee = max(plan.max_fee, 3 * gas_price)
        say(f"funding {len(plan.funding)} accounts")
        fund_txs = [
            SetupTx(
                funder.address,
                funder.sign_1559(
                    chain_id=chain_id, nonce=nonce + i, to=addr, value=value, gas=21_000, max_fee=fee, tip=TIP
                ),
                "fund",
            )
            for i, (addr, value) in enumerate(plan.funding)
        ]
        await _send_sequential(rpc, fund_txs, 1)
        await _wait_receipts(rpc, [hx(keccak(t.raw)) for t in fund_txs], ["fund"] * len(fund_txs), timeout)
        times["fund"] = time.perf_counter() - t0
        # 2. the workload's stages (deployments and token distribution; approvals), each waited for
        for n, stage in enumerate(plan.stages):
            t0 = time.perf_counter()
            say(f"set-up stage {n + 1}/{len(plan.stages)}: {len(stage)} transactions")
            await _send_sequential(rpc, stage, 100)
            receipts = await _wait_receipts(rpc, [hx(keccak(t.raw)) for t in stage], [t.label for t in stage], timeout)
            for t, r in zip(stage, receipts, strict=True):
                if t.creates is not None and (r.get("contractAddress") or "").lower() != hx(t.creates):
                    raise SetupError(f"{t.label}: contract at {r.get('contractAddress')}, expected {hx(t.creates)}")
            times[f"stage{n + 1}"] = time.perf_counter() - t0
        # 3. every account is where the pre-signed transactions expect it
        counts = await rpc.batch([("eth_getTransactionCount", [hx(a), "latest"]) for a in accounts])
        for a, (res, err) in zip(accounts, counts, strict=True):
            if err is not None or int(res, 16) != plan.start_nonces[a]:
                raise SetupError(f"account {hx(a)} has nonce {res or err}, expected {plan.start_nonces[a]}")
    return times


# --- the timed phase ----------------------------------------------------------------------------------------------
@dataclass
class TimedOptions:
    batch: int = 100
    """Transactions per eth_sendRawTransaction JSON-RPC batch (1 = single requests)."""
    concurrency: int = 4
    """HTTP connections sending concurrently (each keeps one batch in flight)."""
    stall_s: float = 15.0
    """Stop when neither a receipt nor a send answer arrived for this long."""
    receipts: str = "blocks"
    """``blocks``: follow new blocks and fetch their receipts; ``poll``: cycle through outstanding hashes."""
    receipt_batch: int = 500
    poll_interval: float = 0.01
    time_limit: float = 600.0
    request_timeout: float = 120.0


@dataclass
class RunResult:
    workload: str
    txs: int
    batch: int
    concurrency: int
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    """Refused by eth_sendRawTransaction (an error answer)."""
    unanswered: int = 0
    """Send requests that failed or timed out (their transactions are still looked for)."""
    successes: int = 0
    reverted: int = 0
    """Receipts with status 0."""
    lost: int = 0
    """Sent (and not refused) but no receipt by the end of the run."""
    duplicates: int = 0
    """Receipts seen twice for one transaction (always 0: the tracker counts each once)."""
    send_seconds: float = 0.0
    """First send → last send answer."""
    total_seconds: float = 0.0
    """First send → last receipt; for a run that stalled or hit its time limit, first send → the stop."""
    last_receipt_s: float = 0.0
    accepted_tps: float = 0.0
    finalised_tps: float = 0.0
    gas_used: int = 0
    gas_per_s: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    blocks: int = 0
    max_block_txs: int = 0
    stalled: bool = False
    stall_reason: str | None = None
    errors: dict[str, int] = field(default_factory=dict)
    client_cpu_s: float = 0.0
    block_timeline: list[list[float]] = field(default_factory=list)
    """Per block holding benchmark transactions: [number, transactions, seconds from the first send to its first
    receipt seen] (the first 500 blocks)."""
    latency_sample_ms: list[float] = field(default_factory=list)
    """Up to 2,000 latencies, evenly spaced in sorted order (for plots)."""

    @property
    def failures(self) -> int:
        return self.reverted + self.rejected

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["failures"] = self.failures
        return out


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    v = sorted(values)

    def pct(p: float) -> float:
        # nearest-rank on the sorted sample
        return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]

    return {"p50": pct(50), "p95": pct(95), "p99": pct(99), "mean": statistics.fmean(v), "max": v[-1], "min": v[0]}


def _sample(values: list[float], n: int = 2000) -> list[float]:
    v = sorted(values)
    if len(v) <= n:
        return [round(x, 3) for x in v]
    return [round(v[int(i * (len(v) - 1) / (n - 1))], 3) for i in range(n)]


ProgressFn = Callable[[int, int, int], None]
"""progress(sent, answered, receipts)"""


class _Timed:
    """State of one timed run; methods are the concurrent tasks."""

    def __init__(
        self,
        url: str,
        plan: Plan,
        opts: TimedOptions,
        progress: ProgressFn | None,
        abort: Callable[[], str | None] | None,
    ) -> None:
        self.url = url
        self.plan = plan
        self.opts = opts
        self.progress = progress
        self.abort = abort
        n = plan.n_txs
        self.n = n
        self.index = {hx(h): i for i, h in enumerate(plan.hashes)}
        self.send_t = [0.0] * n
        self.ack_t = [0.0] * n
        self.receipt_t = [0.0] * n
        self.status = [-1] * n  # -1 unknown, 0 reverted, 1 success
        self.gas = [0] * n
        self.block = [0] * n
        self.state = [0] * n  # 0 unsent, 1 in flight/unanswered, 2 accepted, 3 rejected
        self.errors: Counter[str] = Counter()
        self.sent = self.answered = self.receipts = self.rejected = self.unanswered = self.duplicates = 0
        self.outstanding: OrderedDict[int, None] = OrderedDict()  # answered-accepted (or unanswered) without receipt
        self.last_progress = time.perf_counter()
        self.sending_done = False
        # Lanes: connection c owns the senders k with k % C == c and sends their transactions in nonce order, one
        # request at a time, so no node ever sees a sender's nonces out of order (Hardhat's automine refuses a
        # nonce gap; it also serves a batch's entries concurrently, so a batch should hold one transaction per
        # sender: K ≥ batch × concurrency). Request bodies are pre-built: the timed phase only writes bytes.
        b = max(1, opts.batch)
        lanes = max(1, opts.concurrency)
        k = plan.n_accounts
        self.lanes: list[list[tuple[list[int], bytes]]] = []
        for c in range(lanes):
            idxs = [i for i in range(n) if (i % k) % lanes == c]
            batches = []
            for lo in range(0, len(idxs), b):
                chunk = idxs[lo : lo + b]
                entries = [
                    {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [hx(plan.raws[i])]}
                    for i in chunk
                ]
                batches.append((chunk, orjson.dumps(entries[0] if b == 1 else entries)))
            if batches:
                self.lanes.append(batches)

    def done(self) -> bool:
        return self.sending_done and not self.outstanding

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(self.sent, self.answered, self.receipts)

    # --- sending
    async def sender(self, session: aiohttp.ClientSession, lane: list[tuple[list[int], bytes]]) -> None:
        for chunk, body in lane:
            t = time.perf_counter()
            for i in chunk:
                self.send_t[i] = t
                self.state[i] = 1
                self.outstanding[i] = None
            self.sent += len(chunk)
            try:
                async with session.post(self.url, data=body, headers=JSON_HEADERS) as resp:
                    data = await resp.read()
                out = orjson.loads(data)
            except (TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError) as e:
                self.unanswered += len(chunk)
                self.errors[f"send request failed: {type(e).__name__}"] += len(chunk)
                continue
            ack = time.perf_counter()
            self.last_progress = ack
            whole: Any = None
            if isinstance(out, list):
                by_id = {e.get("id"): e for e in out if isinstance(e, dict)}
            elif isinstance(out, dict) and len(chunk) == 1 and out.get("id") == chunk[0]:
                by_id = {chunk[0]: out}
            else:  # the whole batch was refused
                by_id, whole = {}, out.get("error", out) if isinstance(out, dict) else out
            for i in chunk:
                entry = by_id.get(i)
                err = (entry.get("error") if entry is not None else None) if whole is None else whole
                if entry is None and whole is None:
                    err = "no answer for this batch entry"
                self.ack_t[i] = ack
                if err is None and entry is not None and isinstance(entry.get("result"), str):
                    if self.state[i] == 1:
                        self.state[i] = 2
                    if entry["result"].lower() != hx(self.plan.hashes[i]):
                        self.errors["node returned a different transaction hash"] += 1
                else:
                    msg = err.get("message", str(err)) if isinstance(err, dict) else str(err)
                    self.errors[msg[:120]] += 1
                    if self.status[i] == -1:  # not already seen in a block
                        self.state[i] = 3
                        self.rejected += 1
                        self.outstanding.pop(i, None)
            self.answered += len(chunk)
            self._tick()

    # --- receipts
    def _record(self, i: int, receipt: dict[str, Any], t: float) -> None:
        if self.status[i] != -1:
            self.duplicates += 1
            return
        if self.state[i] == 3:  # refused by its send, yet included: count the receipt, not the refusal
            self.rejected -= 1
            self.state[i] = 2
        self.receipt_t[i] = t
        self.status[i] = 1 if int(receipt.get("status") or "0x0", 16) == 1 else 0
        self.gas[i] = int(receipt.get("gasUsed") or "0x0", 16)
        self.block[i] = int(receipt.get("blockNumber") or "0x0", 16)
        self.outstanding.pop(i, None)
        self.receipts += 1
        self.last_progress = t

    async def _fetch_receipts(self, rpc: Rpc, idxs: list[int]) -> int:
        hits = 0
        for chunk in _chunks(idxs, self.opts.receipt_batch):
            answers = await rpc.batch([("eth_getTransactionReceipt", [hx(self.plan.hashes[i])]) for i in chunk])
            t = time.perf_counter()
            for i, (res, err) in zip(chunk, answers, strict=True):
                if err is None and isinstance(res, dict) and res.get("blockNumber"):
                    self._record(i, res, t)
                    hits += 1
        if hits:
            self._tick()
        return hits

    async def poll_tracker(self, rpc: Rpc) -> None:
        """Cycles through outstanding hashes, least recently asked first."""
        while not self.done():
            window = list(islice(self.outstanding, self.opts.receipt_batch))
            if not window:
                await asyncio.sleep(self.opts.poll_interval)
                continue
            hits = await self._fetch_receipts(rpc, window)
            for i in window:  # the ones still outstanding go to the back
                if i in self.outstanding:
                    self.outstanding.move_to_end(i)
            if not hits:
                await asyncio.sleep(self.opts.poll_interval)

    async def block_tracker(self, rpc: Rpc, start_block: int) -> None:
        """Follows new blocks; fetches receipts of the benchmark's transactions each lists, once each."""
        last = start_block
        quiet_since = time.perf_counter()
        while not self.done():
            head = int(await rpc.call("eth_blockNumber"), 16)
            if head > last:
                numbers = list(range(last + 1, head + 1))
                mine: list[int] = []
                for chunk in _chunks(numbers, 50):
                    answers = await rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in chunk])
                    for (res, err), b in zip(answers, chunk, strict=True):
                        if err is not None or res is None:
                            raise RpcError("eth_getBlockByNumber", err or f"block {b} missing below head {head}")
                        for h in res.get("transactions", []):
                            i = self.index.get(h.lower() if isinstance(h, str) else h.get("hash", "").lower())
                            if i is not None and self.status[i] == -1:
                                mine.append(i)
                last = head
                if mine:
                    await self._fetch_receipts(rpc, mine)
                quiet_since = time.perf_counter()
            else:
                # Nothing new: now and then ask directly for the oldest outstanding (belt and braces).
                if time.perf_counter() - quiet_since > 2.0 and self.outstanding:
                    await self._fetch_receipts(rpc, list(islice(self.outstanding, self.opts.receipt_batch)))
                    quiet_since = time.perf_counter()
                await asyncio.sleep(self.opts.poll_interval)

    async def watchdog(self, t_start: float) -> str | None:
        while not self.done():
            await asyncio.sleep(0.1)
            now = time.perf_counter()
            if now - self.last_progress > self.opts.stall_s:
                return (
                    f"stalled: no new receipt or send answer for {self.opts.stall_s:.0f} s "
                    f"({self.receipts} of {self.n} receipts, {len(self.outstanding)} outstanding)"
                )
            if now - t_start > self.opts.time_limit:
                return f"time limit of {self.opts.time_limit:.0f} s reached ({self.receipts} of {self.n} receipts)"
            if self.abort is not None and (reason := self.abort()):
                return reason
        return None


async def _warm(session: aiohttp.ClientSession, url: str) -> None:
    async with session.post(
        url, data=b'{"jsonrpc":"2.0","id":0,"method":"eth_chainId","params":[]}', headers=JSON_HEADERS
    ) as r:
        await r.read()


async def run_timed(
    url: str,
    plan: Plan,
    opts: TimedOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    abort: Callable[[], str | None] | None = None,
) -> RunResult:
    """Sends the plan's pre-signed transactions and waits for every receipt (or a stall). Set-up must have run."""
    opts = opts or TimedOptions()
    if opts.receipts not in ("blocks", "poll"):
        raise ValueError("receipts must be 'blocks' or 'poll'")
    st = _Timed(url, plan, opts, progress, abort)
    tracker_rpc = Rpc(url, connections=1, timeout=opts.request_timeout)
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=opts.request_timeout)
        )
        for _ in st.lanes
    ]
    stall: str | None = None
    cpu0 = time.process_time()
    try:
        start_block = int(await tracker_rpc.call("eth_blockNumber"), 16)
        # Open the connections before the clock starts (keep-alive from the first batch on).
        await asyncio.gather(*(_warm(s, url) for s in sessions))
        t_start = time.perf_counter()
        st.last_progress = t_start
        senders = [asyncio.create_task(st.sender(s, lane)) for s, lane in zip(sessions, st.lanes, strict=True)]

        async def send_all() -> None:
            await asyncio.gather(*senders)
            st.sending_done = True

        sending = asyncio.create_task(send_all())
        if opts.receipts == "blocks":
            tracking = asyncio.create_task(st.block_tracker(tracker_rpc, start_block))
        else:
            tracking = asyncio.create_task(st.poll_tracker(tracker_rpc))
        dog = asyncio.create_task(st.watchdog(t_start))
        # Finish when the tracker is done (everything resolved) or the watchdog fires; a sender's bug surfaces.
        while not dog.done() and not tracking.done():
            waiting = {tracking, dog} if sending.done() else {tracking, dog, sending}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if sending.done() and not sending.cancelled() and sending.exception() is not None:
                raise sending.exception()  # type: ignore[misc]
        t_end = time.perf_counter()
        if tracking.done() and tracking.exception() is not None:
            stall = f"receipt tracker failed: {tracking.exception()!r}"
        elif dog.done() and dog.exception() is None:
            stall = dog.result()
        for task in (*senders, sending, tracking, dog):
            task.cancel()
        await asyncio.gather(*senders, sending, tracking, dog, return_exceptions=True)
        if st.outstanding:
            # A last direct sweep before declaring anything lost (bounded: the node may be spinning).
            with contextlib.suppress(asyncio.TimeoutError, aiohttp.ClientError, RpcError):
                await asyncio.wait_for(st._fetch_receipts(tracker_rpc, list(st.outstanding)), timeout=20)
    finally:
        await tracker_rpc.close()
        for s in sessions:
            await s.close()
    cpu = time.process_time() - cpu0
    return _summarise(st, t_start, t_end, stall, cpu)


def _summarise(st: _Timed, t_start: float, t_end: float, stall: str | None, cpu: float) -> RunResult:
    plan, opts = st.plan, st.opts
    r = RunResult(workload=plan.workload, txs=plan.n_txs, batch=opts.batch, concurrency=opts.concurrency)
    r.sent, r.rejected, r.unanswered, r.duplicates = st.sent, st.rejected, st.unanswered, st.duplicates
    r.accepted = sum(1 for s in st.state if s == 2)
    r.successes = sum(1 for s in st.status if s == 1)
    r.reverted = sum(1 for s in st.status if s == 0)
    r.lost = sum(1 for s, status in zip(st.state, st.status, strict=True) if s in (1, 2) and status == -1)
    acks = [t for t in st.ack_t if t > 0]
    seen = [t for t in st.receipt_t if t > 0]
    r.send_seconds = (max(acks) - t_start) if acks else 0.0
    r.last_receipt_s = (max(seen) - t_start) if seen else 0.0
    # A run that stopped early is charged for the time it waited: its rate is over the whole run.
    r.total_seconds = r.last_receipt_s if stall is None else t_end - t_start
    r.accepted_tps = r.accepted / r.send_seconds if r.send_seconds > 0 else 0.0
    r.finalised_tps = r.successes / r.total_seconds if r.total_seconds > 0 else 0.0
    r.gas_used = sum(st.gas)
    r.gas_per_s = r.gas_used / r.total_seconds if r.total_seconds > 0 else 0.0
    lat = [(rt - s) * 1e3 for rt, s in zip(st.receipt_t, st.send_t, strict=True) if rt > 0 and s > 0]
    r.latency_ms = {k: round(v, 3) for k, v in _percentiles(lat).items()}
    r.latency_sample_ms = _sample(lat)
    per_block = Counter(b for b in st.block if b > 0)
    first_seen: dict[int, float] = {}
    for b, t in zip(st.block, st.receipt_t, strict=True):
        if b > 0:
            first_seen[b] = min(first_seen.get(b, t), t)
    r.block_timeline = [[b, per_block[b], round(first_seen[b] - t_start, 4)] for b in sorted(per_block)[:500]]
    r.blocks = len(per_block)
    r.max_block_txs = max(per_block.values(), default=0)
    r.stalled = stall is not None
    r.stall_reason = stall
    r.errors = dict(st.errors.most_common(8))
    r.client_cpu_s = round(cpu, 3)
    return r


async def run_load(
    url: str,
    plan: Plan,
    opts: TimedOptions | None = None,
    *,
    funder: Signer | None = None,
    progress: ProgressFn | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, float], RunResult]:
    """Set-up then the timed phase, against the node at ``url``."""
    setup = await run_setup(url, plan, funder=funder, log=log)
    return setup, await run_timed(url, plan, opts, progress=progress)
