"""Autobahn consensus with real validator processes on loopback (``pysei validator``, ``pysei localnet``).

Four validators (f = 1) commit blocks from ERC-20 transfers sent round-robin to all four JSON-RPC endpoints with
web3.py; every validator reports the same blocks, receipts and certified state commitment. Killing one validator
(kill -9), and then the current leader again and again, keeps the chain finalising; a restarted validator
catches up from its peers and votes again. Byzantine behaviour comes from a test-only fault hook
(PYSEI_TEST_FAULT) and must be detected with signed evidence; garbage and non-member connections are refused and
counted; a validator whose state differs from the certified one halts with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from eth_account import Account
from hexbytes import HexBytes
from nacl.signing import SigningKey
from web3 import Web3

from pysei.bench.loadgen import artifact
from pysei.chain.accounts import dev_accounts
from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID
from pysei.consensus.genesis import GENESIS, Genesis, create_genesis, load_key, write_genesis, write_key
from pysei.consensus.launcher import ValidatorProcesses
from pysei.consensus.messages import Status
from pysei.p2p.network import Auth, Hello, auth_message
from tests.test_metrics import scrape

ROOT = Path(__file__).resolve().parent.parent
KEYS = [a.private_key for a in dev_accounts(DEV_MNEMONIC, 12)]
RECEIPT_TIMEOUT = 60


def free_ports(k: int) -> list[int]:
    socks = [socket.socket() for _ in range(k)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def rpc(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        out = json.loads(resp.read())
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


class CutProxy:
    """A TCP forwarder in front of every validator's p2p port (the address peers dial, from the genesis) to the
    port it really listens on. ``cut(i)`` drops every link through validator i's port and refuses new ones until
    ``heal(i)``. The lower-indexed validator dials, so validator i's links to higher ones go through their ports:
    cutting {3} isolates validator 3; cutting {2, 3} leaves {0, 1} | {2} | {3}."""

    def __init__(self, routes: dict[int, tuple[int, int]]) -> None:
        self.routes = routes
        self.cut_set: set[int] = set()
        self.links: dict[int, list[asyncio.StreamWriter]] = {i: [] for i in routes}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers = [
            asyncio.run_coroutine_threadsafe(self._listen(i, public), self.loop).result(10)
            for i, (public, _) in routes.items()
        ]

    async def _listen(self, i: int, port: int) -> asyncio.Server:
        return await asyncio.start_server(lambda r, w: self._link(i, r, w), "127.0.0.1", port)

    async def _link(self, i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if i in self.cut_set:
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.routes[i][1])
        except OSError:
            writer.close()
            return
        self.links[i] += [writer, up_w]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    def _cut(self, i: int) -> None:
        self.cut_set.add(i)
        for w in self.links[i]:
            w.close()
        self.links[i] = []

    def cut(self, *validators: int) -> None:
        for i in validators:
            self.loop.call_soon_threadsafe(self._cut, i)

    def heal(self, *validators: int) -> None:
        for i in validators:
            self.loop.call_soon_threadsafe(self.cut_set.discard, i)

    def close(self) -> None:
        for server in self.servers:
            self.loop.call_soon_threadsafe(server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def start_network(
    tmp: Path,
    n: int = 4,
    env: dict[int, dict[str, str]] | None = None,
    *,
    proxy: bool = False,
    args: dict[int, list[str]] | None = None,
    epoch_blocks: int = 100,
) -> tuple[ValidatorProcesses, CutProxy | None]:
    ports = free_ports(3 * n)
    rpc_ports, p2p_ports, private = ports[:n], ports[n : 2 * n], ports[2 * n :]
    create_genesis(tmp, n, ports=list(zip(rpc_ports, p2p_ports, strict=True)), epoch_blocks=epoch_blocks)
    cut = CutProxy({i: (p2p_ports[i], private[i]) for i in range(n)}) if proxy else None
    listen = dict(enumerate(private)) if proxy else None
    net = ValidatorProcesses(tmp, fsync=False, env=env, p2p_listen=listen, args=args)
    net.start_all()
    for i in range(n):
        net.wait_ready(i)
    return net, cut


class Sender:
    """Signs transactions locally with web3.py's account module and sends them round-robin; nonces are tracked
    here because each endpoint's pending nonce only knows its own mempool."""

    def __init__(self, net: ValidatorProcesses, urls: list[str]) -> None:
        self.net = net
        self.urls = urls
        self.w3 = [Web3(Web3.HTTPProvider(u, request_kwargs={"timeout": 30})) for u in urls]
        self.nonces: dict[bytes, int] = {}
        self.k = 0

    def send(self, key: bytes, to: str | None, data: bytes = b"", gas: int = 100_000, value: int = 0) -> bytes:
        acct = Account.from_key(key)
        w3 = self.w3[self.k % len(self.w3)]
        self.k += 1
        if key not in self.nonces:
            self.nonces[key] = w3.eth.get_transaction_count(acct.address, "latest")
        tx: dict[str, Any] = {
            "chainId": DEVNET_CHAIN_ID,
            "nonce": self.nonces[key],
            "gas": gas,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "data": data,
            "value": value,
        }
        if to is not None:
            tx["to"] = to
        self.nonces[key] += 1
        return bytes(w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction))

    def wait(self, hashes: list[bytes], url: str | None = None) -> list[Any]:
        w3 = Web3(Web3.HTTPProvider(url)) if url else self.w3[0]
        return [
            w3.eth.wait_for_transaction_receipt(HexBytes(h), timeout=RECEIPT_TIMEOUT, poll_latency=0.1) for h in hashes
        ]


