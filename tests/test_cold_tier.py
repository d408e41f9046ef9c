"""Tiered storage: blocks moved to the cold tier and history pruned keep answering exactly as before.

A chain of random blocks (ETH transfers, ERC-20 transfers, contract deployments) is built on the executor, and
after every block the balances, nonces, code and token balances of every account involved are recorded, as are
the block, transaction and log records as the hot store serves them. Then, with a tiny hot window, segments
and history window, the tiering pass moves blocks to cold segments and prunes history, and:

* every record of every block (cold ones included) reads back equal to what it was while hot;
* the state at every block from the history floor to the head equals the values recorded while building, also
  for blocks whose records (and change sets) are now cold; archive mode keeps every block's state;
* a migration killed (SIGKILL) between writing its segment and committing its index, and a pruning pass killed
  half-way, leave a store that reads correctly and finishes the job after restart;
* a real node with ``--hot-blocks/--segment-blocks/--history-blocks`` serves cold blocks, receipts and logs over
  JSON-RPC unchanged, refuses state below the history floor with a clear error, and ``pysei db stats`` shows
  both tiers.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_utils import to_checksum_address

from pysei.bench.signer import Signer
from pysei.bench.workloads import MAX_FEE, TIP, TOKEN_ADDRESS, artifact, balance_slot, create_address
from pysei.chain.block import BlockLog, BlockRecord, OrderedBlock, TxRecord
from pysei.chain.constants import DEVNET_CHAIN_ID, FEE_COLLECTOR
from pysei.chain.fees import FeeParams
from pysei.chain.transaction import decode_transactions
from pysei.execution.executor import ChainParams, Executor
from pysei.state import tiering
from pysei.state.store import BLOCKS, ChainStore
from pysei.state.tiering import TierPolicy, cold_state, maintain, recover, tier_sizes

try:
    from tests.conftest import ROOT, Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from conftest import ROOT, Devnet, start_devnet  # type: ignore[no-redef]

SIGNERS = [Signer.from_seed(7_000 + i) for i in range(5)]
RECIPIENTS = [bytes([0xC0, i]) * 10 for i in range(3)]
TIME0 = 1_700_000_000


def _word(value: int | bytes) -> bytes:
    return value.rjust(32, b"\x00") if isinstance(value, bytes) else value.to_bytes(32, "big")


def _initcode(runtime: bytes) -> bytes:
    """Deploys ``runtime``: CODECOPY it from after this 11-byte prefix and RETURN it."""
    return bytes([0x60, len(runtime), 0x80, 0x60, 0x0B, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3]) + runtime


State = dict[str, list[Any]]
"""address hex → [balance, nonce, code hex, token balance]"""


@dataclass
class Chain:
    """A chain built on the executor, with everything recorded while it was hot."""

    store: ChainStore
    executor: Executor
    rng: random.Random
    nonces: dict[bytes, int] = field(default_factory=dict)
    tracked: list[bytes] = field(default_factory=lambda: [*(s.address for s in SIGNERS), *RECIPIENTS])
    states: list[State] = field(default_factory=list)
    records: list[tuple[BlockRecord, list[TxRecord | None], list[BlockLog]]] = field(default_factory=list)

    @property
    def head(self) -> int:
        return len(self.states) - 1

    def state_at(self, at: int | None, addresses: list[bytes]) -> State:
        s = self.store
        return {
            a.hex(): [
                s.balance(a, at),
                s.nonce(a, at),
                s.code(a, at).hex(),
                s.storage(TOKEN_ADDRESS, balance_slot(a), at),
            ]
            for a in addresses
        }

    def record(self, number: int) -> None:
        block = self.store.block(number)
        assert block is not None
        self.records.append((block, self.store.txs(block.tx_hashes), self.store.block_logs(number)))
        self.states.append(self.state_at(None, self.tracked))

    def _sign(self, signer: Signer, to: bytes | None, *, data: bytes = b"", value: int = 0) -> bytes:
        nonce = self.nonces.get(signer.address, 0)
        self.nonces[signer.address] = nonce + 1
        if to is None:
            self.tracked.append(create_address(signer.address, nonce))
        gas = 100_000 if data else 21_000
        return signer.sign_1559(
            chain_id=DEVNET_CHAIN_ID, nonce=nonce, to=to, value=value, data=data, gas=gas, max_fee=MAX_FEE, tip=TIP
        )

    def extend(self, blocks: int) -> None:
        for _ in range(blocks):
            raws = []
            for _ in range(self.rng.randint(0, 4)):
                signer, kind = self.rng.choice(SIGNERS), self.rng.random()
                to = self.rng.choice(self.tracked[: len(SIGNERS) + len(RECIPIENTS)])
                if kind < 0.4:
                    raws.append(self._sign(signer, to, value=self.rng.randint(1, 10**15)))
                elif kind < 0.85:
                    transfer = bytes.fromhex("a9059cbb") + _word(to) + _word(self.rng.randint(1, 10**6))
                    raws.append(self._sign(signer, TOKEN_ADDRESS, data=transfer))
                else:
                    runtime = bytes([0x60, len(self.tracked) % 256, 0x60, 0x00, 0x55, 0x00])
                    raws.append(self._sign(signer, None, data=_initcode(runtime)))
            decoded = decode_transactions(raws)
            txs = [d.tx for d in decoded if not isinstance(d, str)]
            number = self.head + 1
            self.executor.execute(OrderedBlock(number, TIME0 + number, txs))
            self.record(number)
        self.executor.commitments.wait_for(self.head, timeout=30)

    def check_records(self) -> None:
        """Every block's records read back as they were while hot, by number and by hash."""
        for number, (block, txs, logs) in enumerate(self.records):
            assert self.store.block(number) == block, number
            assert self.store.block_number(block.hash) == number
            assert self.store.txs(block.tx_hashes) == txs, number
            assert [self.store.tx(h) for h in block.tx_hashes] == txs, number
            assert self.store.block_logs(number) == logs, number

    def check_states(self, floor: int) -> None:
        """The state at every block from ``floor`` to the head is the one recorded after that block."""
        for number in range(floor, self.head + 1):
            recorded = self.states[number]
            assert self.state_at(number, [bytes.fromhex(a) for a in recorded]) == recorded, f"state at block {number}"


