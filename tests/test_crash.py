"""Durability: SIGKILL the node at random moments while transactions stream in, restart it on the same data
directory, and check that nothing it ever reported was lost and that the state still adds up.

One node data directory, ``CYCLES`` cycles of start → stream → kill -9 → restart (seeded, so a failure replays
with the same timings and transactions). A background thread streams value transfers from several dev accounts
to a few fresh addresses, in JSON-RPC batches of eth_sendRawTransaction signed here with explicit nonces.

While it streams, the main thread records everything the node reports: every block it announces (full
transactions and receipts), and once per cycle — with the stream paused and the pool drained so the head is
still — the balances and nonces at that head. After every restart:

* the store opens and the node serves; ``eth_blockNumber`` is at least the last number it reported;
* every block it ever reported is there with the same hash and the same transactions, and a sample of them also
  with the same full transaction objects and receipts;
* the blocks committed after the last report (up to the kill) join the record, and from the whole record:
  every transaction was one we sent, each sender's nonces run 0, 1, 2, … with no gap or repeat, each sender's
  nonce is its number of mined transactions and its balance is the initial one minus Σ(value + gasUsed ×
  effectiveGasPrice) over its mined transactions, each receiver holds exactly what it was sent, and the fee
  collector exactly the fees;
* the balances/nonces snapshot taken before the kill equals the same sums over the blocks up to that head;
* the chain goes on: the next stream's transactions make new blocks;
* every state commitment reported before a kill is recomputed identically after it, each block's stateRoot is
  the commitment of the block two before it, the quiet-head balances are still served as historical state at
  those blocks, and at the end the incrementally built commitment equals one recomputed from scratch.

The mempool is not persisted, so the stream re-reads the nonces (``pending``) after each restart.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector as selector
from eth_utils import keccak, to_checksum_address

from pysei.state.snapshot import recompute_commitment
from pysei.state.store import ChainStore

try:
    from tests.conftest import DevKey, Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from conftest import DevKey, Devnet, start_devnet  # type: ignore[no-redef]

SEED = 0x5E1C_2A5E
CYCLES = 12
"""Kill cycles, 3–4 s each (20 cycles were ~75 s, an eighth of the whole suite; the suite has a time budget)."""
BLOCK_TIME = "0.05"
GWEI = 10**9
MAX_FEE = 50 * GWEI
TIP = 1 * GWEI
SENDERS = range(6)  # dev account indices
RECEIVERS = [to_checksum_address(keccak(f"pysei-crash-receiver-{i}".encode())[:20]) for i in range(4)]
FEE_COLLECTOR = "0xf1829676db577682e944fc3493d451b67ff3e29f"
STAKING = "0x0000000000000000000000000000000000001005"
DISTRIBUTION = "0x0000000000000000000000000000000000001007"
COMMITMENT_DELAY = 2
"""The node's default k: block n's stateRoot is the commitment of block n - k."""
RECEIPT_SAMPLE = 12
"""Reported blocks re-checked in full (transaction objects and receipts) after each restart, besides the newest
reported one; the hashes and transaction lists of all reported blocks are re-checked every time."""


# --------------------------------------------------------------------------------------------- JSON-RPC


class Rpc:
    def __init__(self, url: str, timeout: float = 10) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        resp = self.session.post(
            self.url,
            json={"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)},
            timeout=self.timeout,
        )
        out = resp.json()
        assert "error" not in out, (method, params, out)
        return out["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Responses in request order (each {"result": …} or {"error": …})."""
        if not calls:
            return []
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        out = self.session.post(self.url, json=body, timeout=self.timeout).json()
        assert isinstance(out, list) and len(out) == len(calls), out
        by_id = {r["id"]: r for r in out}
        return [by_id[i] for i in range(len(calls))]

    def results(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        responses = self.batch(calls)
        for (m, p), r in zip(calls, responses, strict=True):
            assert "error" not in r, (m, p, r)
        return [r["result"] for r in responses]

    def close(self) -> None:
        self.session.close()


# --------------------------------------------------------------------------------------------- the stream


@dataclass(frozen=True)
class SentTx:
    sender: str
    nonce: int
    to: str
    value: int


class Streamer(threading.Thread):
    """Streams batches of signed transfers until stopped or until the node goes away (killed)."""

    def __init__(
        self, url: str, chain_id: int, senders: list[DevKey], nonces: dict[str, int], seed: int, sent: dict[str, SentTx]
    ) -> None:
        super().__init__(daemon=True, name="tx-stream")
        self.rpc = Rpc(url, timeout=5)
        self.chain_id = chain_id
        self.senders = senders
        self.nonces = nonces
        self.rng = random.Random(seed)
        self.sent = sent
        self.stop = threading.Event()
        self.pause = threading.Event()
        self.paused = threading.Event()
        self.rejections: list[tuple[str, Any]] = []
        self.accepted = 0
        self.batches = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, ValueError):
            pass  # the node was killed under us (ValueError: a truncated JSON body)
        except BaseException as e:  # noqa: BLE001 - reported to the test
            self.failure = e
        finally:
            self.paused.set()
            self.rpc.close()

    def _run(self) -> None:
        rng = self.rng
        while not self.stop.is_set():
            if self.pause.is_set():
                self.paused.set()
                time.sleep(0.005)
                continue
            self.paused.clear()
            raws: list[tuple[str, SentTx]] = []
            # At most ~10 transfers (210k gas) per 50 ms block keeps blocks under Sei's 250k-gas target, so the
            # base fee stays near its floor instead of ratcheting up +1.89% per full block for a minute.
            for _ in range(rng.randint(1, 9)):
                key = rng.choice(self.senders)
                nonce = self.nonces[key.address]
                tx = SentTx(key.address, nonce, rng.choice(RECEIVERS), rng.randint(1, 10**15))
                raw = Account.sign_transaction(
                    {
                        "type": 2,
                        "chainId": self.chain_id,
                        "nonce": nonce,
                        "to": tx.to,
                        "value": tx.value,
                        "gas": 21_000,
                        "maxFeePerGas": MAX_FEE,
                        "maxPriorityFeePerGas": TIP,
                    },
                    key.key,
                ).raw_transaction
                tx_hash = "0x" + keccak(bytes(raw)).hex()
                self.sent[tx_hash] = tx  # recorded before sending: it may be mined even if the reply is lost
                self.nonces[key.address] = nonce + 1
                raws.append(("0x" + bytes(raw).hex(), tx))
            responses = self.rpc.batch([("eth_sendRawTransaction", [raw]) for raw, _ in raws])
            self.batches += 1
            bad = [(tx, r["error"]) for (_, tx), r in zip(raws, responses, strict=True) if "error" in r]
            self.accepted += len(raws) - len(bad)
            if bad:
                self.rejections.extend((tx.sender, err) for tx, err in bad)
                # Re-synchronise from the node so one refusal does not leave every later nonce behind a gap.
                for key in self.senders:
                    self.nonces[key.address] = int(self.rpc.call("eth_getTransactionCount", key.address, "pending"), 16)
            time.sleep(rng.uniform(0.02, 0.07))