def deploy_token(sender: Sender) -> str:
    art = artifact("BenchToken")
    code = bytes.fromhex(art["bytecode"][2:]) + (10**30).to_bytes(32, "big")
    (receipt,) = sender.wait([sender.send(KEYS[0], None, code, gas=2_000_000)])
    assert receipt["status"] == 1
    return str(receipt["contractAddress"])


def transfers(sender: Sender, token: str, count: int, keys: list[bytes]) -> list[bytes]:
    w3 = sender.w3[0]
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=artifact("BenchToken")["abi"])
    hashes = []
    for i in range(count):
        to = Account.from_key(KEYS[(i + 1) % len(KEYS)]).address
        data = bytes.fromhex(contract.encode_abi("transfer", args=[to, 1])[2:])
        hashes.append(sender.send(keys[i % len(keys)], token, data))
    return hashes


def fund_holders(sender: Sender, token: str, holders: list[bytes]) -> None:
    w3 = sender.w3[0]
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=artifact("BenchToken")["abi"])
    hashes = []
    for key in holders:
        data = contract.encode_abi("transfer", args=[Account.from_key(key).address, 10**24])
        hashes.append(sender.send(KEYS[0], token, bytes.fromhex(data[2:])))
    assert all(r["status"] == 1 for r in sender.wait(hashes))


def token_with_holders(sender: Sender) -> tuple[str, list[bytes]]:
    """Deploys a BenchToken and gives dev accounts 1-8 a balance of it."""
    token = deploy_token(sender)
    holders = KEYS[1:9]
    fund_holders(sender, token, holders)
    return token, holders


def same_chain(urls: list[str], upto: int) -> None:
    """Every endpoint reports the same block hashes and receipts for blocks 1..upto."""
    for number in range(1, upto + 1):
        blocks = [rpc(u, "eth_getBlockByNumber", hex(number), False) for u in urls]
        assert len({b["hash"] for b in blocks}) == 1, f"block {number} differs: {[b['hash'] for b in blocks]}"
        receipts = [rpc(u, "eth_getBlockReceipts", hex(number)) for u in urls]
        assert all(r == receipts[0] for r in receipts), f"receipts of block {number} differ"