def build_chain(path: Path, blocks: int, seed: int) -> Chain:
    store = ChainStore(path / "state", sync=False)
    params = ChainParams(chain_id=DEVNET_CHAIN_ID, gas_limit=30_000_000, beneficiary=FEE_COLLECTOR, fees=FeeParams())
    executor = Executor(store, params)
    token = bytes.fromhex(artifact("BenchToken")["deployedBytecode"][2:])
    slots = [(balance_slot(s.address), 10**24) for s in SIGNERS]
    alloc = [(s.address, 10**21, 0, b"", []) for s in SIGNERS] + [(TOKEN_ADDRESS, 0, 1, token, slots)]
    executor.init_genesis(alloc, TIME0)
    chain = Chain(store, executor, random.Random(seed))
    chain.record(0)
    chain.extend(blocks)
    return chain


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = build_chain(tmp_path, 48, seed=1)
    yield c
    c.executor.close()


def test_cold_blocks_and_pruned_history_read_as_recorded(chain: Chain) -> None:
    store = chain.store
    policy = TierPolicy(hot_blocks=10, segment_blocks=8, history_blocks=20)
    maintain(store, policy, chain.head)
    # Pruned first (blocks 0..28 in one batch), then blocks 0..31 moved in four segments of 8.
    assert store.history_floor() == 28
    cold = cold_state(store)
    assert cold is not None and (cold.first, cold.through, cold.segments, cold.blocks) == (0, 31, 4, 32)
    assert cold.raw > cold.compressed > 0
    for n in range(chain.head + 1):
        assert (store.native.get(BLOCKS, n.to_bytes(8, "big")) is None) == (n <= 31), n
        assert (store.native.change_set(n) is None) == (n <= 31), n  # moved or pruned
        assert (store.change_set(n) is None) == (n <= 28), n  # pruned before it moved: no copy in cold
    chain.check_records()
    chain.check_states(28)

    # The chain goes on; the next passes move and prune incrementally.
    chain.extend(20)
    maintain(store, policy, chain.head)
    cold = cold_state(store)
    assert cold is not None and cold.through == 55 and cold.segments == 7
    assert store.history_floor() == 48
    chain.check_records()
    chain.check_states(48)
    sizes = tier_sizes(store)
    assert sizes.cold_bytes == cold.compressed and sizes.hot_bytes > 0
    assert {t: e for t, e, _ in sizes.hot_tables}["cold_blocks"] == 56