# --------------------------------------------------------------------------------------------- the record


@dataclass
class Ledger:
    """Everything the node reported, block by block, plus the state snapshots taken at quiet heads."""

    initial: dict[str, int]
    initial_fee_collector: int
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    """number -> full block (transaction objects) as first reported."""
    receipts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reported_head: int = 0
    snapshots: list[tuple[int, dict[str, tuple[int, int]]]] = field(default_factory=list)
    """(head, address -> (balance, nonce)) at heads where the pool was drained."""
    commitments: dict[int, str] = field(default_factory=dict)
    """number -> the LtHash state commitment the node reported for it (sei_getStateCommitment)."""

    @property
    def known(self) -> int:
        return max(self.blocks, default=0)

    def extend(self, rpc: Rpc, upto: int) -> None:
        """Fetches blocks ``known+1 .. upto`` (full transactions and receipts) into the record."""
        start = self.known + 1
        for lo in range(start, upto + 1, 200):
            numbers = range(lo, min(upto, lo + 199) + 1)
            calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [hex(n), True]) for n in numbers]
            calls += [("eth_getBlockReceipts", [hex(n)]) for n in numbers]
            out = rpc.results(calls)
            for i, n in enumerate(numbers):
                block, receipts = out[i], out[len(numbers) + i]
                assert block is not None and receipts is not None, f"reported block {n} not readable"
                assert int(block["number"], 16) == n
                assert [t["hash"] for t in block["transactions"]] == [r["transactionHash"] for r in receipts]
                parent = self.blocks.get(n - 1)
                if parent is not None:
                    assert block["parentHash"] == parent["hash"], f"block {n} does not extend block {n - 1}"
                self.blocks[n] = block
                self.receipts[n] = receipts
        self.reported_head = max(self.reported_head, upto)

    def state_at(self, head: int) -> tuple[dict[str, int], dict[str, int], int]:
        """(balances, nonces = mined tx count per sender, fees collected) after blocks 1..head of the record."""
        balances = dict(self.initial)
        nonces: dict[str, int] = {}
        fees = 0
        for n in range(1, head + 1):
            block = self.blocks[n]
            for tx, receipt in zip(block["transactions"], self.receipts[n], strict=True):
                sender = to_checksum_address(tx["from"])
                to = to_checksum_address(tx["to"])
                fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
                value = int(tx["value"], 16) if receipt["status"] == "0x1" else 0
                balances[sender] = balances.get(sender, 0) - value - fee
                balances[to] = balances.get(to, 0) + value
                nonces[sender] = nonces.get(sender, 0) + 1
                fees += fee
        return balances, nonces, fees