def wait_for(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            out = cond()
        except (OSError, RuntimeError):
            out = None
        if out:
            return out
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def certified_everywhere(urls: list[str], number: int) -> str:
    """Waits until every endpoint reports block ``number``'s commitment as certified by an AppQC; returns it."""

    def check() -> str | None:
        outs = [rpc(u, "sei_getStateCommitment", hex(number)) for u in urls]
        if not all(o["certified"] for o in outs):
            return None
        assert len({o["commitment"] for o in outs}) == 1
        return str(outs[0]["commitment"])

    return str(wait_for(check, 30, f"an AppQC for block {number} on every validator"))


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ValidatorProcesses, CutProxy]]:
    """Four validators whose p2p links run through a proxy that can cut them; shared by the tests below.
    Validator 0 serves Prometheus metrics (``--metrics-port``)."""
    net, proxy = start_network(
        tmp_path_factory.mktemp("localnet"), proxy=True, args={0: ["--metrics-port", str(free_ports(1)[0])]}
    )
    assert proxy is not None
    yield net, proxy
    codes = net.stop_all()
    proxy.close()
    assert all(c == 0 for c in codes.values()), f"exit codes {codes}: {net.log_tail(0)}"


@pytest.fixture
def network(proxied: tuple[ValidatorProcesses, CutProxy]) -> ValidatorProcesses:
    return proxied[0]


def test_four_validators_finalise_erc20_transfers_sent_to_every_endpoint(network: ValidatorProcesses) -> None:
    urls = [network.url(i) for i in range(4)]
    sender = Sender(network, urls)
    token, holders = token_with_holders(sender)
    receipts = sender.wait(transfers(sender, token, 80, holders))
    assert all(r["status"] == 1 for r in receipts)
    for url in urls:  # the receipt is on every validator, in the same block
        for r in receipts[::10]:
            other = rpc(url, "eth_getTransactionReceipt", "0x" + bytes(r["transactionHash"]).hex())
            assert other is not None and other["blockHash"] == "0x" + bytes(r["blockHash"]).hex()
    head = min(int(rpc(u, "eth_blockNumber"), 16) for u in urls)
    same_chain(urls, head)
    certified_everywhere(urls, head)
    statuses = [rpc(u, "sei_consensusStatus") for u in urls]
    assert sum(s["fastCommits"] for s in statuses) > 0
    assert all(len([p for p in s["peers"] if p["connected"]]) == 3 for s in statuses)
    assert {s["committedSlot"] >= head for s in statuses} == {True}
    # "finalized" and "safe" are the latest executed block: a receipt exists only once its block is final.
    last = max(int(r["blockNumber"]) for r in receipts)
    for tag in ("finalized", "safe"):
        assert int(rpc(urls[0], "eth_getBlockByNumber", tag, False)["number"], 16) >= last
    # Finality latency and uptime as validator 0 saw them, over RPC and in its Prometheus metrics.
    status = rpc(urls[0], "sei_consensusStatus")
    assert status["finalityMs"]["samples"] >= 1 and status["finalityMs"]["p50"] > 0
    assert sum(v["uptime"] for v in rpc(urls[0], "sei_validators")) >= 3  # every certificate has a quorum
    metrics = scrape(int(network.args[0][1]))
    assert metrics['consensus_commits_total{path="fast"}'] >= status["fastCommits"] > 0
    assert metrics["consensus_committed_slot"] >= head
    assert metrics["consensus_peers_connected"] == 3
    assert metrics["consensus_finality_seconds_count"] >= status["finalityMs"]["samples"]
    assert metrics["chain_head_block"] >= head