def test_archive_keeps_all_history_with_change_sets_in_cold(chain: Chain) -> None:
    store = chain.store
    maintain(store, TierPolicy(hot_blocks=5, segment_blocks=4, history_blocks=None), chain.head)
    cold = cold_state(store)
    assert cold is not None and cold.through == 43
    assert store.history_floor() == 0
    assert all(store.change_set(n) is not None for n in range(chain.head + 1))
    chain.check_records()
    chain.check_states(0)


def test_segments_end_at_the_byte_bound(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    store = chain.store
    monkeypatch.setattr(tiering, "SEGMENT_BYTES", 3_000)
    maintain(store, TierPolicy(hot_blocks=10, segment_blocks=8, history_blocks=None), chain.head)
    cold = cold_state(store)
    assert cold is not None and 31 <= cold.through <= 38 and cold.segments > 5
    assert len(list(store.cold.dir.iterdir())) == cold.segments
    chain.check_records()
    chain.check_states(0)


# --- interrupted migration and pruning ----------------------------------------------------------------------

_CRASH_CHILD = """
import json, os, signal, sys
from pathlib import Path
from tests.test_cold_tier import build_chain
from pysei.state import tiering

path, step = Path(sys.argv[1]), sys.argv[2]
chain = build_chain(path, 40, seed=2)
(path / "recorded.json").write_text(json.dumps({"states": chain.states}))

class Crashing:
    \"\"\"The native store, killed (SIGKILL) at the chosen step.\"\"\"
    def __init__(self, native):
        self._native, self._prunes = native, 0
    def __getattr__(self, name):
        return getattr(self._native, name)
    def write_tables(self, writes, **kw):
        if step == "migrate" and kw.get("drop_change_sets") is not None:
            os.kill(os.getpid(), signal.SIGKILL)  # the segment file is durable, its index not written
        return self._native.write_tables(writes, **kw)
    def prune_history(self, number, blob):
        self._prunes += 1
        if step == "prune" and self._prunes == 5:
            os.kill(os.getpid(), signal.SIGKILL)  # the floor is advanced, half of the history deleted
        return self._native.prune_history(number, blob)

chain.store.native = Crashing(chain.store.native)
tiering.maintain(chain.store, tiering.TierPolicy(hot_blocks=10, segment_blocks=8, history_blocks=20), chain.head)
"""


@pytest.mark.parametrize("step", ["migrate", "prune"])
def test_interrupted_pass_recovers(tmp_path: Path, step: str) -> None:
    child = subprocess.run([sys.executable, "-c", _CRASH_CHILD, str(tmp_path), step], cwd=ROOT, capture_output=True)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-3000:]
    states = json.loads((tmp_path / "recorded.json").read_text())["states"]
    store = ChainStore(tmp_path / "state", sync=False)
    executor = Executor(
        store, ChainParams(chain_id=DEVNET_CHAIN_ID, gas_limit=30_000_000, beneficiary=FEE_COLLECTOR, fees=FeeParams())
    )
    chain = Chain(store, executor, random.Random(0), states=states)
    try:
        policy = TierPolicy(hot_blocks=10, segment_blocks=8, history_blocks=20)
        if step == "migrate":
            # Killed before the index: every block is still hot, the segment file is an orphan.
            assert cold_state(store) is None and store.native.get(BLOCKS, (0).to_bytes(8, "big")) is not None
            assert [p.name for p in store.cold.dir.iterdir()] == ["000000000000.seg"]
            assert recover(store) == [str(store.cold.dir / "000000000000.seg")]
        else:
            assert store.history_floor() == 20
        chain.check_states(store.history_floor())
        maintain(store, policy, chain.head)
        assert store.history_floor() == 20
        cold = cold_state(store)
        assert cold is not None and cold.through == 23
        chain.check_states(20)
        for number in range(chain.head + 1):
            block = store.block(number)
            assert block is not None and store.txs(block.tx_hashes) == [store.tx(h) for h in block.tx_hashes]
    finally:
        executor.close()


# --- a node over JSON-RPC ------------------------------------------------------------------------------------