def read_state(rpc: Rpc, addresses: list[str]) -> tuple[int, dict[str, tuple[int, int]]]:
    """(head, address -> (balance, nonce)) read in one batch bracketed by eth_blockNumber (equal: consistent)."""
    calls: list[tuple[str, list[Any]]] = [("eth_blockNumber", [])]
    calls += [("eth_getBalance", [a, "latest"]) for a in addresses]
    calls += [("eth_getTransactionCount", [a, "latest"]) for a in addresses]
    calls += [("eth_blockNumber", [])]
    out = rpc.results(calls)
    head, head_after = int(out[0], 16), int(out[-1], 16)
    assert head == head_after, "head moved during a state read at a quiet head"
    k = len(addresses)
    return head, {a: (int(out[1 + i], 16), int(out[1 + k + i], 16)) for i, a in enumerate(addresses)}


def distribution_books(rpc: Rpc, block: int) -> int:
    """The distribution module's community pool, commission and outstanding rewards at ``block``, in its book
    units (10^-18 wei)."""
    tag = hex(block)

    def call(data: bytes, to: str) -> bytes:
        return bytes.fromhex(rpc.call("eth_call", {"to": to, "data": "0x" + data.hex()}, tag)[2:])

    coins = "(uint256,uint256,string)[]"
    (validators,) = decode(["(string,address,uint256,uint256,bool)[]"], call(selector("validators()"), STAKING))
    (pool,) = decode([coins], call(selector("communityPool()"), DISTRIBUTION))
    total = sum(c[0] for c in pool)
    for v in validators:
        query = selector("validatorDistribution(string)") + encode(["string"], [v[0]])
        outstanding, commission = decode([coins, coins], call(query, DISTRIBUTION))
        total += sum(c[0] for c in outstanding) + sum(c[0] for c in commission)
    return total


# --------------------------------------------------------------------------------------------- checks