def test_killed_validators_and_leaders_do_not_stop_the_chain(network: ValidatorProcesses) -> None:
    urls = [network.url(i) for i in range(4)]
    sender0 = Sender(network, urls)
    token, holders = token_with_holders(sender0)
    for round_ in range(2):
        # Kill -9 the leader of the slot now open (the first round kills validator 3 instead: any validator).
        status = rpc(urls[0 if round_ else 1], "sei_consensusStatus")
        victim = 3 if round_ == 0 else status["leader"]
        network.kill(victim, signal.SIGKILL)
        live = [u for i, u in enumerate(urls) if i != victim]
        sender = Sender(network, live)
        sender.nonces = sender0.nonces
        receipts = sender.wait(transfers(sender, token, 24, holders), live[0])
        assert all(r["status"] == 1 for r in receipts)
        head = int(rpc(live[0], "eth_blockNumber"), 16)
        network.start(victim)
        network.wait_ready(victim)
        # The restarted validator catches up (blocks and certificates verified) to the same chain …
        wait_for(lambda v=victim, h=head: int(rpc(urls[v], "eth_blockNumber"), 16) >= h, 60, "catch-up")
        same_chain([urls[victim], live[0]], head)
        # … and votes again: a fast-path commit needs all four votes.
        before = sum(rpc(u, "sei_consensusStatus")["fastCommits"] for u in urls)
        sender.urls, sender.w3 = urls, [Web3(Web3.HTTPProvider(u)) for u in urls]
        sender.wait(transfers(sender, token, 8, holders))
        wait_for(lambda b=before: sum(rpc(u, "sei_consensusStatus")["fastCommits"] for u in urls) > b, 30, "votes")
    statuses = [rpc(u, "sei_consensusStatus") for u in urls]
    assert max(s["viewChanges"] for s in statuses) >= 1
    head = min(int(rpc(u, "eth_blockNumber"), 16) for u in urls)
    same_chain(urls, head)
    certified_everywhere(urls, head)


def connected_to(url: str, peer: int) -> bool:
    return any(p["validator"] == peer and p["connected"] for p in rpc(url, "sei_consensusStatus")["peers"])


def test_network_cuts_heal_without_losing_or_duplicating_transactions(
    proxied: tuple[ValidatorProcesses, CutProxy],
) -> None:
    net, proxy = proxied
    urls = [net.url(i) for i in range(4)]
    to = Account.from_key(KEYS[11]).address
    senders = KEYS[:8]
    # 1. Validator 3 cut off for 10 s: the other three keep committing what is sent to them.
    proxy.cut(3)
    wait_for(lambda: not connected_to(urls[0], 3), 30, "the cut")
    sender = Sender(net, urls[:3])
    head0 = int(rpc(urls[0], "eth_blockNumber"), 16)
    hashes: list[bytes] = []
    t_end = time.monotonic() + 10
    while time.monotonic() < t_end:
        hashes += [sender.send(k, to) for k in senders[:3]]
        time.sleep(0.5)
    assert all(r["status"] == 1 for r in sender.wait(hashes))
    assert int(rpc(urls[0], "eth_blockNumber"), 16) > head0
    proxy.heal(3)
    head = int(rpc(urls[0], "eth_blockNumber"), 16)
    wait_for(lambda: int(rpc(urls[3], "eth_blockNumber"), 16) >= head, 60, "validator 3 to catch up")
    same_chain([urls[0], urls[3]], head)
    # 2. Validators 2 and 3 cut off: no quorum among {0, 1}, so nothing commits …
    proxy.cut(2, 3)
    wait_for(lambda: not connected_to(urls[0], 2) and not connected_to(urls[1], 3), 30, "the cut")
    sender.urls, sender.w3 = urls[:2], sender.w3[:2]
    stalled = [sender.send(k, to) for k in senders]
    time.sleep(2)  # a slot already under way when the links went down may still finish
    frozen = int(rpc(urls[0], "eth_blockNumber"), 16)
    time.sleep(4)
    assert int(rpc(urls[0], "eth_blockNumber"), 16) == frozen
    assert int(rpc(urls[1], "eth_blockNumber"), 16) == frozen
    # … and healing resumes: every transaction sent meanwhile finalises, each exactly once.
    proxy.heal(2, 3)
    assert all(r["status"] == 1 for r in sender.wait(stalled))
    head = int(rpc(urls[0], "eth_blockNumber"), 16)
    wait_for(lambda: min(int(rpc(u, "eth_blockNumber"), 16) for u in urls) >= head, 60, "all validators")
    same_chain(urls, head)
    for k in senders:
        nonce = int(rpc(urls[0], "eth_getTransactionCount", Account.from_key(k).address, "latest"), 16)
        assert nonce == sender.nonces[k], "a transaction was lost or executed twice"


def _hello(chain_id: int, key: SigningKey) -> bytes:
    payload = msgspec.msgpack.encode(Hello(chain_id, bytes(key.verify_key), os.urandom(32)))
    return len(payload).to_bytes(4, "big") + payload