# LOG1(topic 1) of the calldata, then STOP.
_LOGGER_RUNTIME = bytes([0x36, 0x5F, 0x5F, 0x37, 0x60, 0x01, 0x36, 0x5F, 0xA1, 0x00])


def _rpc(node: Devnet, method: str, *params: Any) -> dict[str, Any]:
    reply = requests.post(node.http_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    return dict(reply.json())


def _ok(node: Devnet, method: str, *params: Any) -> Any:
    reply = _rpc(node, method, *params)
    assert "error" not in reply, (method, params, reply)
    return reply["result"]


def test_node_serves_cold_blocks_and_refuses_pruned_state(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = ["--automine", "--no-fsync", "--hot-blocks", "4", "--segment-blocks", "4", "--history-blocks", "8"]
    node = start_devnet(tmp_path, *args, data_dir=data_dir)
    try:
        key = node.accounts[0]
        receivers = [Account.create().address for _ in range(3)]

        def send(nonce: int, to: str | None, data: bytes = b"", value: int = 0) -> str:
            tx = {"chainId": node.chain_id, "nonce": nonce, "gas": 200_000, "maxFeePerGas": MAX_FEE}
            tx |= {"maxPriorityFeePerGas": TIP, "value": value, "data": data, **({"to": to} if to else {})}
            raw = Account.sign_transaction(tx, key.key).raw_transaction
            return str(_ok(node, "eth_sendRawTransaction", "0x" + raw.hex()))

        deploy = send(0, None, _initcode(_LOGGER_RUNTIME))
        logger = to_checksum_address(_ok(node, "eth_getTransactionReceipt", deploy)["contractAddress"])
        watched = [key.address, *receivers]
        balances: dict[int, list[str]] = {}
        for nonce in range(1, 25):
            if nonce % 2:
                send(nonce, logger, data=nonce.to_bytes(4, "big"))
            else:
                send(nonce, receivers[nonce % 3], value=nonce * 10**12)
            head = int(_ok(node, "eth_blockNumber"), 16)
            balances[head] = [_ok(node, "eth_getBalance", a, hex(head)) for a in watched]
        head = int(_ok(node, "eth_blockNumber"), 16)

        def served(n: int) -> Any:
            block = _ok(node, "eth_getBlockByNumber", hex(n), True)
            return {
                "block": block,
                "by_hash": _ok(node, "eth_getBlockByHash", block["hash"], False),
                "receipts": _ok(node, "eth_getBlockReceipts", hex(n)),
                "txs": [_ok(node, "eth_getTransactionByHash", t["hash"]) for t in block["transactions"]],
                "tx_receipts": [_ok(node, "eth_getTransactionReceipt", t["hash"]) for t in block["transactions"]],
                "logs": _ok(node, "eth_getLogs", {"fromBlock": hex(n), "toBlock": hex(n)}),
            }

        hot = {n: served(n) for n in range(head + 1)}
        all_logs = _ok(node, "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head), "address": logger})
        assert len(all_logs) == 12

        store = ChainStore(data_dir / "state")  # a second reader of the running node's store
        deadline = time.monotonic() + 30
        while ((c := cold_state(store)) is None or c.through < head - 8 or store.history_floor() < head - 12) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        cold, floor = cold_state(store), store.history_floor()
        assert cold is not None and cold.through >= head - 8 and floor >= head - 12, (cold, floor, head)

        assert {n: served(n) for n in range(head + 1)} == hot
        assert _ok(node, "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head), "address": logger}) == all_logs
        for n, expected in balances.items():
            if n >= floor:
                assert [_ok(node, "eth_getBalance", a, hex(n)) for a in watched] == expected, n
        refused = _rpc(node, "eth_getBalance", key.address, hex(floor - 1))["error"]
        assert "historical state not available" in refused["message"] and f"blocks {floor}.." in refused["message"]

        stats = subprocess.run(
            [sys.executable, "-m", "pysei.cli", "db", "stats", "--data-dir", str(data_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "160"},
            check=True,
        ).stdout
        assert "hot tier" in stats and "cold tier" in stats and "cold_blocks" in stats, stats
        assert f"history floor:     {floor}" in stats and f"({cold.first}..{cold.through})" in stats, stats
    finally:
        assert node.stop() == 0