def check_after_restart(rpc: Rpc, ledger: Ledger, sent: dict[str, SentTx], rng: random.Random) -> int:
    """All the post-restart assertions; returns the head."""
    head = int(rpc.call("eth_blockNumber"), 16)
    assert head >= ledger.reported_head, f"head {head} behind the reported head {ledger.reported_head}"
    assert rpc.call("txpool_status") == {"pending": "0x0", "queued": "0x0"}, "the pool is not persisted"

    # Every reported block: same hash, same parent, same transactions (one batch).
    numbers = sorted(ledger.blocks)
    for lo in range(0, len(numbers), 500):
        chunk = numbers[lo : lo + 500]
        for n, block in zip(
            chunk, rpc.results([("eth_getBlockByNumber", [hex(n), False]) for n in chunk]), strict=True
        ):
            was = ledger.blocks[n]
            assert block is not None, f"reported block {n} lost"
            assert block["hash"] == was["hash"], f"block {n} changed hash"
            assert block["parentHash"] == was["parentHash"]
            assert block["stateRoot"] == was["stateRoot"]
            assert block["transactions"] == [t["hash"] for t in was["transactions"]], f"block {n} changed txs"

    # The state commitments: each one reported before is recomputed identically after the restart, every block's
    # stateRoot is the commitment of the block COMMITMENT_DELAY before it, and the worker catches up with the head.
    deadline = time.monotonic() + 30
    while (rpc.call("sei_getStateCommitment", hex(head)))["commitment"] is None:
        assert time.monotonic() < deadline, "the commitment worker did not catch up after the restart"
        time.sleep(0.02)
    out = rpc.results([("sei_getStateCommitment", [hex(n)]) for n in range(head + 1)])
    commitments = {n: c["commitment"] for n, c in enumerate(out)}
    for n, was in ledger.commitments.items():
        assert commitments[n] == was, f"commitment of block {n} changed after the restart"
    ledger.commitments = commitments
    for n in numbers:
        assert ledger.blocks[n]["stateRoot"] == commitments[max(n - COMMITMENT_DELAY, 0)], f"stateRoot of {n}"

    # A sample in full: transaction objects, receipts (by block and by hash), lookups by hash.
    sample = set(rng.sample(numbers, min(RECEIPT_SAMPLE, len(numbers)))) | ({ledger.reported_head} - {0})
    for n in sorted(sample):
        block, receipts = rpc.results([("eth_getBlockByNumber", [hex(n), True]), ("eth_getBlockReceipts", [hex(n)])])
        assert block == ledger.blocks[n], f"block {n} differs after restart"
        assert receipts == ledger.receipts[n], f"receipts of block {n} differ after restart"
        assert rpc.results([("eth_getBlockByHash", [block["hash"], False])])[0]["number"] == hex(n)
        if receipts:
            pick = rng.choice(receipts)
            tx_hash = pick["transactionHash"]
            by_hash = rpc.results([("eth_getTransactionReceipt", [tx_hash]), ("eth_getTransactionByHash", [tx_hash])])
            assert by_hash[0] == pick
            assert by_hash[1] == next(t for t in block["transactions"] if t["hash"] == tx_hash)

    # The blocks committed after the last report (up to the kill) join the record.
    ledger.extend(rpc, head)

    # Every mined transaction is one we sent, each sender's nonces are 0, 1, 2, ... in chain order.
    next_nonce: dict[str, int] = {}
    for n in range(1, head + 1):
        for tx in ledger.blocks[n]["transactions"]:
            known = sent.get(tx["hash"])
            assert known is not None, f"block {n} holds a transaction nobody sent: {tx['hash']}"
            sender = to_checksum_address(tx["from"])
            assert sender == known.sender and int(tx["nonce"], 16) == known.nonce
            assert int(tx["value"], 16) == known.value and to_checksum_address(tx["to"]) == known.to
            assert known.nonce == next_nonce.get(sender, 0), f"nonce gap or repeat for {sender} in block {n}"
            next_nonce[sender] = known.nonce + 1

    # The state at the head is what the record adds up to.
    balances, nonces, fees = ledger.state_at(head)
    senders = [a for a in ledger.initial if a not in RECEIVERS]
    read_head, state = read_state(rpc, senders + RECEIVERS + [to_checksum_address(FEE_COLLECTOR)])
    assert read_head == head
    for a in senders:
        assert state[a] == (balances[a], nonces.get(a, 0)), f"sender {a}: node {state[a]}, record"
    for a in RECEIVERS:
        assert state[a][0] == balances.get(a, 0), f"receiver {a}"
    # Every fee reached the fee collector, and the distribution module paid all of it into its books at the end
    # of its block (no block reward, no delegation changes: nothing else moves the books).
    assert state[to_checksum_address(FEE_COLLECTOR)][0] == 0, "fee collector"
    assert distribution_books(rpc, head) == (ledger.initial_fee_collector + fees) * 10**18, "distributed fees"

    # The snapshots taken at quiet heads before earlier kills match the record up to those heads, and the node
    # still serves them as historical state at those blocks.
    for snap_head, snap in ledger.snapshots:
        snap_balances, snap_nonces, _ = ledger.state_at(snap_head)
        addresses = list(snap)
        past = rpc.results(
            [("eth_getBalance", [a, hex(snap_head)]) for a in addresses]
            + [("eth_getTransactionCount", [a, hex(snap_head)]) for a in addresses]
        )
        for i, (a, (balance, nonce)) in enumerate(snap.items()):
            assert balance == snap_balances.get(a, 0), f"snapshot at {snap_head}: balance of {a}"
            assert (int(past[i], 16), int(past[len(addresses) + i], 16)) == (balance, nonce), f"history at {snap_head}"
            if a in senders:
                assert nonce == snap_nonces.get(a, 0), f"snapshot at {snap_head}: nonce of {a}"
    return head