def _connect_as(port: int, key: SigningKey, chain_id: int) -> socket.socket:
    """Completes the p2p handshake with ``key`` (a member's key: the test plays a misbehaving validator)."""
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(_hello(chain_id, key))
    size = int.from_bytes(s.recv(4), "big")
    theirs = msgspec.msgpack.decode(s.recv(size, socket.MSG_WAITALL), type=Hello)
    sig = key.sign(auth_message(chain_id, theirs.nonce, bytes(key.verify_key), theirs.pubkey)).signature
    auth = msgspec.msgpack.encode(Auth(sig))
    s.sendall(len(auth).to_bytes(4, "big") + auth)
    return s


def test_byzantine_behaviour_is_detected_and_garbage_is_refused(tmp_path: Path) -> None:
    faults = {1: "equivocate-lane", 2: "double-vote", 3: "conflicting-cuts", 0: "bad-state"}
    # Evidence jails its offender from the next epoch's committee on: with three of four offending, a long
    # epoch keeps this test about detection (tests/test_localnet_staking.py follows the slashing through).
    env = {i: {"PYSEI_TEST_FAULT": f} for i, f in faults.items()}
    net, _ = start_network(tmp_path, env=env, epoch_blocks=100_000)
    try:
        urls = [net.url(i) for i in range(4)]
        honest = urls[1:]
        sender = Sender(net, honest)
        hashes = [sender.send(KEYS[i % 8], Account.from_key(KEYS[11]).address) for i in range(60)]
        assert all(r["status"] == 1 for r in sender.wait(hashes))
        # Validator 0 computes a different state (the hook): once the others certify block 3 it stops, naming it.
        try:
            code = net.procs[0].wait(timeout=60)
        except subprocess.TimeoutExpired:
            # Once seen in CI on a loaded host, never reproduced since: keep what is needed to tell a missed
            # divergence from a stop that hangs.
            pytest.fail(f"validator 0 still runs 60 s on; its log ends:\n{net.log_tail(0, 8000)}")
        assert code == 1
        assert "state divergence at block" in net.log_tail(0)
        # Garbage: a frame that is not a handshake, an oversized frame, and a valid handshake by a non-member.
        chain_id = net.genesis.chain_id
        p2p = net.genesis.committee.members[1].p2p_port
        for junk in (b"\x00\x00\x00\x05hello", b"\xff\xff\xff\xff" + b"x" * 64):
            with socket.create_connection(("127.0.0.1", p2p), 5) as s:
                s.sendall(junk)
                s.settimeout(10)
                while s.recv(4096):
                    pass
        with socket.create_connection(("127.0.0.1", p2p), 5) as s:
            s.sendall(_hello(chain_id, SigningKey.generate()))
            s.settimeout(10)
            while s.recv(4096):
                pass
        # A member (validator 0's key, its process stopped) that sends undecodable and unauthorised messages.
        key0 = SigningKey(load_key(net.homes[0]))
        for bad in (b"\x93garbage", msgspec.msgpack.encode(Status(10**9)) + b"trailing"):
            with _connect_as(p2p, key0, chain_id) as s:
                s.sendall(len(bad).to_bytes(4, "big") + bad)
                s.settimeout(10)
                while s.recv(65536):
                    pass
        hashes = [sender.send(KEYS[i % 8], Account.from_key(KEYS[11]).address) for i in range(20)]
        assert all(r["status"] == 1 for r in sender.wait(hashes))  # still committing

        def evidence_kinds() -> set[str] | None:
            kinds = {e["kind"] for u in honest for e in rpc(u, "sei_getEvidence")}
            return kinds if {"lane-equivocation", "double-vote", "conflicting-proposals"} <= kinds else None

        def more_load() -> set[str] | None:
            sender.send(KEYS[8], Account.from_key(KEYS[11]).address)
            return evidence_kinds()

        wait_for(more_load, 60, "evidence of every fault")
        offenders = {(e["kind"], e["offender"]) for u in honest for e in rpc(u, "sei_getEvidence")}
        assert ("lane-equivocation", 1) in offenders and ("double-vote", 2) in offenders
        assert ("conflicting-proposals", 3) in offenders
        status = rpc(urls[1], "sei_consensusStatus")
        assert status["rejectedConnections"] >= 3
        assert next(p for p in status["peers"] if p["validator"] == 0)["misbehaviour"] >= 2
        head = min(int(rpc(u, "eth_blockNumber"), 16) for u in honest)
        same_chain(honest, head)
    finally:
        net.stop_all()