def report_until(rpc: Rpc, ledger: Ledger, streamer: Streamer, deadline: float) -> None:
    """Polls the head and records every newly reported block until ``deadline``."""
    while time.monotonic() < deadline:
        head = int(rpc.call("eth_blockNumber"), 16)
        if head > ledger.known:
            ledger.extend(rpc, head)
        assert streamer.failure is None, streamer.failure
        time.sleep(0.02)


def quiet_snapshot(rpc: Rpc, ledger: Ledger, streamer: Streamer, addresses: list[str]) -> int:
    """Pauses the stream, lets the pool drain and records the state at the still head; resumes the stream."""
    streamer.pause.set()
    assert streamer.paused.wait(10), "stream did not pause"
    deadline = time.monotonic() + 10
    while rpc.call("txpool_status") != {"pending": "0x0", "queued": "0x0"}:
        assert time.monotonic() < deadline, "pool did not drain"
        time.sleep(0.02)
    head, state = read_state(rpc, addresses)
    ledger.extend(rpc, head)
    ledger.snapshots.append((head, state))
    streamer.pause.clear()
    return head


# --------------------------------------------------------------------------------------------- the test


@pytest.fixture
def nodes() -> Iterator[list[Devnet]]:
    started: list[Devnet] = []
    yield started
    for node in started:
        if node.process.poll() is None:
            node.stop(signal.SIGKILL)


def test_kill_9_loses_nothing_reported(tmp_path: Path, nodes: list[Devnet]) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"

    def start() -> Devnet:
        node = start_devnet(tmp_path, "--block-time", BLOCK_TIME, data_dir=data_dir)
        nodes.append(node)
        return node

    node = start()
    rpc = Rpc(node.http_url)
    senders = [node.accounts[i] for i in SENDERS]
    sender_addrs = [k.address for k in senders]
    watched = sender_addrs + RECEIVERS
    assert int(rpc.call("eth_blockNumber"), 16) == 0
    _, genesis = read_state(rpc, watched + [to_checksum_address(FEE_COLLECTOR)])
    ledger = Ledger(
        initial={a: genesis[a][0] for a in watched},
        initial_fee_collector=genesis[to_checksum_address(FEE_COLLECTOR)][0],
    )
    assert all(genesis[a][0] > 0 for a in sender_addrs) and all(genesis[a] == (0, 0) for a in RECEIVERS)
    sent: dict[str, SentTx] = {}
    stats = {"kills": 0, "accepted": 0, "unreported_blocks": 0}
    started_at = time.monotonic()

    for cycle in range(CYCLES + 1):
        if cycle > 0:
            node = start()
            rpc.close()
            rpc = Rpc(node.http_url)
        reported_before = ledger.reported_head
        restart_head = check_after_restart(rpc, ledger, sent, rng)
        stats["unreported_blocks"] += restart_head - reported_before
        if cycle == CYCLES:
            break

        nonces = {a: int(rpc.call("eth_getTransactionCount", a, "pending"), 16) for a in sender_addrs}
        assert nonces == {a: ledger.state_at(restart_head)[1].get(a, 0) for a in sender_addrs}
        streamer = Streamer(node.http_url, node.chain_id, senders, nonces, rng.getrandbits(64), sent)
        streamer.start()
        report_until(rpc, ledger, streamer, time.monotonic() + rng.uniform(0.3, 0.8))
        snap_head = quiet_snapshot(rpc, ledger, streamer, watched)
        assert snap_head > restart_head, f"cycle {cycle}: no new blocks after the restart"
        # Kill at a random moment while the stream runs (it resumed above).
        report_until(rpc, ledger, streamer, time.monotonic() + rng.uniform(0.05, 1.0))
        node.stop(signal.SIGKILL)
        assert node.process.returncode == -signal.SIGKILL
        stats["kills"] += 1
        streamer.stop.set()
        streamer.join(10)
        assert not streamer.is_alive(), "stream thread hung"
        assert streamer.failure is None, streamer.failure
        assert not streamer.rejections, f"cycle {cycle}: transactions refused: {streamer.rejections[:5]}"
        stats["accepted"] += streamer.accepted

    # The chain goes on after the last restart, and a clean stop still exits 0.
    key = senders[0]
    nonce = int(rpc.call("eth_getTransactionCount", key.address, "pending"), 16)
    raw = Account.sign_transaction(
        {
            "type": 2,
            "chainId": node.chain_id,
            "nonce": nonce,
            "to": RECEIVERS[0],
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": MAX_FEE,
            "maxPriorityFeePerGas": TIP,
        },
        key.key,
    ).raw_transaction
    tx_hash = rpc.call("eth_sendRawTransaction", "0x" + bytes(raw).hex())
    deadline = time.monotonic() + 10
    while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        assert time.monotonic() < deadline, "chain stalled after the last restart"
        time.sleep(0.02)
    assert receipt["status"] == "0x1" and int(receipt["blockNumber"], 16) > ledger.reported_head
    rpc.close()
    assert node.stop() == 0

    # With the node stopped: the commitment the worker built incrementally through every kill equals the LtHash of
    # the final state computed from scratch.
    store = ChainStore(data_dir / "state")
    final = store.head()
    assert final is not None
    store.native.advance_commitment(final)
    assert recompute_commitment(store.native.state_records()) == store.commitment(final)

    mined = sum(len(b["transactions"]) for b in ledger.blocks.values())
    assert stats["kills"] == CYCLES
    assert mined > 20 * CYCLES, f"too little traffic to mean anything: {mined} transactions mined"
    elapsed = time.monotonic() - started_at
    base_fee = int(ledger.blocks[ledger.known]["baseFeePerGas"], 16)
    print(
        f"\n{stats['kills']} kills, {ledger.known} blocks ({stats['unreported_blocks']} first seen after a restart), "
        f"{stats['accepted']} txs accepted, {mined} mined, "
        f"base fee {base_fee / GWEI:.2f} gwei, {elapsed:.1f}s"
    )