def test_localnet_command_starts_stops_and_resumes(tmp_path: Path) -> None:
    """`pysei localnet` with one validator (a localnet of 1 must work too): Ctrl-C stops it, and started again
    on the same data dir it continues the same chain. Its consensus journal keeps only the last slots asked for
    (--journal-retention): the restart works from the pruned journal."""
    rpc_port, p2p_port = free_ports(2)
    cmd = [sys.executable, "-m", "pysei.cli", "localnet", "--validators", "1", "--data-dir", str(tmp_path)]
    cmd += ["--rpc-port", str(rpc_port), "--p2p-port", str(p2p_port), "--no-fsync", "--journal-retention", "4"]
    url = f"http://127.0.0.1:{rpc_port}"
    first_hash = None
    for run in range(2):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            wait_for(lambda: rpc(url, "eth_chainId"), 60, "the localnet")
            sender = Sender(ValidatorProcesses(tmp_path), [url])
            (r,) = sender.wait([sender.send(KEYS[0], Account.from_key(KEYS[1]).address)])
            assert r["status"] == 1
            one = rpc(url, "eth_getBlockByNumber", "0x1", False)["hash"]
            if run == 0:
                first_hash = one
            else:
                assert one == first_hash and r["blockNumber"] > 1
            # Past the retention window (a slot commits when there are transactions), the journal holds only the
            # recent slots: the 4 below the executed head, and those above it.
            for _ in range(10):
                (r,) = sender.wait([sender.send(KEYS[0], Account.from_key(KEYS[1]).address)])
            with contextlib.closing(sqlite3.connect(tmp_path / "v0" / "consensus.sqlite")) as db:
                oldest, newest, kept = db.execute("SELECT MIN(slot), MAX(slot), COUNT(*) FROM commits").fetchone()
                cars = db.execute("SELECT COUNT(*) FROM cars").fetchone()[0]
                emitted = sum(len(msgspec.msgpack.decode(c)) for (c,) in db.execute("SELECT cars FROM emitted"))
            assert newest >= r["blockNumber"] > 10 and r["blockNumber"] - 4 - 1 <= oldest, (r["blockNumber"], oldest)
            # The cars left are those of the kept slots, and at most one not committed yet.
            assert kept == newest - oldest + 1 and cars <= emitted + 1, (kept, cars, emitted)
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert b"http://127.0.0.1:" in out and b"localnet stopped" in out
    assert (tmp_path / GENESIS).exists()


def test_init_and_genesis_commands_build_a_network_description(tmp_path: Path) -> None:
    """The multi-machine set-up: each operator runs `pysei init`, one runs `pysei genesis assemble` on the entries."""
    pysei = [sys.executable, "-m", "pysei.cli"]
    for i in range(2):
        home = tmp_path / f"n{i}"
        out = subprocess.run([*pysei, "init", "--home", str(home), "--host", f"10.0.0.{i + 1}"], capture_output=True)
        assert out.returncode == 0, out.stderr
        assert (home / "validator_key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_key(tmp_path / "n0")
    entries = [str(tmp_path / f"n{i}" / "validator.json") for i in range(2)]
    out = subprocess.run(
        [*pysei, "genesis", "assemble", "--out", str(tmp_path / GENESIS), "--chain-id", "4242", *entries]
    )
    assert out.returncode == 0
    genesis = Genesis.load(tmp_path / GENESIS)
    assert genesis.chain_id == 4242 and genesis.committee.n == 2
    keys = [m.pubkey for m in genesis.committee.members]
    assert keys == sorted(keys)
    assert {m.host for m in genesis.committee.members} == {"10.0.0.1", "10.0.0.2"}
    with pytest.raises(ValueError, match="twice"):
        write_genesis(tmp_path / "x.json", [json.loads(Path(entries[0]).read_text())] * 2)
